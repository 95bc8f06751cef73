/**
 * Vonage's voice URL (shared/app/routing/voice-vonage.ts): the same admission and routing decision as Twilio's,
 * answered as NCCO JSON (only the actions, fields and ranges render/vocabulary.ts lists); verified as Vonage's
 * signed callbacks (HS256 JWT, alg pinned, iat within 300 s, payload_hash of the body, or of the query as JSON
 * for the answer_url's GET); the IVR's input, the connect's leg states (to the ledger and the routing, the next
 * target on a failed ring) and every refusal with nothing written.
 */
import { describe, expect, it } from 'vitest';
import { answerCarrierVoice, type CarrierVoiceDeps, type CarrierVoiceRequest } from '../../../shared/app/routing/voice-carriers';
import type { AnswerCommit } from '../../../shared/app/routing/ports';
import type { DialLegEvent } from '../../../shared/app/calls/ports';
import type { IngestMessage } from '../../../shared/domain/calls/events';
import { NCCO_ACTIONS, NCCO_NESTED, NCCO_RANGES } from '../../../shared/domain/callflow/render/vocabulary';
import { renderNcco } from '../../../shared/domain/callflow/render/ncco';
import { vonageQueryPayload } from '../../../shared/domain/calls/providers/vonage';
import { statusOf } from '../../../shared/adapters/http/problems';
import { vonageJwt } from '../../../events/carrier-signing';
import { ivrFlow, voiceTarget } from '../../support/voice-stack';

const BASE = 'https://calls.example.com';
const NUMBER = '+15125550101';
const NOW = Date.parse('2026-11-24T16:00:00Z');
const ACCOUNT = 'acme-roofing';
const SECRET = 'vonage-signature-secret-0123456789';
const API_KEY = 'abcd1234';
const APP_ID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const CONV = 'CON-11111111-2222-4333-8444-555555555555';
const LEG = '99999999-8888-4777-8666-555555555555';

const TERMS = { priceCents: 4500, bufferSec: 60, durationBasis: 'talk' as const, qualification: null, duplicateWindowHours: 72, duplicateScope: 'campaign' as const, withheldCallerId: 'non_billable' as const, priceBands: [], overrides: [] };
const stamp = { version: 1, effectiveFrom: '2026-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z' };
const flow = { ...ivrFlow({ default: ['t-a', 't-b'] }), ...stamp };
const campaign = { accountId: ACCOUNT, campaignId: 'c1', name: 'C1', vertical: 'v', geography: null, hours: null, termsVersions: [{ ...TERMS, ...stamp }], flowVersions: [flow], rev: 1, updatedAt: '2026-01-01T00:00:00.000Z' };

interface World {
  commits: AnswerCommit[];
  sent: IngestMessage[];
  legs: DialLegEvent[];
}

function deps(w: World): CarrierVoiceDeps {
  return {
    config: {
      getAccount: async () => ({
        accountId: ACCOUNT,
        name: 'Acme',
        timeZone: 'America/Chicago',
        currency: 'USD',
        twilio: { accountSid: 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0', authTokenSecret: 'twilio/acme/auth-token' },
        vonage: { apiKey: API_KEY, applicationId: APP_ID, signatureSecretSecrets: ['vonage/acme/signature-secret'] },
      }),
      getTrackingNumber: async (n) => (n !== NUMBER ? null : { accountId: ACCOUNT, number: NUMBER, assignments: [{ campaignId: 'c1', publisherId: 'p1', subSource: null, effectiveFrom: '2026-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z' }], rev: 1, updatedAt: '2026-01-01T00:00:00.000Z' }),
      getCampaign: async () => campaign,
      getPublisher: async () => null,
    },
    secrets: { getSecret: async () => SECRET },
    targets: { listTargets: async () => [voiceTarget('t-a', '+15125550131', { priority: 1 }), voiceTarget('t-b', '+15125550132', { priority: 2 })] },
    blocks: { blockedCaller: async () => null },
    callerHashKey: async () => 'deployment-hash-key',
    routing: {
      commit: async (c) => {
        w.commits.push(c);
        return { ok: true as const };
      },
      recordDegraded: async () => undefined,
      // The routing record as the commits wrote it: the tracking number and the audit (who is being dialled).
      readRouting: async (callId) => {
        const mine = w.commits.filter((c) => c.callId === callId);
        if (mine.length === 0) return null;
        return { accountId: ACCOUNT, callId, flowVersion: 1, trackingNumber: mine[0]!.trackingNumber, admissions: [], degraded: false, events: mine.flatMap((c) => c.audit.map((a) => ({ ...a, atMs: c.atMs }))) };
      },
      releaseReservation: async () => undefined,
    },
    queue: { send: async (m) => void w.sent.push(m) },
    publicBaseUrl: BASE,
    now: () => new Date(NOW),
    budgetMs: 5_000,
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    lastKnown: new Map(),
    legs: { dialLeg: async (e) => void w.legs.push(e) },
  };
}

const world = (): World => ({ commits: [], sent: [], legs: [] });
const claims = (over: Record<string, unknown> = {}) => ({ iat: NOW / 1000, jti: 'j-1', api_key: API_KEY, application_id: APP_ID, ...over });

/** The answer_url's GET as Vonage sends it: its fields in the query, the JWT's payload_hash over them as JSON. */
function answerGet(query: Record<string, string> = {}, jwt?: (payload: string) => string): CarrierVoiceRequest {
  const rawQueryString = new URLSearchParams({ from: '12065550123', to: NUMBER.slice(1), uuid: 'inbound-leg-1', conversation_uuid: CONV, ...query }).toString();
  const payload = vonageQueryPayload(rawQueryString);
  return {
    carrier: 'vonage',
    method: 'GET',
    accountId: ACCOUNT,
    rawPath: `/voice/vonage/${ACCOUNT}`,
    rawQueryString,
    headers: { authorization: `Bearer ${jwt ? jwt(payload) : vonageJwt(SECRET, payload, claims())}` },
    query: Object.fromEntries(new URLSearchParams(rawQueryString)),
    body: Buffer.alloc(0),
  };
}

/** A POST of a JSON event to a URL CallLedger wrote (its state in the query), signed as Vonage signs it. */
function eventPost(url: string, event: Record<string, unknown>, jwt?: (body: string) => string): CarrierVoiceRequest {
  const u = new URL(url);
  expect(url.startsWith(`${BASE}/voice/vonage/${ACCOUNT}?`)).toBe(true);
  const body = JSON.stringify({ conversation_uuid: CONV, timestamp: '2026-11-24T16:00:00.000Z', ...event });
  return {
    carrier: 'vonage',
    method: 'POST',
    accountId: ACCOUNT,
    rawPath: u.pathname,
    rawQueryString: u.search.slice(1),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt ? jwt(body) : vonageJwt(SECRET, body, claims())}` },
    query: Object.fromEntries(u.searchParams),
    body: Buffer.from(body),
  };
}

type Action = Record<string, unknown> & { action: string };
const ncco = (body: string): Action[] => JSON.parse(body) as Action[];

/** Every action, nested object and number within what Vonage documents. */
function nccoViolations(actions: readonly Action[]): string[] {
  const out: string[] = [];
  const allowed = (where: string, obj: object, keys: readonly string[] | undefined) => {
    for (const k of Object.keys(obj)) if (!keys?.includes(k)) out.push(`${where}.${k}`);
  };
  const ranges = NCCO_RANGES as Readonly<Record<string, readonly [number, number]>>;
  for (const a of actions) {
    allowed(a.action, a, NCCO_ACTIONS[a.action]);
    for (const [path, [min, max]] of Object.entries(ranges)) {
      const [action, ...keys] = path.split('.');
      if (action !== a.action) continue;
      const v = keys.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], a);
      if (v !== undefined && (typeof v !== 'number' || v < min || v > max)) out.push(`${path}=${String(v)}`);
    }
    if (a.eventUrl !== undefined && !(Array.isArray(a.eventUrl) && a.eventUrl.length === 1)) out.push(`${a.action}.eventUrl must be an array of one`);
    if (a.dtmf) allowed('dtmf', a.dtmf as object, NCCO_NESTED.dtmf);
    for (const e of (a.endpoint as Record<string, unknown>[] | undefined) ?? []) {
      allowed(`endpoint:${String(e.type)}`, e, NCCO_NESTED[`endpoint:${String(e.type)}`]);
      if (e.onAnswer) allowed('onAnswer', e.onAnswer as object, NCCO_NESTED.onAnswer);
      if (typeof e.number === 'string' && !/^[1-9]\d{6,14}$/.test(e.number)) out.push('endpoint.number must be E.164 without +');
    }
    if (a.action === 'connect' && typeof a.from === 'string' && a.from.startsWith('+')) out.push('connect.from must be without +');
  }
  return out;
}

async function status(p: Promise<unknown>): Promise<number> {
  return p.then(
    () => 200,
    (e: unknown) => statusOf(e),
  );
}

/** The call up to the connect of the first target: the answer, then the IVR's qualifying answer. */
async function connected(w: World): Promise<Action[]> {
  const first = ncco((await answerCarrierVoice(answerGet(), deps(w))).body);
  const input = first.find((a) => a.action === 'input')!;
  const second = await answerCarrierVoice(eventPost((input.eventUrl as string[])[0]!, { uuid: 'inbound-leg-1', from: '12065550123', to: NUMBER.slice(1), dtmf: { digits: '1', timed_out: false } }), deps(w));
  return ncco(second.body);
}

describe("Vonage's voice URL: the Twilio decision answered as NCCO", () => {
  it('the answer_url GET: greeting and IVR as talk + input, its eventUrl back to CallLedger with the state authenticated; the call to the ledger', async () => {
    const w = world();
    const answer = await answerCarrierVoice(answerGet(), deps(w));
    expect(answer).toMatchObject({ degraded: false, contentType: 'application/json' });
    const actions = ncco(answer.body);
    expect(nccoViolations(actions)).toEqual([]);
    expect(actions.map((a) => a.action)).toEqual(['talk', 'talk', 'input']);
    const input = actions[2]!;
    expect(input).toMatchObject({ type: ['dtmf'], dtmf: { maxDigits: 1, timeOut: 5, submitOnHash: false }, eventMethod: 'POST' });
    const q = Object.fromEntries(new URL((input.eventUrl as string[])[0]!).searchParams);
    expect(q).toMatchObject({ step: 'gather', v: '1', attempt: '1' });
    expect(q.st).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(w.commits.map((c) => c.callId)).toEqual([`vonage:${CONV}`]);
    expect(w.sent).toMatchObject([{ event: { provider: 'vonage', callId: `vonage:${CONV}`, kind: 'call.status', status: 'ringing', from: '+12065550123', to: NUMBER } }]);
  });

  it('the IVR answer that qualifies: record, then a synchronous connect to the first target from the tracking number; the digits to the ledger', async () => {
    const w = world();
    const actions = await connected(w);
    expect(nccoViolations(actions)).toEqual([]);
    expect(actions.map((a) => a.action)).toEqual(['record', 'connect']);
    expect(actions[0]!.eventUrl).toEqual([expect.stringMatching(new RegExp(`^${BASE}/webhooks/vonage/${ACCOUNT}\\?rec=call&st=`))]);
    expect(actions[1]).toMatchObject({ from: '15125550101', timeout: 15, limit: 3600, eventType: 'synchronous', endpoint: [{ type: 'phone', number: '15125550131' }] });
    expect(Object.fromEntries(new URL((actions[1]!.eventUrl as string[])[0]!).searchParams)).toMatchObject({ step: 'dial', route: 'default', pos: '0' });
    expect(w.commits.at(-1)?.admission?.kind).toBe('route');
    expect(w.sent.at(-1)).toMatchObject({ event: { callId: `vonage:${CONV}`, digits: '1', eventId: `vonage:${CONV}:status:in-progress:gather` } });
  });

  it('the connected leg busy: to the ledger as the call’s child leg, its lease released, and the next NCCO dials the next target', async () => {
    const w = world();
    const connect = (await connected(w)).find((a) => a.action === 'connect')!;
    const sentBefore = w.sent.length;
    const busy = await answerCarrierVoice(eventPost((connect.eventUrl as string[])[0]!, { uuid: LEG, status: 'busy', direction: 'outbound', from: '15125550101', to: '15125550131' }), deps(w));
    expect(w.sent.slice(sentBefore)).toMatchObject([{ event: { callId: `vonage:${LEG}`, parentCallId: `vonage:${CONV}`, status: 'busy' } }]);
    expect(w.legs).toEqual([{ accountId: ACCOUNT, callId: `vonage:${CONV}`, targetId: 't-a', route: 'default', position: 0, status: 'busy', durationSec: 0, atMs: NOW }]);
    const next = ncco(busy.body);
    expect(nccoViolations(next)).toEqual([]);
    expect(next.find((a) => a.action === 'connect')).toMatchObject({ endpoint: [{ number: '15125550132' }] });
    expect(w.commits.at(-1)?.audit).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'outcome', outcome: 'busy', position: 0 }), expect.objectContaining({ event: 'dialling', targetId: 't-b' })]));
  });

  it('the connected leg answered, then completed: to the ledger and the routing, answered 204 with no new NCCO', async () => {
    const w = world();
    const connect = (await connected(w)).find((a) => a.action === 'connect')!;
    const url = (connect.eventUrl as string[])[0]!;
    const commits = w.commits.length;
    const answered = await answerCarrierVoice(eventPost(url, { uuid: LEG, status: 'answered', direction: 'outbound' }), deps(w));
    const completed = await answerCarrierVoice(eventPost(url, { uuid: LEG, status: 'completed', direction: 'outbound', duration: '187', start_time: '2026-11-24T16:00:00.000Z', end_time: '2026-11-24T16:03:07.000Z' }), deps(w));
    expect([answered.noContent, completed.noContent]).toEqual([true, true]);
    expect(w.commits).toHaveLength(commits);
    expect(w.legs.map((l) => [l.status, l.durationSec])).toEqual([['in-progress', null], ['completed', 187]]);
    expect(w.sent.at(-1)).toMatchObject({ event: { callId: `vonage:${LEG}`, status: 'completed', durationSec: 187, parentCallId: `vonage:${CONV}` } });
  });

  it('the whisper (the endpoint’s onAnswer url) is the agent’s talk naming source and campaign', async () => {
    const w = world();
    const connect = (await connected(w)).find((a) => a.action === 'connect')!;
    const onAnswer = ((connect.endpoint as Record<string, { url: string }>[])[0]!.onAnswer)!.url;
    const u = new URL(onAnswer);
    const rawQueryString = `${u.search.slice(1)}&${new URLSearchParams({ from: '15125550101', to: '15125550131', uuid: LEG, conversation_uuid: CONV }).toString()}`;
    const req: CarrierVoiceRequest = { ...answerGet(), rawQueryString, query: Object.fromEntries(new URLSearchParams(rawQueryString)), headers: { authorization: `Bearer ${vonageJwt(SECRET, vonageQueryPayload(rawQueryString), claims())}` } };
    const actions = ncco((await answerCarrierVoice(req, deps(w))).body);
    expect(actions).toEqual([{ action: 'talk', text: expect.stringContaining('for C1.'), language: 'en-US' }]);
  });
});

describe("Vonage's voice URL: verification, nothing written on any refusal", () => {
  const refusals: [string, (w: World) => CarrierVoiceRequest, number][] = [
    ['another signature secret', () => answerGet({}, (p) => vonageJwt('not-the-secret', p, claims())), 403],
    ['alg none (an unsigned token)', () => answerGet({}, (p) => vonageJwt(SECRET, p, claims(), { header: { alg: 'none', typ: 'JWT' } }).replace(/\.[^.]+$/, '.')), 403],
    ['a stale iat', () => answerGet({}, (p) => vonageJwt(SECRET, p, claims({ iat: NOW / 1000 - 301 }))), 403],
    ['an iat in the future', () => answerGet({}, (p) => vonageJwt(SECRET, p, claims({ iat: NOW / 1000 + 301 }))), 403],
    ['a query other than the one signed', () => answerGet({}, (p) => vonageJwt(SECRET, p.replace('12065550123', '12065550999'), claims())), 403],
    ['another application', () => answerGet({}, (p) => vonageJwt(SECRET, p, claims({ application_id: 'someone-else' }))), 403],
    ['no Authorization', () => ({ ...answerGet(), headers: {} }), 403],
    ['no conversation_uuid', () => answerGet({ conversation_uuid: '' }), 400],
  ];
  it.each(refusals)('%s', async (_name, make, want) => {
    const w = world();
    expect(await status(answerCarrierVoice(make(w), deps(w)))).toBe(want);
    expect([w.commits, w.sent, w.legs]).toEqual([[], [], []]);
  });

  it('a POST body other than the one signed (payload_hash) is 403; a forged state 400; both with nothing written', async () => {
    const w = world();
    const connect = (await connected(w)).find((a) => a.action === 'connect')!;
    const url = (connect.eventUrl as string[])[0]!;
    const before = { commits: w.commits.length, sent: w.sent.length };
    const signedOther = eventPost(url, { uuid: LEG, status: 'busy', direction: 'outbound' }, () => vonageJwt(SECRET, JSON.stringify({ status: 'answered' }), claims()));
    expect(await status(answerCarrierVoice(signedOther, deps(w)))).toBe(403);
    const moved = url.replace('pos=0', 'pos=1');
    expect(await status(answerCarrierVoice(eventPost(moved, { uuid: LEG, status: 'busy', direction: 'outbound' }), deps(w)))).toBe(400);
    expect({ commits: w.commits.length, sent: w.sent.length, legs: w.legs.length }).toEqual({ ...before, legs: 0 });
  });

  it('405 for another method, 415 for a POST that is not JSON', async () => {
    const w = world();
    expect(await status(answerCarrierVoice({ ...answerGet(), method: 'PUT' }, deps(w)))).toBe(405);
    expect(await status(answerCarrierVoice({ ...answerGet(), method: 'POST', headers: { 'content-type': 'text/plain' } }, deps(w)))).toBe(415);
  });
});

describe('renderNcco: only what Vonage documents', () => {
  it('an IVR time-out and digit count beyond Vonage’s ranges are held to them; a long call to connect’s 7200 s', () => {
    const actions = renderNcco(
      [
        { verb: 'gather', prompt: [], numDigits: 30, timeoutSec: 25, action: '/voice/vonage/a?step=gather', noInput: '/voice/vonage/a?step=gather&none=1' },
        { verb: 'dial', destination: { kind: 'number', e164: '+15125550131' }, ringTimeoutSec: 20, timeLimitSec: 14_400, record: 'dual', trackingNumber: '+15125550101', action: '/voice/vonage/a?step=dial', statusCallback: '/webhooks/vonage/a?leg=dial', recordingStatusCallback: '/webhooks/vonage/a?rec=call', whisperUrl: null },
      ] as const,
      BASE,
    ) as Action[];
    expect(nccoViolations(actions)).toEqual([]);
    expect(actions[0]).toMatchObject({ dtmf: { maxDigits: 20, timeOut: 10 } });
    expect(actions.find((a) => a.action === 'connect')).toMatchObject({ limit: 7200 });
    expect(actions.find((a) => a.action === 'record')).toMatchObject({ split: 'conversation', channels: 2 });
  });

  it('a voicemail records with its bounds, and hangup ends the NCCO', () => {
    const actions = renderNcco(
      [
        { verb: 'say', text: 'Leave a message.', voice: 'Polly.Joanna', language: 'en-US' },
        { verb: 'record', maxLengthSec: 1, action: '/voice/vonage/a?step=voicemail', recordingStatusCallback: '/webhooks/vonage/a?rec=voicemail' },
        { verb: 'hangup' },
        { verb: 'say', text: 'never said', voice: null, language: 'en-US' },
      ] as const,
      BASE,
    ) as Action[];
    expect(nccoViolations(actions)).toEqual([]);
    expect(actions.map((a) => a.action)).toEqual(['talk', 'record']);
    expect(actions[1]).toMatchObject({ timeOut: 3, endOnKey: '#', beepStart: true });
  });
});
