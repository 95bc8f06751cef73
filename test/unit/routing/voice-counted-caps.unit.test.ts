/**
 * How the voice answer (shared/app/routing/voice-answer.ts) uses the counted caps, with a fake store that answers
 * each count by the domain's reference semantics (counters.ts countHolds): a refused campaign count re-runs admission
 * with the true counts and refuses `campaign_capped` before anything is dialled; a refused target count skips that
 * target `capped` and dials the next; counts taken and then not used (a lost lease, a refused reservation) are given
 * back; the campaign's concurrency lease ends when the call's Dial ends with nothing more to dial.
 */
import { describe, expect, it } from 'vitest';
import { answerVerified, type VoiceDeps } from '../../../shared/app/routing/voice-answer';
import type { AdmissionCounters, AnswerCommit, CommitResult } from '../../../shared/app/routing/ports';
import { applyCount, applyUncount, countHolds, type WindowCountWrite, type WindowSets } from '../../../shared/domain/routing/counters';
import type { CampaignCaps } from '../../../shared/domain/routing/admission';
import type { Target } from '../../../shared/domain/routing/targets';
import type { PilotTerms } from '../../../shared/domain/pilots/caps';
import { ivrFlow, voiceTarget } from '../../support/voice-stack';

const SID = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const NUMBER = '+15125550101';
const NOW = Date.parse('2026-11-24T16:00:00Z');
const EPOCH = '2026-01-01T00:00:00.000Z';
const TERMS = { priceCents: 4500, bufferSec: 60, durationBasis: 'talk' as const, qualification: null, duplicateWindowHours: 72, duplicateScope: 'campaign' as const, withheldCallerId: 'non_billable' as const, priceBands: [], overrides: [] };

/** The store: windows by owner and day, campaign slots by holder; every call the voice answer made, in order. */
class FakeCounters implements AdmissionCounters {
  readonly windows = new Map<string, { hours: Map<string, string[]>; today: string[] }>();
  readonly holders = new Set<string>();
  readonly log: string[] = [];
  constructor(private readonly presetActive = 0) {}
  private win(w: WindowCountWrite) {
    const key = `${w.owner.kind}:${w.owner.id}:${w.day}`;
    if (!this.windows.has(key)) this.windows.set(key, { hours: new Map(), today: [] });
    return this.windows.get(key)!;
  }
  async count(_a: string, w: WindowCountWrite) {
    this.log.push(`count ${w.owner.kind}:${w.owner.id}`);
    const win = this.win(w);
    const sets: WindowSets = { thisHour: win.hours.get(w.hour) ?? [], today: win.today };
    if (!countHolds(w, sets)) return { ok: false, thisHour: sets.thisHour.length, today: sets.today.length };
    const after = applyCount(w, sets);
    win.hours.set(w.hour, [...after.thisHour]);
    win.today = [...after.today];
    return { ok: true, thisHour: after.thisHour.length - 1, today: after.today.length - 1 };
  }
  async uncount(_a: string, w: WindowCountWrite) {
    this.log.push(`uncount ${w.owner.kind}:${w.owner.id}`);
    const win = this.win(w);
    const after = applyUncount(w, { thisHour: win.hours.get(w.hour) ?? [], today: win.today });
    win.hours.set(w.hour, [...after.thisHour]);
    win.today = [...after.today];
  }
  async hold(_a: string, _c: string, cap: number, callId: string) {
    this.log.push('hold');
    if (this.holders.has(callId)) return { ok: true as const };
    if (this.holders.size + this.presetActive >= cap) return { ok: false as const, active: this.holders.size + this.presetActive };
    this.holders.add(callId);
    return { ok: true as const };
  }
  async release(_a: string, _c: string, _cap: number, callId: string) {
    this.log.push('release');
    this.holders.delete(callId);
  }
}

interface Setup {
  readonly caps: CampaignCaps | null;
  readonly targets: Target[];
  readonly route: string[];
  readonly counters: FakeCounters;
  /** What the routing store answers each commit (default: ok). */
  readonly commitResult?: (c: AnswerCommit) => CommitResult;
  readonly pilot?: PilotTerms;
}

function deps(setup: Setup, commits: AnswerCommit[]): VoiceDeps {
  const flow = { ...ivrFlow({ default: setup.route }, { ivr: null, whisper: null, recording: 'off', caps: setup.caps }), version: 1, effectiveFrom: EPOCH, createdAt: EPOCH };
  const campaign = { accountId: 'acme-roofing', campaignId: 'c1', name: 'C1', vertical: 'v', geography: null, hours: null, termsVersions: [{ ...TERMS, version: 1, effectiveFrom: EPOCH, createdAt: EPOCH }], flowVersions: [flow], ...(setup.pilot ? { pilots: [setup.pilot] } : {}), rev: 1, updatedAt: EPOCH };
  return {
    config: {
      getAccount: async () => ({ accountId: 'acme-roofing', name: 'Acme', timeZone: 'America/Chicago', currency: 'USD', twilio: { accountSid: SID, authTokenSecret: 'x' } }),
      getTrackingNumber: async () => ({ accountId: 'acme-roofing', number: NUMBER, assignments: [{ campaignId: 'c1', publisherId: 'p1', subSource: null, effectiveFrom: EPOCH, createdAt: EPOCH }], rev: 1, updatedAt: EPOCH }),
      getCampaign: async () => campaign,
      getPublisher: async () => null,
    },
    secrets: { getSecret: async () => 'token' },
    targets: { listTargets: async () => setup.targets },
    blocks: { blockedCaller: async () => null },
    counters: setup.counters,
    callerHashKey: async () => 'k',
    routing: {
      commit: async (c) => {
        commits.push(c);
        return setup.commitResult?.(c) ?? { ok: true };
      },
      recordDegraded: async () => undefined,
      readRouting: async () => null,
      releaseReservation: async () => undefined,
    },
    queue: { send: async () => undefined },
    publicBaseUrl: 'https://calls.example.com',
    now: () => new Date(NOW),
    budgetMs: 1000,
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    lastKnown: new Map(),
  };
}

let n = 0;
async function incoming(setup: Setup, callSid = `CA${String(++n).padStart(32, '0')}`) {
  const commits: AnswerCommit[] = [];
  const params = { AccountSid: SID, CallSid: callSid, From: '+12065550123', To: NUMBER, CallStatus: 'ringing' };
  const out = await answerVerified({ provider: 'twilio', accountId: 'acme-roofing', callId: `twilio:${callSid}`, params, query: {}, stateKey: '', toLedger: null }, deps(setup, commits));
  expect(out.degraded).toBe(false);
  return { body: out.body, commits, last: commits.at(-1)!, callSid };
}

async function dialEnded(setup: Setup, callSid: string, status: string) {
  const commits: AnswerCommit[] = [];
  const params = { AccountSid: SID, CallSid: callSid, From: '+12065550123', To: NUMBER, CallStatus: 'in-progress', DialCallStatus: status, DialBridged: 'true' };
  const query = { step: 'dial', v: '1', route: 'default', pos: '0' };
  return answerVerified({ provider: 'twilio', accountId: 'acme-roofing', callId: `twilio:${callSid}`, params, query, stateKey: '', toLedger: null }, deps(setup, commits));
}

const open = (id: string, line: string, o: Partial<Target> = {}) => voiceTarget(id, line, { concurrencyCap: null, ...o });

describe('campaign caps in the voice answer', () => {
  it('the call past the hourly cap is refused campaign_capped with the true count, before any dial, and nothing stays counted for it', async () => {
    const setup: Setup = { caps: { concurrentCalls: null, hourlyCalls: 2, dailyCalls: null }, targets: [open('t-a', '+15125550131')], route: ['t-a'], counters: new FakeCounters() };
    expect((await incoming(setup)).body).toContain('<Dial');
    expect((await incoming(setup)).body).toContain('<Dial');
    const third = await incoming(setup);
    expect(third.body).not.toContain('<Dial');
    // One commit: the refusal, decided again with the counts as they were (no answer dialled and then refused).
    expect(third.commits).toHaveLength(1);
    expect(third.last.admission).toMatchObject({ kind: 'refuse', reason: 'campaign_capped' });
    expect(third.last.admission?.rules.find((r) => r.rule === 'campaign_capped')?.inputs).toMatchObject({ hourlyCalls: 2, thisHour: 2 });
    expect(third.last.audit).toEqual(expect.arrayContaining([{ event: 'refused', stage: 'connect', reason: 'campaign_capped' }]));
    expect([...setup.counters.windows.values()][0]!.hours.get('2026-11-24T16')).toHaveLength(2);
  });

  it('a retried request of an admitted call at the cap is admitted again, counting nothing', async () => {
    const setup: Setup = { caps: { concurrentCalls: null, hourlyCalls: 1, dailyCalls: 1 }, targets: [open('t-a', '+15125550131')], route: ['t-a'], counters: new FakeCounters() };
    const first = await incoming(setup);
    expect((await incoming(setup, first.callSid)).body).toContain('<Dial');
    expect([...setup.counters.windows.values()][0]!.today).toHaveLength(1);
  });

  it('the concurrency cap: refused with the live count, and the lease ends when the Dial ends with nothing more to dial', async () => {
    const counters = new FakeCounters(1);
    const setup: Setup = { caps: { concurrentCalls: 2, hourlyCalls: null, dailyCalls: null }, targets: [open('t-a', '+15125550131')], route: ['t-a'], counters };
    const live = await incoming(setup);
    expect(live.body).toContain('<Dial');
    const refused = await incoming(setup);
    expect(refused.last.admission?.rules.find((r) => r.rule === 'campaign_capped')?.inputs).toMatchObject({ concurrentCalls: 2, active: 2 });
    await dialEnded(setup, live.callSid, 'completed');
    expect(counters.log.at(-1)).toBe('release');
    expect((await incoming(setup)).body).toContain('<Dial');
  });

  it('a count taken and then not used is given back: the pilot’s reservation refused (over_cap)', async () => {
    const pilot: PilotTerms = { pilotId: 'pil', publisherIds: ['p1'], startsAt: new Date(NOW - 3_600_000).toISOString(), endsAt: new Date(NOW + 3_600_000).toISOString(), spendCapCents: 100_000, dailyCapCents: null, maxBillableCalls: null, timeZone: 'UTC', createdAt: new Date(NOW - 7_200_000).toISOString() };
    const counters = new FakeCounters();
    const setup: Setup = {
      caps: { concurrentCalls: 3, hourlyCalls: 5, dailyCalls: null },
      targets: [open('t-a', '+15125550131')],
      route: ['t-a'],
      counters,
      pilot,
      commitResult: (c) => (c.reservation !== null ? { ok: false, failed: 'reservation', refusal: 'spend_cap' } : { ok: true }),
    };
    const r = await incoming(setup);
    expect(r.last.admission).toMatchObject({ kind: 'refuse', reason: 'over_cap' });
    expect(counters.log).toEqual(expect.arrayContaining(['uncount campaign:c1', 'release']));
    expect([...counters.windows.values()][0]!.hours.get('2026-11-24T16')).toEqual([]);
    expect(counters.holders.size).toBe(0);
  });
});

describe('target hourly/daily caps in the voice answer', () => {
  it('a target at its daily cap is skipped `capped` and the next target is dialled', async () => {
    const setup: Setup = { caps: null, targets: [open('t-a', '+15125550131', { dailyCap: 1 }), open('t-b', '+15125550132', { priority: 2 })], route: ['t-a', 't-b'], counters: new FakeCounters() };
    expect((await incoming(setup)).body).toContain('+15125550131');
    const second = await incoming(setup);
    expect(second.body).toContain('+15125550132');
    expect(second.last.audit).toEqual(expect.arrayContaining([{ event: 'skipped', targetId: 't-a', position: 0, reason: 'capped' }]));
    expect(second.last.admission?.route?.[0]).toMatchObject({ status: 'capped', inputs: { dailyCap: 1, callsToday: 1 } });
  });

  it('a target counted and then lost to its lease is given back, and the next target is counted and dialled', async () => {
    const counters = new FakeCounters();
    const setup: Setup = {
      caps: null,
      targets: [open('t-a', '+15125550131', { dailyCap: 5, concurrencyCap: 1 }), open('t-b', '+15125550132', { priority: 2, dailyCap: 5 })],
      route: ['t-a', 't-b'],
      counters,
      commitResult: (c) => (c.lease?.targetId === 't-a' ? { ok: false, failed: 'lease', targetId: 't-a' } : { ok: true }),
    };
    const r = await incoming(setup);
    expect(r.body).toContain('+15125550132');
    expect(counters.log).toEqual(['count target:t-a', 'uncount target:t-a', 'count target:t-b']);
    const days = [...counters.windows.entries()].map(([k, v]) => [k.split(':')[1], v.today.length]);
    expect(days).toEqual([['t-a', 0], ['t-b', 1]]);
  });
});
