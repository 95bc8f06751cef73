/**
 * Daily aggregates: the arithmetic (shared/domain/reports/aggregates.ts), the folds of aggregate cells into the
 * scorecard and the tuner (`addCounts`, `addCell`), and the aggregator's use case (shared/app/reports/aggregates.ts) against
 * an in-memory store that keeps DynamoDB's conditional-write semantics (a pure unit test: the integration test runs
 * the same code on DynamoDB Local through the table's stream).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OutcomeStatus, ReportCall } from '../../../shared/domain/reports/analytics';
import {
  contributionDelta,
  contributionOf,
  dayNumber,
  dayStartMs,
  localDay,
  sameContribution,
  splitPeriod,
  type AggregateDelta,
  type CallContribution,
} from '../../../shared/domain/reports/aggregates';
import { QA_VERDICTS, type QaVerdict } from '../../../shared/domain/qa/qa';
import { CALL_SIGNALS } from '../../../shared/domain/rating/rules';
import { createScorecard, type ScorecardOptions } from '../../../shared/domain/reports/scorecard';
import { createThresholdTuner, TUNER_HISTOGRAM_MAX_SEC } from '../../../shared/domain/reports/threshold-tuner';
import type { ReasonCode } from '../../../shared/domain/rating/decision';
import {
  aggregateCallChanges,
  mergeDeltas,
  refreshCall,
  type AggregateStore,
  type AggregatorDeps,
  type AppliedContribution,
  type CallChange,
  type PendingApplication,
} from '../../../shared/app/reports/aggregates';
import type { StoredCall } from '../../../shared/app/kernel/ports';
import { disclosureOf } from '../../../shared/app/reports/report-engine';

const ZONE = 'America/New_York';
const T0 = Date.parse('2026-03-05T00:00:00.000Z'); // the week of the spring DST change (2026-03-08)
const HOUR = 3_600_000;

// ---------------------------------------------------------------- generated calls

interface Shape {
  publisherId: string;
  subSource: string | null;
  hour: number;
  billableSec: number;
  price: number | null;
  outcome: OutcomeStatus | null;
  creditShare: number;
  signals: string[];
  qa: QaVerdict | null;
  never: ReasonCode;
}

const arbShape: fc.Arbitrary<Shape> = fc.record({
  publisherId: fc.constantFrom('pub-a', 'pub-b', 'pub#c'),
  subSource: fc.constantFrom(null, 's1', '"s2"'),
  hour: fc.integer({ min: 0, max: 24 * 8 }),
  billableSec: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 25, max: 95 }), fc.constantFrom(TUNER_HISTOGRAM_MAX_SEC, TUNER_HISTOGRAM_MAX_SEC + 1, 9_000)),
  price: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: null, freq: 4 }),
  outcome: fc.constantFrom<OutcomeStatus | null>(null, null, 'booked', 'closed', 'lost'),
  creditShare: fc.constantFrom(0, 0, 0.5, 1),
  signals: fc.subarray([...CALL_SIGNALS]),
  qa: fc.constantFrom<QaVerdict | null>(null, null, ...QA_VERDICTS),
  never: fc.constantFrom<ReasonCode>('not_connected', 'duplicate_caller', 'unknown_number'),
});

function reportCall(callId: string, s: Shape, buffer = 60): ReportCall {
  const billable = s.price !== null && s.billableSec >= buffer;
  const amount = billable ? s.price! : 0;
  return {
    callId,
    startedAtMs: T0 + s.hour * HOUR + 17_000,
    campaignId: 'camp-1',
    publisherId: s.publisherId,
    subSource: s.subSource,
    connected: s.price !== null,
    billableSec: s.billableSec,
    billable,
    amountCents: amount,
    reasons: billable ? [] : s.price === null ? [s.never] : ['below_buffer'],
    creditsCents: -Math.round(amount * s.creditShare),
    disputed: s.creditShare > 0,
    outcome: s.outcome === null ? null : { externalId: `crm-${callId}`, status: s.outcome, revenueCents: 1000, marginCents: 400, occurredAt: new Date(T0).toISOString() },
    priceIfBillableCents: s.price,
    bufferSec: buffer,
    signals: s.signals,
    qa: s.qa === null ? null : { verdict: s.qa, reviewedAt: new Date(T0).toISOString(), reviewer: 'qa' },
  };
}

// ---------------------------------------------------------------- an in-memory store with DynamoDB's semantics

const cellKey = (d: Pick<AggregateDelta, 'kind' | 'day' | 'publisherId' | 'subSource' | 'part'>) => JSON.stringify([d.kind, d.day, d.publisherId, d.subSource, d.part]);

class MemoryStore implements AggregateStore {
  readonly applied = new Map<string, AppliedContribution>();
  readonly cells = new Map<string, { day: string; publisherId: string; subSource: string | null; counts: Record<string, number> }>();
  writes = 0;

  async readApplied(callId: string) {
    return this.applied.get(callId) ?? null;
  }

  /** Conditional on the version read, atomic, as the TransactWriteItems of aggregate-repo.ts. */
  async apply(callId: string, expected: AppliedContribution | null, target: CallContribution | null, deltas: readonly AggregateDelta[]) {
    const now = this.applied.get(callId) ?? null;
    if ((now?.version ?? null) !== (expected?.version ?? null)) return 'conflict' as const;
    this.writes += 1;
    this.applied.set(callId, { version: (expected?.version ?? 0) + 1, contribution: target });
    for (const d of deltas) {
      const key = cellKey(d);
      const cell = this.cells.get(key) ?? { day: d.day, publisherId: d.publisherId, subSource: d.subSource, counts: {} };
      for (const [name, v] of Object.entries(d.add)) cell.counts[name] = (cell.counts[name] ?? 0) + v;
      this.cells.set(key, cell);
    }
    return 'applied' as const;
  }

  /** Cell item updates made (one per cell per atomic write). */
  cellWrites = 0;

  /** As aggregate-repo.ts: stale contributions left out ('conflict'), the rest applied atomically, each cell once. */
  async applyBatch(pending: readonly PendingApplication[]) {
    const results = pending.map((p) => ((this.applied.get(p.callId)?.version ?? null) === (p.expected?.version ?? null) ? ('applied' as const) : ('conflict' as const)));
    const live = pending.filter((_, i) => results[i] === 'applied');
    if (live.length === 0) return results;
    this.writes += 1;
    for (const p of live) this.applied.set(p.callId, { version: (p.expected?.version ?? 0) + 1, contribution: p.target });
    for (const d of mergeDeltas(live)) {
      this.cellWrites += 1;
      const key = cellKey(d);
      const cell = this.cells.get(key) ?? { day: d.day, publisherId: d.publisherId, subSource: d.subSource, counts: {} };
      for (const [name, v] of Object.entries(d.add)) cell.counts[name] = (cell.counts[name] ?? 0) + v;
      this.cells.set(key, cell);
    }
    return results;
  }

  cellsOf(kind: 'card' | 'tune') {
    return [...this.cells.entries()].filter(([k]) => JSON.parse(k)[0] === kind).map(([, c]) => c);
  }
}

/** The use case's dependencies over a map of "current items": each item is just the ReportCall it maps to. */
function depsOver(items: Map<string, ReportCall | null>, store: AggregateStore): AggregatorDeps {
  return {
    calls: { getCall: async (callId) => (items.get(callId) == null ? null : ({ callId, accountId: 'acct-1', rating: { campaignId: 'camp-1', termsVersion: 1 } } as unknown as StoredCall)) },
    context: { termsVersions: async () => [], timeZone: async () => ZONE },
    // A stream image may carry the ReportCall it maps to (`image`); a read of the item maps to the current one.
    reportCallOf: (call) => (call.rating === null ? null : ((call as { image?: ReportCall }).image ?? items.get(call.callId) ?? null)),
    store,
  };
}

function foldCalls(calls: readonly ReportCall[], groupBy: ScorecardOptions['groupBy']) {
  const card = createScorecard({ groupBy, economics: { avgCustomerMarginCents: 60_000, closeRate: 0.25, targetShare: 0.5 } });
  const tuner = createThresholdTuner({ min: 0, max: 300, step: 7, currentBufferSec: 60, dayOf: (ms) => dayNumber(localDay(ms, ZONE)) });
  for (const c of calls) {
    card.add(c);
    tuner.add(c);
  }
  return { card: card.result(), tune: tuner.result() };
}

function foldCells(store: MemoryStore, groupBy: ScorecardOptions['groupBy']) {
  const card = createScorecard({ groupBy, economics: { avgCustomerMarginCents: 60_000, closeRate: 0.25, targetShare: 0.5 } });
  const tuner = createThresholdTuner({ min: 0, max: 300, step: 7, currentBufferSec: 60, dayOf: (ms) => dayNumber(localDay(ms, ZONE)) });
  for (const c of store.cellsOf('card')) card.addCounts(c.publisherId, c.subSource, c.counts);
  for (const c of store.cellsOf('tune')) tuner.addCell({ publisherId: c.publisherId, subSource: c.subSource, day: dayNumber(c.day), counts: c.counts });
  return { card: card.result(), tune: tuner.result() };
}

// ---------------------------------------------------------------- tests

const FLUSH_SHAPE: Shape = { publisherId: 'pub-a', subSource: null, hour: 1, billableSec: 90, price: 2000, outcome: null, creditShare: 0, signals: [], qa: null, never: 'not_connected' };

describe('a call contribution', () => {
  it('keys the call by its local day in the account zone and names only non-zero counters', () => {
    // 03:30Z on 2026-03-05 is the evening of 2026-03-04 in New York.
    const c = contributionOf('acct-1', { ...reportCall('c1', { publisherId: 'pub-a', subSource: null, hour: 3, billableSec: 75, price: 2000, outcome: 'booked', creditShare: 0, signals: [], qa: null, never: 'not_connected' }) }, ZONE);
    expect(c.day).toBe('2026-03-04');
    // 75 s against a 60 s buffer: the near-buffer bin [+15, +20) s, i.e. nb9.
    expect(c.card).toEqual({ n: 1, cn: 1, b: 1, sp: 2000, bk: 1, rv: 1000, mg: 400, nb9: 1 });
    expect(c.tune).toEqual({ n: 1, bj: 1, c75: 1, s75: 2000, b75: 1 });
  });

  it('puts every call longer than the histogram into one bucket', () => {
    const c = contributionOf('acct-1', reportCall('c2', { publisherId: 'pub-a', subSource: null, hour: 3, billableSec: 9_000, price: 100, outcome: null, creditShare: 0, signals: [], qa: null, never: 'not_connected' }), ZONE);
    expect(c.tune).toEqual({ n: 1, [`c${TUNER_HISTOGRAM_MAX_SEC + 1}`]: 1, [`s${TUNER_HISTOGRAM_MAX_SEC + 1}`]: 100, [`x${TUNER_HISTOGRAM_MAX_SEC + 1}`]: 100 });
  });

  it('a delta from a contribution to itself is empty; moving cell takes it out whole and puts it in whole', () => {
    const s: Shape = { publisherId: 'pub-a', subSource: 's1', hour: 30, billableSec: 90, price: 2500, outcome: 'closed', creditShare: 0.5, signals: ['near_buffer_hangup'], qa: 'junk', never: 'not_connected' };
    const a = contributionOf('acct-1', reportCall('c3', s), ZONE);
    expect(contributionDelta(a, a)).toEqual([]);
    expect(sameContribution(a, { ...a })).toBe(true);
    const moved = contributionOf('acct-1', reportCall('c3', { ...s, hour: 60 }), ZONE);
    const deltas = contributionDelta(a, moved);
    const negate = (o: Readonly<Record<string, number>>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, -v]));
    // Out of the old day's items (scorecard; tuner counters `h` and the minute of its 90 s), into the new day's.
    expect(deltas.map((d) => [d.kind, d.day, d.part, d.add])).toEqual([
      ['card', a.day, '', negate(a.card)],
      ['tune', a.day, 'h', negate({ n: 1, bj: 1 })],
      ['tune', a.day, 'm1', negate({ c90: 1, s90: 2500, b90: 1 })],
      ['card', moved.day, '', moved.card],
      ['tune', moved.day, 'h', { n: 1, bj: 1 }],
      ['tune', moved.day, 'm1', { c90: 1, s90: 2500, b90: 1 }],
    ]);
    expect(a.day).not.toBe(moved.day);
    expect(contributionDelta(null, null)).toEqual([]);
  });
});

describe('the near-buffer histogram and the disclosure status on scorecard rows', () => {
  it('bins the calls that could bill around the buffer each was rated against', () => {
    const shape: Shape = { publisherId: 'pub-a', subSource: null, hour: 1, billableSec: 60, price: 2000, outcome: null, creditShare: 0, signals: [], qa: null, never: 'not_connected' };
    const card = createScorecard({ groupBy: 'publisher', economics: null });
    for (const [sec, buffer] of [[60, 60], [64, 60], [59, 60], [31, 60], [29, 60], [95, 90], [200, 60]] as const) card.add(reportCall(`c${sec}-${buffer}`, { ...shape, billableSec: sec }, buffer));
    // Could never bill: not binned.
    card.add(reportCall('never', { ...shape, billableSec: 61, price: null }));
    const bins = card.result().rows[0]!.nearBufferHistogram.filter((b) => b.count > 0);
    // 60/60 and 64/60 → [0, 5); 95/90 → [5, 10); 59/60 → [−5, 0); 31/60 → [−30, −25); 29/60 and 200/60 fall outside.
    expect(bins).toEqual([
      { fromSec: -30, toSec: -25, count: 1 },
      { fromSec: -5, toSec: 0, count: 1 },
      { fromSec: 0, toSec: 5, count: 2 },
      { fromSec: 5, toSec: 10, count: 1 },
    ]);
  });

  it('names a source undeclared, partial or disclosed', () => {
    expect(disclosureOf(null, 0).status).toBe('undeclared');
    expect(disclosureOf({ trafficMethods: [], subSources: ['a'] }, 0).status).toBe('undeclared');
    expect(disclosureOf({ trafficMethods: ['paid_search'], subSources: [] }, 0)).toMatchObject({ status: 'partial', why: 'The publisher has declared no sub-sources.' });
    expect(disclosureOf({ trafficMethods: ['paid_search'], subSources: ['a'] }, 3)).toMatchObject({ status: 'partial', undisclosedCalls: 3 });
    expect(disclosureOf({ trafficMethods: ['paid_search'], subSources: ['a'] }, 0)).toMatchObject({ status: 'disclosed', trafficMethods: ['paid_search'], declaredSubSources: ['a'] });
  });
});

describe('cells folded into the reports', () => {
  it('give exactly the scorecard and the sweep of the calls, whatever changed, in any order, delivered any number of times (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Per call: its successive states (null: it stopped contributing, e.g. before rating).
        fc.array(fc.array(fc.option(arbShape, { nil: null, freq: 5 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 25 }),
        // The interleaving: which call changes state or gets refreshed next, by two refreshers that read and commit apart.
        fc.array(fc.record({ call: fc.nat(), op: fc.constantFrom('change', 'read0', 'read1', 'commit0', 'commit1') }), { maxLength: 120 }),
        fc.constantFrom<ScorecardOptions['groupBy']>('publisher', 'subSource'),
        async (histories, ops, groupBy) => {
          const items = new Map<string, ReportCall | null>();
          const position = histories.map(() => 0);
          const idOf = (i: number) => `call-${i}`;
          const stateOf = (i: number) => {
            const s = histories[i]![position[i]!];
            return s == null ? null : reportCall(idOf(i), s);
          };
          histories.forEach((_, i) => items.set(idOf(i), stateOf(i)));
          const store = new MemoryStore();
          const deps = depsOver(items, store);
          // A refresher that read (call, applied) and commits later: the store refuses it if the applied moved on.
          const pending: ({ callId: string; applied: AppliedContribution | null; target: CallContribution | null } | null)[] = [null, null];
          for (const { call, op } of ops) {
            const i = call % histories.length;
            const callId = idOf(i);
            if (op === 'change') {
              position[i] = Math.min(position[i]! + 1, histories[i]!.length - 1);
              items.set(callId, stateOf(i));
            } else if (op === 'read0' || op === 'read1') {
              const now = items.get(callId) ?? null;
              pending[op === 'read0' ? 0 : 1] = { callId, applied: await store.readApplied(callId), target: now === null ? null : contributionOf('acct-1', now, ZONE) };
            } else {
              const p = pending[op === 'commit0' ? 0 : 1];
              if (p == null) continue;
              await store.apply(p.callId, p.applied, p.target, contributionDelta(p.applied?.contribution ?? null, p.target));
            }
          }
          // The stream always delivers a record after an item's last change: one batch of them, applied in batched
          // writes (each record's before-image stands for whatever the item was: never equal to its after-image).
          const flush: CallChange[] = histories.map((_, i) => ({
            callId: idOf(i),
            sequenceNumber: String(1000 + i),
            before: { callId: idOf(i), accountId: 'acct-1', rating: { campaignId: 'camp-1', termsVersion: 1 }, image: reportCall(idOf(i), { ...histories[0]![0] ?? FLUSH_SHAPE, publisherId: 'pub-image' }) } as unknown as StoredCall,
            after: { callId: idOf(i), accountId: 'acct-1', rating: { campaignId: 'camp-1', termsVersion: 1 } } as unknown as StoredCall,
          }));
          expect(await aggregateCallChanges(flush, deps, 3)).toMatchObject({ failedSequenceNumber: null });
          const finals = [...items.values()].filter((c): c is ReportCall => c !== null);
          expect(foldCells(store, groupBy)).toEqual(foldCalls(finals, groupBy));
          // And a second refresh of everything writes nothing.
          const writes = store.writes;
          for (let i = 0; i < histories.length; i++) expect(await refreshCall(idOf(i), deps)).toBe('unchanged');
          expect(store.writes).toBe(writes);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('the aggregator use case', () => {
  const shape: Shape = { publisherId: 'pub-a', subSource: null, hour: 10, billableSec: 90, price: 2000, outcome: null, creditShare: 0, signals: [], qa: null, never: 'not_connected' };
  const stored = (callId: string, rated: boolean) => ({ callId, accountId: 'acct-1', rating: rated ? { campaignId: 'camp-1', termsVersion: 1 } : null }) as unknown as StoredCall;

  it('skips, without a read, changes of calls that are not rated before or after', async () => {
    const store = new MemoryStore();
    let reads = 0;
    const deps = { ...depsOver(new Map([['c1', reportCall('c1', shape)]]), store), calls: { getCall: async () => ((reads += 1), null) } };
    const out = await aggregateCallChanges([{ callId: 'c1', sequenceNumber: '100', before: null, after: stored('c1', false) }], deps);
    expect(out).toMatchObject({ applied: 0, unchanged: 0, skipped: 1, failedSequenceNumber: null });
    expect(reads).toBe(0);
  });

  it('refreshes each changed call once per batch, and reports the earliest record of a call it could not refresh', async () => {
    const store = new MemoryStore();
    const items = new Map<string, ReportCall | null>([
      ['c1', reportCall('c1', shape)],
      ['c2', reportCall('c2', shape)],
      ['c3', reportCall('c3', shape)],
    ]);
    const base = depsOver(items, store);
    let reads = 0;
    const deps: AggregatorDeps = {
      ...base,
      calls: {
        getCall: async (callId) => {
          reads += 1;
          if (callId === 'c2') throw new Error('throttled');
          return base.calls.getCall(callId);
        },
      },
      // The images differ in what they contribute: before unrated, after rated.
      reportCallOf: (call) => (call.rating === null ? null : (items.get(call.callId) ?? null)),
    };
    const changes = [
      { callId: 'c1', sequenceNumber: '900', before: stored('c1', false), after: stored('c1', true) },
      { callId: 'c2', sequenceNumber: '1000', before: stored('c2', false), after: stored('c2', true) },
      { callId: 'c1', sequenceNumber: '1100', before: stored('c1', true), after: stored('c1', true) },
      { callId: 'c3', sequenceNumber: '99', before: stored('c3', false), after: stored('c3', true) },
    ];
    const out = await aggregateCallChanges(changes, deps);
    expect(out).toMatchObject({ applied: 2, failedSequenceNumber: '1000' });
    expect(out.failures.map((f) => f.callId)).toEqual(['c2']);
    expect(reads).toBe(3);
    // Retried from there (c2 and everything after it), the batch converges and changes nothing twice.
    const retry = await aggregateCallChanges(changes.slice(1), { ...deps, calls: base.calls });
    expect(retry).toMatchObject({ applied: 1, failedSequenceNumber: null });
    expect(foldCells(store, 'publisher').card.total).toEqual(foldCalls([...items.values()] as ReportCall[], 'publisher').card.total);
  });

  it('writes the calls of a batch together, each cell once, and refreshes apart a call that moved on meanwhile', async () => {
    const store = new MemoryStore();
    const items = new Map<string, ReportCall | null>(Array.from({ length: 30 }, (_, i) => [`c${i}`, reportCall(`c${i}`, { ...shape, billableSec: 90 + (i % 3) })] as const));
    // c7 already has an applied contribution; the batch's read of it comes back stale (as if read just before a
    // concurrent refresh committed): its write is refused, and it is refreshed on its own.
    await refreshCall('c7', depsOver(items, store));
    let staleOnce = true;
    const racing: AggregateStore = {
      readApplied: async (callId) => (callId === 'c7' && staleOnce ? ((staleOnce = false), null) : store.readApplied(callId)),
      apply: (...args) => store.apply(...args),
      applyBatch: (pending) => store.applyBatch(pending),
    };
    const changes = [...items.keys()].map((callId, i) => ({ callId, sequenceNumber: String(500 + i), before: stored(callId, false), after: stored(callId, true) }));
    const before = { writes: store.writes, cellWrites: store.cellWrites };
    const out = await aggregateCallChanges(changes, { ...depsOver(items, store), store: racing });
    expect(out).toMatchObject({ applied: 29, unchanged: 1, failedSequenceNumber: null });
    // One write for the 29, one cell update each for card, tune `h` and tune `m1` (all 90–92 s): 3, not 29 × 3.
    expect(store.writes - before.writes).toBe(1);
    expect(store.cellWrites - before.cellWrites).toBe(3);
    expect(foldCells(store, 'publisher')).toEqual(foldCalls([...items.values()] as ReportCall[], 'publisher'));
  });

  it('compares sequence numbers as numbers, not as text', async () => {
    const store = new MemoryStore();
    const deps: AggregatorDeps = { ...depsOver(new Map(), store), calls: { getCall: async () => Promise.reject(new Error('down')) }, reportCallOf: (call) => (call.rating === null ? null : reportCall(call.callId, shape)) };
    const out = await aggregateCallChanges(
      [
        { callId: 'a', sequenceNumber: '900', before: stored('a', false), after: stored('a', true) },
        { callId: 'b', sequenceNumber: '1000', before: stored('b', false), after: stored('b', true) },
      ],
      deps,
    );
    expect(out.failedSequenceNumber).toBe('900');
  });
});

describe('periods split into whole local days and edges', () => {
  it('answers whole days from the aggregates and reads the edges, across a DST change', () => {
    const from = Date.parse('2026-03-05T12:00:00.000Z');
    const to = Date.parse('2026-03-10T15:00:00.000Z');
    const split = splitPeriod(from, to, ZONE);
    // 2026-03-06 .. 2026-03-09 are whole in New York (03-08 lasts 23 hours).
    expect(split.days).toEqual({ first: '2026-03-06', last: '2026-03-09', count: 4 });
    expect(split.edges).toEqual([
      [from, Date.parse('2026-03-06T05:00:00.000Z')],
      [Date.parse('2026-03-10T04:00:00.000Z'), to],
    ]);
    expect(dayStartMs('2026-03-09', ZONE) - dayStartMs('2026-03-08', ZONE)).toBe(23 * HOUR);
  });

  it('has no whole day in a short period and no edges on exact day bounds', () => {
    expect(splitPeriod(Date.parse('2026-03-05T06:00:00Z'), Date.parse('2026-03-06T04:00:00Z'), ZONE)).toEqual({
      days: null,
      edges: [[Date.parse('2026-03-05T06:00:00Z'), Date.parse('2026-03-06T04:00:00Z')]],
    });
    expect(splitPeriod(Date.parse('2026-03-01T00:00:00Z'), Date.parse('2026-03-08T00:00:00Z'), 'UTC')).toEqual({
      days: { first: '2026-03-01', last: '2026-03-07', count: 7 },
      edges: [],
    });
  });
});
