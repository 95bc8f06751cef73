/**
 * The demo's voice half: calls played through the Twilio call simulator (events/voice) against the voice URL of the
 * running stack, then the routing summary (admitted, refused by reason, target outcomes) beside the ledger, and the
 * ledger checked against the simulator's ground truth (1 on any difference).
 *
 * Three campaigns on the demo account, each with a call flow in force since the epoch:
 *  - IVR qualification (press 1: a new roof, routed; 2: ended politely; no input: ended), routed to a target held at
 *    its concurrency cap (skipped) and then to the agents' line, which answers;
 *  - an after-hours line routed only to a target whose hours are closed now: refused before any line rings;
 *  - a pilot whose spend cap is worth PILOT_CAP_CALLS calls, offered more calls at once: refused `over_cap` at
 *    admission once the cap is reserved.
 * The configuration is written straight to the main table (the API would make it take effect CONFIG_LEAD_MS later).
 * Targets keep fixed ids (the voice function caches an account's target list: a rerun within its lifetime sees
 * them); campaigns, numbers and the pilot are new on each run, so a rerun on a running stack starts a fresh pilot.
 */
import { randomBytes } from 'node:crypto';
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { ConfigRepo, configItems } from '../shared/adapters/catalog/config-repo';
import { mainKeys } from '../shared/adapters/calls/keys';
import { routingKeys } from '../shared/adapters/routing/routing-repo';
import type { CallFlow } from '../shared/domain/callflow/flow';
import type { Campaign } from '../shared/domain/catalog/types';
import { WEEKDAYS, wallTime } from '../shared/domain/kernel/zoned-time';
import type { PilotTerms } from '../shared/domain/pilots/caps';
import type { Target } from '../shared/domain/routing/targets';
import type { ContractTerms } from '../shared/domain/terms/terms';
import { mulberry32 } from './prng';
import { playCalls, summarize, type CallResult } from './voice/run';
import type { CallScriptInput } from './voice/script';

export interface VoiceDemoTarget extends VoiceDb {
  readonly baseUrl: string;
  readonly publicBaseUrl: string;
  readonly mediaBaseUrl: string;
  readonly accountId: string;
  readonly accountSid: string;
  readonly authToken: string;
  readonly adminKey: string;
  readonly timeZone: string;
  readonly waitForIdle?: (timeoutMs?: number) => Promise<void>;
}

const EPOCH = '2000-01-01T00:00:00.000Z';
export const PRICE_CENTS = 4500;
const BUFFER_SEC = 60;
/** The pilot's spend cap, in calls at the terms price; PILOT_CALLS are offered to it at once. */
const PILOT_CAP_CALLS = 4;
const PILOT_CALLS = 10;
const IVR_CALLS = 24;
const NIGHT_CALLS = 4;
const TARGETS = { full: 'demo-voice-overflow', agents: 'demo-voice-agents', night: 'demo-voice-night' } as const;
/** The targets' lines: 737-555-01xx, unused by the demo seed and the tests. */
const LINES = { full: '+17375550101', agents: '+17375550102', night: '+17375550103' } as const;
const FULL_CAP = 2;

const TERMS: ContractTerms = {
  priceCents: PRICE_CENTS,
  bufferSec: BUFFER_SEC,
  durationBasis: 'talk',
  qualification: null,
  duplicateWindowHours: 72,
  duplicateScope: 'campaign',
  withheldCallerId: 'non_billable',
  priceBands: [],
  overrides: [],
};

const say = (text: string) => ({ kind: 'say' as const, text, voice: null, language: 'en-US' });

/** The demo's call flow: greeting, the IVR if `ivr` (1 qualifies, 2 ends politely, no input ends), then `routes` in order. */
export function voiceFlow(routes: readonly string[], ivr: boolean): CallFlow {
  return {
    greeting: say('Thanks for calling Lone Star Roofing.'),
    ivr: ivr
      ? {
          prompt: say('Press 1 for a new roof, or 2 for anything else.'),
          options: [
            { digits: '1', then: { action: 'qualify' } },
            { digits: '2', then: { action: 'end', message: say('We only install new roofs. Goodbye.') } },
          ],
          timeoutSec: 5,
          retries: 1,
          retryPrompt: say('Sorry, I did not get that.'),
          noInput: { action: 'end', message: null },
        }
      : null,
    routes: { default: [...routes] },
    ringTimeoutSec: 15,
    maxCallSec: 3600,
    recording: 'off',
    whisper: null,
    unavailable: { action: 'message', message: say('Everyone is busy. Please call again later.') },
    refusedMessage: say('We cannot take this call. Goodbye.'),
    caps: null,
    failSafe: { action: 'message', message: say('We are sorry, please call again later.') },
  };
}

export function voiceTarget(accountId: string, targetId: string, e164: string, overrides: Partial<Target>): Target {
  return {
    accountId,
    targetId,
    name: `Demo ${targetId}`,
    destination: { kind: 'number', e164 },
    enabled: true,
    hours: null,
    concurrencyCap: null,
    hourlyCap: null,
    dailyCap: null,
    geography: null,
    priority: 1,
    weight: 1,
    ringTimeoutSec: null,
    rev: 1,
    updatedAt: EPOCH,
    ...overrides,
  };
}

/** Weekly hours open only tomorrow (local): closed at this instant, whatever the time of day. */
function closedNow(timeZone: string, nowMs: number) {
  const w = wallTime(nowMs, timeZone);
  const day = WEEKDAYS[(WEEKDAYS.indexOf(w.weekday) + 1) % 7]!;
  return { timeZone, windows: [{ day, open: '09:00', close: '17:00' }], holidays: [] };
}

interface Setup {
  readonly ivr: string;
  readonly night: string;
  readonly pilot: string;
  readonly pilotId: string;
}

/** The main table the voice configuration is written to, and a client on it. */
export interface VoiceDb {
  readonly dynamodb: DynamoDBClient;
  readonly mainTable: string;
}

async function put(db: VoiceDb, item: Record<string, unknown>): Promise<void> {
  await db.dynamodb.send(new PutItemCommand({ TableName: db.mainTable, Item: marshall(item, { removeUndefinedValues: true }) }));
}

/** A target, overwritten (not created: a rerun keeps its id and the voice function's cached list stays true). */
export async function putVoiceTarget(db: VoiceDb, x: Target): Promise<void> {
  await put(db, { ...mainKeys.target(x.accountId, x.targetId), ...x });
}

/** A pilot whose spend cap is worth `calls` calls at the demo price, open from an hour ago for a day. */
export function voicePilot(pilotId: string, publisherId: string, calls: number, timeZone: string, nowMs: number): PilotTerms {
  return {
    pilotId,
    publisherIds: [publisherId],
    startsAt: new Date(nowMs - 3_600_000).toISOString(),
    endsAt: new Date(nowMs + 86_400_000).toISOString(),
    spendCapCents: calls * PRICE_CENTS,
    dailyCapCents: null,
    maxBillableCalls: null,
    timeZone,
    createdAt: new Date(nowMs - 3_600_000).toISOString(),
  };
}

/**
 * A publisher, a campaign (the demo terms and `flow`, both in force since the epoch, and `pilot` if any, its
 * counter opened as POST /v1/pilots opens it) and its tracking number `number`.
 */
export async function writeVoiceCampaign(
  db: VoiceDb,
  a: { accountId: string; campaignId: string; publisherId: string; number: string; flow: CallFlow; pilot?: PilotTerms },
): Promise<void> {
  const campaign: Campaign = {
    accountId: a.accountId,
    campaignId: a.campaignId,
    name: `Voice demo ${a.campaignId}`,
    vertical: 'home_services',
    geography: null,
    hours: null,
    termsVersions: [{ ...TERMS, version: 1, effectiveFrom: EPOCH, createdAt: EPOCH }],
    flowVersions: [{ ...a.flow, version: 1, effectiveFrom: EPOCH, createdAt: EPOCH }],
    ...(a.pilot ? { pilots: [a.pilot] } : {}),
    rev: 1,
    updatedAt: EPOCH,
  };
  await new ConfigRepo({ mainTable: db.mainTable, client: db.dynamodb }).putConfigItems([
    configItems.publisher({
      accountId: a.accountId,
      publisherId: a.publisherId,
      name: `Voice demo publisher ${a.campaignId}`,
      trafficMethods: ['paid_search'],
      subSources: [],
      contact: null,
      creditPolicy: { disputeWindowDays: 30, allowedReasons: ['fraud', 'other'] },
    }),
    configItems.campaign(campaign),
    configItems.trackingNumber({ accountId: a.accountId, number: a.number, assignments: [{ campaignId: a.campaignId, publisherId: a.publisherId, subSource: null, effectiveFrom: EPOCH, createdAt: EPOCH }], rev: 1, updatedAt: EPOCH }),
  ]);
  if (!a.pilot) return;
  await put(db, {
    ...mainKeys.pilotCounter(a.accountId, a.pilot.pilotId),
    accountId: a.accountId,
    pilotId: a.pilot.pilotId,
    open: true,
    spentCents: 0,
    billableCalls: 0,
    heldCents: 0,
    heldCalls: 0,
    reservations: {},
    spendCapCents: a.pilot.spendCapCents,
    maxBillableCalls: a.pilot.maxBillableCalls,
  });
}

/** Targets, the overflow target's slots held, three campaigns (new numbers each run), the pilot and its counter. */
async function writeSetup(t: VoiceDemoTarget, run: string, nowMs: number): Promise<Setup> {
  const a = t.accountId;
  await putVoiceTarget(t, voiceTarget(a, TARGETS.full, LINES.full, { concurrencyCap: FULL_CAP, priority: 1 }));
  await putVoiceTarget(t, voiceTarget(a, TARGETS.agents, LINES.agents, { priority: 2 }));
  await putVoiceTarget(t, voiceTarget(a, TARGETS.night, LINES.night, { hours: closedNow(t.timeZone, nowMs) }));
  // Every slot of the overflow target held by other live calls for the demo's length: it is at its cap.
  for (let slot = 0; slot < FULL_CAP; slot++) {
    await put(t, { ...routingKeys.slot(a, TARGETS.full, slot), holder: `twilio:CA${'0'.repeat(31)}${slot}`, expiresAtMs: nowMs + 600_000, maxCallMs: 3_630_000 });
  }
  const pilot = voicePilot(`demo-pilot-${run}`, `pub-dv-pilot-${run}`, PILOT_CAP_CALLS, t.timeZone, nowMs);
  const digits = randomBytes(2).readUInt16BE(0) % 3000;
  const numbers = [0, 1, 2].map((i) => `+1737555${String(2000 + ((digits * 3 + i) % 8000)).padStart(4, '0')}`);
  await writeVoiceCampaign(t, { accountId: a, campaignId: `dv-ivr-${run}`, publisherId: `pub-dv-ivr-${run}`, number: numbers[0]!, flow: voiceFlow([TARGETS.full, TARGETS.agents], true) });
  await writeVoiceCampaign(t, { accountId: a, campaignId: `dv-night-${run}`, publisherId: `pub-dv-night-${run}`, number: numbers[1]!, flow: voiceFlow([TARGETS.night], false) });
  await writeVoiceCampaign(t, { accountId: a, campaignId: `dv-pilot-${run}`, publisherId: pilot.publisherIds[0]!, number: numbers[2]!, flow: voiceFlow([TARGETS.agents], false), pilot });
  return { ivr: numbers[0]!, night: numbers[1]!, pilot: numbers[2]!, pilotId: pilot.pilotId };
}

/** Seeded scripts: the IVR line's mix of answers and talk times, the after-hours calls, the pilot's burst. */
function scripts(t: VoiceDemoTarget, setup: Setup, seed: number, nowMs: number): { ivr: CallScriptInput[]; night: CallScriptInput[]; pilot: CallScriptInput[] } {
  const rnd = mulberry32(seed ^ 0x5eed);
  const startAt = new Date(Math.floor(nowMs / 1000) * 1000).toISOString();
  const caller = () => `+1512${String(2000000 + Math.floor(rnd() * 7_999_999)).padStart(7, '0')}`;
  const base = (to: string): CallScriptInput => ({ accountId: t.accountId, from: caller(), to, startAt, billing: { bufferSec: BUFFER_SEC, durationBasis: 'talk' } });
  const ivr = Array.from({ length: IVR_CALLS }, () => {
    const r = rnd();
    const gathers = r < 0.7 ? [{ press: '1', afterSec: 1 + Math.floor(rnd() * 4) }] : r < 0.85 ? [{ press: '2', afterSec: 1 }] : [{ press: null }, { press: null }];
    const talkSec = rnd() < 0.25 ? 10 + Math.floor(rnd() * 40) : 70 + Math.floor(rnd() * 400);
    const agents = rnd() < 0.1 ? { outcome: 'busy' as const } : { outcome: 'answer' as const, ringSec: 2 + Math.floor(rnd() * 6), talkSec };
    return { ...base(setup.ivr), gathers, targets: { [LINES.agents]: agents } };
  });
  const night = Array.from({ length: NIGHT_CALLS }, () => base(setup.night));
  const pilot = Array.from({ length: PILOT_CALLS }, () => ({ ...base(setup.pilot), targets: { [LINES.agents]: { outcome: 'answer' as const, ringSec: 2, talkSec: 120 } } }));
  return { ivr, night, pilot };
}

// ------------------------------------------------------------------------------------------------ read back

async function get<T>(t: VoiceDemoTarget, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${t.baseUrl}${path}`, { headers: { authorization: `Bearer ${t.adminKey}` }, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

interface Routing {
  readonly degraded?: boolean;
  readonly admission: { readonly kind: string; readonly reason?: string | null } | null;
  readonly attempts: readonly { readonly targetId: string; readonly outcome: string }[];
}

async function routingOf(t: VoiceDemoTarget, callId: string): Promise<Routing | null> {
  const r = await get<{ routing?: Routing | null }>(t, `/v1/calls/${encodeURIComponent(callId)}`);
  return r.status === 200 ? (r.body.routing ?? null) : null;
}

/** Net ledger amount per call id, from GET /v1/ledger since `from`. */
async function ledgerByCall(t: VoiceDemoTarget, from: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const q: URLSearchParams = new URLSearchParams({ from, limit: '100', ...(cursor ? { cursor } : {}) });
    type Page = { entries: { callId: string; amountCents: number; type: string }[]; cursor: string | null };
    const r: { status: number; body: Page } = await get<Page>(t, `/v1/ledger?${q}`);
    if (r.status !== 200) throw new Error(`GET /v1/ledger answered ${r.status}`);
    for (const e of r.body.entries) if (e.type === 'charge' || e.type === 'reversal') out.set(e.callId, (out.get(e.callId) ?? 0) + e.amountCents);
    if (!r.body.cursor) return out;
    cursor = r.body.cursor;
  }
  throw new Error('pagination did not end');
}

/** Until every played call has its routing audit and two readings of the ledger 2 s apart agree (or the deadline). */
/**
 * Waits until every call has its routing record, every call the simulator says bills is charged, and the ledger reads
 * the same twice 2 s apart (or the deadline): against a stack this process does not own (`--run-file`) there is no
 * idle signal, and two equal reads taken before the writer has caught up would compare the simulator with a ledger
 * still being written.
 */
async function waitForCalls(t: VoiceDemoTarget, callIds: readonly string[], billing: ReadonlySet<string>, from: string, timeoutMs: number): Promise<Map<string, Routing | null>> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (t.waitForIdle) await t.waitForIdle(timeoutMs).catch(() => undefined);
    const routings = new Map<string, Routing | null>();
    for (const id of callIds) routings.set(id, await routingOf(t, id));
    const ledger = await ledgerByCall(t, from);
    const snapshot = JSON.stringify(callIds.map((id) => ledger.get(id) ?? 0));
    const complete = [...routings.values()].every((r) => r !== null) && [...billing].every((id) => (ledger.get(id) ?? 0) > 0);
    if ((complete && snapshot === last) || Date.now() > deadline) return routings;
    last = snapshot;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function routingSummary(routings: ReadonlyMap<string, Routing | null>): string[] {
  const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const refused = new Map<string, number>();
  const outcomes = new Map<string, number>();
  let admitted = 0;
  let degraded = 0;
  let missing = 0;
  for (const r of routings.values()) {
    if (r === null) missing++;
    else if (r.degraded) degraded++;
    else if (r.admission?.kind === 'refuse') count(refused, r.admission.reason ?? 'unknown');
    else if (r.admission) admitted++;
    for (const a of r?.attempts ?? []) count(outcomes, `${a.targetId}: ${a.outcome}`);
  }
  const list = (m: Map<string, number>) => [...m].sort().map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  return [
    `  admitted ${admitted}, refused ${[...refused.values()].reduce((s, n) => s + n, 0)} (${list(refused)})${degraded ? `, degraded ${degraded}` : ''}${missing ? `, no audit ${missing}` : ''}`,
    `  target outcomes: ${list(outcomes)}`,
  ];
}

/** Plays the voice calls, prints the routing summary beside the ledger; 1 when the ledger differs from the truth. */
export async function runVoiceDemo(t: VoiceDemoTarget, seed: number, timeoutMs: number): Promise<number> {
  const nowMs = Date.now();
  const run = `${nowMs.toString(36)}${randomBytes(2).toString('hex')}`;
  const setup = await writeSetup(t, run, nowMs);
  const s = scripts(t, setup, seed, nowMs);
  const sim = { publicBaseUrl: t.publicBaseUrl, baseUrl: t.baseUrl, mediaBaseUrl: t.mediaBaseUrl, accounts: { [t.accountId]: { authToken: t.authToken, accountSid: t.accountSid } } };
  console.log(
    `\nvoice: ${s.ivr.length} calls to an IVR line (overflow target at its cap of ${FULL_CAP}), ${s.night.length} to an after-hours line, ` +
      `${s.pilot.length} at once to a pilot capped at ${PILOT_CAP_CALLS} calls, through the Twilio call simulator`,
  );
  const started = Date.now();
  const results: CallResult[] = [
    ...(await playCalls([...s.ivr, ...s.night], sim, { concurrency: 8 })),
    ...(await playCalls(s.pilot, sim, { concurrency: s.pilot.length })),
  ];
  const ok = results.flatMap((r) => (r.ok ? [r] : []));
  const sum = summarize(results);
  console.log(`  played in ${((Date.now() - started) / 1000).toFixed(1)} s: ${sum.calls} calls, ${sum.failed} failed in the simulator, ${sum.connected} connected, ${sum.billable} billable`);
  for (const r of results) if (!r.ok) console.log(`  call #${r.index}: ${r.error.message.slice(0, 200)}`);
  const ids = ok.map((r) => `twilio:${r.truth.callSid}`);
  const from = new Date(nowMs - 60_000).toISOString();
  const billing = new Set(ok.filter((r) => r.truth.billable).map((r) => `twilio:${r.truth.callSid}`));
  const routings = await waitForCalls(t, ids, billing, from, timeoutMs);
  console.log('\nrouting, from the routing audit of GET /v1/calls/{id}:');
  for (const line of routingSummary(routings)) console.log(line);
  const ledger = await ledgerByCall(t, from);
  const differences: string[] = [];
  for (const r of ok) {
    const id = `twilio:${r.truth.callSid}`;
    const expected = r.truth.billable ? PRICE_CENTS : 0;
    if ((ledger.get(id) ?? 0) !== expected) differences.push(`${r.truth.callSid}: ledger ${ledger.get(id) ?? 0}¢, simulator says ${expected}¢ (talk ${r.truth.talkSec} s)`);
  }
  const charged = ok.filter((r) => (ledger.get(`twilio:${r.truth.callSid}`) ?? 0) > 0).length;
  console.log(`  ledger: ${charged} calls charged, ${usdCents(ok.reduce((n, r) => n + (ledger.get(`twilio:${r.truth.callSid}`) ?? 0), 0))}; simulator: ${sum.billable} billable`);
  if (sum.failed === 0 && differences.length === 0) {
    console.log('voice ledger matches the simulator’s ground truth');
    return 0;
  }
  console.log('voice ledger does NOT match the simulator’s ground truth:');
  if (sum.failed > 0) console.log(`  - ${sum.failed} call(s) failed in the simulator`);
  for (const d of differences.slice(0, 20)) console.log(`  - ${d}`);
  return 1;
}

const usdCents = (c: number) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(c / 100);
