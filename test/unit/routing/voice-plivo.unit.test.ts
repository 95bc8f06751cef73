/**
 * Plivo's voice URL (shared/app/routing/voice-carriers.ts): the same decision as Twilio's, answered as Plivo XML
 * (checked against render/vocabulary.ts PLIVO_XML); Plivo signs the URL with its query (X-Plivo-Signature-V3), so the
 * state needs no `st` and a state edited after signing fails the signature; a request that does not verify is 403
 * with nothing written.
 */
import { describe, expect, it } from 'vitest';
import { answerCarrierVoice, type CarrierVoiceRequest } from '../../../shared/app/routing/voice-carriers';
import type { VoiceDeps } from '../../../shared/app/routing/voice-answer';
import type { AnswerCommit } from '../../../shared/app/routing/ports';
import { PLIVO_XML } from '../../../shared/domain/callflow/render/vocabulary';
import { statusOf } from '../../../shared/adapters/http/problems';
import { signPlivo } from '../../../events/carrier-signing';
import { parseXml, vocabularyViolations, type Node } from '../../support/callflow-fixtures';
import { ivrFlow, voiceTarget } from '../../support/voice-stack';

const BASE = 'https://calls.example.com';
const NUMBER = '+15125550101';
const NOW = Date.parse('2026-11-24T16:00:00Z');
const ACCOUNT = 'acme-roofing';
const TOKEN = 'plivo-auth-token-current';
const TERMS = { priceCents: 4500, bufferSec: 60, durationBasis: 'talk' as const, qualification: null, duplicateWindowHours: 72, duplicateScope: 'campaign' as const, withheldCallerId: 'non_billable' as const, priceBands: [], overrides: [] };
const stamp = { version: 1, effectiveFrom: '2026-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z' };
const flow = { ...ivrFlow({ default: ['t-a', 't-b'] }, { whisper: null }), ...stamp };
const campaign = { accountId: ACCOUNT, campaignId: 'c1', name: 'C1', vertical: 'v', geography: null, hours: null, termsVersions: [{ ...TERMS, ...stamp }], flowVersions: [flow], rev: 1, updatedAt: '2026-01-01T00:00:00.000Z' };

interface World {
  commits: AnswerCommit[];
  sent: { event: { provider: string; callId: string } }[];
  blocked: boolean;
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
        plivo: { authId: 'MAACMEROOFING0000001', authTokenSecrets: ['plivo/acme/auth-token'] },
      }),
      getTrackingNumber: async (n) => (n === NUMBER ? { accountId: ACCOUNT, number: NUMBER, assignments: [{ campaignId: 'c1', publisherId: 'p1', subSource: null, effectiveFrom: '2026-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z' }], rev: 1, updatedAt: '2026-01-01T00:00:00.000Z' } : null),
      getCampaign: async () => campaign,
      getPublisher: async () => null,
    },
    secrets: { getSecret: async () => TOKEN },
    targets: { listTargets: async () => [voiceTarget('t-a', '+15125550131'), voiceTarget('t-b', '+15125550132')] },
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
    queue: { send: async (m) => void w.sent.push(m as World['sent'][number]) },
    publicBaseUrl: BASE,
    now: () => new Date(NOW),
    budgetMs: 5_000,
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    lastKnown: new Map(),
  };
}

const world = (over: Partial<World> = {}): World => ({ commits: [], sent: [], blocked: false, ...over });

/** A Plivo request to `pathAndQuery` (as CallLedger wrote it), signed over the URL Plivo calls. */
function request(pathAndQuery: string, extra: Record<string, string>, token = TOKEN, signedUrl?: string): CarrierVoiceRequest {
  const params = { CallUUID: '2f0e9d4c-1b2a-4c3d-8e7f-6a5b4c3d2e1f', From: '12065550123', To: NUMBER.slice(1), CallStatus: 'ringing', Direction: 'inbound', Event: 'StartApp', ...extra };
  const [rawPath, rawQueryString = ''] = pathAndQuery.split('?') as [string, string?];
  const body = Buffer.from(new URLSearchParams(params).toString());
  return {
    carrier: 'plivo',
    method: 'POST',
    accountId: ACCOUNT,
    rawPath,
    rawQueryString,
    query: Object.fromEntries(new URLSearchParams(rawQueryString)),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...signPlivo([token], signedUrl ?? `${BASE}${pathAndQuery}`, params, 'nonce-12345') },
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

function plivoDoc(body: string): Node {
  const doc = parseXml(body);
  expect(vocabularyViolations(doc, PLIVO_XML)).toEqual([]);
  return doc;
}

/** The path and query of a URL CallLedger wrote, which must come back to Plivo's voice route. */
function pathOf(url: string): string {
  expect(url.startsWith(`${BASE}/voice/plivo/${ACCOUNT}?`)).toBe(true);
  expect(url).not.toContain('st=');
  return url.slice(BASE.length);
}

const refusal = (p: Promise<unknown>) => p.then(() => 200, (e: unknown) => statusOf(e));
const ANSWER = `/voice/plivo/${ACCOUNT}`;

describe("Plivo's voice URL: the Twilio decision answered as Plivo XML", () => {
  it('the incoming call: the IVR as <GetInput>, its action back to CallLedger; the call handed to the ledger as Plivo’s', async () => {
    const w = world();
    const answer = await answerCarrierVoice(request(ANSWER, {}), deps(w));
    expect(answer.contentType).toBe('application/xml; charset=utf-8');
    const doc = plivoDoc(answer.body);
    expect(pathOf(attr(find(doc, 'GetInput'), 'action'))).toMatch(/step=gather&v=1&attempt=1$/);
    expect(w.commits.map((c) => c.callId)).toEqual(['plivo:2f0e9d4c-1b2a-4c3d-8e7f-6a5b4c3d2e1f']);
    expect(w.sent.map((m) => m.event)).toMatchObject([{ provider: 'plivo', callId: 'plivo:2f0e9d4c-1b2a-4c3d-8e7f-6a5b4c3d2e1f' }]);
  });

  it('the qualifying answer: admitted, the first target dialled; its Dial action (busy) dials the next', async () => {
    const w = world();
    const action = pathOf(attr(find(plivoDoc((await answerCarrierVoice(request(ANSWER, {}), deps(w))).body), 'GetInput'), 'action'));
    const dialled = plivoDoc((await answerCarrierVoice(request(action, { CallStatus: 'in-progress', Digits: '1' }), deps(w))).body);
    // Plivo numbers without `+`; targets of equal priority in the route's order for this call.
    const firstLine = find(dialled, 'Number')?.text;
    expect(['15125550131', '15125550132']).toContain(firstLine);
    expect(w.commits.at(-1)?.admission?.kind).toBe('route');
    const next = pathOf(attr(find(dialled, 'Dial'), 'action'));
    const second = plivoDoc((await answerCarrierVoice(request(next, { CallStatus: 'in-progress', DialStatus: 'busy' }), deps(w))).body);
    expect(find(second, 'Number')?.text).toBe(firstLine === '15125550131' ? '15125550132' : '15125550131');
  });

  it('the answer that ends the call: the flow’s message, then hang up; a blocked caller: refused on arrival', async () => {
    const w = world();
    const action = pathOf(attr(find(plivoDoc((await answerCarrierVoice(request(ANSWER, {}), deps(w))).body), 'GetInput'), 'action'));
    const ended = plivoDoc((await answerCarrierVoice(request(action, { Digits: '2' }), deps(w))).body);
    expect(find(ended, 'Speak')?.text).toContain('We only install new roofs');
    expect(find(ended, 'Dial')).toBeUndefined();
    const b = world({ blocked: true });
    const refused = plivoDoc((await answerCarrierVoice(request(ANSWER, {}), deps(b))).body);
    expect(find(refused, 'GetInput')).toBeUndefined();
    expect(find(refused, 'Dial')).toBeUndefined();
    expect(b.commits.at(-1)?.admission?.kind).toBe('refuse');
  });

  it.each([
    ['signed with another auth token', () => request(ANSWER, {}, 'some-other-token')],
    ['a state edited after Plivo signed the URL', () => request(`${ANSWER}?step=dial&v=1&route=default&pos=1`, { DialStatus: 'busy' }, TOKEN, `${BASE}${ANSWER}?step=dial&v=1&route=default&pos=0`)],
    ['no signature headers', () => ({ ...request(ANSWER, {}), headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
  ])('%s: 403, nothing committed, nothing enqueued', async (_name, make) => {
    const w = world();
    expect(await refusal(answerCarrierVoice(make(), deps(w)))).toBe(403);
    expect(w.commits).toEqual([]);
    expect(w.sent).toEqual([]);
  });
});
