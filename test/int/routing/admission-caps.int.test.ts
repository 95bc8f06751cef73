/**
 * The counted caps on DynamoDB Local, through the voice decision itself (shared/app/routing/voice-answer.ts
 * answerVerified) with the real adapters: a campaign's hourly cap under concurrent calls admits exactly the cap and
 * explains every refusal with the true count; retried requests never count twice; the campaign's concurrency cap is
 * a lease given back when the Dial ends; a target at its daily cap is skipped `capped` and the next one is dialled.
 * And the adapter's condition is the domain's reference semantics (counters.ts countHolds) over any sequence of
 * counts, retries and give-backs.
 */
import { randomUUID } from 'node:crypto';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerVerified, type VoiceDeps } from '../../../shared/app/routing/voice-answer';
import { AdmissionCounterRepo, counterKeys } from '../../../shared/adapters/routing/admission-counters';
import { RoutingRepo } from '../../../shared/adapters/routing/routing-repo';
import { TargetRepo } from '../../../shared/adapters/routing/target-repo';
import { ConfigRepo, configItems } from '../../../shared/adapters/catalog/config-repo';
import { applyCount, applyUncount, countHolds, EMPTY_WINDOWS, targetCount, type WindowCountWrite, type WindowSets } from '../../../shared/domain/routing/counters';
import type { CampaignCaps } from '../../../shared/domain/routing/admission';
import { marshall } from '@aws-sdk/util-dynamodb';
import { ACCOUNT, ivrFlow, voiceTarget, writeTargets, writeVoiceCampaign } from '../../support/voice-stack';
import { silentLog, startCoreEnv, type CoreEnv } from '../../support/writer-fixtures';

let env: CoreEnv;
let counters: AdmissionCounterRepo;
let routing: RoutingRepo;
let deps: VoiceDeps;
const SID = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';

beforeAll(async () => {
  env = await startCoreEnv();
  counters = new AdmissionCounterRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
  routing = new RoutingRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
  const config = new ConfigRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
  await config.putConfigItems([configItems.account({ accountId: ACCOUNT, name: 'Acme', timeZone: 'America/Chicago', currency: 'USD', twilio: { accountSid: SID, authTokenSecret: 'twilio/acme/auth-token' } })]);
  deps = {
    config,
    secrets: { getSecret: async () => 'token' },
    // Uncached: each test writes its own targets.
    targets: new TargetRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb, cacheTtlMs: 0 }),
    blocks: { blockedCaller: async () => null },
    callerHashKey: async () => 'k',
    routing,
    counters,
    queue: { send: async () => undefined },
    publicBaseUrl: 'https://calls.example.com',
    now: () => new Date(),
    // Many calls at once in one process on a shared machine: the cap, not the load, must decide.
    budgetMs: 20_000,
    log: silentLog,
    lastKnown: new Map(),
  };
}, 120_000);
afterAll(async () => {
  await env?.stop();
});

const newCallId = () => `twilio:CA${randomUUID().replaceAll('-', '')}`;

/** One voice request of a call: the incoming call (no state), or the Dial's end at position `pos`. */
async function answer(callId: string, to: string, dial?: { pos: number; status: string }) {
  const params: Record<string, string> = { AccountSid: SID, CallSid: callId.slice('twilio:'.length), From: '+12065550123', To: to, CallStatus: 'in-progress' };
  if (dial) Object.assign(params, { DialCallStatus: dial.status, DialBridged: 'true' });
  const query = dial ? { step: 'dial', v: '1', route: 'default', pos: String(dial.pos) } : {};
  const out = await answerVerified({ provider: 'twilio', accountId: ACCOUNT, callId, params, query, stateKey: '', toLedger: null }, deps);
  expect(out.degraded).toBe(false);
  return { dialled: /<Dial[ >]/.test(out.body), body: out.body };
}

async function campaignWith(caps: CampaignCaps, route: string[]): Promise<{ campaignId: string; number: string }> {
  const campaignId = `cap-${randomUUID().slice(0, 8)}`;
  return writeVoiceCampaign(env, { campaignId, flow: ivrFlow({ default: route }, { ivr: null, whisper: null, recording: 'off', caps }) });
}

async function windowItem(kind: 'campaign' | 'target', id: string, day: string): Promise<Record<string, any> | undefined> {
  const out = await env.clients.dynamodb.send(new GetItemCommand({ TableName: env.names.mainTable, Key: marshall(counterKeys.window(ACCOUNT, { kind, id }, day)), ConsistentRead: true }));
  return out.Item;
}

describe('campaign caps at admission, through the voice decision', () => {
  it('N concurrent calls against an hourly cap of K: exactly K dialled, the rest refused campaign_capped with the true count; retries count nothing', async () => {
    const target = `t-${randomUUID().slice(0, 8)}`;
    await writeTargets(env, [voiceTarget(target, '+15125550131', { concurrencyCap: null })]);
    const K = 5;
    const campaign = await campaignWith({ concurrentCalls: null, hourlyCalls: K, dailyCalls: null }, [target]);
    const ids = Array.from({ length: 24 }, newCallId);
    const first = await Promise.all(ids.map((id) => answer(id, campaign.number)));
    expect(first.filter((a) => a.dialled)).toHaveLength(K);
    const refused = ids.filter((_, i) => !first[i]!.dialled);
    for (const id of refused.slice(0, 4)) {
      const record = await routing.readRouting(id);
      const decision = record!.admissions.at(-1)!;
      expect(decision).toMatchObject({ kind: 'refuse', reason: 'campaign_capped', stage: 'connect' });
      expect(decision.rules.find((r) => r.rule === 'campaign_capped')?.inputs).toMatchObject({ hourlyCalls: K, thisHour: K });
    }
    // Every request again, at once: the same K dialled (their retries pass at the cap), nobody else, nothing counted twice.
    const again = await Promise.all(ids.map((id) => answer(id, campaign.number)));
    expect(ids.filter((_, i) => again[i]!.dialled)).toEqual(ids.filter((_, i) => first[i]!.dialled));
    const day = new Date().toISOString().slice(0, 10);
    const item = await windowItem('campaign', campaign.campaignId, day);
    const hourSets = Object.entries(item ?? {}).filter(([k]) => /^h\d\d$/.test(k));
    expect(hourSets.map(([, v]) => (v as { BS: unknown[] }).BS.length)).toContain(K);
  }, 120_000);

  it('a concurrency cap is a lease: held while the call is on the line, given back when its Dial ends', async () => {
    const target = `t-${randomUUID().slice(0, 8)}`;
    await writeTargets(env, [voiceTarget(target, '+15125550132', { concurrencyCap: null })]);
    const campaign = await campaignWith({ concurrentCalls: 2, hourlyCalls: null, dailyCalls: null }, [target]);
    const ids = Array.from({ length: 6 }, newCallId);
    const first = await Promise.all(ids.map((id) => answer(id, campaign.number)));
    const live = ids.filter((_, i) => first[i]!.dialled);
    expect(live).toHaveLength(2);
    const late = ids.find((_, i) => !first[i]!.dialled)!;
    const refusal = (await routing.readRouting(late))!.admissions.at(-1)!;
    expect(refusal.rules.find((r) => r.rule === 'campaign_capped')?.inputs).toMatchObject({ concurrentCalls: 2, active: 2 });
    // A retry of a live call keeps its own slot.
    expect((await answer(live[0]!, campaign.number)).dialled).toBe(true);
    // The first call's Dial ends (answered, talked, hung up): its slot is free for the next call.
    await answer(live[0]!, campaign.number, { pos: 0, status: 'completed' });
    expect((await answer(newCallId(), campaign.number)).dialled).toBe(true);
    expect((await answer(newCallId(), campaign.number)).dialled).toBe(false);
  }, 120_000);
});

describe('target hourly/daily caps, counted when dialled', () => {
  it('a target at its daily cap is skipped `capped` and the next target is dialled; a retry dials the same one again', async () => {
    const a = `a-${randomUUID().slice(0, 8)}`;
    const b = `b-${randomUUID().slice(0, 8)}`;
    await writeTargets(env, [voiceTarget(a, '+15125550133', { priority: 1, dailyCap: 1, concurrencyCap: null }), voiceTarget(b, '+15125550134', { priority: 2, concurrencyCap: null })]);
    const campaign = await campaignWith({ concurrentCalls: null, hourlyCalls: null, dailyCalls: null }, [a, b]);
    const one = newCallId();
    expect((await answer(one, campaign.number)).body).toContain('+15125550133');
    // Its retry is not a second call to the target.
    expect((await answer(one, campaign.number)).body).toContain('+15125550133');
    const two = newCallId();
    expect((await answer(two, campaign.number)).body).toContain('+15125550134');
    const events = (await routing.readRouting(two))!.events;
    expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ event: 'skipped', targetId: a, reason: 'capped' }), expect.objectContaining({ event: 'dialling', targetId: b })]));
    const skip = (await routing.readRouting(two))!.admissions.at(-1)!.route!.find((s) => s.targetId === a)!;
    expect(skip).toMatchObject({ status: 'capped', inputs: { dailyCap: 1, callsToday: 1 } });
  }, 120_000);
});

type Op = { kind: 'count'; call: number; hourly: boolean } | { kind: 'uncount'; call: number };

describe('the window counter on DynamoDB Local is the domain’s reference semantics', () => {
  it('over any sequence of counts, retries and give-backs: the same answers and the same windows', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.oneof(fc.record({ kind: fc.constant('count' as const), call: fc.nat(5), hourly: fc.boolean() }), fc.record({ kind: fc.constant('uncount' as const), call: fc.nat(5) })), { minLength: 1, maxLength: 16 }),
        async (hourlyCap, dailyCap, ops: Op[]) => {
          const target = { targetId: `w-${randomUUID().slice(0, 8)}`, hours: null, hourlyCap, dailyCap };
          const at = Date.parse('2026-06-01T12:30:00Z');
          const calls = Array.from({ length: 6 }, newCallId);
          // Two hours of one day: a count in the next hour keeps the day's set and starts an hour's.
          const writeOf = (call: number, later: boolean): WindowCountWrite => targetCount(target, calls[call]!, at + (later ? 3_600_000 : 0))!;
          const model = new Map<string, WindowSets>();
          for (const op of ops) {
            const w = writeOf(op.call, op.kind === 'count' && op.hourly);
            const key = w.hour;
            const sets: WindowSets = { thisHour: model.get(key)?.thisHour ?? [], today: model.get('day')?.today ?? [] };
            if (op.kind === 'count') {
              const holds = countHolds(w, sets);
              const got = await counters.count(ACCOUNT, w);
              expect(got.ok).toBe(holds);
              if (holds) {
                const after = applyCount(w, sets);
                model.set(key, { thisHour: after.thisHour, today: [] });
                model.set('day', { thisHour: [], today: after.today });
              } else expect({ thisHour: got.thisHour, today: got.today }).toEqual({ thisHour: sets.thisHour.length, today: sets.today.length });
            } else {
              await counters.uncount(ACCOUNT, w);
              const after = applyUncount(w, sets);
              model.set(key, { thisHour: after.thisHour, today: [] });
              model.set('day', { thisHour: [], today: after.today });
            }
          }
          const item = await windowItem('target', target.targetId, '2026-06-01');
          expect(item?.d?.BS?.length ?? 0).toBe(model.get('day')?.today.length ?? EMPTY_WINDOWS.today.length);
        },
      ),
      { numRuns: 20 },
    );
  }, 240_000);
});
