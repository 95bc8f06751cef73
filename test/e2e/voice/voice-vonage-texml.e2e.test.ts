/**
 * The same call through three carriers' voice URLs, end to end on the local stack, must give the same ledger:
 * - Twilio: played by the Twilio call simulator (events/voice) through POST /voice/twilio;
 * - Vonage: the answer_url's signed GET, the input's answer and every state of each leg a synchronous connect rings
 *   POSTed to the eventUrls CallLedger wrote into its NCCO, the record event to the record's eventUrl and the
 *   caller's own leg to the application's event_url (/webhooks/vonage), all signed as Vonage signs (HS256 JWT);
 * - Telnyx TeXML: the voice URL's signed requests, and TeXML's own callbacks (the dialled Numbers' statusCallback,
 *   the Dial's recordingStatusCallback, the application's call progress) form-encoded to /webhooks/telnyx.
 * The caller presses 1, the first target is busy, the second answers and talks; the call is recorded. Callbacks are
 * duplicated and reordered. What the buyer reads and the ledger holds must be the Twilio call's.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { ENV } from '../../../infra/resources';
import { signTelnyx, vonageJwt } from '../../../events/carrier-signing';
import { playCall, type SimulatedCall } from '../../../events/voice/player';
import { ACME, apiGet, apiKey, callPath, ledgerTable, newCaller, writeSeed, writeTwoAccountSeed, type TempSeed } from '../../support/e2e-harness';
import { carrierConfigFor } from '../../support/carrier-senders';
import { ivrFlow, simulatorConfig, suffix, voiceTarget, writeTargets, writeVoiceCampaign, type VoiceCampaign } from '../../support/voice-stack';
import { parseXml, type Node } from '../../support/callflow-fixtures';

let stack: LocalStack;
let seedFiles: TempSeed[] = [];
let admin: string;
let publicBase: string;
let campaign: VoiceCampaign;
let twilio: SimulatedCall;
const s = suffix();
const T = { a: `va-${s}`, b: `vb-${s}` };
const LINES = { a: '+15125550151', b: '+15125550152' };
const TALK_SEC = 187;

beforeAll(async () => {
  const twoAccounts = await writeTwoAccountSeed();
  const seed = JSON.parse(await readFile(twoAccounts.file, 'utf8')) as { accounts: Record<string, unknown>[] };
  seed.accounts[0] = { ...seed.accounts[0], ...carrierConfigFor(ACME.accountId) };
  const withCarriers = await writeSeed(seed);
  seedFiles = [twoAccounts, withCarriers];
  stack = await startLocalStack({ port: 0, quiet: true, seedFile: withCarriers.file });
  admin = apiKey(stack, ACME.accountId, 'admin');
  publicBase = stack.env[ENV.publicBaseUrl] ?? stack.baseUrl;
  await writeTargets(stack, [voiceTarget(T.a, LINES.a, { priority: 1 }), voiceTarget(T.b, LINES.b, { priority: 2 })]);
  campaign = await writeVoiceCampaign(stack, { campaignId: `vx-${s}`, flow: ivrFlow({ default: [T.a, T.b] }, { whisper: null }) });
  // The reference: the same call through Twilio, played by the simulator (its callbacks duplicated and reversed).
  twilio = await playCall(
    {
      accountId: ACME.accountId,
      from: newCaller(),
      to: campaign.number,
      startAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(),
      gathers: [{ press: '1', afterSec: 1 }],
      targets: { [LINES.a]: { outcome: 'busy', ringSec: 2 }, [LINES.b]: { outcome: 'answer', ringSec: 3, talkSec: TALK_SEC } },
      delivery: { order: 'reversed', seed: 1, duplicates: true },
      billing: { bufferSec: 60, durationBasis: 'talk' },
    },
    simulatorConfig(stack),
  );
  expect(twilio.truth).toMatchObject({ connected: true, answeredTarget: LINES.b, billable: true });
  await stack.waitForIdle();
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  for (const f of seedFiles) await f.cleanup();
});

/** What the buyer reads about a call and what the ledger holds for it, without ids and wall-clock times. */
async function outcomeOf(callId: string) {
  const res = await apiGet<any>(stack, callPath(callId), admin);
  expect(res.status, `${callId}: ${JSON.stringify(res.body)}`).toBe(200);
  const b = res.body;
  const entries = (await ledgerTable(stack)).filter((e) => e.callId === callId);
  return {
    outcome: {
      status: b.status,
      durationSec: b.durationSec,
      billable: b.billable,
      amountCents: b.amountCents,
      reasons: b.reasons,
      campaignId: b.campaignId,
      publisherId: b.publisherId,
      recorded: b.recording !== null,
      ledger: entries.map((e) => ({ type: e.type, amountCents: e.amountCents, publisherId: e.publisherId, campaignId: e.campaignId, termsVersion: e.termsVersion })),
    },
    attempts: (b.routing?.attempts ?? []).map((a: { targetId: string; position: number; outcome: string }) => ({ targetId: a.targetId, position: a.position, outcome: a.outcome })),
  };
}

const EXPECTED_ATTEMPTS = [
  { targetId: T.a, position: 0, outcome: 'busy' },
  { targetId: T.b, position: 1, outcome: 'answered' },
];

// ------------------------------------------------------------------------------------------------ Vonage

const iso = (ms: number) => new Date(ms).toISOString();
const digits = (e164: string) => e164.replace(/^\+/, '');
const vonage = () => (stack.seed.accounts.find((a) => a.accountId === ACME.accountId)!.vonage)!;
const vonageSecret = () => stack.secrets.carriers.values[vonage().signatureSecretSecrets[0]!]!;
const jwtFor = (payload: string) => vonageJwt(vonageSecret(), payload, { iat: Math.floor(Date.now() / 1000), jti: randomUUID(), api_key: vonage().apiKey, application_id: vonage().applicationId });

type Action = Record<string, unknown> & { action: string };

/** A URL CallLedger wrote, as a path on the local stack (it must be under PUBLIC_BASE_URL). */
function local(url: string): string {
  expect(url.startsWith(`${publicBase}/`), url).toBe(true);
  return url.slice(publicBase.length);
}

async function vonageGet(query: Record<string, string>): Promise<Action[]> {
  const q = new URLSearchParams(query).toString();
  const res = await fetch(`${stack.baseUrl}/voice/vonage/${ACME.accountId}?${q}`, { headers: { authorization: `Bearer ${jwtFor(JSON.stringify(query))}` } });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/json');
  return JSON.parse(text) as Action[];
}

/** POSTs a JSON event as Vonage does; `want` the status CallLedger must answer. */
async function vonagePost(path: string, event: Record<string, unknown>, want: 200 | 204): Promise<Action[]> {
  const body = JSON.stringify(event);
  const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${jwtFor(body)}` }, body });
  const text = await res.text();
  expect(res.status, `${path}: ${text}`).toBe(want);
  return want === 204 ? [] : (JSON.parse(text) as Action[]);
}

const eventUrlOf = (a: Action | undefined): string => local(((a?.eventUrl as string[] | undefined) ?? [])[0] ?? '');

describe("Vonage's voice URL on the local stack", () => {
  it('IVR qualified, a busy target then the next answering, recorded: the same ledger as the Twilio call', async () => {
    const conv = `CON-${randomUUID()}`;
    const inbound = randomUUID();
    const caller = newCaller();
    const start = Math.floor(Date.now() / 1000) * 1000;
    const callerFields = { from: digits(caller), to: digits(campaign.number), uuid: inbound, conversation_uuid: conv };

    const first = await vonageGet(callerFields);
    expect(first.map((a) => a.action)).toEqual(['talk', 'talk', 'input']);
    const second = await vonagePost(eventUrlOf(first[2]), { ...callerFields, dtmf: { digits: '1', timed_out: false }, timestamp: iso(start + 8_000) }, 200);
    expect(second.map((a) => a.action)).toEqual(['record', 'connect']);
    expect(second[1]).toMatchObject({ eventType: 'synchronous', endpoint: [{ type: 'phone', number: digits(LINES.a) }] });

    // The first target's leg: it rings, then is busy; the answer to busy is the next NCCO.
    const legA = randomUUID();
    const dialA = eventUrlOf(second[1]);
    const legAFields = { uuid: legA, conversation_uuid: conv, from: digits(campaign.number), to: digits(LINES.a), direction: 'outbound' };
    await vonagePost(dialA, { ...legAFields, status: 'started', timestamp: iso(start + 9_000) }, 204);
    await vonagePost(dialA, { ...legAFields, status: 'ringing', timestamp: iso(start + 9_100) }, 204);
    const third = await vonagePost(dialA, { ...legAFields, status: 'busy', timestamp: iso(start + 11_000) }, 200);
    expect(third.find((a) => a.action === 'connect')).toMatchObject({ endpoint: [{ number: digits(LINES.b) }] });
    await vonagePost(dialA, { ...legAFields, status: 'completed', duration: '0', start_time: iso(start + 9_000), end_time: iso(start + 11_000), timestamp: iso(start + 11_100) }, 204);

    // The second target answers and talks; its completed comes first and twice (reordered, duplicated).
    const legB = randomUUID();
    const dialB = eventUrlOf(third.find((a) => a.action === 'connect'));
    const legBFields = { uuid: legB, conversation_uuid: conv, from: digits(campaign.number), to: digits(LINES.b), direction: 'outbound' };
    const answeredAt = start + 15_000;
    const endAt = answeredAt + TALK_SEC * 1000;
    const completedB = { ...legBFields, status: 'completed', duration: String(TALK_SEC), start_time: iso(answeredAt), end_time: iso(endAt), timestamp: iso(endAt) };
    await vonagePost(dialB, completedB, 204);
    await vonagePost(dialB, { ...legBFields, status: 'started', timestamp: iso(start + 12_000) }, 204);
    await vonagePost(dialB, { ...legBFields, status: 'ringing', timestamp: iso(start + 12_100) }, 204);
    await vonagePost(dialB, { ...legBFields, status: 'answered', timestamp: iso(answeredAt) }, 204);
    await vonagePost(dialB, completedB, 204);

    // The recording to the record action's eventUrl; the caller's own leg to the application's event_url.
    const recordUrl = eventUrlOf(third.find((a) => a.action === 'record') ?? second[0]);
    expect(recordUrl.startsWith(`/webhooks/vonage/${ACME.accountId}?rec=call`)).toBe(true);
    const recordingId = randomUUID();
    await vonagePost(recordUrl, { start_time: iso(answeredAt), end_time: iso(endAt), recording_url: stack.media.carrierRecordingUrl('vonage', recordingId), recording_uuid: recordingId, size: 48_000, conversation_uuid: conv, timestamp: iso(endAt + 1000) }, 204);
    const callerLeg = { ...callerFields, direction: 'inbound' };
    const callSec = twilio.truth.durationSec;
    const callerCompleted = { ...callerLeg, status: 'completed', duration: String(callSec), start_time: iso(endAt - callSec * 1000), end_time: iso(endAt), timestamp: iso(endAt) };
    await vonagePost(`/webhooks/vonage/${ACME.accountId}`, callerCompleted, 204);
    await vonagePost(`/webhooks/vonage/${ACME.accountId}`, { ...callerLeg, status: 'answered', timestamp: iso(endAt - callSec * 1000) }, 204);
    await vonagePost(`/webhooks/vonage/${ACME.accountId}`, callerCompleted, 204);
    await stack.waitForIdle(30_000);

    const reference = await outcomeOf(`twilio:${twilio.truth.callSid}`);
    const mine = await outcomeOf(`vonage:${conv}`);
    expect(reference.outcome).toMatchObject({ billable: true, recorded: true, ledger: [{ type: 'charge' }] });
    expect(mine.outcome).toEqual(reference.outcome);
    expect(mine.attempts).toEqual(EXPECTED_ATTEMPTS);
    expect(reference.attempts).toEqual(EXPECTED_ATTEMPTS);
  });

  it('an answer_url GET signed with another secret is 403 and leaves no call', async () => {
    const conv = `CON-${randomUUID()}`;
    const query = { from: digits(newCaller()), to: digits(campaign.number), uuid: randomUUID(), conversation_uuid: conv };
    const jwt = vonageJwt('not-the-secret', JSON.stringify(query), { iat: Math.floor(Date.now() / 1000), jti: randomUUID(), api_key: vonage().apiKey, application_id: vonage().applicationId });
    const res = await fetch(`${stack.baseUrl}/voice/vonage/${ACME.accountId}?${new URLSearchParams(query).toString()}`, { headers: { authorization: `Bearer ${jwt}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    await stack.waitForIdle();
    expect((await apiGet(stack, callPath(`vonage:${conv}`), admin)).status).toBe(404);
  });
});

// ------------------------------------------------------------------------------------------------ Telnyx TeXML

const telnyxKey = () => stack.secrets.carriers.telnyxSigningKeys[`telnyx/${ACME.accountId}/public-key`]!;

/** POSTs a form as Telnyx does (voice URL or callback), signed now; `want` the status CallLedger must answer. */
async function telnyxPost(path: string, params: Record<string, string>, want: number): Promise<string> {
  const body = new URLSearchParams(params).toString();
  const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...signTelnyx(telnyxKey(), body, Math.floor(Date.now() / 1000)) }, body });
  const text = await res.text();
  expect(res.status, `${path}: ${text}`).toBe(want);
  return text;
}

function find(n: Node, name: string): Node | undefined {
  if (n.name === name) return n;
  for (const c of n.children) {
    const hit = find(c, name);
    if (hit !== undefined) return hit;
  }
  return undefined;
}
const attr = (n: Node | undefined, name: string): string => local(n?.attrs[name] ?? n?.attrs[`@_${name}`] ?? '');

/** Telnyx's `2021-04-28 21:51:18.731479Z`. */
const texmlTime = (ms: number) => iso(ms).replace('T', ' ').replace('Z', '000Z');

describe('TeXML callbacks to /webhooks/telnyx on the local stack', () => {
  it('the Dial legs, the recording and the call’s progress form-encoded, duplicated and reordered: the same ledger as the Twilio call', async () => {
    const callSid = `v3:${randomBytes(12).toString('base64url')}`;
    const caller = newCaller();
    const start = Math.floor(Date.now() / 1000) * 1000;
    const call = { AccountSid: 'telnyx-e2e', CallSid: callSid, From: caller, To: campaign.number, Direction: 'inbound' };

    const first = parseXml(await telnyxPost(`/voice/telnyx/${ACME.accountId}`, { ...call, CallStatus: 'ringing' }, 200));
    const second = parseXml(await telnyxPost(attr(find(first, 'Gather'), 'action'), { ...call, CallStatus: 'in-progress', Digits: '1' }, 200));
    expect(find(second, 'Number')?.text).toBe(LINES.a);
    const dial = (doc: Node) => ({ action: attr(find(doc, 'Dial'), 'action'), status: attr(find(doc, 'Number'), 'statusCallback'), recording: attr(find(doc, 'Dial'), 'recordingStatusCallback') });
    const d1 = dial(second);
    expect(d1.status.startsWith(`/webhooks/telnyx/${ACME.accountId}?leg=dial`)).toBe(true);

    // The first target's leg: initiated, ringing, busy (the last one twice); then the Dial action dials the next.
    const legA = { AccountSid: 'telnyx-e2e', CallSid: `v3:${randomBytes(12).toString('base64url')}`, ParentCallSid: callSid, From: campaign.number, To: LINES.a, Direction: 'outbound-dial', CallbackSource: 'call-progress-events' };
    await telnyxPost(d1.status, { ...legA, CallStatus: 'initiated', SequenceNumber: '0', Timestamp: texmlTime(start + 9_000) }, 200);
    await telnyxPost(d1.status, { ...legA, CallStatus: 'busy', CallDuration: '0', SequenceNumber: '2', Timestamp: texmlTime(start + 11_000) }, 200);
    await telnyxPost(d1.status, { ...legA, CallStatus: 'ringing', SequenceNumber: '1', Timestamp: texmlTime(start + 9_100) }, 200);
    await telnyxPost(d1.status, { ...legA, CallStatus: 'busy', CallDuration: '0', SequenceNumber: '2', Timestamp: texmlTime(start + 11_000) }, 200);
    const third = parseXml(await telnyxPost(d1.action, { ...call, CallStatus: 'in-progress', DialCallStatus: 'busy' }, 200));
    expect(find(third, 'Number')?.text).toBe(LINES.b);
    const d2 = dial(third);

    // The second target answers and talks: its completed first and twice, then the rest.
    const answeredAt = start + 15_000;
    const endAt = answeredAt + TALK_SEC * 1000;
    const legB = { AccountSid: 'telnyx-e2e', CallSid: `v3:${randomBytes(12).toString('base64url')}`, ParentCallSid: callSid, From: campaign.number, To: LINES.b, Direction: 'outbound-dial', CallbackSource: 'call-progress-events' };
    const completedB = { ...legB, CallStatus: 'completed', CallDuration: String(TALK_SEC), SequenceNumber: '3', Timestamp: texmlTime(endAt) };
    await telnyxPost(d2.status, completedB, 200);
    await telnyxPost(d2.status, completedB, 200);
    await telnyxPost(d2.status, { ...legB, CallStatus: 'in-progress', SequenceNumber: '2', Timestamp: texmlTime(answeredAt) }, 200);
    await telnyxPost(d2.status, { ...legB, CallStatus: 'initiated', SequenceNumber: '0', Timestamp: texmlTime(start + 12_000) }, 200);
    await telnyxPost(d2.status, { ...legB, CallStatus: 'ringing', SequenceNumber: '1', Timestamp: texmlTime(start + 12_100) }, 200);
    parseXml(await telnyxPost(d2.action, { ...call, CallStatus: 'in-progress', DialCallStatus: 'completed', DialCallDuration: String(TALK_SEC) }, 200));

    // The recording (the Dial's recordingStatusCallback) and the call's own end (the application's status callback).
    const recordingId = randomUUID();
    const recording = { AccountSid: 'telnyx-e2e', CallSid: callSid, RecordingSid: recordingId, RecordingStatus: 'completed', RecordingUrl: stack.media.carrierRecordingUrl('telnyx', recordingId), RecordingDuration: String(TALK_SEC - 2), RecordingChannels: '1', RecordingSource: 'DialVerb' };
    await telnyxPost(d2.recording, recording, 200);
    const callSec = twilio.truth.durationSec;
    const callCompleted = { ...call, CallStatus: 'completed', CallDuration: String(callSec), CallbackSource: 'call-progress-events', SequenceNumber: '9', Timestamp: texmlTime(endAt) };
    await telnyxPost(`/webhooks/telnyx/${ACME.accountId}`, callCompleted, 200);
    await telnyxPost(`/webhooks/telnyx/${ACME.accountId}`, recording, 200);
    await telnyxPost(`/webhooks/telnyx/${ACME.accountId}`, callCompleted, 200);
    await stack.waitForIdle(30_000);

    const reference = await outcomeOf(`twilio:${twilio.truth.callSid}`);
    const mine = await outcomeOf(`telnyx:${callSid}`);
    expect(mine.outcome).toEqual(reference.outcome);
    expect(mine.attempts).toEqual(EXPECTED_ATTEMPTS);
  });

  it('a leg callback whose routing context was moved to another target is a 400 naming st, and nothing is recorded', async () => {
    const parent = `v3:${randomBytes(12).toString('base64url')}`;
    const leg = { AccountSid: 'telnyx-e2e', CallSid: `v3:${randomBytes(12).toString('base64url')}`, ParentCallSid: parent, From: campaign.number, To: LINES.a, Direction: 'outbound-dial', CallStatus: 'completed', CallDuration: '90' };
    const text = await telnyxPost(`/webhooks/telnyx/${ACME.accountId}?leg=dial&route=default&pos=0&target=${T.a}&st=AAAAAAAAAAAAAAAAAAAAAA`, leg, 400);
    expect(JSON.parse(text)).toMatchObject({ errors: [{ field: 'st' }] });
    await stack.waitForIdle();
    expect((await apiGet(stack, callPath(`telnyx:${leg.CallSid}`), admin)).status).toBe(404);
  });
});
