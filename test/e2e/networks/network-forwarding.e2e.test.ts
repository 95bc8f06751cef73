/**
 * End to end on the local stack: a network (Ringba-style pixels) forwards calls from three publishers and six
 * sub-sources to ONE destination number of the buyer. Its pixels arrive late, duplicated and out of order, some
 * claims are for calls that never arrived, some calls have no claim, durations are off by seconds and by minutes,
 * one claim's pixels disagree on the publisher, one call the network counts is below our buffer. Some forwarded calls
 * carry the network's call id in a custom SIP header of the INVITE (Twilio's `SipHeader_X-…` on the incoming call),
 * among them one with a withheld caller id and two that start minutes off their claim (more than the tolerance):
 * those match by id, the others by caller and start.
 *
 * Expected, from the planted truth only: every matched call attributed to its claim's publisher and sub-source
 * (call detail and scorecard), every match state where planted and nowhere else, the drift totals equal to the
 * plan, disputes for the planted disagreements only, and the ledger exactly our own rating of our own legs.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SEED_FILE, startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { FUNCTIONS } from '../../../infra/resources';
import { invokeHandler } from '../../../infra/local/invoke';
import { TwilioSender, allDisputes, allLedgerEntries, apiGet, apiKey, apiSend, callPath, newCallSid, newCaller, scan, writeSeed, type TempSeed } from '../../support/e2e-harness';

const ACCOUNT = 'acme-roofing';
const LINE = '+15125550199';
const NETWORK = 'leadnet-ringba';
const CAMPAIGN = 'network-tx';
const PRICE = 4500;
/** The SIP header the network passes its call id in (the buyer names it in the registration). */
const ID_HEADER = 'X-LeadNet-Call-Id';

let stack: LocalStack;
let seedFile: TempSeed;
let twilio: TwilioSender;
let admin: string;
let analyst: string;
let issued: { secret: string; postbackUrl: string; pixelUrls: Record<string, string> };

const A = 'Acme Leads';
const B = 'Blue Media';
const C = 'Cobalt Calls';
const SUBS: readonly [string, string][] = [
  [A, 'fb-spring'],
  [A, 'fb-summer'],
  [B, 'g-search'],
  [B, 'g-display'],
  [C, 'tiktok'],
  [C, 'native'],
];

type Planted = 'matched' | 'duration_gap' | 'billable_disagreement' | 'attribution_conflict' | 'claimed_not_received' | 'received_not_claimed';

interface PlannedCall {
  readonly state: Planted;
  readonly caller: string;
  readonly callSid: string | null;
  readonly networkCallId: string | null;
  readonly publisher: string;
  readonly subSource: string;
  readonly startMs: number;
  readonly legSec: number | null;
  readonly claimSec: number | null;
  readonly payout: string;
  /** A later pixel naming this publisher instead (the attribution conflict). */
  readonly otherPublisher?: string;
  /** The leg carries the network's call id in the SIP header: matched by id. */
  readonly sipId?: boolean;
  /** The caller id is withheld (`anonymous` on our leg and in the network's pixels). */
  readonly withheld?: boolean;
  /** How long before our leg the network's start is (default 20 s). */
  readonly claimLeadSec?: number;
  /** Money the plan says is at stake. */
  readonly atStakeCents: number;
  readonly disputedCents: number | null;
}

/** Whole seconds, six hours ago: twenty calls ten minutes apart all start more than 2 min + 1 h (the settle window) ago. */
const T0 = Math.floor(Date.now() / 1000) * 1000 - 6 * 3_600_000;
let seq = 0;
function plan(state: Planted, sub: number, legSec: number | null, claimSec: number | null, extra: Partial<PlannedCall> = {}): PlannedCall {
  const i = seq++;
  const [publisher, subSource] = SUBS[sub]!;
  return {
    state,
    caller: extra.withheld === true ? 'anonymous' : newCaller(),
    callSid: legSec === null ? null : newCallSid(),
    networkCallId: claimSec === null ? null : `RGB${String(i).padStart(4, '0')}${Math.random().toString(16).slice(2, 8)}`,
    publisher,
    subSource,
    // Ten minutes apart: no call is within another's start tolerance.
    startMs: T0 + i * 600_000,
    legSec,
    claimSec,
    payout: '45.00',
    atStakeCents: 0,
    disputedCents: null,
    ...extra,
  };
}

const PLAN: PlannedCall[] = [
  // Two agreeing calls per sub-source; some durations off by a few seconds (inside the 15 s tolerance).
  ...SUBS.flatMap((_, sub) => [plan('matched', sub, 180 + sub, 183 + sub), plan('matched', sub, 240, sub % 2 === 0 ? 252 : 240)]),
  // Off by minutes, and the network bills more: disputed for the difference.
  plan('duration_gap', 0, 200, 440, { payout: '60.00', atStakeCents: 1500, disputedCents: 1500 }),
  // Off by minutes, same money: a gap, nothing to dispute.
  plan('duration_gap', 3, 300, 425, { atStakeCents: 0 }),
  // Below our 90 s buffer; the network counts it.
  plan('billable_disagreement', 4, 40, 42, { atStakeCents: PRICE, disputedCents: PRICE }),
  // The pixels name two publishers.
  plan('attribution_conflict', 5, 200, 201, { otherPublisher: B, atStakeCents: PRICE, disputedCents: PRICE }),
  // Claims for calls that never reached the line.
  plan('claimed_not_received', 1, null, 150, { atStakeCents: PRICE, disputedCents: PRICE }),
  plan('claimed_not_received', 2, null, 95, { atStakeCents: PRICE, disputedCents: PRICE }),
  // The network's id in the SIP header: matched by id, whatever the caller and the start say.
  plan('matched', 1, 200, 203, { sipId: true }),
  plan('matched', 2, 220, 222, { sipId: true, withheld: true }),
  // Seven minutes off: beyond the 2 min tolerance and the matching window around the claim (3 × 2 min).
  plan('matched', 4, 250, 251, { sipId: true, claimLeadSec: 420 }),
  // Three minutes off, and the durations minutes apart: a gap, same money, nothing to dispute.
  plan('duration_gap', 5, 200, 400, { sipId: true, claimLeadSec: 180, atStakeCents: 0 }),
  // Calls the network never claimed.
  plan('received_not_claimed', 0, 190, null, { atStakeCents: PRICE }),
  plan('received_not_claimed', 3, 210, null, { atStakeCents: PRICE }),
];

// ------------------------------------------------------------------ pixels

/** A deterministic shuffle (mulberry32), so a failure replays. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

interface Pixel {
  readonly url: string;
  readonly method: 'GET' | 'POST';
}

/**
 * The network's pixels for a claim, as Ringba fires them: the pasted URL with its tokens replaced, plus the start
 * and duration parameters the buyer mapped. The Incoming pixel has no revenue yet (its token stays unreplaced).
 */
function pixelsOf(c: PlannedCall): Pixel[] {
  const claimStart = new Date(c.startMs - (c.claimLeadSec ?? 20) * 1000).toISOString();
  const fill = (event: 'incoming' | 'completed' | 'converted', publisher: string, revenue: string | null): string =>
    issued.pixelUrls[event]!
      .replace('[Call:InboundCallId]', c.networkCallId!)
      .replace('[tag:InboundNumber:Number]', encodeURIComponent(c.caller))
      .replace('[tag:Publisher:Name]', encodeURIComponent(publisher))
      .replace('[tag:Publisher:SubId]', encodeURIComponent(c.subSource))
      .replace('[Call:ConversionAmount]', revenue ?? '[Call:ConversionAmount]') +
    `&start=${encodeURIComponent(claimStart)}${event === 'incoming' ? '' : `&duration=${c.claimSec}`}`;
  return [
    { url: fill('incoming', c.publisher, null), method: 'GET' },
    { url: fill('completed', c.publisher, '0'), method: 'POST' },
    { url: fill('converted', c.otherPublisher ?? c.publisher, c.payout), method: 'GET' },
  ];
}

async function fire(p: Pixel): Promise<Response> {
  const u = new URL(p.url);
  const local = `${stack.baseUrl}${u.pathname}`;
  // POSTed pixels carry their parameters as a form body, GET pixels in the query.
  return p.method === 'GET'
    ? fetch(`${local}${u.search}`)
    : fetch(local, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: u.search.slice(1) });
}

async function deliver(pixels: readonly Pixel[]): Promise<void> {
  for (const p of pixels) {
    const res = await fire(p);
    expect(res.status, await res.text()).toBe(204);
  }
}

async function callLeg(c: PlannedCall): Promise<void> {
  const call = { callSid: c.callSid!, from: c.caller, to: LINE };
  // A call forwarded over SIP names the network's id in a custom header; the network also passes its per-call key
  // and the caller, which are never kept.
  const sip: [string, string][] =
    c.sipId !== true
      ? []
      : [[`SipHeader_${ID_HEADER}`, c.networkCallId!], ['SipHeader_X-LeadNet-Key', SIP_KEY], ...(c.withheld === true ? [] : ([['SipHeader_X-LeadNet-Caller', c.caller]] as [string, string][]))];
  await twilio.deliver(twilio.ringing(call, sip));
  await twilio.deliver(twilio.terminal(call, 'completed', c.startMs + c.legSec! * 1000, c.legSec!));
}

const SIP_KEY = 'lnk-7d41c0a9e2b35f68';

/** The provider-neutral call id (`<provider>:<id>`). */
const callIdOf = (sid: string | null) => (sid === null ? null : `twilio:${sid}`);

const settleQueues = () => stack.waitForIdle(60_000);

async function runSettleSweep(): Promise<unknown> {
  const { handler } = (await import('../../../functions/network-settle')) as { handler: (e: unknown, ctx: never) => Promise<unknown> };
  return invokeHandler(FUNCTIONS.networkSettle, handler as never, {});
}

// ------------------------------------------------------------------ stack

beforeAll(async () => {
  const demo = JSON.parse(await readFile(DEFAULT_SEED_FILE, 'utf8')) as Record<string, unknown[]>;
  seedFile = await writeSeed({
    ...demo,
    publishers: [...demo.publishers!, { accountId: ACCOUNT, publisherId: 'leadnet', name: 'LeadNet (Ringba)', trafficMethods: ['affiliate'] }],
    campaigns: [
      ...demo.campaigns!,
      // The network screens its callers: a withheld caller id bills here.
      { accountId: ACCOUNT, campaignId: CAMPAIGN, name: 'Roofing via LeadNet', vertical: 'home_services', terms: { version: 1, priceCents: PRICE, bufferSec: 90, duplicateWindowHours: 24, withheldCallerId: 'billable' } },
    ],
    trackingNumbers: [...demo.trackingNumbers!, { accountId: ACCOUNT, number: LINE, campaignId: CAMPAIGN, publisherId: 'leadnet', subSource: null }],
  });
  stack = await startLocalStack({ port: 0, quiet: true, seedFile: seedFile.file, scheduleEveryMs: 0 });
  twilio = new TwilioSender(stack, ACCOUNT);
  admin = apiKey(stack, ACCOUNT, 'admin');
  analyst = apiKey(stack, ACCOUNT, 'analyst');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await seedFile?.cleanup();
});

const REGISTRATION = {
  kind: 'ringba',
  name: 'LeadNet on Ringba',
  destinations: [LINE],
  // Ringba documents no start or duration token: the buyer maps the parameters its pixels send.
  fields: { startedAt: { param: 'start', token: null }, durationSec: { param: 'duration', token: null } },
  creditPolicy: { mode: 'auto_open', windowDays: 30 },
  forwardedCallId: { sipHeader: ID_HEADER },
};

describe('registering a network', () => {
  it('creates it with a secret shown once and the pixel URLs to paste; GET never shows the secret', async () => {
    const created = await apiSend(stack, 'PUT', `/v1/networks/${NETWORK}`, admin, { json: REGISTRATION });
    expect(created.status).toBe(201);
    issued = created.body.issued;
    expect(issued.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Object.keys(issued.pixelUrls).sort()).toEqual(['completed', 'converted', 'incoming']);
    expect(issued.pixelUrls.converted).toContain(`/webhooks/networks/${ACCOUNT}/${NETWORK}/${issued.secret}?call_id=[Call:InboundCallId]`);
    expect(issued.pixelUrls.converted).toContain('event=converted');

    const read = await apiGet(stack, `/v1/networks/${NETWORK}`, analyst);
    expect(read.status).toBe(200);
    expect(JSON.stringify(read.body)).not.toContain(issued.secret);
    expect(read.body.urls.postbackUrl).toContain(`/webhooks/networks/${ACCOUNT}/${NETWORK}/{secret}?`);
    expect(read.body.fields.callId).toEqual({ param: 'call_id', token: '[Call:InboundCallId]' });
    expect(read.body.forwardedCallId).toEqual({ sipHeader: ID_HEADER });

    // The secret is stored as its SHA-256 only.
    const items = await scan(stack, stack.names.mainTable);
    expect(JSON.stringify(items)).not.toContain(issued.secret);

    const again = await apiSend(stack, 'PUT', `/v1/networks/${NETWORK}`, admin, { json: REGISTRATION });
    expect(again.status).toBe(200);
    expect(again.body.issued).toBeUndefined();
    expect((await apiSend(stack, 'PUT', `/v1/networks/${NETWORK}`, analyst, { json: REGISTRATION })).status).toBe(403);
  });

  it('answers 404 for an unknown secret, network or account, 403 outside the allow-list, 400 naming a bad token; nothing is written', async () => {
    const pixel = `call_id=X1&caller=%2B12065550123&event=completed&duration=12`;
    const base = `${stack.baseUrl}/webhooks/networks`;
    const wrong = 'A'.repeat(43);
    expect((await fetch(`${base}/${ACCOUNT}/${NETWORK}/${wrong}?${pixel}`)).status).toBe(404);
    expect((await fetch(`${base}/${ACCOUNT}/other-net/${issued.secret}?${pixel}`)).status).toBe(404);
    expect((await fetch(`${base}/nobody/${NETWORK}/${issued.secret}?${pixel}`)).status).toBe(404);
    expect((await fetch(`${base}/${ACCOUNT}/${NETWORK}/short?${pixel}`)).status).toBe(404);

    const bad = await fetch(`${base}/${ACCOUNT}/${NETWORK}/${issued.secret}?call_id=X1&duration=ten&revenue=1.234`);
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { errors: { field: string }[]; instance?: string };
    expect(problem.errors.map((e) => e.field).sort()).toEqual(['duration', 'revenue']);
    expect(JSON.stringify(problem)).not.toContain(issued.secret);

    const fenced = await apiSend(stack, 'PUT', '/v1/networks/fenced', admin, { json: { ...REGISTRATION, destinations: ['+15125550198'], sourceIpAllowList: ['203.0.113.0/24'] } });
    expect(fenced.status).toBe(201);
    expect((await fetch(`${base}/${ACCOUNT}/fenced/${fenced.body.issued.secret}?${pixel}`)).status).toBe(403);

    await settleQueues();
    const items = await scan(stack, stack.names.mainTable);
    expect(items.filter((i) => String(i.pk).startsWith('NETPB#') || String(i.pk).startsWith('NETCLAIM#'))).toEqual([]);
  });

  it('rotates the secret with an overlap: both work until it ends; with no overlap the old one is refused at once', async () => {
    const net = await apiSend(stack, 'PUT', '/v1/networks/rotating', admin, { json: { ...REGISTRATION, destinations: ['+15125550197'] } });
    const first = net.body.issued.secret as string;
    const url = (s: string) => `${stack.baseUrl}/webhooks/networks/${ACCOUNT}/rotating/${s}?call_id=R1&event=incoming`;
    const rotated = await apiSend(stack, 'POST', '/v1/networks/rotating/rotate-secret', admin, { json: { overlapSec: 3600 } });
    expect(rotated.status).toBe(200);
    const second = rotated.body.issued.secret as string;
    expect(second).not.toBe(first);
    expect(rotated.body.secret.previousValidUntil).not.toBeNull();
    expect((await fetch(url(first))).status).toBe(204);
    expect((await fetch(url(second))).status).toBe(204);
    const revoked = await apiSend(stack, 'POST', '/v1/networks/rotating/rotate-secret', admin, { json: { overlapSec: 0 } });
    expect((await fetch(url(second))).status).toBe(404);
    expect((await fetch(url(revoked.body.issued.secret))).status).toBe(204);
    await settleQueues();
  });
});

describe('a network forwarding three publishers and six sub-sources to one line', () => {
  const claimed = PLAN.filter((c) => c.networkCallId !== null);
  const legs = PLAN.filter((c) => c.callSid !== null);

  beforeAll(async () => {
    const pixels = claimed.map(pixelsOf);
    // Half the claims' pixels come before any call is rated (out of order with the calls), the rest late, after;
    // every pixel order shuffled, and some pixels delivered twice.
    const early = shuffled(pixels.filter((_, i) => i % 2 === 0).flat(), 7);
    const late = shuffled(pixels.filter((_, i) => i % 2 === 1).flat(), 11);
    const duplicates = shuffled([...early, ...late], 13).slice(0, 12);
    await deliver(early);
    await settleQueues();
    for (const c of legs) await callLeg(c);
    await settleQueues();
    await deliver([...late, ...duplicates]);
    await settleQueues();
    await runSettleSweep();
    // A second sweep changes nothing (idempotent).
    await runSettleSweep();
  }, 240_000);

  it('attributes every matched call to its claim’s publisher and sub-source and shows the claim beside our leg', async () => {
    for (const c of legs) {
      const res = await apiGet(stack, callPath(callIdOf(c.callSid)!), admin);
      expect(res.status).toBe(200);
      const call = res.body;
      // Our own leg, our own rating: the number's publisher and our duration.
      expect(call.publisherId).toBe('leadnet');
      expect(call.durationSec).toBe(c.legSec);
      expect(call.network.state, `${c.state} ${c.subSource}`).toBe(c.state);
      if (c.state === 'received_not_claimed') {
        expect(call.network.publisher).toBeNull();
        expect(call.network.claim).toBeNull();
        continue;
      }
      expect(call.network.networkCallId).toBe(c.networkCallId);
      expect(call.network.matchedBy, `${c.state} ${c.subSource}`).toBe(c.sipId === true ? 'network_call_id' : 'caller_and_start');
      expect(call.network.claim.startedAt).toBe(new Date(c.startMs - (c.claimLeadSec ?? 20) * 1000).toISOString());
      expect(call.network.claim.durationSec).toBe(c.claimSec);
      expect(call.network.durationGapSec).toBe(c.claimSec! - c.legSec!);
      if (c.state !== 'attribution_conflict') expect([call.network.publisher, call.network.subSource]).toEqual([c.publisher, c.subSource]);
    }
  });

  it('keeps the network’s id on the call item, never its per-call key or the caller it passed', async () => {
    const items = await scan(stack, stack.names.mainTable);
    for (const c of legs.filter((p) => p.sipId === true)) {
      const item = items.find((i) => i.pk === `CALL#${callIdOf(c.callSid)}` && i.sk === 'CALL')!;
      expect(item.s_ringing.x).toEqual({ [ID_HEADER.toLowerCase()]: c.networkCallId });
    }
    const text = JSON.stringify(items);
    expect(text).not.toContain(SIP_KEY);
    for (const c of legs.filter((p) => p.sipId === true && p.withheld !== true)) expect(text).not.toContain(c.caller.slice(2));
  });

  it('produces each match state where planted and nowhere else, and the drift totals equal the plan', async () => {
    const res = await apiGet(stack, '/v1/reports/network-drift', analyst, {
      networkId: NETWORK,
      from: new Date(T0 - 3_600_000).toISOString(),
      to: new Date(T0 + 24 * 3_600_000).toISOString(),
    });
    expect(res.status).toBe(200);
    const drift = res.body;
    expect(drift.pending).toBe(0);
    expect(drift.totals.calls).toBe(PLAN.length);
    expect(drift.totals.agreements).toBe(PLAN.filter((c) => c.state === 'matched').length);
    for (const state of ['duration_gap', 'billable_disagreement', 'attribution_conflict', 'claimed_not_received', 'received_not_claimed'] as const) {
      const planted = PLAN.filter((c) => c.state === state);
      expect(drift.totals.disagreements[state], state).toEqual({ calls: planted.length, atStakeCents: planted.reduce((s, c) => s + c.atStakeCents, 0) });
    }
    // Per publisher: each network publisher's calls (the conflict counts under the smaller name it was given).
    const byPublisher = new Map<string | null, number>();
    for (const row of drift.rows) byPublisher.set(row.publisher, (byPublisher.get(row.publisher) ?? 0) + row.calls);
    const expected = new Map<string | null, number>();
    for (const c of PLAN) {
      const p = c.state === 'received_not_claimed' ? null : c.otherPublisher !== undefined ? [c.publisher, c.otherPublisher].sort()[0]! : c.publisher;
      expected.set(p, (expected.get(p) ?? 0) + 1);
    }
    expect(byPublisher).toEqual(expected);
    // Gaps: the ones planted by minutes fall in the minutes buckets, the rest within 15 s.
    const gaps = Object.fromEntries(drift.totals.durationGap.map((g: { bucket: string; calls: number }) => [g.bucket, g.calls]));
    expect(gaps['61..300']).toBe(PLAN.filter((c) => c.state === 'duration_gap').length);
    expect(gaps['>=301'] + gaps['<=-301'] + gaps['16..60'] + gaps['-60..-16']).toBe(0);
  });

  it('opens disputes for the planted disagreements only, through the dispute use case where we hold a charge', async () => {
    const res = await apiGet(stack, '/v1/reports/network-drift', admin, {
      networkId: NETWORK,
      from: new Date(T0 - 3_600_000).toISOString(),
      to: new Date(T0 + 24 * 3_600_000).toISOString(),
    });
    const disputed = PLAN.filter((c) => c.disputedCents !== null);
    const disputes = res.body.disputes as { networkCallId: string; status: string; amountCents: number; callDisputeId: string | null; legCallId: string | null }[];
    expect(disputes.map((d) => d.networkCallId).sort()).toEqual(disputed.map((c) => c.networkCallId).sort());
    for (const d of disputes) {
      const c = disputed.find((p) => p.networkCallId === d.networkCallId)!;
      expect(d.status).toBe('open');
      expect(d.amountCents).toBe(c.disputedCents);
      expect(d.legCallId).toBe(callIdOf(c.callSid));
    }
    // A dispute on our own charge exists exactly for the disputed calls we charged.
    const ours = await allDisputes(stack, admin);
    const chargedAndDisputed = disputed.filter((c) => c.callSid !== null && c.legSec! >= 90)
      .map((c) => callIdOf(c.callSid));
    expect(ours.map((d) => d.callId).sort()).toEqual([...chargedAndDisputed].sort());
  });

  it('keeps the ledger our own: one charge per leg at or above the buffer, whatever the network claimed', async () => {
    const entries = await allLedgerEntries(stack, admin, { campaignId: CAMPAIGN });
    const billed = legs.filter((c) => c.legSec! >= 90);
    expect(entries.filter((e) => e.type === 'charge').map((e) => e.callId).sort()).toEqual(billed.map((c) => callIdOf(c.callSid)).sort());
    expect(entries.every((e) => e.publisherId === 'leadnet' && e.amountCents === PRICE)).toBe(true);
  });

  it('reconciles the network’s invoice through the same matches: its call ids read as our calls', async () => {
    const csv = ['call id,amount', ...claimed.map((c) => `${c.networkCallId},${c.payout}`)].join('\n');
    const res = await apiSend(stack, 'POST', '/v1/reconciliations', admin, { text: csv, contentType: 'text/csv' }, {
      publisherId: 'leadnet',
      networkId: NETWORK,
      from: new Date(T0 - 3_600_000).toISOString(),
      to: new Date(T0 + 24 * 3_600_000).toISOString(),
    });
    expect(res.status).toBe(200);
    const report = res.body.report;
    const ids = (list: { callId: string }[]) => list.map((m) => m.callId).sort();
    const legIds = (pred: (c: PlannedCall) => boolean) => PLAN.filter((c) => c.callSid !== null && c.networkCallId !== null && pred(c)).map((c) => callIdOf(c.callSid)).sort();
    expect(ids(report.matched)).toEqual(legIds((c) => c.payout === '45.00' && c.legSec! >= 90));
    expect(report.matched.every((m: { matchedBy: string }) => m.matchedBy === 'call_id')).toBe(true);
    expect(ids(report.amountMismatches)).toEqual(legIds((c) => c.payout !== '45.00'));
    expect(ids(report.nonBillable)).toEqual(legIds((c) => c.legSec! < 90));
    expect(report.missingOnOurSide).toHaveLength(PLAN.filter((c) => c.state === 'claimed_not_received').length);
    expect(ids(report.missingOnTheirSide)).toEqual(PLAN.filter((c) => c.state === 'received_not_claimed').map((c) => callIdOf(c.callSid)).sort());
  });

  it('shows the network’s publishers and sub-sources in the scorecard like any other source', async () => {
    const res = await apiGet(stack, '/v1/reports/sources', admin, {
      campaignId: CAMPAIGN,
      groupBy: 'subSource',
      basis: 'calls',
      from: new Date(T0 - 3_600_000).toISOString(),
      to: new Date(T0 + 24 * 3_600_000).toISOString(),
    });
    expect(res.status).toBe(200);
    const rows = new Map((res.body.rows as { publisherId: string; subSource: string | null; calls: number }[]).map((r) => [`${r.publisherId}|${r.subSource}`, r.calls]));
    const expected = new Map<string, number>();
    for (const c of legs) {
      const key = c.state === 'received_not_claimed' ? 'leadnet|null' : c.state === 'attribution_conflict' ? `${NETWORK}:${[c.publisher, c.otherPublisher!].sort()[0]}|${c.subSource}` : `${NETWORK}:${c.publisher}|${c.subSource}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    expect(rows).toEqual(expected);
  });
});
