/**
 * Counted caps and compliance at admission, end to end on the local stack through the Twilio call simulator
 * (events/voice): a campaign at its hourly cap refuses the next call `campaign_capped` before connect (never dialled,
 * never charged, the routing audit says so); a target at its daily cap is skipped `capped` and the next target
 * answers; a DNC-listed caller of an account that makes DNC calls non-billable is declined before connect.
 *
 * Time: DNC entries take effect CONFIG_LEAD_MS after they are written (like every cached reader's input), so the
 * list is uploaded first and its test runs last, once the lead has passed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { playCall, type SimulatedCall, type SimulatorConfig } from '../../../events/voice/player';
import type { CallScriptInput } from '../../../events/voice/script';
import { CONFIG_LEAD_MS } from '../../../shared/domain/catalog/config';
import { allLedgerEntries, apiGet, apiKey, callPath, newCaller } from '../../support/e2e-harness';
import { ACCOUNT, ivrFlow, simulatorConfig, suffix, voiceTarget, writeTargets, writeVoiceCampaign, type VoiceCampaign } from '../../support/voice-stack';

let stack: LocalStack;
let sim: SimulatorConfig;
let admin: string;
const s = suffix();
const T = { open: `open-${s}`, a: `a-${s}`, b: `b-${s}` };
const LINES = { open: '+15125550141', a: '+15125550142', b: '+15125550143' };
let hourly: VoiceCampaign;
let daily: VoiceCampaign;
let direct: VoiceCampaign;
const dncCaller = newCaller();
let dncListedAt = 0;

async function send(method: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${stack.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status, await res.text()).toBeLessThan(300);
}

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true });
  sim = simulatorConfig(stack);
  admin = apiKey(stack, ACCOUNT, 'admin');
  await send('PUT', '/v1/account/compliance', { consentMissingNonBillable: false, dncNonBillable: true });
  await send('PUT', '/v1/dnc-lists/internal', { name: 'Internal', source: 'internal' });
  await send('POST', '/v1/dnc-lists/internal/numbers', { add: [dncCaller] });
  dncListedAt = Date.now();
  await writeTargets(stack, [
    voiceTarget(T.open, LINES.open, { concurrencyCap: null }),
    voiceTarget(T.a, LINES.a, { priority: 1, dailyCap: 1, concurrencyCap: null }),
    voiceTarget(T.b, LINES.b, { priority: 2, concurrencyCap: null }),
  ]);
  const flow = { ivr: null, whisper: null, recording: 'off' as const };
  hourly = await writeVoiceCampaign(stack, { campaignId: `hourly-${s}`, flow: ivrFlow({ default: [T.open] }, { ...flow, caps: { concurrentCalls: null, hourlyCalls: 2, dailyCalls: null } }) });
  daily = await writeVoiceCampaign(stack, { campaignId: `daily-${s}`, flow: ivrFlow({ default: [T.a, T.b] }, flow) });
  direct = await writeVoiceCampaign(stack, { campaignId: `direct-${s}`, flow: ivrFlow({ default: [T.open] }, flow) });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

function call(to: string, overrides: Partial<CallScriptInput> = {}): Promise<SimulatedCall> {
  return playCall(
    { accountId: ACCOUNT, from: newCaller(), to, startAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(), billing: { bufferSec: 60, durationBasis: 'talk' }, ...overrides },
    sim,
  );
}

const answering = (line: string) => ({ [line]: { outcome: 'answer' as const, ringSec: 2, talkSec: 120 } });
const callIdOf = (c: SimulatedCall) => `twilio:${c.truth.callSid}`;

async function routingOf(c: SimulatedCall): Promise<any> {
  const res = await apiGet(stack, callPath(callIdOf(c)), admin);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.routing;
}

async function chargedCalls(): Promise<Set<string>> {
  return new Set((await allLedgerEntries(stack, admin)).map((e) => e.callId as string));
}

describe('campaign caps at admission', () => {
  it('a campaign at its hourly cap refuses the next call campaign_capped before connect: never dialled, never charged, audited', async () => {
    const first = await call(hourly.number, { targets: answering(LINES.open) });
    const second = await call(hourly.number, { targets: answering(LINES.open) });
    expect([first.truth.connected, second.truth.connected]).toEqual([true, true]);
    const third = await call(hourly.number, { targets: answering(LINES.open) });
    expect(third.truth).toMatchObject({ connected: false, billable: false });
    expect(third.trace.legs ?? []).toEqual([]);
    await stack.waitForIdle();
    const routing = await routingOf(third);
    expect(routing.admission).toMatchObject({ kind: 'refuse', reason: 'campaign_capped' });
    expect(routing.attempts).toEqual([]);
    const charged = await chargedCalls();
    expect([charged.has(callIdOf(first)), charged.has(callIdOf(second)), charged.has(callIdOf(third))]).toEqual([true, true, false]);
  }, 120_000);
});

describe('target caps in routing', () => {
  it('a target at its daily cap is skipped `capped` and the next target answers', async () => {
    const first = await call(daily.number, { targets: { ...answering(LINES.a), ...answering(LINES.b) } });
    expect(first.truth).toMatchObject({ connected: true, answeredTarget: LINES.a });
    const second = await call(daily.number, { targets: { ...answering(LINES.a), ...answering(LINES.b) } });
    expect(second.truth).toMatchObject({ connected: true, answeredTarget: LINES.b });
    await stack.waitForIdle();
    expect((await routingOf(second)).attempts).toEqual([expect.objectContaining({ targetId: T.a, outcome: 'capped' }), expect.objectContaining({ targetId: T.b, outcome: 'answered' })]);
  }, 120_000);
});

describe('compliance at admission', () => {
  it('a DNC-listed caller of an account that makes DNC calls non-billable is declined before connect', async () => {
    const wait = dncListedAt + CONFIG_LEAD_MS + 2_000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const listed = await call(direct.number, { from: dncCaller, targets: answering(LINES.open) });
    expect(listed.truth).toMatchObject({ answered: false, rejected: true, connected: false });
    await stack.waitForIdle();
    expect((await routingOf(listed)).admission).toMatchObject({ kind: 'refuse', reason: 'blocked_signal' });
    // Anyone else is connected as before.
    const other = await call(direct.number, { targets: answering(LINES.open) });
    expect(other.truth).toMatchObject({ connected: true });
    await stack.waitForIdle();
    expect((await chargedCalls()).has(callIdOf(listed))).toBe(false);
  }, 120_000);
});
