/**
 * End to end, over HTTP against the whole local stack: the same call lifecycles played through Twilio, Telnyx,
 * Vonage and Plivo, each signed as that carrier signs (Plivo with two tokens, as during a rotation), must give the
 * same calls and the same ledger: status, duration, billable decision and reasons, amounts, entry types, and the
 * recording fetched from each carrier's media URL with that carrier's credentials.
 *
 * Each scenario plays one call per carrier with its own caller, settles the stack, and compares what the buyer
 * reads (GET /v1/calls/{callId}) and what the ledger table holds for each call. The tests run in file order and
 * share one stack; the last one checks that the ledger holds exactly the charges the scenarios expected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { fakeRecordingBytes } from '../../../infra/local/fake-media';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { ACME, GLOBEX, apiGet, apiKey, apiSend, callItem, callPath, expectProblem, ledgerTable, newCaller, sha256, writeSeed, writeTwoAccountSeed, type TempSeed } from '../../support/e2e-harness';
import {
  PlivoLifecycle,
  TelnyxLifecycle,
  TwilioLifecycle,
  VonageLifecycle,
  carrierConfigFor,
  type CarrierSender,
  type LifecycleCall,
} from '../../support/carrier-senders';

let stack: LocalStack;
let seedFiles: TempSeed[] = [];
let senders: CarrierSender[];
let admin: string;

/** Whole seconds, as the carriers' timestamps carry them. */
const nowSec = () => Math.floor(Date.now() / 1000) * 1000;
const iso = (ms: number) => new Date(ms).toISOString();
const settle = () => stack.waitForIdle(30_000);

/** callId → the charges the ledger must hold for it, across every scenario. */
const expectedCharges = new Map<string, number>();

beforeAll(async () => {
  const twoAccounts = await writeTwoAccountSeed();
  const seed = JSON.parse(await readFile(twoAccounts.file, 'utf8')) as { accounts: Record<string, unknown>[] };
  seed.accounts[0] = { ...seed.accounts[0], ...carrierConfigFor(ACME.accountId) };
  const withCarriers = await writeSeed(seed);
  seedFiles = [twoAccounts, withCarriers];
  stack = await startLocalStack({ port: 0, quiet: true, seedFile: withCarriers.file });
  senders = [
    new TwilioLifecycle(stack, ACME.accountId),
    new TelnyxLifecycle(stack, ACME.accountId),
    new VonageLifecycle(stack, ACME.accountId),
    new PlivoLifecycle(stack, ACME.accountId),
  ];
  admin = apiKey(stack, ACME.accountId, 'admin');
});

afterAll(async () => {
  await stack?.stop();
  for (const f of seedFiles) await f.cleanup();
});

interface Outcome {
  readonly status: string;
  readonly durationSec: number;
  readonly billable: boolean;
  readonly amountCents: number;
  readonly reasons: readonly string[];
  readonly startedAt: string;
  readonly endedAt: string;
  readonly campaignId: string | null;
  readonly publisherId: string | null;
  readonly subSource: string | null;
  readonly recording: { readonly sha256: string; readonly bytes: number } | null;
  /** The call's ledger entries, as the ledger table holds them. */
  readonly ledger: readonly { type: string; amountCents: number; effectiveAt: string; publisherId: string; campaignId: string; termsVersion: number }[];
}

/** What the buyer reads about a call, and what the ledger table holds for it: nothing carrier-specific. */
async function outcomeOf(callId: string): Promise<Outcome> {
  const res = await apiGet<any>(stack, callPath(callId), admin);
  expect(res.status, `${callId}: ${JSON.stringify(res.body)}`).toBe(200);
  const b = res.body;
  const entries = (await ledgerTable(stack)).filter((e) => e.callId === callId);
  return {
    status: b.status,
    durationSec: b.durationSec,
    billable: b.billable,
    amountCents: b.amountCents,
    reasons: b.reasons,
    startedAt: b.startedAt,
    endedAt: b.endedAt,
    campaignId: b.campaignId,
    publisherId: b.publisherId,
    subSource: b.subSource,
    recording: b.recording === null ? null : { sha256: b.recording.sha256, bytes: b.recording.bytes },
    ledger: entries
      .map((e) => ({ type: e.type, amountCents: e.amountCents, effectiveAt: e.effectiveAt, publisherId: e.publisherId, campaignId: e.campaignId, termsVersion: e.termsVersion }))
      .sort((x, y) => (x.type < y.type ? -1 : 1)),
  };
}

/** Every carrier's outcome, which must all equal `expected`; records the charges the ledger must hold. */
async function expectSameOutcome(calls: readonly [CarrierSender, LifecycleCall][], expected: Outcome): Promise<void> {
  for (const [sender, call] of calls) {
    const callId = sender.callId(call);
    expect({ carrier: sender.carrier, ...(await outcomeOf(callId)) }).toEqual({ carrier: sender.carrier, ...expected });
    const charged = expected.ledger.filter((e) => e.type === 'charge').length;
    if (charged > 0) expectedCharges.set(callId, charged);
  }
}

const MAIN = { campaignId: ACME.campaignId, publisherId: ACME.publisherId, subSource: ACME.subSource } as const;
const charge = (startedAtMs: number) => [
  { type: 'charge', amountCents: ACME.priceCents, effectiveAt: iso(startedAtMs), publisherId: ACME.publisherId, campaignId: ACME.campaignId, termsVersion: 1 },
];
const newCalls = (to: string = ACME.number): [CarrierSender, LifecycleCall][] => senders.map((s) => [s, s.newCall(newCaller(), to)]);

describe('the same call lifecycle through every carrier gives the same ledger', () => {
  it('billable: ringing → completed 300 s → recording; one charge each, each recording fetched with its carrier\'s credentials', async () => {
    const endMs = nowSec();
    const calls = newCalls();
    const recordings = new Map<CarrierSender, string>();
    await Promise.all(
      calls.map(async ([s, call]) => {
        const recordingId = s.newRecordingId();
        recordings.set(s, recordingId);
        await s.deliver(s.ringing(call, endMs - 305_000));
        await s.deliver(s.terminal(call, 'completed', endMs, 300));
        await s.deliver(s.recording(call, recordingId, endMs - 295_000, 295));
      }),
    );
    await settle();
    for (const [s, call] of calls) {
      const bytes = fakeRecordingBytes(recordings.get(s)!);
      await expectSameOutcome([[s, call]], {
        status: 'completed',
        durationSec: 300,
        billable: true,
        amountCents: ACME.priceCents,
        reasons: [],
        startedAt: iso(endMs - 300_000),
        endedAt: iso(endMs),
        ...MAIN,
        recording: { sha256: sha256(bytes), bytes: bytes.length },
        ledger: charge(endMs - 300_000),
      });
      expect(stack.media.requestsFor(recordings.get(s)!)).toBe(1);
    }
  });

  it('short: completed 30 s → below_buffer, no charge', async () => {
    const endMs = nowSec();
    const calls = newCalls();
    for (const [s, call] of calls) {
      await s.deliver(s.ringing(call, endMs - 31_000));
      await s.deliver(s.terminal(call, 'completed', endMs, 30));
    }
    await settle();
    await expectSameOutcome(calls, {
      status: 'completed',
      durationSec: 30,
      billable: false,
      amountCents: 0,
      reasons: ['below_buffer'],
      startedAt: iso(endMs - 30_000),
      endedAt: iso(endMs),
      ...MAIN,
      recording: null,
      ledger: [],
    });
  });

  it('busy → not_connected, no charge', async () => {
    const endMs = nowSec();
    const calls = newCalls();
    for (const [s, call] of calls) {
      await s.deliver(s.ringing(call, endMs - 10_000));
      await s.deliver(s.terminal(call, 'busy', endMs));
    }
    await settle();
    await expectSameOutcome(calls, {
      status: 'busy',
      durationSec: 0,
      billable: false,
      amountCents: 0,
      reasons: ['not_connected'],
      startedAt: iso(endMs),
      endedAt: iso(endMs),
      ...MAIN,
      recording: null,
      ledger: [],
    });
  });

  it('duplicates: every delivery sent 3× concurrently → one charge each', async () => {
    const endMs = nowSec();
    const calls = newCalls();
    await Promise.all(
      calls.map(async ([s, call]) => {
        const ringing = s.ringing(call, endMs - 200_000);
        const completed = s.terminal(call, 'completed', endMs, 180);
        await Promise.all([s.deliver(ringing), s.deliver(ringing), s.deliver(ringing)]);
        await Promise.all([s.deliver(completed), s.deliver(completed), s.deliver(completed)]);
      }),
    );
    await settle();
    await expectSameOutcome(calls, {
      status: 'completed',
      durationSec: 180,
      billable: true,
      amountCents: ACME.priceCents,
      reasons: [],
      startedAt: iso(endMs - 180_000),
      endedAt: iso(endMs),
      ...MAIN,
      recording: null,
      ledger: charge(endMs - 180_000),
    });
  });

  it('out of order: completed processed before ringing, and the recording before both → the in-order result', async () => {
    const endMs = nowSec();
    const calls = newCalls();
    const recordings = new Map<CarrierSender, string>();
    for (const [s, call] of calls) {
      const recordingId = s.newRecordingId();
      recordings.set(s, recordingId);
      await s.deliver(s.recording(call, recordingId, endMs - 120_000, 118));
    }
    await settle();
    for (const [s, call] of calls) await s.deliver(s.terminal(call, 'completed', endMs, 125));
    await settle();
    for (const [s, call] of calls) await s.deliver(s.ringing(call, endMs - 126_000));
    await settle();
    for (const [s, call] of calls) {
      const bytes = fakeRecordingBytes(recordings.get(s)!);
      await expectSameOutcome([[s, call]], {
        status: 'completed',
        durationSec: 125,
        billable: true,
        amountCents: ACME.priceCents,
        reasons: [],
        startedAt: iso(endMs - 125_000),
        endedAt: iso(endMs),
        ...MAIN,
        recording: { sha256: sha256(bytes), bytes: bytes.length },
        ledger: charge(endMs - 125_000),
      });
    }
  });

  it('a machine answered: machine_answered, no charge, whether the carrier says so on the hangup or apart, before it', async () => {
    const endMs = nowSec();
    const calls = newCalls();
    for (const [s, call] of calls) {
      await s.deliver(s.ringing(call, endMs - 201_000));
      // The detection result is processed alone first: rating must find it on the item.
      const [first, ...rest] = s.machineAnswered(call, endMs, 200);
      await s.deliver(first!);
      await settle();
      for (const d of rest) await s.deliver(d);
    }
    await settle();
    await expectSameOutcome(calls, {
      status: 'completed',
      durationSec: 200,
      billable: false,
      amountCents: 0,
      reasons: ['machine_answered'],
      startedAt: iso(endMs - 200_000),
      endedAt: iso(endMs),
      ...MAIN,
      recording: null,
      ledger: [],
    });
  });

  it("a buyer leg (Twilio <Dial>, Vonage connect, Plivo Dial) is stored on the caller's call, never a call of its own", async () => {
    const endMs = nowSec();
    const calls = newCalls().filter(([s]) => s.buyerLeg !== undefined);
    expect(calls.map(([s]) => s.carrier)).toEqual(['twilio', 'vonage', 'plivo']);
    const legs: string[] = [];
    for (const [s, call] of calls) {
      const leg = s.buyerLeg!(call, '+15125550777', endMs - 1_000, 270);
      legs.push(leg.legCallId);
      // The buyer's leg ends before the caller's, and arrives first.
      await s.deliver(leg.delivery);
      await s.deliver(s.ringing(call, endMs - 301_000));
      await s.deliver(s.terminal(call, 'completed', endMs, 300));
    }
    await settle();
    await expectSameOutcome(calls, {
      status: 'completed',
      durationSec: 300,
      billable: true,
      amountCents: ACME.priceCents,
      reasons: [],
      startedAt: iso(endMs - 300_000),
      endedAt: iso(endMs),
      ...MAIN,
      recording: null,
      ledger: charge(endMs - 300_000),
    });
    for (const legCallId of legs) {
      expectProblem(await apiGet(stack, callPath(legCallId), admin), 404, 'not-found');
      expect(await callItem(stack, legCallId), legCallId).toBeNull();
    }
    // The leg's completed event is on the caller's item, in its child-leg slot, beside the caller's own.
    for (const [[s, call], legCallId] of calls.map((c, i) => [c, legs[i]!] as const)) {
      const item = await callItem(stack, s.callId(call));
      // A completed leg's slot names the leg (fold.ts slotName): several legs of one call each keep their talk time.
      expect(Object.keys(item ?? {}).filter((k) => /^[sc]_/.test(k)).sort(), s.carrier).toEqual([`c_completed__${legCallId}`, 's_completed', 's_ringing']);
    }
  });

  it('a repeat caller within the window → duplicate_caller on the second call, whichever carrier', async () => {
    const firstEnd = nowSec() - 3_600_000;
    const secondEnd = nowSec();
    const firsts = newCalls();
    const seconds: [CarrierSender, LifecycleCall][] = firsts.map(([s, first]) => [s, s.newCall(first.from, ACME.otherNumber)]);
    for (const [s, call] of firsts) {
      await s.deliver(s.ringing(call, firstEnd - 201_000));
      await s.deliver(s.terminal(call, 'completed', firstEnd, 200));
    }
    await settle();
    for (const [s, call] of seconds) {
      await s.deliver(s.ringing(call, secondEnd - 241_000));
      await s.deliver(s.terminal(call, 'completed', secondEnd, 240));
    }
    await settle();
    await expectSameOutcome(firsts, {
      status: 'completed',
      durationSec: 200,
      billable: true,
      amountCents: ACME.priceCents,
      reasons: [],
      startedAt: iso(firstEnd - 200_000),
      endedAt: iso(firstEnd),
      ...MAIN,
      recording: null,
      ledger: charge(firstEnd - 200_000),
    });
    await expectSameOutcome(seconds, {
      status: 'completed',
      durationSec: 240,
      billable: false,
      amountCents: 0,
      reasons: ['duplicate_caller'],
      startedAt: iso(secondEnd - 240_000),
      endedAt: iso(secondEnd),
      campaignId: ACME.campaignId,
      publisherId: ACME.otherPublisherId,
      subSource: ACME.otherSubSource,
      recording: null,
      ledger: [],
    });
  });

  it('a tampered or unsigned delivery of each carrier is refused 403 problem+json, and nothing of the call is written', async () => {
    const endMs = nowSec();
    for (const [s, call] of newCalls().filter(([s]) => s.carrier !== 'twilio')) {
      const d = s.terminal(call, 'completed', endMs, 300);
      const path = `/webhooks/${s.carrier}/${ACME.accountId}`;
      for (const [body, headers] of [
        [`${d.body} `, d.headers],
        [d.body, {}],
      ] as const) {
        const res = await fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': d.contentType, ...headers }, body });
        expect(res.status, s.carrier).toBe(403);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(((await res.json()) as { type: string }).type).toBe('https://callledger.dev/problems/bad-signature');
      }
      await settle();
      expect(await callItem(stack, s.callId(call))).toBeNull();
    }
  });

  it("another account's carrier webhook without carrier settings is a 404, nothing written", async () => {
    const telnyx = senders.find((s) => s.carrier === 'telnyx')!;
    const call = telnyx.newCall(newCaller(), GLOBEX.number);
    const d = telnyx.terminal(call, 'completed', nowSec(), 300);
    const res = await fetch(`${stack.baseUrl}/webhooks/telnyx/${GLOBEX.accountId}`, { method: 'POST', headers: { 'content-type': d.contentType, ...d.headers }, body: d.body });
    expect(res.status).toBe(404);
    await res.body?.cancel();
    await settle();
    expect(await callItem(stack, telnyx.callId(call))).toBeNull();
  });

  it('the carrier settings API: names only, admin writes, any key reads; bad input named', async () => {
    const analyst = apiKey(stack, ACME.accountId, 'analyst');
    const listed = await apiGet<any>(stack, '/v1/account/carriers', analyst);
    expect(listed.status).toBe(200);
    expect(listed.body.carriers).toEqual(
      (['twilio', 'telnyx', 'vonage', 'plivo'] as const).map((carrier) => ({ carrier, webhookPath: `/webhooks/${carrier}/${ACME.accountId}`, settings: carrier === 'twilio' ? stack.seed.accounts.find((a) => a.accountId === ACME.accountId)!.twilio : carrierConfigFor(ACME.accountId)[carrier] })),
    );
    const telnyx = { publicKeySecrets: ['telnyx/globex-hvac/public-key'] };
    expectProblem(await apiSend(stack, 'PUT', '/v1/account/carriers/telnyx', analyst, { json: telnyx }), 403, 'forbidden');
    const globexAdmin = apiKey(stack, GLOBEX.accountId, 'admin');
    expectProblem(await apiSend(stack, 'PUT', '/v1/account/carriers/bandwidth', globexAdmin, { json: telnyx }), 404, 'not-found');
    const bad = await apiSend<any>(stack, 'PUT', '/v1/account/carriers/plivo', globexAdmin, { json: { authId: 'MA1', authTokenSecrets: [] } });
    expectProblem(bad, 400, 'malformed-request');
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(['authTokenSecrets']);
    const put = await apiSend<any>(stack, 'PUT', '/v1/account/carriers/telnyx', globexAdmin, { json: telnyx });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ carrier: 'telnyx', webhookPath: `/webhooks/telnyx/${GLOBEX.accountId}`, settings: telnyx });
    const globex = await apiGet<any>(stack, '/v1/account/carriers', globexAdmin);
    expect(globex.body.carriers.map((c: { settings: unknown }) => c.settings)).toEqual([stack.seed.accounts.find((a) => a.accountId === GLOBEX.accountId)!.twilio, telnyx, null, null]);
  });

  it('the ledger holds exactly the charges the scenarios expected, one per billable call of every carrier', async () => {
    const entries = await ledgerTable(stack);
    const perCall = new Map<string, number>();
    for (const e of entries) perCall.set(e.callId, (perCall.get(e.callId) ?? 0) + 1);
    expect(Object.fromEntries(perCall)).toEqual(Object.fromEntries(expectedCharges));
    // Four billable scenarios' calls per carrier, and the call with a buyer leg for those that have one.
    for (const [carrier, n] of [['twilio', 5], ['telnyx', 4], ['vonage', 5], ['plivo', 5]] as const) {
      expect([...expectedCharges.keys()].filter((id) => id.startsWith(`${carrier}:`)), carrier).toHaveLength(n);
    }
  });
});
