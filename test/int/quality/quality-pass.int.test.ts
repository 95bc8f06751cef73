/**
 * Quality signals, through the real system against DynamoDB Local: the planted quality corpus
 * (events/quality-corpus.ts: near-buffer hang-ups on one source, a repeat-caller ring across two publishers, a
 * robocall burst without attestation, coached IVR timing, a number-block velocity burst, silent connections, DNC-listed
 * callers, outbound traffic without consent, and clean baseline calls) is delivered as the writer's inputs — the
 * incoming-call webhook (StirVerstat; its receipt is the prompt reference), the <Gather> action (its receipt is the
 * answer), the final status callback and the dialled leg (talk time) — rated by the real ledger writer, then the
 * scheduled cross-call pass (shared/app/quality/quality-pass.ts) runs over the STORED calls with the real adapters. The stored
 * calls are read back: precision and recall per signal (rating-time and cross-call) are printed and must be 1; no
 * baseline call carries any signal. A re-run writes nothing; a later run picks up from the checkpoint and flags calls
 * that started (or were rated) after the last one. The corpus is placed relative to now, never on a fixed date.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLIANCE_SIGNAL, generateQualityCorpus, scoreSignals, scoreTable, type QualityCorpus, type QualityCorpusCall } from '../../../events/quality-corpus';
import { lambdaContext } from '../../../infra/local/http-adapter';
import { FUNCTIONS } from '../../../infra/resources';
import { AccountRegistry, accountRegistryKeys } from '../../../shared/adapters/catalog/account-registry';
import { reportCallOf } from '../../../shared/adapters/reports/campaign-calls';
import { DncRepo } from '../../../shared/adapters/compliance/dnc-repo';
import { configItems } from '../../../shared/adapters/calls/main-repo';
import { QualityPassRepo } from '../../../shared/adapters/quality/quality-pass-repo';
import type { StoredCall } from '../../../shared/app/kernel/ports';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { DEFAULT_QUALITY_PASS_OPTIONS, runQualityPass, type QualityPassDeps, type QualityPassSummary } from '../../../shared/app/quality/quality-pass';
import { getCallRating } from '../../../shared/app/calls/read-api';
import { settleWithLimit } from '../../../shared/app/kernel/concurrency';
import { callerHash, normaliseNumber } from '../../../shared/domain/calls/caller';
import { SeedPublisherSchema } from '../../../shared/domain/catalog/config-schema';
import { QUALITY_SIGNALS, type IvrTiming } from '../../../shared/domain/quality/signals';
import { crossCallSignalsOf } from '../../../shared/domain/quality/cross-call-flags';
import type { Account, AssignedNumber } from '../../../shared/domain/catalog/types';
import type { CallEvent, CallStatus, CallStatusEvent } from '../../../shared/domain/calls/events';
import { freshNumber, records, silentLog, startCoreEnv, type CoreEnv } from '../../support/writer-fixtures';

const HOUR = 3_600_000;
const MIN = 60_000;
const ALL_SIGNALS = [...QUALITY_SIGNALS, COMPLIANCE_SIGNAL.dnc_listed, COMPLIANCE_SIGNAL.outbound_without_consent] as const;

type QualityPassModule = typeof import('../../../functions/quality-pass');

let env: CoreEnv;
let lambda: QualityPassModule;
const savedEnv = new Map<string, string | undefined>();
beforeAll(async () => {
  env = await startCoreEnv();
  // The handler reads its configuration and endpoints from process.env at module load, as in Lambda.
  const handlerEnv: Record<string, string> = { ...env.emulators.env, MAIN_TABLE: env.names.mainTable, POWERTOOLS_DEV: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' };
  for (const [name, value] of Object.entries(handlerEnv)) {
    savedEnv.set(name, process.env[name]);
    process.env[name] = value;
  }
  lambda = await import('../../../functions/quality-pass');
});
afterAll(async () => {
  for (const [name, value] of savedEnv) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await env?.stop();
});

// ------------------------------------------------------------------ the tenant: the corpus's publishers and sources

interface QualityTenant {
  readonly account: Account;
  readonly campaignId: string;
  /** Tracking number per source key `<publisherId>/<subSource>`. */
  readonly numbers: ReadonlyMap<string, AssignedNumber>;
}

const sourceOf = (publisherId: string, subSource: string | null) => `${publisherId}/${subSource ?? ''}`;

async function createQualityTenant(corpus: QualityCorpus): Promise<QualityTenant> {
  const suffix = randomUUID().slice(0, 8);
  const accountId = `acct-q-${suffix}`;
  const account: Account = {
    accountId,
    name: `Quality ${suffix}`,
    timeZone: 'America/Chicago',
    currency: 'USD',
    twilio: { accountSid: `AC${'a'.repeat(32)}`, authTokenSecret: `twilio/${accountId}/auth-token` },
    quality: corpus.config,
  };
  const campaignId = `camp-q-${suffix}`;
  const numbers = new Map<string, AssignedNumber>();
  const items: Record<string, unknown>[] = [
    // Registered (main gsi1, ACCOUNTS), as the seed loader does: the pass visits registered accounts.
    { ...configItems.account(account), ...accountRegistryKeys(accountId) },
    configItems.campaign({
      accountId,
      campaignId,
      name: 'Roofing',
      vertical: 'home_services',
      terms: { version: 1, priceCents: 4500, bufferSec: corpus.terms.bufferSec, duplicateWindowHours: 72 },
    }),
  ];
  for (const p of corpus.publishers) {
    items.push(
      configItems.publisher(
        SeedPublisherSchema.parse({ accountId, publisherId: p.publisherId, name: p.publisherId, trafficMethods: p.trafficMethods, subSources: p.subSources.filter((s) => s !== null) }),
      ),
    );
    for (const subSource of p.subSources) {
      const n: AssignedNumber = { accountId, number: freshNumber(), campaignId, publisherId: p.publisherId, subSource };
      numbers.set(sourceOf(p.publisherId, subSource), n);
      items.push(configItems.trackingNumber(n));
    }
  }
  await env.config.putConfigItems(items);
  return { account, campaignId, numbers };
}

// ------------------------------------------------------------------ a corpus call as the writer receives it

interface WireCall {
  readonly startMs: number;
  readonly publisherId: string;
  readonly subSource: string | null;
  readonly from: string;
  readonly status: CallStatus;
  readonly totalSec: number;
  readonly talkSec: number | null;
  readonly stirVerstat: string | null | undefined;
  readonly answeredBy: string | null;
  readonly ivr: IvrTiming | null;
}

const wireOf = (c: QualityCorpusCall): WireCall => ({
  startMs: c.startedAtMs,
  publisherId: c.publisherId,
  subSource: c.subSource,
  from: c.facts.from,
  status: c.facts.status,
  totalSec: c.facts.totalSec,
  talkSec: c.facts.talkSec,
  stirVerstat: c.facts.stirVerstat,
  answeredBy: c.facts.answeredBy,
  ivr: c.ivr,
});

const sid = (seed: string) => `CA${createHash('sha256').update(seed).digest('hex').slice(0, 32)}`;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The events Twilio sends for the call, as ingest makes them: the incoming-call webhook and the gather action have no
 * Timestamp (occurredAt = receivedAt, our receipt); the final status callback and the dialled leg carry Timestamp.
 */
function eventsOf(t: QualityTenant, w: WireCall, seed: string): { callId: string; ivrRequests: CallEvent[]; rest: CallEvent[] } {
  const callSid = sid(seed);
  const callId = `twilio:${callSid}`;
  const to = t.numbers.get(sourceOf(w.publisherId, w.subSource))!.number;
  const connected = w.status === 'completed';
  const durationSec = connected ? w.totalSec : 0;
  const base = {
    kind: 'call.status' as const,
    provider: 'twilio' as const,
    accountId: t.account.accountId,
    callId,
    sequenceNumber: null,
    direction: 'inbound' as const,
    from: w.from,
    to,
    durationSec: null,
    answeredBy: null,
    stirVerstat: null,
    digits: null,
    fromState: 'TX',
    fromZip: null,
    fromCountry: 'US',
    parentCallId: null,
  };
  // The incoming-call webhook: the prompt reference (ivr-timing.ts) is its receipt.
  const ringingAt = w.ivr?.promptStartedAtMs ?? w.startMs;
  const ringing: CallStatusEvent = { ...base, eventId: `${callId}:status:ringing`, status: 'ringing', occurredAt: iso(ringingAt), receivedAt: iso(ringingAt), stirVerstat: w.stirVerstat ?? null };
  const ivrRequests: CallEvent[] = [ringing];
  if (w.ivr !== null) {
    const at = iso(w.ivr.answeredAtMs);
    ivrRequests.push({ ...base, eventId: `${callId}:status:in-progress:gather`, status: 'in-progress', digits: '1', occurredAt: at, receivedAt: at });
  }
  const endMs = w.startMs + durationSec * 1000;
  const rest: CallEvent[] = [
    { ...base, eventId: `${callId}:status:${w.status}`, status: w.status, durationSec, answeredBy: w.answeredBy, occurredAt: iso(endMs), receivedAt: iso(endMs + 400), sequenceNumber: 0 },
  ];
  if (connected && w.talkSec !== null) {
    const childId = `twilio:${sid(`${seed}:leg`)}`;
    rest.push({
      ...base,
      callId: childId,
      eventId: `${childId}:status:completed`,
      status: 'completed',
      direction: 'outbound-dial',
      from: to,
      to: '+15125550199',
      durationSec: w.talkSec,
      occurredAt: iso(endMs),
      receivedAt: iso(endMs + 300),
      sequenceNumber: 1,
      parentCallId: callId,
    });
  }
  return { callId, ivrRequests, rest };
}

/** Rates calls through the real writer, each call's events in one batch (or the IVR requests in an earlier one). */
async function deliver(batches: readonly (readonly CallEvent[])[]): Promise<void> {
  const results = await settleWithLimit(batches, 8, async (events) => (await processIngestBatch(records(events), env.writerDeps)).failedMessageIds);
  for (const r of results) {
    expect(r.status).toBe('fulfilled');
    expect((r as PromiseFulfilledResult<readonly string[]>).value).toEqual([]);
  }
}

function passDeps(now: () => Date): QualityPassDeps {
  return {
    accounts: new AccountRegistry({ mainTable: env.names.mainTable, client: env.clients.dynamodb }),
    store: new QualityPassRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb, pageSize: 200 }),
    config: env.config,
    now,
    log: silentLog,
  };
}

function passOutcome(summary: QualityPassSummary, accountId: string) {
  const o = summary.outcomes.find((x) => x.accountId === accountId);
  expect(o?.status).toBe('done');
  return o as Extract<QualityPassSummary['outcomes'][number], { status: 'done' }>;
}

/** Every signal a stored call carries: what its rating recorded and what the pass flagged. */
const signalsOf = (c: StoredCall): string[] => [...new Set([...(c.rating?.recorded?.signals ?? []), ...crossCallSignalsOf(c.crossCall)])];

function printScores(title: string, scores: ReturnType<typeof scoreSignals<string>>): void {
  console.log('\n%s\n%s', title, scoreTable(scores));
}

// ------------------------------------------------------------------ the acceptance

describe('quality signals through the real system: writer, then the scheduled cross-call pass', () => {
  const startAtMs = Date.now() - 80 * HOUR;
  const corpus = generateQualityCorpus({ rngSeed: 6, startAtMs, baselineCalls: 240 });
  let tenant: QualityTenant;
  /** corpus call id → stored call id. */
  const ids = new Map<string, string>();
  let firstRun: QualityPassSummary;
  let firstRunAt: Date;

  const readAll = async () => {
    const out = new Map<string, StoredCall>();
    const got = await settleWithLimit([...ids], 16, async ([qc, callId]) => [qc, (await env.calls.getCall(callId, { consistent: true }))!] as const);
    for (const r of got) {
      const [qc, call] = (r as PromiseFulfilledResult<readonly [string, StoredCall]>).value;
      out.set(qc, call);
    }
    return out;
  };

  beforeAll(async () => {
    tenant = await createQualityTenant(corpus);
    // DNC-listed callers: on the account's internal list since before the corpus.
    const dnc = new DncRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
    const since = iso(startAtMs - 24 * HOUR);
    await dnc.putList({ accountId: tenant.account.accountId, listId: 'internal', name: 'Internal', source: 'internal', at: since, by: 'test' });
    await dnc.writeEntries(
      tenant.account.accountId,
      corpus.calls
        .filter((c) => c.labels.compliance.includes('dnc_listed'))
        .map((c) => ({ callerHash: callerHash(env.callerHashKey, normaliseNumber(c.facts.from)!), entry: { listId: 'internal', periods: [{ from: since, until: null }], updatedAt: since, updatedBy: 'test' } })),
    );
    const batches: CallEvent[][] = [];
    for (const c of corpus.calls) {
      const e = eventsOf(tenant, wireOf(c), `${tenant.account.accountId}:${c.callId}`);
      ids.set(c.callId, e.callId);
      batches.push([...e.ivrRequests, ...e.rest]);
    }
    const t0 = Date.now();
    await deliver(batches);
    console.log('\nquality corpus through the writer: %d calls rated in %d ms', corpus.calls.length, Date.now() - t0);
    firstRunAt = new Date();
    const t1 = Date.now();
    firstRun = await runQualityPass(passDeps(() => firstRunAt), { ...DEFAULT_QUALITY_PASS_OPTIONS });
    console.log('first quality pass: %d calls read, %d flagged in %d ms', firstRun.callsRead, firstRun.callsFlagged, Date.now() - t1);
  }, 240_000);

  it('flags every planted call and nothing else: precision and recall 1 for every signal, rating-time and cross-call', async () => {
    const stored = await readAll();
    const predicted = new Map([...stored].map(([qc, call]) => [qc, signalsOf(call)]));
    const scores = scoreSignals(corpus.calls, predicted, ALL_SIGNALS);
    printScores(
      `stored signals on the planted corpus through the writer and the quality pass (${corpus.calls.length} calls, ${corpus.calls.filter((c) => c.labels.signals.length + c.labels.compliance.length > 0).length} labelled)`,
      scores,
    );
    for (const s of scores) {
      expect(s.truePositives + s.falseNegatives, s.signal).toBeGreaterThan(0);
      expect({ signal: s.signal, precision: s.precision, recall: s.recall }).toEqual({ signal: s.signal, precision: 1, recall: 1 });
    }
    // Which part found what: the cross-call signals come from the pass only; the per-call ones from the rating.
    const crossCall = new Set([...stored.values()].flatMap((c) => crossCallSignalsOf(c.crossCall)));
    expect([...crossCall].sort()).toEqual(['repeat_caller', 'velocity']);
    const atRating = new Set([...stored.values()].flatMap((c) => c.rating?.recorded?.signals ?? []));
    expect([...atRating].sort()).toEqual(['coached_ivr', 'consent_missing', 'dnc_listed', 'near_buffer_hangup', 'robocall_suspect', 'silent_or_short_talk']);
    // coached_ivr at rating: the incoming-call webhook and the gather action were in the batch (too_fast).
    const coached = corpus.calls.find((c) => c.scenario === 'coached_ivr')!;
    expect(stored.get(coached.callId)!.rating!.recorded?.signals).toEqual(['coached_ivr']);
    expect(firstRun.failed).toEqual([]);
    expect(passOutcome(firstRun, tenant.account.accountId)).toMatchObject({ read: corpus.calls.length, targets: corpus.calls.length, conflicts: 0, checkpointStored: true });
  });

  it('raises no signal on the clean baseline, and only the compliance signal on compliance-only calls', async () => {
    const stored = await readAll();
    const noisy = corpus.calls
      .filter((c) => c.scenario === 'baseline')
      .map((c) => [c.callId, signalsOf(stored.get(c.callId)!)] as const)
      .filter(([, s]) => s.length > 0);
    expect(noisy).toEqual([]);
    for (const c of corpus.calls.filter((x) => x.labels.compliance.length > 0)) expect(signalsOf(stored.get(c.callId)!)).toEqual(c.labels.compliance.map((l) => COMPLIANCE_SIGNAL[l]));
  });

  it('flags only: billing is what the rating decided, the flags are beside it and visible in the explanation and the reports', async () => {
    const stored = await readAll();
    const ring = corpus.calls.filter((c) => c.scenario === 'repeat_ring' && c.labels.signals.includes('repeat_caller'));
    const call = stored.get(ring[0]!.callId)!;
    expect(call.crossCall).toMatchObject({ findings: [{ signal: 'repeat_caller', rules: ['other_source'] }] });
    expect(call.crossCall!.priorCallId).toMatch(/^twilio:CA/);
    // The rating has no trace of it: reasons and amount as rated (a duplicate is the duplicate rule's business).
    expect(call.rating!.recorded?.signals ?? []).not.toContain('repeat_caller');
    const explained = await getCallRating({ accountId: tenant.account.accountId, role: 'analyst' }, call.callId, { calls: env.calls, config: env.config });
    expect(explained.matchesRecorded).toBe(true);
    expect(explained.crossCallSignals?.findings.map((f) => f.signal)).toEqual(['repeat_caller']);
    expect(explained.rules.find((r) => r.rule === 'blocked_signal')!.inputs.signals).not.toContain('repeat_caller');
    expect(reportCallOf(call, [], new Map())?.signals).toContain('repeat_caller');
    // The ledger holds exactly the charges of the billable ratings: the pass appended nothing.
    const billable = [...stored.values()].filter((c) => c.rating!.billable).length;
    const entries = await env.ledger.listEntries({ accountId: tenant.account.accountId, limit: 1000 });
    expect(entries.items.filter((e) => e.type === 'charge')).toHaveLength(billable);
  });

  it('a re-run over the same window writes nothing (the Lambda handler, wired from the environment)', async () => {
    const before = await readAll();
    const handler = lambda.createHandler({ ...lambda.deps, now: () => new Date(firstRunAt.getTime() + MIN), log: silentLog });
    const again = await handler({}, lambdaContext(FUNCTIONS.qualityPass));
    // It read from its checkpoint minus the settle span minus the detector's 72 h look-back, and wrote nothing.
    const readFrom = firstRunAt.getTime() - DEFAULT_QUALITY_PASS_OPTIONS.settleMs - corpus.config.repeatWindowHours * HOUR;
    expect(again).toMatchObject({ accounts: 1, callsRead: corpus.calls.filter((c) => c.startedAtMs >= readFrom).length, callsFlagged: 0, conflicts: 0, failed: [] });
    const after = await readAll();
    for (const [qc, call] of after) expect(call.crossCall ?? null, qc).toEqual(before.get(qc)!.crossCall ?? null);
  });

  it('the next run picks up from its checkpoint: late calls (new, rated late, identical IVR timing, IVR timing stored apart) are flagged, nothing else', async () => {
    const before = await readAll();
    const store = new QualityPassRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
    const checkpoint = (await store.getCheckpoint(tenant.account.accountId))!;
    const checkpointMs = Date.parse(checkpoint.through);
    const now = Date.now();
    // People answer the IVR with delays seconds apart (identical delays from five callers would be coached_ivr).
    let person = 0;
    const wire = (over: Partial<WireCall> & Pick<WireCall, 'startMs' | 'publisherId' | 'subSource' | 'from'>): WireCall => ({
      status: 'completed',
      totalSec: 200,
      talkSec: 180,
      stirVerstat: 'TN-Validation-Passed-A',
      answeredBy: null,
      ivr: { promptStartedAtMs: over.startMs + 2_000, answeredAtMs: over.startMs + 2_000 + 2_500 + 700 * person++ },
      ...over,
    });
    const late: { seed: string; w: WireCall; split?: boolean; expect: string[] }[] = [];
    // A new velocity burst from one number block in the last hour: the sixth call is velocity.
    const block = `+1915${483}`;
    for (let i = 0; i < 6; i++)
      late.push({ seed: `burst-${i}`, w: wire({ startMs: now - 50 * MIN + i * 2 * MIN, publisherId: 'pub-social', subSource: 'fb', from: `${block}${String(1200 + i * 7)}` }), expect: i === 5 ? ['velocity'] : [] });
    // A caller of the ring again, through a third source, after the checkpoint.
    const ring = corpus.calls.filter((c) => c.scenario === 'repeat_ring');
    late.push({ seed: 'ring-again', w: wire({ startMs: now - 30 * MIN, publisherId: 'pub-social', subSource: 'tiktok', from: ring[0]!.facts.from, totalSec: 240 }), expect: ['repeat_caller'] });
    // Another ring caller whose call started BEFORE the checkpoint but was rated after it (settle window).
    const other = ring.find((c) => c.facts.from !== ring[0]!.facts.from)!;
    late.push({ seed: 'ring-rated-late', w: wire({ startMs: checkpointMs - 40 * MIN, publisherId: 'pub-compare', subSource: 'site-b', from: other.facts.from }), expect: ['repeat_caller'] });
    // A coached answer whose incoming-call webhook and gather action reached an earlier batch than the final callback:
    // the rating does not read the item for it (the account only flags), the pass times it from the stored slots.
    late.push({
      seed: 'coached-split',
      w: wire({ startMs: now - 20 * MIN, publisherId: 'pub-search', subSource: 'bing', from: '+12145550177', ivr: { promptStartedAtMs: now - 20 * MIN + 1_500, answeredAtMs: now - 20 * MIN + 1_710 } }),
      split: true,
      expect: ['coached_ivr'],
    });
    // Five callers answering 5.05 s ± 12 ms after the prompt: human-slow, but identical (a script); the fifth is flagged.
    const identical = [0, 8, -6, 12, 3];
    identical.forEach((jitter, i) => {
      const startMs = now - 45 * MIN + i * 5 * MIN;
      late.push({
        seed: `identical-${i}`,
        w: wire({ startMs, publisherId: 'pub-compare', subSource: 'site-a', from: freshNumber(), ivr: { promptStartedAtMs: startMs + 1_800, answeredAtMs: startMs + 1_800 + 5_050 + jitter } }),
        expect: i === identical.length - 1 ? ['coached_ivr'] : [],
      });
    });
    const lateIds = new Map<string, { callId: string; expect: string[] }>();
    const first: CallEvent[][] = [];
    const second: CallEvent[][] = [];
    for (const l of late) {
      const e = eventsOf(tenant, l.w, `${tenant.account.accountId}:late:${l.seed}`);
      lateIds.set(l.seed, { callId: e.callId, expect: l.expect });
      if (l.split) {
        first.push(e.ivrRequests);
        second.push(e.rest);
      } else second.push([...e.ivrRequests, ...e.rest]);
    }
    await deliver(first);
    await deliver(second);
    const coachedSplit = (await env.calls.getCall(lateIds.get('coached-split')!.callId, { consistent: true }))!;
    expect(coachedSplit.rating!.recorded?.signals ?? []).toEqual([]);

    const runAt = new Date(Date.now() + 1_000);
    const run = await runQualityPass(passDeps(() => runAt), { ...DEFAULT_QUALITY_PASS_OPTIONS });
    const outcome = passOutcome(run, tenant.account.accountId);
    expect(outcome.from).toBe(iso(checkpointMs - DEFAULT_QUALITY_PASS_OPTIONS.settleMs));
    expect(outcome).toMatchObject({ targets: late.length, flagged: 5, conflicts: 0, checkpointStored: true });
    for (const [seed, { callId, expect: signals }] of lateIds) {
      const call = (await env.calls.getCall(callId, { consistent: true }))!;
      expect(crossCallSignalsOf(call.crossCall), seed).toEqual(signals);
    }
    expect((await env.calls.getCall(lateIds.get('coached-split')!.callId))!.crossCall).toMatchObject({ findings: [{ signal: 'coached_ivr', rules: ['too_fast'] }], answerDelayMs: 210 });
    expect((await env.calls.getCall(lateIds.get('identical-4')!.callId))!.crossCall).toMatchObject({ findings: [{ signal: 'coached_ivr', rules: ['identical_timing'] }], answerDelayMs: 5_053 });
    expect((await store.getCheckpoint(tenant.account.accountId))!.through).toBe(runAt.toISOString());
    // The corpus's calls are context only now: unchanged.
    const after = await readAll();
    for (const [qc, call] of after) expect(call.crossCall ?? null, qc).toEqual(before.get(qc)!.crossCall ?? null);
  });
});

describe('IVR timing at rating', () => {
  it('an account that blocks coached_ivr gets the stored IVR requests read at rating: a coached answer does not bill, a human one does', async () => {
    const corpus = generateQualityCorpus({ rngSeed: 7, startAtMs: Date.now() - 80 * HOUR, baselineCalls: 0 });
    const tenant = await createQualityTenant({ ...corpus, config: { ...corpus.config, blockSignals: ['coached_ivr'] } });
    const startMs = Date.now() - 30 * MIN;
    const call = (seed: string, delayMs: number) =>
      eventsOf(
        tenant,
        {
          startMs,
          publisherId: 'pub-search',
          subSource: 'bing',
          from: freshNumber(),
          status: 'completed',
          totalSec: 240,
          talkSec: 200,
          stirVerstat: 'TN-Validation-Passed-A',
          answeredBy: null,
          ivr: { promptStartedAtMs: startMs + 1_000, answeredAtMs: startMs + 1_000 + delayMs },
        },
        `${tenant.account.accountId}:${seed}`,
      );
    const coached = call('coached', 180);
    const human = call('human', 3_400);
    // The IVR requests arrive in an earlier batch than the final status callback, as they do on a real call.
    await deliver([coached.ivrRequests, human.ivrRequests]);
    await deliver([coached.rest, human.rest]);
    expect((await env.calls.getCall(coached.callId, { consistent: true }))!.rating).toMatchObject({
      billable: false,
      amountCents: 0,
      reasons: ['blocked_signal'],
      recorded: { signals: ['coached_ivr'] },
    });
    const humanRating = (await env.calls.getCall(human.callId, { consistent: true }))!.rating!;
    expect(humanRating).toMatchObject({ billable: true, reasons: [] });
    expect(humanRating.recorded?.signals).toBeUndefined();
  });
});
