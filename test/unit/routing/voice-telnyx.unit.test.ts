/**
 * Telnyx's voice URL (shared/app/routing/voice-carriers.ts): the same admission and routing decision as Twilio's,
 * answered as TeXML (checked against render/vocabulary.ts TEXML), every URL it writes under PUBLIC_BASE_URL and
 * carrying the `st` MAC (Telnyx signs the body, not the URL); a request that does not verify is refused with
 * nothing written.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { answerCarrierVoice, type CarrierVoiceRequest } from '../../../shared/app/routing/voice-carriers';
import type { VoiceDeps } from '../../../shared/app/routing/voice-answer';
import type { AnswerCommit } from '../../../shared/app/routing/ports';
import { TEXML } from '../../../shared/domain/callflow/render/vocabulary';
import { statusOf } from '../../../shared/adapters/http/problems';
import { signTelnyx } from '../../../events/carrier-signing';
import { parseXml, vocabularyViolations, type Node } from '../../support/callflow-fixtures';
import { ivrFlow, voiceTarget } from '../../support/voice-stack';

const BASE = 'https://calls.example.com';
const NUMBER = '+15125550101';
const NOW = Date.parse('2026-11-24T16:00:00Z');
const ACCOUNT = 'acme-roofing';
const keys = generateKeyPairSync('ed25519');
const PRIVATE_PEM = keys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const PUBLIC_B64 = (keys.publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(-32).toString('base64');
const other = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

const TERMS = { priceCents: 4500, bufferSec: 60, durationBasis: 'talk' as const, qualification: null, duplicateWindowHours: 72, duplicateScope: 'campaign' as const, withheldCallerId: 'non_billable' as const, priceBands: [], overrides: [] };
const stamp = { version: 1, effectiveFrom: '2026-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z' };
const flow = { ...ivrFlow({ default: ['t-a'] }), ...stamp };
const campaign = { accountId: ACCOUNT, campaignId: 'c1', name: 'C1', vertical: 'v', geography: null, hours: null, termsVersions: [{ ...TERMS, ...stamp }], flowVersions: [flow], rev: 1, updatedAt: '2026-01-01T00:00:00.000Z' };

interface World {
  commits: AnswerCommit[];
  sent: unknown[];
  blocked: boolean;
  telnyx: boolean;
}

function deps(w: World): VoiceDeps {
  return {
    config: {
      getAccount: async () => ({
        accountId: ACCOUNT,
        name: 'Acme',
        timeZone: 'America/Chicago',
        currency: 'USD',
        twilio: { accountSid: 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0', authTokenSecret: 'twilio/acme/auth-token' },
        ...(w.telnyx ? { telnyx: { publicKeySecrets: ['telnyx/acme/public-key'] } } : {}),
      }),
      getTrackingNumber: async () => ({ accountId: ACCOUNT, number: NUMBER, assignments: [{ campaignId: 'c1', publisherId: 'p1', subSource: null, effectiveFrom: '2026-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z' }], rev: 1, updatedAt: '2026-01-01T00:00:00.000Z' }),
      getCampaign: async () => campaign,
      getPublisher: async () => null,
    },
    secrets: { getSecret: async () => PUBLIC_B64 },
    targets: { listTargets: async () => [voiceTarget('t-a', '+15125550131')] },
    blocks: { blockedCaller: async () => (w.blocked ? { blockId: 'b1' } : null) },
    callerHashKey: async () => 'deployment-hash-key',
    routing: {
      commit: async (c) => {
        w.commits.push(c);
        return { ok: true as const };
      },
      recordDegraded: async () => undefined,
      readRouting: async () => null,
      releaseReservation: async () => undefined,
    },
    queue: { send: async (m) => void w.sent.push(m) },
    publicBaseUrl: BASE,
    now: () => new Date(NOW),
    budgetMs: 5_000,
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    lastKnown: new Map(),
  };
}

const world = (over: Partial<World> = {}): World => ({ commits: [], sent: [], blocked: false, telnyx: true, ...over });

function request(extra: Record<string, string>, query: Record<string, string> = {}, signWith = PRIVATE_PEM, atSec = NOW / 1000): CarrierVoiceRequest {
  const params = { AccountSid: 'telnyx-acct', CallSid: 'v3:abc123', From: '+12065550123', To: NUMBER, CallStatus: 'ringing', Direction: 'inbound', ...extra };
  const body = Buffer.from(new URLSearchParams(params).toString());
  return {
    carrier: 'telnyx',
    method: 'POST',
    accountId: ACCOUNT,
    rawPath: `/voice/telnyx/${ACCOUNT}`,
    rawQueryString: new URLSearchParams(query).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...signTelnyx(signWith, body, atSec) },
    query,
    body,
  };
}

function find(n: Node, name: string): Node | undefined {
  if (n.name === name) return n;
  for (const c of n.children) {
    const hit = find(c, name);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

const attr = (n: Node | undefined, name: string): string => n?.attrs[name] ?? n?.attrs[`@_${name}`] ?? '';

/** The query of a URL CallLedger wrote, as the carrier will send it back. */
function queryOf(url: string): Record<string, string> {
  expect(url.startsWith(`${BASE}/voice/telnyx/${ACCOUNT}?`)).toBe(true);
  return Object.fromEntries(new URL(url).searchParams);
}

async function refusal(p: Promise<unknown>): Promise<{ status: number }> {
  return p.then(
    () => ({ status: 200 }),
    (e: unknown) => ({ status: statusOf(e) }),
  );
}

describe("Telnyx's voice URL: the Twilio decision answered as TeXML", () => {
  it('the incoming call: the IVR prompt as a TeXML Gather whose action comes back to CallLedger with its state authenticated', async () => {
    const w = world();
    const answer = await answerCarrierVoice(request({}), deps(w));
    expect(answer).toMatchObject({ degraded: false, contentType: 'text/xml; charset=utf-8' });
    const doc = parseXml(answer.body);
    expect(vocabularyViolations(doc, TEXML)).toEqual([]);
    const q = queryOf(attr(find(doc, 'Gather'), 'action'));
    expect(q).toMatchObject({ step: 'gather', v: '1', attempt: '1' });
    expect(q.st).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(w.commits.map((c) => c.callId)).toEqual(['telnyx:v3:abc123']);
    // The incoming call goes to the ledger as Telnyx's, by its Telnyx id.
    expect(w.sent).toMatchObject([{ v: 1, event: { provider: 'telnyx', callId: 'telnyx:v3:abc123', kind: 'call.status', status: 'ringing' } }]);
  });

  it('the IVR answer that qualifies: admitted and dialled as TeXML <Dial><Number>, its action URL authenticated', async () => {
    const w = world();
    const first = parseXml((await answerCarrierVoice(request({}), deps(w))).body);
    const q = queryOf(attr(find(first, 'Gather'), 'action'));
    const answer = await answerCarrierVoice(request({ Digits: '1', CallStatus: 'in-progress' }, q), deps(w));
    const doc = parseXml(answer.body);
    expect(vocabularyViolations(doc, TEXML)).toEqual([]);
    expect(find(doc, 'Number')?.text).toBe('+15125550131');
    expect(queryOf(attr(find(doc, 'Dial'), 'action'))).toMatchObject({ step: 'dial', route: 'default', pos: '0' });
    expect(w.commits.at(-1)?.admission?.kind).toBe('route');
  });

  it('the IVR answer that ends the call: the flow’s message, then hang up, nothing dialled', async () => {
    const w = world();
    const q = queryOf(attr(find(parseXml((await answerCarrierVoice(request({}), deps(w))).body), 'Gather'), 'action'));
    const doc = parseXml((await answerCarrierVoice(request({ Digits: '2' }, q), deps(w))).body);
    expect(vocabularyViolations(doc, TEXML)).toEqual([]);
    expect(find(doc, 'Say')?.text).toContain('We only install new roofs');
    expect(find(doc, 'Dial')).toBeUndefined();
  });

  it('a refused caller (blocked): refused by admission on arrival, no IVR, never dialled', async () => {
    const w = world({ blocked: true });
    const doc = parseXml((await answerCarrierVoice(request({}), deps(w))).body);
    expect(vocabularyViolations(doc, TEXML)).toEqual([]);
    expect(find(doc, 'Gather')).toBeUndefined();
    expect(find(doc, 'Dial')).toBeUndefined();
    expect(w.commits.at(-1)?.admission?.kind).toBe('refuse');
  });

  it('a state moved to another call or forged fails its MAC: 400, nothing written', async () => {
    const w = world();
    const q = queryOf(attr(find(parseXml((await answerCarrierVoice(request({}), deps(w))).body), 'Gather'), 'action'));
    const before = w.commits.length;
    expect(await refusal(answerCarrierVoice(request({ Digits: '1', CallSid: 'v3:another' }, q), deps(w)))).toEqual({ status: 400 });
    expect(await refusal(answerCarrierVoice(request({ Digits: '1' }, { ...q, attempt: '2' }), deps(w)))).toEqual({ status: 400 });
    expect(await refusal(answerCarrierVoice(request({ Digits: '1' }, { step: 'dial', v: '1', route: 'default', pos: '0' }), deps(w)))).toEqual({ status: 400 });
    expect(w.commits.length).toBe(before);
  });

  it('a verified request the ledger cannot read (an unknown CallStatus) is 400 before anything is written', async () => {
    const w = world();
    expect(await refusal(answerCarrierVoice(request({ CallStatus: 'exploded' }), deps(w)))).toEqual({ status: 400 });
    expect(w.commits).toEqual([]);
    expect(w.sent).toEqual([]);
  });

  it.each([
    ['signed with another key', () => request({}, {}, other)],
    ['signed six minutes ago', () => request({}, {}, PRIVATE_PEM, NOW / 1000 - 360)],
    ['a tampered body', () => ({ ...request({}), body: Buffer.from(request({}).body.toString().replace('%2B12065550123', '%2B12065550999')) })],
    ['no signature headers', () => ({ ...request({}), headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
  ])('%s: 403, nothing committed, nothing enqueued', async (_name, make) => {
    const w = world();
    expect(await refusal(answerCarrierVoice(make(), deps(w)))).toEqual({ status: 403 });
    expect(w.commits).toEqual([]);
    expect(w.sent).toEqual([]);
  });

  it('an account without Telnyx settings answers as an unknown account (404); a GET is 405; JSON is 415', async () => {
    expect(await refusal(answerCarrierVoice(request({}), deps(world({ telnyx: false }))))).toEqual({ status: 404 });
    expect(await refusal(answerCarrierVoice({ ...request({}), method: 'GET' }, deps(world())))).toEqual({ status: 405 });
    expect(await refusal(answerCarrierVoice({ ...request({}), headers: { ...request({}).headers, 'content-type': 'application/json' } }, deps(world())))).toEqual({ status: 415 });
  });
});
