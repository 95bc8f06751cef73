/**
 * No answer tells one account anything about another's ids (shared/app/calls/call-access.ts): every route that names a call
 * (detail, rating, consent, disputes, QA) answers another account's call with exactly the problem a missing call gets,
 * and writes nothing; a tracking number held by another account is refused with one fixed answer that names no
 * account, and reads as a missing number.
 */
import { describe, expect, it } from 'vitest';
import { getCallConsent } from '../../../shared/app/compliance/compliance';
import { ownCall, readOwnCall } from '../../../shared/app/calls/call-access';
import { openCallDispute } from '../../../shared/app/disputes/disputes';
import { getTrackingNumber, putTrackingNumber, type ManagementStore } from '../../../shared/app/catalog/management';
import type { ApiKeyRecord, StoredCall } from '../../../shared/app/kernel/ports';
import { recordQaVerdict } from '../../../shared/app/qa/qa';
import { getCallDetail, getCallRating } from '../../../shared/app/calls/read-api';
import { rejection as problemOf } from '../../support/problems';

const acme: ApiKeyRecord = { accountId: 'acme', role: 'admin', label: 'acme-admin' };
const FOREIGN = 'twilio:CAforeign';
const MISSING = 'twilio:CAmissing';

const storedCall = (callId: string, accountId: string): StoredCall => ({
  callId,
  accountId,
  events: [],
  rating: null,
  ratedAt: null,
  startedAt: '2026-06-01T12:00:00.000Z',
  endedAt: null,
  durationSec: null,
  recording: null,
});

/** Every method called on it is recorded; reads of FOREIGN find globex's call, anything else finds nothing. */
function recorder() {
  const calls: string[] = [];
  const proxy = new Proxy(
    {},
    {
      get: (_t, name: string) => async (id?: unknown) => {
        calls.push(name);
        if (name === 'getCall') return id === FOREIGN ? storedCall(FOREIGN, 'globex') : null;
        if (name === 'callForConsent') return id === FOREIGN ? { accountId: 'globex', callerHash: 'h', startedAt: '2026-06-01T12:00:00.000Z' } : null;
        return null;
      },
    },
  );
  return { calls, proxy: proxy as never };
}

describe("another account's call answers exactly as a missing one", () => {
  const routes: [string, (callId: string, store: never) => Promise<unknown>][] = [
    ['GET /v1/calls/{callId}', (id, store) => getCallDetail(acme, id, { calls: store, media: store })],
    ['GET /v1/calls/{callId}/rating', (id, store) => getCallRating(acme, id, { calls: store, config: store })],
    ['GET /v1/calls/{callId}/consent', (id, store) => getCallConsent(acme, id, { consent: store })],
    [
      'POST /v1/calls/{callId}/disputes',
      (id, store) => openCallDispute(acme, id, { reason: 'fraud', note: '' }, { calls: store, ledger: store, disputes: store, policies: store, callFacts: store, config: store, now: () => new Date() } as never),
    ],
    ['POST /v1/calls/{callId}/qa', (id, store) => recordQaVerdict(acme, id, { verdict: 'junk', openDispute: false }, { calls: store, qa: store, disputes: store, now: () => new Date() })],
  ];

  for (const [route, run] of routes) {
    it(`${route}: the same 404 body, after one read and no write`, async () => {
      const foreignStore = recorder();
      const missingStore = recorder();
      const foreign = await problemOf(() => run(FOREIGN, foreignStore.proxy));
      const missing = await problemOf(() => run(MISSING, missingStore.proxy));
      expect(foreign.status).toBe(404);
      expect(foreign).toEqual(missing);
      expect(foreign.detail).toBe('No such call.');
      expect(foreignStore.calls).toEqual(missingStore.calls);
      expect(foreignStore.calls).toHaveLength(1);
    });
  }

  it('ownCall / readOwnCall: no read for a text that cannot be a call id', async () => {
    expect(() => ownCall(acme, storedCall(FOREIGN, 'globex'))).toThrow('No such call.');
    expect(ownCall(acme, storedCall('twilio:CA1', 'acme')).callId).toBe('twilio:CA1');
    let reads = 0;
    await expect(readOwnCall(acme, 'not a call id', async () => (reads++, null))).rejects.toMatchObject({ kind: 'not_found', detail: 'No such call.' });
    expect(reads).toBe(0);
  });
});

describe('a tracking number held by another account', () => {
  const number = '+15125550177';
  function store(writes: string[]): ManagementStore {
    return {
      readPublisher: async (accountId, publisherId) => ({ accountId, publisherId, name: 'P', trafficMethods: [], subSources: [], contact: null, creditPolicy: { disputeWindowDays: 30, allowedReasons: ['fraud'] } }),
      readCampaign: async (accountId, campaignId) => ({ accountId, campaignId }) as never,
      readTrackingNumber: async (e164) =>
        e164 === number
          ? { accountId: 'globex', number, assignments: [{ campaignId: 'hvac-fl', publisherId: 'pub-sunshine', subSource: null, effectiveFrom: '1970-01-01T00:00:00.000Z', createdAt: '1970-01-01T00:00:00.000Z' }], rev: 1, updatedAt: '1970-01-01T00:00:00.000Z' }
          : null,
      putPublisher: async () => (writes.push('publisher'), true),
      putCampaign: async () => void writes.push('campaign'),
      putTrackingNumber: async () => void writes.push('number'),
    };
  }

  it('PUT: a fixed 409 tracking-number-unavailable that names no account, nothing written', async () => {
    const writes: string[] = [];
    const deps = { store: store(writes), now: () => new Date('2026-06-01T12:00:00Z'), targets: { listTargets: async () => [] } };
    const refused = await problemOf(() => putTrackingNumber(acme, number, { campaignId: 'roofing-tx', publisherId: 'pub-a' }, deps));
    expect(refused).toMatchObject({ type: 'https://callledger.dev/problems/tracking-number-unavailable', status: 409 });
    expect(JSON.stringify(refused)).not.toMatch(/globex|hvac|sunshine|another account/i);
    expect(writes).toEqual([]);
    // A free number is assigned.
    expect((await putTrackingNumber(acme, '+15125550178', { campaignId: 'roofing-tx', publisherId: 'pub-a' }, deps)).created).toBe(true);
    expect(writes).toEqual(['number']);
  });

  it('GET: as a number that does not exist', async () => {
    const deps = { store: store([]), now: () => new Date(), targets: { listTargets: async () => [] } };
    const foreign = await problemOf(() => getTrackingNumber(acme, number, deps));
    const missing = await problemOf(() => getTrackingNumber(acme, '+15125550178', deps));
    expect(foreign).toEqual(missing);
    expect(foreign.status).toBe(404);
  });
});
