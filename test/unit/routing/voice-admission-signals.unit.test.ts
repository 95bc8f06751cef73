/**
 * The signals admission knows before connect (shared/app/routing/voice-answer.ts qualityBeforeConnect): a DNC-listed
 * caller, or a caller without the consent its publisher needs, is refused `blocked_signal` before any line rings when
 * the account makes that signal non-billable — from the readers and the blocking choice rating uses — and an account
 * without such a policy costs the answer no read of them. Fakes stand in for the store.
 */
import { describe, expect, it } from 'vitest';
import { answerVerified, type VoiceDeps } from '../../../shared/app/routing/voice-answer';
import type { AnswerCommit } from '../../../shared/app/routing/ports';
import type { Account, Publisher, TrafficMethod } from '../../../shared/domain/catalog/types';
import { ivrFlow, voiceTarget } from '../../support/voice-stack';

const SID = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const NUMBER = '+15125550101';
const NOW = Date.parse('2026-11-24T16:00:00Z');
const EPOCH = '2026-01-01T00:00:00.000Z';
const TERMS = { priceCents: 4500, bufferSec: 60, durationBasis: 'talk' as const, qualification: null, duplicateWindowHours: 72, duplicateScope: 'campaign' as const, withheldCallerId: 'non_billable' as const, priceBands: [], overrides: [] };
const flow = { ...ivrFlow({ default: ['t-a'] }, { ivr: null, whisper: null }), version: 1, effectiveFrom: EPOCH, createdAt: EPOCH };
const campaign = { accountId: 'acme-roofing', campaignId: 'c1', name: 'C1', vertical: 'v', geography: null, hours: null, termsVersions: [{ ...TERMS, version: 1, effectiveFrom: EPOCH, createdAt: EPOCH }], flowVersions: [flow], rev: 1, updatedAt: EPOCH };

interface World {
  readonly compliance: { dncNonBillable: boolean; consentMissingNonBillable: boolean } | undefined;
  readonly listed: boolean;
  readonly consent: boolean;
  readonly trafficMethods: TrafficMethod[];
}

function deps(world: World, commits: AnswerCommit[], reads: string[]): VoiceDeps {
  const account = { accountId: 'acme-roofing', name: 'Acme', timeZone: 'America/Chicago', currency: 'USD', twilio: { accountSid: SID, authTokenSecret: 'x' }, ...(world.compliance ? { compliance: world.compliance } : {}) } as Account;
  const publisher = { accountId: 'acme-roofing', publisherId: 'p1', name: 'P1', trafficMethods: world.trafficMethods, subSources: [], contact: null, creditPolicy: { disputeWindowDays: 30, allowedReasons: ['other'] } } as unknown as Publisher;
  return {
    config: {
      getAccount: async () => account,
      getTrackingNumber: async () => ({ accountId: 'acme-roofing', number: NUMBER, assignments: [{ campaignId: 'c1', publisherId: 'p1', subSource: null, effectiveFrom: EPOCH, createdAt: EPOCH }], rev: 1, updatedAt: EPOCH }),
      getCampaign: async () => campaign,
      getPublisher: async () => publisher,
    },
    secrets: { getSecret: async () => 'token' },
    targets: { listTargets: async () => [voiceTarget('t-a', '+15125550131', { concurrencyCap: null })] },
    blocks: { blockedCaller: async () => null },
    dnc: {
      dncListed: async () => {
        reads.push('dnc');
        return world.listed ? { listIds: ['natl'] } : null;
      },
    },
    consent: {
      consentFor: async () => {
        reads.push('consent');
        return world.consent ? { certificateId: 'cert-1', capturedAt: EPOCH } : null;
      },
    },
    callerHashKey: async () => 'k',
    routing: {
      commit: async (c) => {
        commits.push(c);
        return { ok: true as const };
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

async function incoming(world: World) {
  const commits: AnswerCommit[] = [];
  const reads: string[] = [];
  const params = { AccountSid: SID, CallSid: 'CA0123456789abcdef0123456789abcdef', From: '+12065550123', To: NUMBER, CallStatus: 'ringing' };
  const out = await answerVerified({ provider: 'twilio', accountId: 'acme-roofing', callId: 'twilio:CA0123456789abcdef0123456789abcdef', params, query: {}, stateKey: '', toLedger: null }, deps(world, commits, reads));
  return { body: out.body, admission: commits[0]?.admission ?? null, reads };
}

const NO_POLICY: World = { compliance: undefined, listed: true, consent: false, trafficMethods: ['outbound'] };

describe('DNC and consent at admission', () => {
  it('a DNC-listed caller the account makes non-billable is declined before connect, blocked_signal dnc_listed', async () => {
    const r = await incoming({ ...NO_POLICY, compliance: { dncNonBillable: true, consentMissingNonBillable: false } });
    expect(r.body).toContain('<Reject');
    expect(r.body).not.toContain('<Dial');
    expect(r.admission).toMatchObject({ kind: 'refuse', reason: 'blocked_signal' });
    expect(r.admission?.rules.find((x) => x.rule === 'blocked_signal')?.inputs).toEqual({ signals: ['dnc_listed'], blockSignals: ['dnc_listed'], blockedBy: ['dnc_listed'] });
    // Consent is not the account's policy: not asked.
    expect(r.reads).toEqual(['dnc']);
  });

  it('a caller without the consent an outbound publisher needs is declined when the account makes it non-billable; with evidence it is dialled', async () => {
    const compliance = { dncNonBillable: false, consentMissingNonBillable: true };
    const missing = await incoming({ ...NO_POLICY, compliance });
    expect(missing.admission).toMatchObject({ kind: 'refuse', reason: 'blocked_signal' });
    expect(missing.admission?.rules.find((x) => x.rule === 'blocked_signal')?.inputs).toMatchObject({ blockedBy: ['consent_missing'] });
    expect(missing.reads).toEqual(['consent']);
    const evidenced = await incoming({ ...NO_POLICY, compliance, consent: true });
    expect(evidenced.admission).toMatchObject({ kind: 'route' });
    expect(evidenced.body).toContain('<Dial');
    // A publisher whose traffic needs no consent: not asked.
    const search = await incoming({ ...NO_POLICY, compliance, trafficMethods: ['paid_search'] });
    expect(search.admission).toMatchObject({ kind: 'route' });
    expect(search.reads).toEqual([]);
  });

  it('an account without a DNC or consent policy: the call is dialled and neither is read on the answer path', async () => {
    const r = await incoming(NO_POLICY);
    expect(r.admission).toMatchObject({ kind: 'route' });
    expect(r.body).toContain('<Dial');
    expect(r.reads).toEqual([]);
  });
});
