/**
 * The networks use cases on in-memory ports: registration (the secret shown once, stored as a digest, rotated with
 * an overlap), the postback webhook's order of checks (nothing enqueued on any refusal, no secret or caller in a
 * log or a message), and the matching pass: pixels in any order, duplicated and split across batches give the same
 * claim and the same attribution on the call; a claim delivered before its call is never disputed as missing; the
 * settle sweep opens what settles, once.
 */
import { rejection } from '../../support/problems';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../../../shared/domain/calls/events';
import { networkCallerKey } from '../../../shared/domain/networks/claims';
import type { NetworkPostbackMessage } from '../../../shared/domain/networks/postback-message';
import { isSecretShape, secretDigest } from '../../../shared/domain/networks/secrets';
import type { StoredCall } from '../../../shared/app/kernel/ports';
import { ingestNetworkPostbacks, matchAfterRating, settleNetworks, type MatchingPassDeps } from '../../../shared/app/networks/matching-pass';
import { legOf, legReadingOf } from '../../../shared/app/networks/legs';
import { getNetwork, putNetwork, rotateNetworkSecret, type NetworkDeps } from '../../../shared/app/networks/networks';
import { ingestPostback, type PostbackIngestDeps, type PostbackRequest } from '../../../shared/app/networks/postback-ingest';
import { MemoryCalls, MemoryNetworkStore, recordingLog } from '../../support/network-fixtures';

const ACCOUNT = 'acme-roofing';
const NETWORK = 'leadnet';
const LINE = '+15125550199';
const CALLER = '+12065550142';
const HASH_KEY = 'unit-hash-key';
const NOW = Date.parse('2026-11-24T20:00:00.000Z');
const admin = { accountId: ACCOUNT, role: 'admin' as const, label: 'test' };

const REGISTRATION = {
  kind: 'ringba',
  name: 'LeadNet',
  destinations: [LINE],
  fields: { startedAt: { param: 'start', token: null }, durationSec: { param: 'duration', token: null } },
  creditPolicy: { mode: 'auto_open', windowDays: 30 },
};

/** Distinct bytes for every secret the tests generate (each a different secret). */
let randomSeq = 0;

function networkDeps(store: MemoryNetworkStore, nowMs = NOW): NetworkDeps {
  return {
    store,
    calls: new MemoryCalls(),
    config: { getAccount: async () => null },
    random: (size) => new Uint8Array(size).fill(++randomSeq % 256),
    publicBaseUrl: () => 'https://hooks.example.com',
    now: () => new Date(nowMs),
  };
}

async function registered(store = new MemoryNetworkStore()) {
  const created = await putNetwork(admin, NETWORK, REGISTRATION, networkDeps(store));
  return { store, secret: (created.body as { issued: { secret: string } }).issued.secret };
}

describe('registering a network', () => {
  it('answers the secret once, stores only its SHA-256, and shows the URLs with a placeholder afterwards', async () => {
    const { store, secret } = await registered();
    expect(isSecretShape(secret)).toBe(true);
    const stored = store.networks.get(`${ACCOUNT}/${NETWORK}`)!;
    expect(stored.secrets.current).toBe(secretDigest(secret));
    expect(JSON.stringify(stored)).not.toContain(secret);
    const view = await getNetwork(admin, NETWORK, networkDeps(store));
    expect(JSON.stringify(view)).not.toContain(secret);
    expect(view.urls.pixelUrls.converted).toBe(
      'https://hooks.example.com/webhooks/networks/acme-roofing/leadnet/{secret}?call_id=[Call:InboundCallId]&caller=[tag:InboundNumber:Number]&publisher=[tag:Publisher:Name]&sub_id=[tag:Publisher:SubId]&revenue=[Call:ConversionAmount]&event=converted',
    );
    const again = await putNetwork(admin, NETWORK, { ...REGISTRATION, name: 'LeadNet 2' }, networkDeps(store));
    expect(again.created).toBe(false);
    expect('issued' in again.body).toBe(false);
    expect(store.networks.get(`${ACCOUNT}/${NETWORK}`)!.secrets.current).toBe(secretDigest(secret));
  });

  it('rotates: the previous digest stays valid for the overlap, the new secret is answered once', async () => {
    const { store, secret } = await registered();
    const rotated = await rotateNetworkSecret(admin, NETWORK, { overlapSec: 600 }, networkDeps(store));
    const stored = store.networks.get(`${ACCOUNT}/${NETWORK}`)!;
    expect(stored.secrets.current).toBe(secretDigest(rotated.issued.secret));
    expect(stored.secrets.previous).toEqual({ secret: secretDigest(secret), validUntil: new Date(NOW + 600_000).toISOString() });
  });

  it('refuses an analyst key and a bad body before writing', async () => {
    const store = new MemoryNetworkStore();
    await expect(putNetwork({ ...admin, role: 'analyst' }, NETWORK, REGISTRATION, networkDeps(store))).rejects.toMatchObject({ kind: 'forbidden' });
    expect(await rejection(putNetwork(admin, NETWORK, { ...REGISTRATION, destinations: [] }, networkDeps(store)))).toMatchObject({ status: 400 });
    expect(store.networks.size).toBe(0);
  });
});

// ------------------------------------------------------------------ the webhook

function ingestDeps(store: MemoryNetworkStore, nowMs = NOW) {
  const sent: NetworkPostbackMessage[] = [];
  const log = recordingLog();
  const deps: PostbackIngestDeps = { store, queue: { send: async (m) => void sent.push(m) }, callerHashKey: async () => HASH_KEY, now: () => new Date(nowMs), log };
  return { deps, sent, log };
}

function request(secret: string, over: Partial<PostbackRequest> = {}): PostbackRequest {
  return {
    method: 'GET',
    accountId: ACCOUNT,
    networkId: NETWORK,
    secret,
    rawQueryString: `call_id=RGB1&caller=${encodeURIComponent(CALLER)}&event=completed&duration=130&start=2026-11-24T19:00:00Z`,
    contentType: undefined,
    body: Buffer.alloc(0),
    sourceIp: '198.51.100.7',
    ...over,
  };
}

describe('the postback webhook', () => {
  it('enqueues the parsed claim with the caller hashed, and logs neither the secret nor the caller', async () => {
    const { store, secret } = await registered();
    const { deps, sent, log } = ingestDeps(store);
    await ingestPostback(request(secret), deps);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.postback).toMatchObject({ networkCallId: 'RGB1', durationSec: 130, callerKey: networkCallerKey(HASH_KEY)(CALLER), event: 'completed' });
    const text = JSON.stringify(sent) + log.lines.join('\n');
    expect(text).not.toContain(secret);
    expect(text).not.toContain(CALLER.slice(1));
  });

  it('answers in order — 405, 404 (unknown account, network or secret alike), 403, 413, 415, 400 — and enqueues nothing', async () => {
    const { store, secret } = await registered();
    const cases: [Partial<PostbackRequest>, number][] = [
      [{ method: 'PUT' }, 405],
      [{ secret: 'A'.repeat(43) }, 404],
      [{ secret: 'short' }, 404],
      [{ networkId: 'other' }, 404],
      [{ accountId: 'Not An Id' }, 404],
      [{ method: 'POST', contentType: 'text/plain', body: Buffer.from('x') }, 415],
      [{ method: 'POST', contentType: 'application/json', body: Buffer.from('{') }, 400],
      [{ method: 'POST', contentType: 'application/json', body: Buffer.alloc(64 * 1024 + 1, 32) }, 413],
      [{ rawQueryString: 'call_id=RGB1&duration=abc' }, 400],
      [{ rawQueryString: 'duration=10' }, 400],
    ];
    for (const [over, status] of cases) {
      const { deps, sent, log } = ingestDeps(store);
      expect(await rejection(ingestPostback(request(secret, over), deps)), JSON.stringify(over).slice(0, 80)).toMatchObject({ status });
      expect(sent).toEqual([]);
      expect(log.lines.join('\n')).not.toContain(secret);
    }
    // A source outside the allow-list: 403 before the body is read.
    await putNetwork(admin, NETWORK, { ...REGISTRATION, sourceIpAllowList: ['203.0.113.0/24'] }, networkDeps(store));
    const { deps, sent } = ingestDeps(store);
    expect(await rejection(ingestPostback(request(secret, { body: Buffer.alloc(70_000) }), deps))).toMatchObject({ status: 403 });
    await ingestPostback(request(secret, { sourceIp: '::ffff:203.0.113.9' }), deps);
    expect(sent).toHaveLength(1);
  });

  it('names each bad parameter without repeating its value', async () => {
    const { store, secret } = await registered();
    const { deps } = ingestDeps(store);
    const err = await ingestPostback(request(secret, { rawQueryString: 'call_id=RGB1&duration=abc&revenue=-5&start=yesterday' }), deps).catch((e: unknown) => e);
    expect((err as { errors: { field: string }[] }).errors.map((e) => e.field).sort()).toEqual(['duration', 'revenue', 'start']);
    expect(JSON.stringify(err)).not.toContain('yesterday');
  });

  it('accepts the rotated-out secret during the overlap only', async () => {
    const { store, secret } = await registered();
    await rotateNetworkSecret(admin, NETWORK, { overlapSec: 60 }, networkDeps(store));
    await ingestPostback(request(secret), ingestDeps(store, NOW + 59_000).deps);
    expect(await rejection(ingestPostback(request(secret), ingestDeps(store, NOW + 60_000).deps))).toMatchObject({ status: 404 });
  });
});

// ------------------------------------------------------------------ matching

const LEG_START = '2026-11-24T19:00:20.000Z';

function leg(callId: string, durationSec: number, billable: boolean, startedAt = LEG_START, caller = CALLER, forwarded?: Record<string, string>): StoredCall {
  const event = {
    ...(forwarded === undefined ? {} : { forwarded }),
    kind: 'call.status',
    eventId: `${callId}-completed`,
    provider: 'twilio',
    accountId: ACCOUNT,
    callId,
    occurredAt: startedAt,
    receivedAt: startedAt,
    sequenceNumber: 0,
    status: 'completed',
    direction: 'inbound',
    from: '',
    to: LINE,
    durationSec,
    answeredBy: null,
    stirVerstat: null,
    digits: null,
    fromState: null,
    fromZip: null,
    fromCountry: null,
    parentCallId: null,
  } as CallEvent;
  return {
    callId,
    accountId: ACCOUNT,
    events: [event],
    rating: { billable, amountCents: billable ? 4500 : 0, campaignId: 'c', publisherId: NETWORK, subSource: null, reasons: billable ? [] : ['below_buffer'], termsVersion: 1, recorded: {} },
    ratedAt: startedAt,
    startedAt,
    endedAt: startedAt,
    durationSec,
    recording: null,
    callerHash: networkCallerKey(HASH_KEY)(caller)!,
  };
}

function message(networkCallId: string, params: string, receivedAt: string): NetworkPostbackMessage {
  return {
    v: 1,
    kind: 'network.postback',
    accountId: ACCOUNT,
    networkId: NETWORK,
    postback: {
      networkCallId,
      callerKey: networkCallerKey(HASH_KEY)(CALLER),
      destination: null,
      startedAt: '2026-11-24T19:00:00.000Z',
      durationSec: null,
      publisher: 'Acme Leads',
      subSource: 'fb-spring',
      payoutCents: null,
      converted: null,
      event: null,
      receivedAt,
      ...(JSON.parse(params) as object),
    },
  };
}

const PIXELS = [
  message('RGB1', '{"event":"incoming"}', '2026-11-24T19:00:01.000Z'),
  message('RGB1', '{"event":"completed","durationSec":133,"payoutCents":0}', '2026-11-24T19:03:00.000Z'),
  message('RGB1', '{"event":"converted","durationSec":133,"payoutCents":4500}', '2026-11-24T19:03:05.000Z'),
];

async function passDeps(store: MemoryNetworkStore, calls: MemoryCalls, nowMs: number) {
  const opened: string[] = [];
  const deps: MatchingPassDeps = {
    store,
    calls,
    openCallDispute: async (_a, callId) => {
      opened.push(callId);
      return `dispute:${callId}`;
    },
    now: () => new Date(nowMs),
    log: recordingLog(),
  };
  return { deps, opened };
}

describe('the matching pass', () => {
  it('gives one claim and one attribution whatever the order, duplication and batching of the pixels', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(0, 1, 2), { minLength: 3, maxLength: 8 }).filter((xs) => new Set(xs).size === 3),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        async (order, batchSize, legFirst) => {
          const { store } = await registered();
          const calls = new MemoryCalls();
          const { deps } = await passDeps(store, calls, NOW);
          const addLeg = async () => {
            calls.calls.set('twilio:CA1', leg('twilio:CA1', 130, true));
            await matchAfterRating(ACCOUNT, 'twilio:CA1', deps);
          };
          if (legFirst) await addLeg();
          const messages = order.map((i) => PIXELS[i]!);
          for (let i = 0; i < messages.length; i += batchSize) await ingestNetworkPostbacks(messages.slice(i, i + batchSize), deps);
          if (!legFirst) await addLeg();
          const claim = store.claims.get(`${ACCOUNT}/${NETWORK}/RGB1`)!;
          expect(claim.claim).toMatchObject({ durationSec: 133, payoutCents: 4500, counted: true, deliveries: 3, events: ['incoming', 'completed', 'converted'] });
          expect(claim.match).toMatchObject({ state: 'matched', legCallId: 'twilio:CA1', matchedBy: 'caller_and_start' });
          const net = store.attributions.get('twilio:CA1')!;
          expect(net).toMatchObject({ state: 'matched', publisher: 'Acme Leads', subSource: 'fb-spring', durationGapSec: 3, networkCallId: 'RGB1' });
          expect(net.claim).toMatchObject({ durationSec: 133, payoutCents: 4500, deliveries: 3 });
          expect(store.disputes.size).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('never disputes a claim delivered before its call as a call that did not arrive, however old', async () => {
    const { store } = await registered();
    const calls = new MemoryCalls();
    // Hours after the start: by its dates the lone claim would be settled.
    const { deps, opened } = await passDeps(store, calls, NOW + 6 * 3_600_000);
    await ingestNetworkPostbacks(PIXELS, deps);
    expect(store.claims.get(`${ACCOUNT}/${NETWORK}/RGB1`)!.match?.state).toBe('claimed_not_received');
    expect(store.disputes.size).toBe(0);
    calls.calls.set('twilio:CA1', leg('twilio:CA1', 130, true));
    await matchAfterRating(ACCOUNT, 'twilio:CA1', deps);
    expect(store.claims.get(`${ACCOUNT}/${NETWORK}/RGB1`)!.match?.state).toBe('matched');
    await settleNetworks({ ...deps, accounts: { listAccountIds: async () => [ACCOUNT] } });
    expect(store.disputes.size).toBe(0);
    expect(opened).toEqual([]);
  });

  it('opens a pair’s dispute at once, a lone claim’s only once settled, each once; our charge disputed only when we charged', async () => {
    const { store } = await registered();
    const calls = new MemoryCalls();
    const sweep = (nowMs: number) => passDeps(store, calls, nowMs).then(({ deps, opened }) => ({ deps, opened, run: () => settleNetworks({ ...deps, accounts: { listAccountIds: async () => [ACCOUNT] } }) }));
    // The network counts a call below our buffer: a billable disagreement, disputed at once, nothing of ours to dispute.
    const early = await sweep(NOW);
    calls.calls.set('twilio:CA1', leg('twilio:CA1', 40, false));
    await matchAfterRating(ACCOUNT, 'twilio:CA1', early.deps);
    await ingestNetworkPostbacks([message('RGB1', '{"event":"converted","durationSec":42,"payoutCents":4500}', '2026-11-24T19:01:00.000Z')], early.deps);
    expect([...store.disputes.values()].map((d) => [d.networkCallId, d.state, d.amountCents, d.callDisputeId])).toEqual([['RGB1', 'billable_disagreement', 4500, null]]);
    expect(early.opened).toEqual([]);
    // A claim with no call: not disputed before it settles (start + 2 min + 1 h), then once.
    const lone = message('RGB2', '{"event":"converted","durationSec":90,"payoutCents":4500,"callerKey":"other"}', '2026-11-24T19:40:00.000Z');
    await ingestNetworkPostbacks([{ ...lone, postback: { ...lone.postback, startedAt: '2026-11-24T19:40:00.000Z' } }], early.deps);
    await early.run();
    expect(store.disputes.has(`${ACCOUNT}/${NETWORK}/RGB2`)).toBe(false);
    const later = await sweep(Date.parse('2026-11-24T20:42:00.000Z'));
    await later.run();
    await later.run();
    expect(store.disputes.get(`${ACCOUNT}/${NETWORK}/RGB2`)).toMatchObject({ state: 'claimed_not_received', status: 'open', amountCents: 4500, legCallId: null });
    expect(store.disputes.size).toBe(2);
  });
});

// ------------------------------------------------------------------ the network's call id on our legs

describe('the network’s call id on our own legs', () => {
  const UUID = 'b4a1e2c3-5d6f-4a7b-8c9d-0e1f2a3b4c5d';
  const ringba = { kind: 'ringba' as const, destinations: [LINE] };

  it('is read through the network’s own SIP header only, whatever its case; none without one', () => {
    const call = leg('twilio:CA1', 130, true, LEG_START, CALLER, { 'x-ph-retreaveruuid': UUID, 'x-leadnet-call': 'RGB1' });
    expect(legOf(call, legReadingOf({ ...ringba, forwardedCallId: { sipHeader: 'X-LeadNet-Call' } }))?.networkCallId).toBe('RGB1');
    expect(legOf(call, legReadingOf({ ...ringba, kind: 'retreaver' }))?.networkCallId).toBe(UUID);
    // Another network's header names no call of this one: the leg is matched by caller and start.
    expect(legOf(call, legReadingOf(ringba))?.networkCallId).toBeNull();
    expect(legOf(call, legReadingOf({ ...ringba, kind: 'retreaver', forwardedCallId: null }))?.networkCallId).toBeNull();
    expect(legOf(leg('twilio:CA2', 130, true), legReadingOf({ ...ringba, kind: 'retreaver' }))?.networkCallId).toBeNull();
  });

  it('is registered with the kind’s default when the PUT says nothing, and GET shows the one in force', async () => {
    const store = new MemoryNetworkStore();
    await putNetwork(admin, 'rtv', { ...REGISTRATION, kind: 'retreaver', fields: {}, forwardedCallId: { sipHeader: 'X-Own' } }, networkDeps(store));
    expect((await getNetwork(admin, 'rtv', networkDeps(store))).forwardedCallId).toEqual({ sipHeader: 'X-Own' });
    // A PUT replaces the registration: without the setting, the kind's default again (not the one stored before).
    await putNetwork(admin, 'rtv', { ...REGISTRATION, kind: 'retreaver', fields: {} }, networkDeps(store));
    expect((await getNetwork(admin, 'rtv', networkDeps(store))).forwardedCallId).toEqual({ sipHeader: 'X-PH-RetreaverUUID' });
    await putNetwork(admin, NETWORK, REGISTRATION, networkDeps(store));
    expect((await getNetwork(admin, NETWORK, networkDeps(store))).forwardedCallId).toBeNull();
    // A registration stored before the setting existed reads as its kind's default.
    const stored = store.networks.get(`${ACCOUNT}/rtv`)!;
    const { forwardedCallId: _f, ...older } = stored;
    store.networks.set(`${ACCOUNT}/rtv`, older);
    expect((await getNetwork(admin, 'rtv', networkDeps(store))).forwardedCallId).toEqual({ sipHeader: 'X-PH-RetreaverUUID' });
  });

  async function idNetwork() {
    const store = new MemoryNetworkStore();
    await putNetwork(admin, NETWORK, { ...REGISTRATION, forwardedCallId: { sipHeader: 'X-LeadNet-Call' } }, networkDeps(store));
    return store;
  }

  it('matches a withheld caller two hours off its claim by id at once, and disputes nothing', async () => {
    const store = await idNetwork();
    const calls = new MemoryCalls();
    const { deps, opened } = await passDeps(store, calls, NOW);
    await ingestNetworkPostbacks(PIXELS.map((m) => ({ ...m, postback: { ...m.postback, callerKey: null } })), deps);
    const start = new Date(Date.parse('2026-11-24T19:00:00.000Z') + 2 * 3_600_000).toISOString();
    calls.calls.set('twilio:CA1', leg('twilio:CA1', 130, true, start, 'anonymous', { 'x-leadnet-call': 'RGB1' }));
    await matchAfterRating(ACCOUNT, 'twilio:CA1', deps);
    expect(store.claims.get(`${ACCOUNT}/${NETWORK}/RGB1`)!.match).toMatchObject({ state: 'matched', legCallId: 'twilio:CA1', matchedBy: 'network_call_id', startDiffSec: 7200 });
    expect(store.attributions.get('twilio:CA1')).toMatchObject({ state: 'matched', matchedBy: 'network_call_id', publisher: 'Acme Leads', subSource: 'fb-spring' });
    await settleNetworks({ ...deps, now: () => new Date(NOW + 3 * 3_600_000), accounts: { listAccountIds: async () => [ACCOUNT] } });
    expect(store.claims.get(`${ACCOUNT}/${NETWORK}/RGB1`)!.match?.matchedBy).toBe('network_call_id');
    expect(store.disputes.size).toBe(0);
    expect(opened).toEqual([]);
  });

  it('pairs a claim that arrives after its far-off leg in the settle sweep, before either side settles alone', async () => {
    const store = await idNetwork();
    const calls = new MemoryCalls();
    const { deps } = await passDeps(store, calls, NOW);
    const start = new Date(Date.parse('2026-11-24T19:00:00.000Z') + 20 * 60_000).toISOString();
    calls.calls.set('twilio:CA1', leg('twilio:CA1', 130, true, start, CALLER, { 'x-leadnet-call': 'RGB1' }));
    await matchAfterRating(ACCOUNT, 'twilio:CA1', deps);
    await ingestNetworkPostbacks(PIXELS, deps);
    // Twenty minutes is outside the claim's window (3 × 2 min): each side is alone and pending, never disputed.
    expect(store.claims.get(`${ACCOUNT}/${NETWORK}/RGB1`)!.match?.state).toBe('claimed_not_received');
    await settleNetworks({ ...deps, accounts: { listAccountIds: async () => [ACCOUNT] } });
    expect(store.claims.get(`${ACCOUNT}/${NETWORK}/RGB1`)!.match).toMatchObject({ state: 'matched', legCallId: 'twilio:CA1', matchedBy: 'network_call_id' });
    expect(store.attributions.get('twilio:CA1')).toMatchObject({ state: 'matched', networkCallId: 'RGB1' });
    expect(store.disputes.size).toBe(0);
  });

  it('leaves a leg whose id names no claim of the network unmatched, even with a claim of its caller and start', async () => {
    const store = await idNetwork();
    const calls = new MemoryCalls();
    const { deps } = await passDeps(store, calls, NOW);
    await ingestNetworkPostbacks(PIXELS, deps);
    calls.calls.set('twilio:CA1', leg('twilio:CA1', 130, true, LEG_START, CALLER, { 'x-leadnet-call': 'RGB-OTHER' }));
    await matchAfterRating(ACCOUNT, 'twilio:CA1', deps);
    expect(store.claims.get(`${ACCOUNT}/${NETWORK}/RGB1`)!.match?.state).toBe('claimed_not_received');
    expect(store.attributions.get('twilio:CA1')).toMatchObject({ state: 'received_not_claimed', networkCallId: null });
  });
});
