/**
 * Telnyx's voice URL end to end on the local stack: signed TeXML requests (Ed25519 over timestamp|body with the
 * account's key, as Telnyx sends them) to POST /voice/telnyx/{accountId}, answered as TeXML from the same decision
 * as Twilio's; the IVR answer comes back to the action URL CallLedger wrote (its state authenticated by `st`); the
 * routing audit on GET /v1/calls/{callId}; a request that does not verify is 403 with nothing written.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { ENV } from '../../../infra/resources';
import { signTelnyx } from '../../../events/carrier-signing';
import { ACME, apiGet, apiKey, callPath, newCaller, writeSeed, writeTwoAccountSeed, type TempSeed } from '../../support/e2e-harness';
import { carrierConfigFor } from '../../support/carrier-senders';
import { ivrFlow, suffix, voiceTarget, writeTargets, writeVoiceCampaign, type VoiceCampaign } from '../../support/voice-stack';
import { TEXML } from '../../../shared/domain/callflow/render/vocabulary';
import { parseXml, vocabularyViolations, type Node } from '../../support/callflow-fixtures';

let stack: LocalStack;
let seedFiles: TempSeed[] = [];
let admin: string;
let publicBase: string;
const s = suffix();
const T = { a: `ta-${s}`, geo: `tgeo-${s}` };
let ivr: VoiceCampaign;
let nowhere: VoiceCampaign;

beforeAll(async () => {
  const twoAccounts = await writeTwoAccountSeed();
  const seed = JSON.parse(await readFile(twoAccounts.file, 'utf8')) as { accounts: Record<string, unknown>[] };
  seed.accounts[0] = { ...seed.accounts[0], ...carrierConfigFor(ACME.accountId) };
  const withCarriers = await writeSeed(seed);
  seedFiles = [twoAccounts, withCarriers];
  stack = await startLocalStack({ port: 0, quiet: true, seedFile: withCarriers.file });
  admin = apiKey(stack, ACME.accountId, 'admin');
  publicBase = stack.env[ENV.publicBaseUrl] ?? stack.baseUrl;
  await writeTargets(stack, [
    voiceTarget(T.a, '+15125550141', { priority: 1 }),
    voiceTarget(T.geo, '+15125550142', { priority: 1, geography: { states: ['CA'], zipPrefixes: [], areaCodes: [] } }),
  ]);
  ivr = await writeVoiceCampaign(stack, { campaignId: `tx-ivr-${s}`, flow: ivrFlow({ default: [T.a] }, { whisper: null }) });
  // Its only target takes Californian callers only, and TeXML sends no caller state: no target, refused.
  nowhere = await writeVoiceCampaign(stack, { campaignId: `tx-none-${s}`, flow: ivrFlow({ default: [T.geo] }, { ivr: null }) });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  for (const f of seedFiles) await f.cleanup();
});

const keyName = `telnyx/${ACME.accountId}/public-key`;

/** POSTs a TeXML request as Telnyx does: form body, signed now; `pathAndQuery` as CallLedger wrote it. */
async function texml(pathAndQuery: string, params: Record<string, string>, signWith?: string): Promise<{ status: number; type: string; body: string }> {
  const body = new URLSearchParams(params).toString();
  const headers = signTelnyx(signWith ?? stack.secrets.carriers.telnyxSigningKeys[keyName]!, body, Math.floor(Date.now() / 1000));
  const res = await fetch(`${stack.baseUrl}${pathAndQuery}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
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

function texmlDoc(res: { status: number; type: string; body: string }): Node {
  expect(res.status, res.body).toBe(200);
  expect(res.type).toContain('text/xml');
  const doc = parseXml(res.body);
  expect(vocabularyViolations(doc, TEXML)).toEqual([]);
  return doc;
}

/** The path and query of a URL CallLedger wrote: under PUBLIC_BASE_URL, back to Telnyx's voice route. */
function localPath(url: string): string {
  expect(url.startsWith(`${publicBase}/voice/telnyx/${ACME.accountId}?`)).toBe(true);
  return url.slice(publicBase.length);
}

const newCall = (to: string) => ({ AccountSid: 'telnyx-e2e', CallSid: `v3:${randomBytes(12).toString('base64url')}`, From: newCaller(), To: to, CallStatus: 'ringing', Direction: 'inbound' });

describe("Telnyx's voice URL on the local stack", () => {
  it('an admitted call: IVR, the qualifying answer, dialled as TeXML; the call and its routing audit on the API', async () => {
    const call = newCall(ivr.number);
    const first = texmlDoc(await texml(`/voice/telnyx/${ACME.accountId}`, call));
    const action = localPath(attr(find(first, 'Gather'), 'action'));
    const second = texmlDoc(await texml(action, { ...call, CallStatus: 'in-progress', Digits: '1' }));
    expect(find(second, 'Number')?.text).toBe('+15125550141');
    await stack.waitForIdle();
    const res = await apiGet(stack, callPath(`telnyx:${call.CallSid}`), admin);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.routing.admission).toMatchObject({ kind: 'route', stage: 'connect' });
    expect(res.body.routing.attempts.map((a: { targetId: string }) => a.targetId)).toEqual([T.a]);
  });

  it('a refused call: the flow’s refusal, nothing dialled, the refusal in the audit', async () => {
    const call = newCall(nowhere.number);
    const doc = texmlDoc(await texml(`/voice/telnyx/${ACME.accountId}`, call));
    expect(find(doc, 'Dial')).toBeUndefined();
    await stack.waitForIdle();
    const res = await apiGet(stack, callPath(`telnyx:${call.CallSid}`), admin);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.routing.admission).toMatchObject({ kind: 'refuse', reason: 'no_target' });
  });

  it('a request signed with another key is 403 and leaves no call behind', async () => {
    const call = newCall(ivr.number);
    const { generateKeyPairSync } = await import('node:crypto');
    const stranger = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const res = await texml(`/voice/telnyx/${ACME.accountId}`, call, stranger);
    expect(res.status).toBe(403);
    expect(res.type).toContain('application/problem+json');
    await stack.waitForIdle();
    expect((await apiGet(stack, callPath(`telnyx:${call.CallSid}`), admin)).status).toBe(404);
  });
});
