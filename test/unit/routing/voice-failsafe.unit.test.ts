/**
 * The voice answer's fail-safe (shared/app/routing/voice-answer.ts): when the decision cannot be made within its
 * budget (the store hangs, or fails), the call is answered with the campaign's configured fail-safe from the flow
 * this container last saw for the number, as TwiML, and the degraded decision is recorded; never silence, never an
 * error document. The store is a fake that hangs on demand (the e2e outage test stops the emulator itself).
 */
import { describe, expect, it } from 'vitest';
import { answerVoice, type VoiceDeps } from '../../../shared/app/routing/voice-answer';
import { twilioSignature } from '../../../shared/domain/calls/providers/twilio';
import type { AnswerCommit } from '../../../shared/app/routing/ports';
import { ivrFlow, voiceTarget } from '../../support/voice-stack';
import { FAIL_SAFE_LOG_MESSAGE } from '../../../shared/app/routing/voice-log';

const TOKEN = 'test-auth-token';
const SID = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const BASE = 'https://calls.example.com';
const NUMBER = '+15125550101';
const NOW = Date.parse('2026-11-24T16:00:00Z');

const flow = { ...ivrFlow({ default: ['t-a'] }, { ivr: null, failSafe: { action: 'target' as const, destination: { kind: 'number' as const, e164: '+15125550188' }, ringTimeoutSec: 20, message: null } }), version: 1, effectiveFrom: '2026-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z' };
const campaign = { accountId: 'acme-roofing', campaignId: 'c1', name: 'C1', vertical: 'v', geography: null, hours: null, termsVersions: [{ ...FLOW_TERMS(), version: 1, effectiveFrom: '2026-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z' }], flowVersions: [flow], rev: 1, updatedAt: '2026-01-01T00:00:00.000Z' };

function FLOW_TERMS() {
  return { priceCents: 4500, bufferSec: 60, durationBasis: 'talk' as const, qualification: null, duplicateWindowHours: 72, duplicateScope: 'campaign' as const, withheldCallerId: 'non_billable' as const, priceBands: [], overrides: [] };
}

const never = <T>() => new Promise<T>(() => undefined);

function deps(state: { hang: boolean; fail: boolean }, commits: AnswerCommit[], degraded: string[]): VoiceDeps {
  const gate = async <T>(value: T): Promise<T> => {
    if (state.fail) throw Object.assign(new Error('down'), { name: 'ServiceUnavailable' });
    return state.hang ? never<T>() : value;
  };
  return {
    config: {
      getAccount: async () => ({ accountId: 'acme-roofing', name: 'Acme', timeZone: 'America/Chicago', currency: 'USD', twilio: { accountSid: SID, authTokenSecret: 'twilio/acme/auth-token' } }),
      getTrackingNumber: () => gate({ accountId: 'acme-roofing', number: NUMBER, assignments: [{ campaignId: 'c1', publisherId: 'p1', subSource: null, effectiveFrom: '2026-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z' }], rev: 1, updatedAt: '2026-01-01T00:00:00.000Z' }),
      getCampaign: () => gate(campaign),
      getPublisher: () => gate(null),
    },
    secrets: { getSecret: async () => TOKEN },
    targets: { listTargets: () => gate([voiceTarget('t-a', '+15125550131')]) },
    blocks: { blockedCaller: () => gate(null) },
    callerHashKey: async () => 'k',
    routing: {
      commit: async (c) => {
        commits.push(c);
        return gate({ ok: true as const });
      },
      recordDegraded: async (_a, callId) => {
        degraded.push(callId);
      },
      readRouting: async () => null,
      releaseReservation: async () => undefined,
    },
    queue: { send: async () => undefined },
    publicBaseUrl: BASE,
    now: () => new Date(NOW),
    budgetMs: 50,
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    lastKnown: new Map(),
  };
}

function request(callSid: string) {
  const params = { AccountSid: SID, CallSid: callSid, From: '+12065550123', To: NUMBER, CallStatus: 'ringing', Direction: 'inbound' };
  const path = '/voice/twilio/acme-roofing';
  const body = Buffer.from(new URLSearchParams(params).toString());
  return {
    method: 'POST',
    accountId: 'acme-roofing',
    rawPath: path,
    rawQueryString: '',
    query: {},
    contentType: 'application/x-www-form-urlencoded',
    signature: twilioSignature(TOKEN, `${BASE}${path}`, params),
    body,
  };
}

describe('the voice answer when the decision cannot be made in its budget', () => {
  it('a store that hangs: answered with the flow’s fail-safe target from the last flow seen, recorded as degraded', async () => {
    const state = { hang: false, fail: false };
    const commits: AnswerCommit[] = [];
    const degraded: string[] = [];
    const d = deps(state, commits, degraded);
    const first = await answerVoice(request('CA00000000000000000000000000000001'), d);
    expect(first.degraded).toBe(false);
    expect(first.body).toContain('<Number');
    state.hang = true;
    const second = await answerVoice(request('CA00000000000000000000000000000002'), d);
    expect(second).toMatchObject({ degraded: true, contentType: 'text/xml; charset=utf-8' });
    expect(second.body).toMatch(/^<\?xml[^>]*\?><Response><Dial[^>]*><Number[^>]*>\+15125550188<\/Number><\/Dial><Hangup\/><\/Response>$/);
    expect(degraded).toEqual(['twilio:CA00000000000000000000000000000002']);
  });

  it('a store that fails, for a number never seen: the default message, never silence', async () => {
    const degraded: string[] = [];
    const warned: { message: string; fields: Record<string, unknown> }[] = [];
    const d = deps({ hang: false, fail: true }, [], degraded);
    d.log.warn = (message: string, fields?: Record<string, unknown>) => void warned.push({ message, fields: fields ?? {} });
    const answer = await answerVoice(request('CA00000000000000000000000000000003'), d);
    // The line the fail-safe alarm's metric filter counts (infra/constructs/voice-alarms.ts), without the caller.
    expect(warned.map((w) => w.message)).toEqual([FAIL_SAFE_LOG_MESSAGE]);
    expect(JSON.stringify(warned)).not.toContain('+1206');
    expect(answer.degraded).toBe(true);
    expect(answer.body).toContain('<Say');
    expect(answer.body).toContain('<Hangup/>');
    expect(degraded).toEqual(['twilio:CA00000000000000000000000000000003']);
  });

  it('a pilot campaign is never connected by the fail-safe (no reservation can be taken): its message instead', async () => {
    const state = { hang: false, fail: false };
    const d = deps(state, [], []);
    const withPilot = { ...campaign, pilots: [{ pilotId: 'p', publisherIds: ['p1'], startsAt: '2026-01-01T00:00:00Z', endsAt: '2027-01-01T00:00:00Z', spendCapCents: 1, dailyCapCents: null, maxBillableCalls: null, timeZone: 'UTC', createdAt: '2026-01-01T00:00:00Z' }] };
    d.config.getCampaign = async () => withPilot;
    await answerVoice(request('CA00000000000000000000000000000004'), d).catch(() => undefined);
    state.hang = true;
    const answer = await answerVoice(request('CA00000000000000000000000000000005'), d);
    expect(answer.degraded).toBe(true);
    expect(answer.body).not.toContain('<Dial');
    expect(answer.body).toContain('<Say');
  });
});
