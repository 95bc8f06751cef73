/**
 * Reports, on the whole local stack over HTTP, with planted truth:
 * three publishers on one campaign (bands: $20.00 under 120 s, $35.00 from 120 s; buffer 60 s):
 * - `pub-cheap`: short calls (70–119 s, $20.00 each), none ever books → cut;
 * - `pub-dear`: long calls (≥ 120 s, $35.00 each), 30 of 40 book (15 of them close) → scale;
 * - `pub-mixed`: half short, half long, 6 of 40 book (2 close) → hold (the interval straddles the ceiling).
 * Every booked call lasts 120 s or more, and several last exactly 120 s, while the cheap calls reach 119 s: the
 * buffer that minimises the cost per booked job while paying for ≥ 90 % of the booked jobs is 120 s (planted).
 * Outcomes are posted by call id and by caller + time. The scorecard is checked against an independent
 * computation from what the test played, and the tuner's recommendation against the planted 120 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { TwilioSender, apiKey, newCallSid, newCaller, writeSeed, type CallSpec } from '../../support/e2e-harness';

const ACCOUNT = 'acct-r5';
const CAMPAIGN = 'camp-r5';
const PUBS = ['pub-cheap', 'pub-dear', 'pub-mixed'] as const;
type Pub = (typeof PUBS)[number];
const NUMBERS: Record<Pub, string> = { 'pub-cheap': '+15125550601', 'pub-dear': '+15125550602', 'pub-mixed': '+15125550603' };
const ECONOMICS = { avgCustomerMarginCents: 100_000, closeRate: 0.5, targetShare: 0.5 };

interface Played {
  readonly pub: Pub;
  readonly call: CallSpec;
  readonly startMs: number;
  readonly durationSec: number;
  readonly outcome: 'booked' | 'closed' | null;
  readonly byCallerTime: boolean;
}

let stack: LocalStack;
let twilio: TwilioSender;
let admin: string;
const played: Played[] = [];

function seed() {
  return {
    accounts: [
      {
        accountId: ACCOUNT,
        name: 'Reports acceptance',
        timeZone: 'America/Chicago',
        currency: 'USD',
        twilio: { accountSid: 'AC5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e', authTokenSecret: `twilio/${ACCOUNT}/auth-token` },
      },
    ],
    apiKeys: [{ accountId: ACCOUNT, role: 'admin', label: 'r5-admin' }],
    publishers: PUBS.map((publisherId) => ({ accountId: ACCOUNT, publisherId, name: publisherId })),
    campaigns: [
      {
        accountId: ACCOUNT,
        campaignId: CAMPAIGN,
        name: 'Reports acceptance',
        vertical: 'home_services',
        geography: null,
        hours: null,
        terms: {
          priceCents: 2000,
          bufferSec: 60,
          durationBasis: 'total',
          qualification: null,
          duplicateWindowHours: 72,
          duplicateScope: 'campaign',
          priceBands: [{ fromSec: 120, priceCents: 3500 }],
          overrides: [],
        },
        economics: ECONOMICS,
      },
    ],
    trackingNumbers: PUBS.map((publisherId) => ({ accountId: ACCOUNT, number: NUMBERS[publisherId], campaignId: CAMPAIGN, publisherId, subSource: null })),
  };
}

/** The planted calls: per publisher, 40 calls with their duration and outcome. */
function plan(): Omit<Played, 'call' | 'startMs' | 'byCallerTime'>[] {
  const out: Omit<Played, 'call' | 'startMs' | 'byCallerTime'>[] = [];
  for (let i = 0; i < 40; i++) out.push({ pub: 'pub-cheap', durationSec: 70 + ((i * 7) % 50), outcome: null }); // 70..119 s
  out.push({ pub: 'pub-cheap', durationSec: 119, outcome: null });
  for (let i = 0; i < 40; i++) {
    // Booked calls: 5 of them exactly 120 s (so a buffer above 120 loses more than 10 % of the booked jobs).
    const booked = i < 30;
    out.push({ pub: 'pub-dear', durationSec: booked && i < 5 ? 120 : 125 + ((i * 13) % 170), outcome: booked ? (i % 2 === 0 ? 'closed' : 'booked') : null });
  }
  for (let i = 0; i < 40; i++) {
    const long = i % 2 === 0;
    const booked = long && i < 12; // 6 booked, all long
    out.push({ pub: 'pub-mixed', durationSec: long ? (booked && i < 4 ? 120 : 130 + i) : 65 + i, outcome: booked ? (i < 4 ? 'closed' : 'booked') : null });
  }
  return out;
}

const PRICE = (sec: number) => (sec >= 120 ? 3500 : 2000);

async function api(method: string, path: string, body?: unknown, accept = 'application/json') {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, accept, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), text, json: () => JSON.parse(text) };
}

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true, seedFile: (await writeSeed(seed())).file });
  twilio = new TwilioSender(stack, ACCOUNT);
  admin = apiKey(stack, ACCOUNT, 'admin');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

describe('booked revenue by source, planted truth', () => {
  it('plays the calls and posts their outcomes by id and by caller + time', async () => {
    const t0 = Math.floor((Date.now() - 6 * 3_600_000) / 1000) * 1000;
    const planned = plan();
    await Promise.all(
      planned.map(async (p, i) => {
        const call: CallSpec = { callSid: newCallSid(), from: newCaller(), to: NUMBERS[p.pub] };
        const startMs = t0 + i * 60_000;
        played.push({ ...p, call, startMs, byCallerTime: i % 3 === 0 });
        await twilio.deliver(twilio.ringing(call));
        await twilio.deliver(twilio.terminal(call, 'completed', startMs + p.durationSec * 1000, p.durationSec));
      }),
    );
    await stack.waitForIdle(60_000);

    const outcomes = played
      .filter((p) => p.outcome !== null)
      .map((p, i) => ({
        externalId: `crm-${i}`,
        // When the job was booked: an hour after the call. Matched by caller + that time, or named by call id.
        occurredAt: new Date(p.startMs + 3_600_000).toISOString(),
        ...(p.byCallerTime ? { callerNumber: p.call.from } : { callId: `twilio:${p.call.callSid}` }),
        status: p.outcome,
        revenueCents: p.outcome === 'closed' ? 500_000 : 0,
        marginCents: p.outcome === 'closed' ? 100_000 : 0,
      }));
    expect(outcomes.some((o) => 'callerNumber' in o) && outcomes.some((o) => 'callId' in o)).toBe(true);
    const posted = await api('POST', '/v1/outcomes', { outcomes });
    expect(posted.status).toBe(200);
    const results = posted.json().results as { result: string; matchedCallId: string | null }[];
    expect(results.map((r) => r.result)).toEqual(outcomes.map(() => 'created'));
    // Each outcome landed on its call, whichever way it was matched.
    const booked = played.filter((p) => p.outcome !== null);
    expect(results.map((r) => r.matchedCallId)).toEqual(booked.map((p) => `twilio:${p.call.callSid}`));
  });

  it('the scorecard equals an independent computation, and says cut / scale / hold', async () => {
    const from = new Date(played.reduce((m, p) => Math.min(m, p.startMs), Infinity) - 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const res = await api('GET', `/v1/reports/sources?campaignId=${CAMPAIGN}&from=${from}&to=${to}&groupBy=publisher`);
    expect(res.status).toBe(200);
    const report = res.json();
    const rows = new Map<string, any>(report.rows.map((r: any) => [r.publisherId, r]));
    expect([...rows.keys()].sort()).toEqual([...PUBS]);

    // Independent: from what was played.
    for (const pub of PUBS) {
      const mine = played.filter((p) => p.pub === pub);
      const spend = mine.reduce((s, p) => s + PRICE(p.durationSec), 0);
      const booked = mine.filter((p) => p.outcome !== null).length;
      const closed = mine.filter((p) => p.outcome === 'closed').length;
      expect(rows.get(pub)).toMatchObject({
        calls: mine.length,
        connected: mine.length,
        billable: mine.length,
        netSpendCents: spend,
        booked,
        closed,
        revenueCents: closed * 500_000,
        costPerBillableCallCents: Math.round(spend / mine.length),
        costPerBookedJobCents: booked === 0 ? null : Math.round(spend / booked),
      });
    }
    expect(Object.fromEntries(PUBS.map((p) => [p, rows.get(p).verdict]))).toEqual({ 'pub-cheap': 'cut', 'pub-dear': 'scale', 'pub-mixed': 'hold' });

    // The ceiling: close rate measured (enough billable and closed calls), max price = margin × rate × share.
    const billable = played.length;
    const closedAll = played.filter((p) => p.outcome === 'closed').length;
    const bookedAll = played.filter((p) => p.outcome !== null).length;
    const maxPrice = Math.floor(ECONOMICS.avgCustomerMarginCents * (closedAll / billable) * ECONOMICS.targetShare + 1e-6);
    expect(report.ceiling).toMatchObject({ closeRateSource: 'measured', maxPricePerCallCents: maxPrice, maxCostPerBookedJobCents: Math.floor((maxPrice * billable) / bookedAll) });

    // The same as CSV.
    const csv = await api('GET', `/v1/reports/sources?campaignId=${CAMPAIGN}&from=${from}&to=${to}&groupBy=publisher`, undefined, 'text/csv');
    expect(csv.status).toBe(200);
    expect(csv.type).toMatch(/^text\/csv/);
    expect(csv.text.trim().split(/\r?\n/)).toHaveLength(1 + PUBS.length + 1);
  });

  it('the tuner recommends the planted buffer (120 s) and shows the current one (60 s)', async () => {
    const from = new Date(played.reduce((m, p) => Math.min(m, p.startMs), Infinity) - 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const res = await api('GET', `/v1/reports/threshold?campaignId=${CAMPAIGN}&from=${from}&to=${to}&min=0&max=600&step=5`);
    expect(res.status).toBe(200);
    const t = res.json();
    expect(t.currentBufferSec).toBe(60);
    expect(t.recommendedBufferSec).toBe(120);
    expect(t.points).toHaveLength(121);
    // Independent check of one point: at 120 s only the long calls bill.
    const at120 = t.points.find((p: any) => p.bufferSec === 120);
    const long = played.filter((p) => p.durationSec >= 120);
    expect(at120).toMatchObject({ billable: long.length, spendCents: long.length * 3500, bookedCaptured: played.filter((p) => p.outcome !== null).length });
  });
});
