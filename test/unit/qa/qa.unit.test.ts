/**
 * QA sampling and verdicts (shared/domain/qa/qa.ts, qa-schema.ts, shared/app/qa/qa.ts): the sample's properties
 * (reproducible for a seed, a subset of the calls, at most N per source, the flagged minimum, independent of arrival
 * order, equal to the non-streaming definition), the flag rule, the verdict → dispute reason mapping, the request
 * schema, the query's rules and the verdict use case's refusals before anything is read or written.
 */
import { rejection } from '../../support/problems';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ReportCall } from '../../../shared/domain/reports/analytics';
import { errorView, isCallerError } from '../../../shared/app/kernel/errors';
import {
  createQaSampler,
  defaultQaSeed,
  disputeReasonOf,
  flaggedQuota,
  qaFlags,
  QA_VERDICTS,
  sampleKey,
  sampleQaCalls,
  type QaSampleOptions,
} from '../../../shared/domain/qa/qa';
import { PostQaSchema } from '../../../shared/domain/qa/qa-schema';
import { parseQaSampleQuery, recordQaVerdict, type QaDeps } from '../../../shared/app/qa/qa';

const T0 = Date.parse('2026-03-02T15:00:00.000Z');
const BUFFER = 90;

interface Spec {
  readonly publisherId: string;
  readonly subSource: string | null;
  readonly signals: readonly string[];
  readonly disputed: boolean;
  readonly billableSec: number;
}

function call(i: number, s: Spec): ReportCall {
  const billable = s.billableSec >= BUFFER;
  return {
    callId: `twilio:CA${i}`,
    startedAtMs: T0 + i * 1000,
    campaignId: 'camp-1',
    publisherId: s.publisherId,
    subSource: s.subSource,
    connected: true,
    billableSec: s.billableSec,
    billable,
    amountCents: billable ? 2000 : 0,
    reasons: billable ? [] : ['below_buffer'],
    creditsCents: 0,
    disputed: s.disputed,
    outcome: null,
    priceIfBillableCents: 2000,
    signals: s.signals,
  };
}

const arbSpec: fc.Arbitrary<Spec> = fc.record({
  publisherId: fc.constantFrom('pub-a', 'pub-b'),
  subSource: fc.constantFrom(null, 's1', 's2'),
  signals: fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.constant(['velocity']) }),
  disputed: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
  billableSec: fc.integer({ min: 0, max: 400 }),
});
const arbCalls = fc.array(arbSpec, { maxLength: 120 }).map((specs) => specs.map((s, i) => call(i, s)));
const arbSeed = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
const opts = (perSource: number, seed: string): QaSampleOptions => ({ perSource, seed, bufferSecOf: () => BUFFER });

const ids = (strata: Awaited<ReturnType<typeof sampleQaCalls>>) => strata.map((s) => [s.publisherId, s.subSource, s.sample.map((x) => x.call.callId)]);
const sourceOf = (c: ReportCall) => JSON.stringify([c.publisherId, c.subSource]);

/** The definition, without heaps: quota of smallest-keyed flagged calls, then the smallest remaining keys. */
function bruteForce(calls: readonly ReportCall[], o: QaSampleOptions): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const bySource = new Map<string, ReportCall[]>();
  for (const c of calls) bySource.set(sourceOf(c), [...(bySource.get(sourceOf(c)) ?? []), c]);
  for (const [source, cs] of bySource) {
    const keyed = cs.map((c) => ({ c, key: sampleKey(o.seed, c.callId), flagged: qaFlags(c, BUFFER).length > 0 })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.c.callId < b.c.callId ? -1 : 1));
    const taken = keyed.filter((k) => k.flagged).slice(0, flaggedQuota(o.perSource));
    const rest = keyed.filter((k) => !taken.includes(k)).slice(0, o.perSource - taken.length);
    out.set(source, [...taken, ...rest].map((k) => k.c.callId).sort());
  }
  return out;
}

describe('QA sample (properties)', () => {
  it('is the same for the same seed, whatever the order the calls arrive in', async () => {
    await fc.assert(
      fc.asyncProperty(arbCalls, arbSeed, fc.integer({ min: 1, max: 8 }), async (calls, seed, n) => {
        const a = await sampleQaCalls(calls, opts(n, seed));
        const b = await sampleQaCalls([...calls].reverse(), opts(n, seed));
        expect(ids(b)).toEqual(ids(a));
      }),
    );
  });

  it('is a subset of the calls, at most N per source, each source once, with its call and flagged counts', async () => {
    await fc.assert(
      fc.asyncProperty(arbCalls, arbSeed, fc.integer({ min: 1, max: 8 }), async (calls, seed, n) => {
        const strata = await sampleQaCalls(calls, opts(n, seed));
        const byId = new Map(calls.map((c) => [c.callId, c]));
        expect(new Set(strata.map((s) => JSON.stringify([s.publisherId, s.subSource]))).size).toBe(strata.length);
        expect(strata.reduce((s, x) => s + x.calls, 0)).toBe(calls.length);
        for (const s of strata) {
          const mine = calls.filter((c) => c.publisherId === s.publisherId && c.subSource === s.subSource);
          expect(s.calls).toBe(mine.length);
          expect(s.flagged).toBe(mine.filter((c) => qaFlags(c, BUFFER).length > 0).length);
          expect(s.sample.length).toBe(Math.min(n, mine.length));
          expect(new Set(s.sample.map((x) => x.call.callId)).size).toBe(s.sample.length);
          for (const x of s.sample) {
            expect(byId.get(x.call.callId)).toBe(x.call);
            expect(sourceOf(x.call)).toBe(JSON.stringify([s.publisherId, s.subSource]));
          }
        }
      }),
    );
  });

  it('holds at least min(flagged, ceil(N/2)) flagged calls per source', async () => {
    await fc.assert(
      fc.asyncProperty(arbCalls, arbSeed, fc.integer({ min: 1, max: 8 }), async (calls, seed, n) => {
        for (const s of await sampleQaCalls(calls, opts(n, seed))) {
          const flaggedInSample = s.sample.filter((x) => x.flags.length > 0).length;
          expect(flaggedInSample).toBeGreaterThanOrEqual(Math.min(s.flagged, flaggedQuota(n)));
        }
      }),
    );
  });

  it('equals the non-streaming definition (bounded heaps lose nothing)', async () => {
    await fc.assert(
      fc.asyncProperty(arbCalls, arbSeed, fc.integer({ min: 1, max: 6 }), async (calls, seed, n) => {
        const expected = bruteForce(calls, opts(n, seed));
        const got = new Map((await sampleQaCalls(calls, opts(n, seed))).map((s) => [JSON.stringify([s.publisherId, s.subSource]), s.sample.map((x) => x.call.callId).sort()]));
        expect(got).toEqual(expected);
      }),
    );
  });

  it('over-samples: a source with 5 % flagged calls gets half its sample flagged', async () => {
    const calls = Array.from({ length: 400 }, (_, i) => call(i, { publisherId: 'pub-a', subSource: null, signals: i % 20 === 0 ? ['velocity'] : [], disputed: false, billableSec: 200 }));
    const [s] = await sampleQaCalls(calls, opts(10, 'seed-1'));
    expect(s!.flagged).toBe(20);
    expect(s!.sample.filter((x) => x.flags.length > 0)).toHaveLength(5);
  });

  it('depends on the seed: another seed gives another sample of a large source', async () => {
    const calls = Array.from({ length: 200 }, (_, i) => call(i, { publisherId: 'pub-a', subSource: null, signals: [], disputed: false, billableSec: 200 }));
    const a = await sampleQaCalls(calls, opts(10, 'alpha'));
    const b = await sampleQaCalls(calls, opts(10, 'beta'));
    expect(ids(a)).not.toEqual(ids(b));
    expect(ids(await sampleQaCalls(calls, opts(10, 'alpha')))).toEqual(ids(a));
  });

  it('keeps memory to sources, not calls, and lists sources in scorecard order with samples in start order', () => {
    const sampler = createQaSampler(opts(3, 's'));
    for (let i = 0; i < 5000; i++) sampler.add(call(i, { publisherId: i % 2 ? 'pub-b' : 'pub-a', subSource: i % 3 ? 's1' : null, signals: [], disputed: false, billableSec: 120 }));
    expect(sampler.strata).toBe(4);
    const result = sampler.result();
    expect(result.map((s) => [s.publisherId, s.subSource])).toEqual([
      ['pub-a', null],
      ['pub-a', 's1'],
      ['pub-b', null],
      ['pub-b', 's1'],
    ]);
    for (const s of result) {
      const starts = s.sample.map((x) => x.call.startedAtMs);
      expect(starts).toEqual([...starts].sort((x, y) => x - y));
    }
  });

  it('refuses a perSource below 1', () => {
    expect(() => createQaSampler(opts(0, 's'))).toThrow(RangeError);
  });
});

describe('flags and verdicts', () => {
  const base = { signals: [] as string[], disputed: false, billable: true, billableSec: 200 };
  it('flags signals, disputes and billable calls within the margin above the buffer', () => {
    expect(qaFlags(base, 90)).toEqual([]);
    expect(qaFlags({ ...base, signals: ['repeat_caller'] }, 90)).toEqual(['signal']);
    expect(qaFlags({ ...base, disputed: true }, 90)).toEqual(['disputed']);
    expect(qaFlags({ ...base, billableSec: 90 }, 90)).toEqual(['near_buffer']);
    expect(qaFlags({ ...base, billableSec: 99 }, 90)).toEqual(['near_buffer']);
    expect(qaFlags({ ...base, billableSec: 100 }, 90)).toEqual([]);
    expect(qaFlags({ ...base, billable: false, billableSec: 85 }, 90)).toEqual([]);
    expect(qaFlags({ ...base, billableSec: 95 }, null)).toEqual([]);
    expect(qaFlags({ disputed: false, billable: true, billableSec: 200 }, 90)).toEqual([]);
  });

  it('maps every verdict but good to a dispute reason', () => {
    expect(Object.fromEntries(QA_VERDICTS.map((v) => [v, disputeReasonOf(v)]))).toEqual({
      good: null,
      junk: 'other',
      fraud: 'fraud',
      incentivized: 'incentivized',
      repeat: 'repeat_caller',
      wrong_number: 'wrong_number',
    });
  });

  it('derives a stable default seed from the query, different for another query', () => {
    const q = { campaignId: 'camp-1', from: '2026-03-01T00:00:00.000Z', to: '2026-03-08T00:00:00.000Z', perSource: 10 };
    expect(defaultQaSeed(q)).toBe(defaultQaSeed({ ...q }));
    expect(defaultQaSeed(q)).toMatch(/^q-[0-9a-f]{16}$/);
    expect(defaultQaSeed({ ...q, perSource: 11 })).not.toBe(defaultQaSeed(q));
  });
});

describe('POST /v1/calls/{callId}/qa body', () => {
  it('accepts a verdict with an optional note, openDispute defaulting to false', () => {
    expect(PostQaSchema.parse({ verdict: 'fraud' })).toEqual({ verdict: 'fraud', openDispute: false });
    expect(PostQaSchema.parse({ verdict: 'junk', note: ' silent line ', openDispute: true, disputeReason: 'robocall' })).toEqual({
      verdict: 'junk',
      note: 'silent line',
      openDispute: true,
      disputeReason: 'robocall',
    });
  });

  it('refuses unknown verdicts, long notes, unknown fields and a dispute reason without openDispute', () => {
    const paths = (v: unknown) => (PostQaSchema.safeParse(v).error?.issues ?? []).map((i) => i.path.join('.') || i.code);
    expect(paths({ verdict: 'meh' })).toEqual(['verdict']);
    expect(paths({ verdict: 'good', note: 'x'.repeat(501) })).toEqual(['note']);
    expect(paths({ verdict: 'good', note: 'x'.repeat(500) })).toEqual([]);
    expect(paths({ verdict: 'good', extra: 1 })).toEqual(['unrecognized_keys']);
    expect(paths({ verdict: 'fraud', disputeReason: 'fraud' })).toEqual(['disputeReason']);
    expect(paths({})).toEqual(['verdict']);
  });
});

describe('GET /v1/qa/sample query', () => {
  const now = new Date('2026-03-10T12:00:00.000Z');
  const problemOf = (params: Record<string, string>) => {
    try {
      parseQaSampleQuery('acct-1', params, now);
    } catch (err) {
      return isCallerError(err) ? { status: errorView(err).status, fields: err.errors?.map((e) => e.field) } : err;
    }
    return null;
  };

  it('defaults to the last 7 days, 10 per source and a seed derived from the query', () => {
    const q = parseQaSampleQuery('acct-1', { campaignId: 'camp-1' }, now);
    expect(q).toEqual({ accountId: 'acct-1', campaignId: 'camp-1', from: '2026-03-03T12:00:00.000Z', to: now.toISOString(), perSource: 10, seed: defaultQaSeed(q) });
    expect(parseQaSampleQuery('acct-1', { campaignId: 'camp-1', seed: 'audit_2026-03' }, now).seed).toBe('audit_2026-03');
  });

  it('answers 400 naming the field for a bad campaignId, perSource, seed, period or unknown parameter', () => {
    expect(problemOf({})).toEqual({ status: 400, fields: ['campaignId'] });
    expect(problemOf({ campaignId: 'camp-1', perSource: '0' })).toEqual({ status: 400, fields: ['perSource'] });
    expect(problemOf({ campaignId: 'camp-1', perSource: '101' })).toEqual({ status: 400, fields: ['perSource'] });
    expect(problemOf({ campaignId: 'camp-1', seed: 'has space' })).toEqual({ status: 400, fields: ['seed'] });
    expect(problemOf({ campaignId: 'camp-1', from: '2025-12-01T00:00:00Z', to: '2026-03-10T00:00:00Z' })).toEqual({ status: 400, fields: ['from'] });
    expect(problemOf({ campaignId: 'camp-1', from: '2025-12-08T00:00:00Z', to: '2026-03-10T00:00:00Z' })).toBeNull();
    expect(problemOf({ campaignId: 'camp-1', limit: '5' })).toEqual({ status: 400, fields: ['limit'] });
  });
});

describe('recording a verdict: refusals before any read or write', () => {
  const untouched = new Proxy({} as QaDeps, {
    get(_, prop) {
      if (prop === 'now') return () => new Date(T0);
      throw new Error(`deps.${String(prop)} must not be used`);
    },
  });
  const analyst = { accountId: 'acct-1', role: 'analyst' as const, label: 'rev' };
  const admin = { accountId: 'acct-1', role: 'admin' as const, label: 'ops' };

  it('403 for an analyst asking to open a dispute', async () => {
    expect(await rejection(recordQaVerdict(analyst, 'twilio:CA1', { verdict: 'fraud', openDispute: true }, untouched))).toMatchObject({ status: 403 });
  });

  it('422 for a dispute on a good verdict, even from an admin', async () => {
    expect(await rejection(recordQaVerdict(admin, 'twilio:CA1', { verdict: 'good', openDispute: true }, untouched))).toMatchObject({ status: 422 });
  });
});
