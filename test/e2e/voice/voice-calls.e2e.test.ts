/**
 * CallLedger answering calls, end to end on the local stack: the Twilio call simulator (events/voice) requests the
 * voice URL, runs the TwiML it gets (a strict reading: only what Twilio documents, every URL under PUBLIC_BASE_URL,
 * every request signed), presses keys, plays each dialled target's scripted outcome and sends the legs', the call's
 * and the recordings' callbacks. Then the routing audit and the ledger are compared with the simulator's ground truth.
 *
 * Time: the server decides on its own clock, so the scripts start now and the targets' hours are set relative to now.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { playCall, type SimulatedCall, type SimulatorConfig } from '../../../events/voice/player';
import { playCalls } from '../../../events/voice/run';
import { randomBytes } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { twilioSignature } from '../../../shared/domain/calls/providers/twilio';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { mainKeys } from '../../../shared/adapters/calls/keys';
import type { PilotTerms } from '../../../shared/domain/pilots/caps';
import type { CallScriptInput } from '../../../events/voice/script';
import { allLedgerEntries, apiGet, apiKey, callPath, newCaller } from '../../support/e2e-harness';
import { ACCOUNT, ivrFlow, occupyTarget, writePilotCounter, simulatorConfig, suffix, voiceTarget, writeTargets, writeVoiceCampaign, type VoiceCampaign } from '../../support/voice-stack';
import { WEEKDAYS, wallTime } from '../../../shared/domain/kernel/zoned-time';

let stack: LocalStack;
let sim: SimulatorConfig;
let admin: string;
const s = suffix();
const T = { open: `open-${s}`, a: `a-${s}`, b: `b-${s}`, closed: `closed-${s}`, geo: `geo-${s}`, full: `full-${s}` };
const LINES = { open: '+15125550136', a: '+15125550131', b: '+15125550132', closed: '+15125550133', geo: '+15125550134', full: '+15125550135' };
let ivr: VoiceCampaign;
let direct: VoiceCampaign;
let capacity: VoiceCampaign;
let busy: VoiceCampaign;
let closedCampaign: VoiceCampaign;

/** Weekly windows open all of today's local day except now: the target is closed at this instant. */
function closedNow(timeZone: string) {
  const w = wallTime(Date.now(), timeZone);
  const day = WEEKDAYS[(WEEKDAYS.indexOf(w.weekday) + 1) % 7]!;
  return { timeZone, windows: [{ day, open: '09:00', close: '17:00' }], holidays: [] };
}

beforeAll(async () => {
  // 64 calls at once are answered by ONE process here (in AWS, one container each) on a shared machine: the decision's
  // budget is widened so that the cap, not the machine's load, decides who connects. Latency is `npm run bench`'s.
  process.env.VOICE_DECISION_BUDGET_MS = '8000';
  stack = await startLocalStack({ port: 0, quiet: true });
  sim = simulatorConfig(stack);
  admin = apiKey(stack, ACCOUNT, 'admin');
  await writeTargets(stack, [
    voiceTarget(T.a, LINES.a, { priority: 1 }),
    voiceTarget(T.open, LINES.open, { concurrencyCap: null }),
    voiceTarget(T.b, LINES.b, { priority: 2 }),
    voiceTarget(T.closed, LINES.closed, { priority: 1, hours: closedNow('America/Chicago') }),
    voiceTarget(T.geo, LINES.geo, { priority: 1, geography: { states: ['CA'], zipPrefixes: [], areaCodes: [] } }),
    voiceTarget(T.full, LINES.full, { priority: 1, concurrencyCap: 2 }),
  ]);
  ivr = await writeVoiceCampaign(stack, { campaignId: `ivr-${s}`, flow: ivrFlow({ default: [T.a, T.b] }) });
  direct = await writeVoiceCampaign(stack, { campaignId: `direct-${s}`, flow: ivrFlow({ default: [T.a] }, { ivr: null, whisper: null }) });
  capacity = await writeVoiceCampaign(stack, { campaignId: `cap-${s}`, flow: ivrFlow({ default: [T.full, T.b] }, { ivr: null }) });
  busy = await writeVoiceCampaign(stack, { campaignId: `busy-${s}`, flow: ivrFlow({ default: [T.a, T.b] }, { ivr: null }) });
  closedCampaign = await writeVoiceCampaign(stack, { campaignId: `closed-${s}`, flow: ivrFlow({ default: [T.closed, T.geo] }, { ivr: null }) });
  await occupyTarget(stack, T.full, 2, Date.now() + 3_600_000);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

function script(to: string, overrides: Partial<CallScriptInput> = {}): CallScriptInput {
  return { accountId: ACCOUNT, from: newCaller(), to, startAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(), billing: { bufferSec: 60, durationBasis: 'talk' }, ...overrides };
}

async function call(to: string, overrides: Partial<CallScriptInput> = {}): Promise<SimulatedCall> {
  return playCall(script(to, overrides), sim);
}

const callIdOf = (c: SimulatedCall) => `twilio:${c.truth.callSid}`;

async function routingOf(c: SimulatedCall): Promise<any> {
  const res = await apiGet(stack, callPath(callIdOf(c)), admin);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.routing;
}

/** The ledger's charges, by call id. */
async function charges(): Promise<Map<string, number>> {
  const entries = await allLedgerEntries(stack, admin);
  const out = new Map<string, number>();
  for (const e of entries) out.set(e.callId, (out.get(e.callId) ?? 0) + e.amountCents);
  return out;
}

const played: SimulatedCall[] = [];

describe('IVR', () => {
  it('a qualified answer is routed to the first target, whispered, recorded and billed', async () => {
    const c = await call(ivr.number, { gathers: [{ press: '1', afterSec: 2 }], targets: { [LINES.a]: { outcome: 'answer', ringSec: 3, talkSec: 120 } } });
    played.push(c);
    expect(c.truth).toMatchObject({ answered: true, connected: true, answeredTarget: LINES.a, digits: ['1'], billable: true });
    await stack.waitForIdle();
    const routing = await routingOf(c);
    expect(routing.admission).toMatchObject({ kind: 'route', stage: 'connect' });
    expect(routing.attempts).toEqual([{ targetId: T.a, position: 0, outcome: 'answered', legStatuses: ['initiated', 'ringing', 'in-progress', 'completed'] }]);
  });

  it('an answer that ends the call is answered politely, never connected, never billed', async () => {
    const c = await call(ivr.number, { gathers: [{ press: '2', afterSec: 1 }] });
    played.push(c);
    expect(c.truth).toMatchObject({ answered: true, connected: false, digits: ['2'], billable: false });
    await stack.waitForIdle();
    const routing = await routingOf(c);
    expect(routing.attempts).toEqual([]);
  });

  it('no input: asked again, then the no-input action', async () => {
    const c = await call(ivr.number, { gathers: [{ press: null }, { press: null }] });
    played.push(c);
    expect(c.truth).toMatchObject({ answered: true, connected: false, digits: [], billable: false });
  });
});

describe('refused before connect', () => {
  it('a target closed now and a target out of the caller’s geography: refused before any line rings', async () => {
    const c = await call(closedCampaign.number, { fromGeo: { city: 'Austin', state: 'TX', zip: '78701', country: 'US' } });
    played.push(c);
    expect(c.truth).toMatchObject({ connected: false, billable: false });
    expect(c.trace.legs ?? []).toEqual([]);
    await stack.waitForIdle();
    const routing = await routingOf(c);
    expect(routing.admission).toMatchObject({ kind: 'refuse', reason: 'no_target' });
    // Their order is the call's (priority, then a weighted draw from the call id): either may come first.
    expect(routing.attempts).toHaveLength(2);
    expect(routing.attempts).toEqual(
      expect.arrayContaining([expect.objectContaining({ targetId: T.closed, outcome: 'closed' }), expect.objectContaining({ targetId: T.geo, outcome: 'geo' })]),
    );
  });

  it('a withheld caller is declined (<Reject>) and recorded with its reason', async () => {
    const c = await call(direct.number, { from: null });
    played.push(c);
    expect(c.truth).toMatchObject({ answered: false, rejected: true, connected: false });
    await stack.waitForIdle();
    expect((await routingOf(c)).admission).toMatchObject({ kind: 'refuse', reason: 'caller_id_withheld' });
  });

  it('a blocked caller is declined', async () => {
    const caller = newCaller();
    const res = await fetch(`${stack.baseUrl}/v1/blocked-callers/${encodeURIComponent(caller)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ blocked: true, reason: 'fraud' }),
    });
    expect(res.status, await res.text()).toBeLessThan(300);
    await new Promise((r) => setTimeout(r, 62_000));
    const c = await call(direct.number, { from: caller });
    played.push(c);
    expect(c.truth).toMatchObject({ answered: false, rejected: true });
    await stack.waitForIdle();
    expect((await routingOf(c)).admission).toMatchObject({ kind: 'refuse', reason: 'blocked_caller' });
  }, 120_000);
});

describe('routing', () => {
  it('a target at its concurrency cap is skipped and the next one answers', async () => {
    const c = await call(capacity.number, { targets: { [LINES.b]: { outcome: 'answer', ringSec: 2, talkSec: 90 } } });
    played.push(c);
    expect(c.truth).toMatchObject({ connected: true, answeredTarget: LINES.b });
    await stack.waitForIdle();
    expect((await routingOf(c)).attempts).toEqual([
      expect.objectContaining({ targetId: T.full, outcome: 'at_capacity' }),
      expect.objectContaining({ targetId: T.b, outcome: 'answered' }),
    ]);
  });

  it('every target busy: the flow’s unavailable message', async () => {
    const c = await call(busy.number, { targets: { [LINES.a]: { outcome: 'busy' }, [LINES.b]: { outcome: 'no_answer' } } });
    played.push(c);
    expect(c.truth).toMatchObject({ answered: true, connected: false, billable: false });
    await stack.waitForIdle();
    expect((await routingOf(c)).attempts).toEqual([
      expect.objectContaining({ targetId: T.a, outcome: 'busy' }),
      expect.objectContaining({ targetId: T.b, outcome: 'no_answer' }),
    ]);
  });
});

function pilot(pilotId: string, publisherId: string, calls: number): PilotTerms {
  const now = Date.now();
  return {
    pilotId,
    publisherIds: [publisherId],
    startsAt: new Date(now - 3_600_000).toISOString(),
    endsAt: new Date(now + 86_400_000).toISOString(),
    spendCapCents: calls * 4500,
    dailyCapCents: null,
    maxBillableCalls: null,
    timeZone: 'America/Chicago',
    createdAt: new Date(now - 3_600_000).toISOString(),
  };
}

async function counter(pilotId: string): Promise<Record<string, unknown>> {
  const out = await stack.clients.dynamodb.send(new GetItemCommand({ TableName: stack.names.mainTable, Key: marshall(mainKeys.pilotCounter(ACCOUNT, pilotId)), ConsistentRead: true }));
  return unmarshall(out.Item!);
}

describe('pilot caps at admission', () => {
  it('64 concurrent calls against a cap worth 20: exactly 20 are connected, the rest refused over_cap before any line rings', async () => {
    const id = `pilot-${s}`;
    const p = pilot(id, `pub-pilot-${s}`, 20);
    const campaign = await writeVoiceCampaign(stack, { campaignId: `pilot-${s}`, flow: ivrFlow({ default: [T.open] }, { ivr: null, whisper: null, recording: 'off' }), pilots: [p] });
    await writePilotCounter(stack, p);
    const scripts = Array.from({ length: 64 }, () => script(campaign.number, { targets: { [LINES.open]: { outcome: 'answer', ringSec: 2, talkSec: 120 } } }));
    const results = await playCalls(scripts, sim, { concurrency: 64 });
    const ok = results.flatMap((r) => (r.ok ? [r] : []));
    expect(ok).toHaveLength(64);
    await stack.waitForIdle();
    const records = await Promise.all(ok.map((r) => routingOf(r)));
    const kinds = records.map((r) => (r === null ? 'none' : r.degraded ? 'degraded' : `${r.admission?.kind}:${r.admission?.reason}`));
    expect(kinds.filter((k) => k === 'degraded' || k === 'none'), kinds.join(',')).toEqual([]);
    expect(ok.filter((r) => r.truth.connected)).toHaveLength(20);
    played.push(...ok);
    await stack.waitForIdle();
    const refused = ok.filter((r) => !r.truth.connected);
    for (const r of refused.slice(0, 5)) expect((await routingOf(r)).admission).toMatchObject({ kind: 'refuse', reason: 'over_cap' });
    // Every call rated: 20 charges in the held total, nothing left reserved.
    expect(await counter(id)).toMatchObject({ spentCents: 90_000, heldCents: 90_000, billableCalls: 20, heldCalls: 20 });
  }, 180_000);

  it('a reservation released by a short call is reused by the next call', async () => {
    const id = `pilot1-${s}`;
    const p = pilot(id, `pub-pilot1-${s}`, 1);
    const campaign = await writeVoiceCampaign(stack, { campaignId: `pilot1-${s}`, flow: ivrFlow({ default: [T.b] }, { ivr: null, whisper: null, recording: 'off' }), pilots: [p] });
    await writePilotCounter(stack, p);
    const short = await call(campaign.number, { targets: { [LINES.b]: { outcome: 'answer', ringSec: 2, talkSec: 10 } } });
    played.push(short);
    expect(short.truth).toMatchObject({ connected: true, billable: false });
    await stack.waitForIdle();
    expect((await routingOf(short)).admission).toMatchObject({ kind: 'route', reservation: { pilotId: id, amountCents: 4500 } });
    expect(await counter(id)).toMatchObject({ spentCents: 0, heldCents: 0, heldCalls: 0 });
    const next = await call(campaign.number, { targets: { [LINES.b]: { outcome: 'answer', ringSec: 2, talkSec: 120 } } });
    played.push(next);
    expect(next.truth).toMatchObject({ connected: true, billable: true });
    await stack.waitForIdle();
    // The cap is now spent: the next call is refused before connect.
    const over = await call(campaign.number, { targets: { [LINES.b]: { outcome: 'answer', ringSec: 2, talkSec: 120 } } });
    played.push(over);
    expect(over.truth).toMatchObject({ connected: false, billable: false });
    await stack.waitForIdle();
    expect((await routingOf(over)).admission).toMatchObject({ kind: 'refuse', reason: 'over_cap' });
    expect(await counter(id)).toMatchObject({ spentCents: 4500, heldCents: 4500, billableCalls: 1, heldCalls: 1 });
  }, 120_000);
});

describe('a retried voice request', () => {
  it('Twilio retrying the incoming request of a pilot call: the same TwiML, one admission, one reservation', async () => {
    const id = `pilotr-${s}`;
    const p = pilot(id, `pub-pilotr-${s}`, 2);
    const campaign = await writeVoiceCampaign(stack, { campaignId: `pilotr-${s}`, flow: ivrFlow({ default: [T.open] }, { ivr: null, whisper: null, recording: 'off' }), pilots: [p] });
    await writePilotCounter(stack, p);
    const path = `/voice/twilio/${ACCOUNT}`;
    const from = newCaller();
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    const params: Record<string, string> = { AccountSid: sim.accounts[ACCOUNT]!.accountSid, ApiVersion: '2010-04-01', CallSid: callSid, CallStatus: 'ringing', Direction: 'inbound', From: from, To: campaign.number, FromCountry: 'US', ToCountry: 'US' };
    const signature = twilioSignature(sim.accounts[ACCOUNT]!.authToken, `${sim.publicBaseUrl}${path}`, params);
    const post = async () => {
      const res = await fetch(`${stack.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(params).toString(),
      });
      expect(res.status).toBe(200);
      return res.text();
    };
    const first = await post();
    const retry = await post();
    expect(first).toContain('<Dial');
    expect(retry).toBe(first);
    const record = await stack.clients.dynamodb.send(new GetItemCommand({ TableName: stack.names.mainTable, Key: marshall({ pk: `CALL#twilio:${callSid}`, sk: 'ROUTING' }), ConsistentRead: true }));
    const routing = unmarshall(record.Item!);
    expect(routing.admissions).toHaveLength(1);
    expect(routing.events.filter((e: { event: string }) => e.event === 'admitted')).toHaveLength(1);
    expect(await counter(id)).toMatchObject({ heldCents: 4500, heldCalls: 1 });
    expect(Object.keys((await counter(id)).reservations as object)).toEqual([`twilio:${callSid}`]);
  }, 60_000);
});

describe('the ledger', () => {
  it('charges exactly the calls the simulator says are billable, at the terms price', async () => {
    await stack.waitForIdle();
    const booked = await charges();
    const wrong: string[] = [];
    for (const c of played) {
      if ((booked.get(callIdOf(c)) ?? 0) === (c.truth.billable ? 4500 : 0)) continue;
      const rated = (await apiGet(stack, callPath(callIdOf(c)), admin)).body;
      wrong.push(`${c.truth.callSid}: truth billable=${c.truth.billable} talk=${c.truth.talkSec}s; rated ${JSON.stringify({ billable: rated.billable, reasons: rated.reasons })}`);
    }
    expect(wrong).toEqual([]);
  });
});
