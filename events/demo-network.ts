/**
 * The demo's network source, beside the direct publishers: a tracking platform (Ringba-style pixels) forwards calls
 * from three publishers and six sub-sources to one line of the buyer. The demo registers the network
 * (PUT /v1/networks, the postback secret shown once), assigns the line, plays the calls as signed Twilio callbacks
 * and the network's pixels late, duplicated and out of order (with one duration off by minutes, one call the network
 * counts below our buffer, one claim with no call and one call with no claim), then prints the drift report and the
 * scorecard by sub-source, and checks them against what it planted (exit 1 on any difference).
 *
 * Configuration changes take effect 60 s after they are written (config.ts), so the line is assigned from a minute
 * ahead and the calls are dated after that: they are rated at once under the assignment in force when they start.
 * A claim with no call and a call with no claim settle only an hour after they start (attribution.ts), so the demo
 * shows them as pending.
 */
import { randomBytes } from 'node:crypto';
import { twilioSignature } from '../shared/domain/calls/providers/twilio';
import { mulberry32 } from './prng';
import { rfc2822 } from './traffic';

export interface NetworkDemoTarget {
  readonly baseUrl: string;
  readonly publicBaseUrl: string;
  readonly adminKey: string;
  readonly accountId: string;
  readonly accountSid: string;
  readonly authToken: string;
  readonly waitForIdle?: (timeoutMs?: number) => Promise<void>;
}

const LINE = '+15125550199';
const NETWORK = 'leadnet-ringba';
const PUBLISHER = 'leadnet';
const CAMPAIGN = 'network-demo';
const PRICE_CENTS = 4500;
const SOURCES: readonly [string, string][] = [
  ['Acme Leads', 'fb-spring'],
  ['Acme Leads', 'fb-summer'],
  ['Blue Media', 'g-search'],
  ['Blue Media', 'g-display'],
  ['Cobalt Calls', 'tiktok'],
  ['Cobalt Calls', 'native'],
];

type State = 'matched' | 'duration_gap' | 'billable_disagreement' | 'claimed_not_received' | 'received_not_claimed';

interface NetworkCall {
  readonly state: State;
  readonly callSid: string | null;
  readonly networkCallId: string | null;
  readonly caller: string;
  readonly publisher: string;
  readonly subSource: string;
  readonly startMs: number;
  readonly legSec: number;
  readonly claimSec: number;
}

class NetworkDemoError extends Error {}

async function api(t: NetworkDemoTarget, method: string, path: string, body?: unknown, query: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const qs = new URLSearchParams(query).toString();
  const res = await fetch(`${t.baseUrl}${path}${qs ? `?${qs}` : ''}`, {
    method,
    headers: { authorization: `Bearer ${t.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text) };
}

function expectStatus(what: string, got: { status: number; body: unknown }, ok: readonly number[]): void {
  if (!ok.includes(got.status)) throw new NetworkDemoError(`${what} answered ${got.status}: ${JSON.stringify(got.body).slice(0, 300)}`);
}

/** A caller in the fictional 555-01xx range of the 737 area code (the generator's callers are elsewhere). */
function caller(random: () => number): string {
  return `+1737555${String(100 + Math.floor(random() * 100)).padStart(3, '0')}${Math.floor(random() * 10)}`;
}

/** Registers (or, on a running stack, re-reads and rotates) the network; the pixel URLs with the secret. */
async function setUp(t: NetworkDemoTarget, effectiveFrom: string): Promise<Record<string, string>> {
  expectStatus('PUT /v1/publishers/leadnet', await api(t, 'PUT', `/v1/publishers/${PUBLISHER}`, { name: 'LeadNet (a Ringba network)', trafficMethods: ['affiliate'] }), [200, 201]);
  const terms = { priceCents: PRICE_CENTS, bufferSec: 90, duplicateWindowHours: 24 };
  expectStatus('PUT /v1/campaigns/network-demo', await api(t, 'PUT', `/v1/campaigns/${CAMPAIGN}`, { name: 'Roofing via LeadNet', vertical: 'home_services', terms, effectiveFrom }), [200, 201]);
  expectStatus(`PUT /v1/tracking-numbers/${LINE}`, await api(t, 'PUT', `/v1/tracking-numbers/${LINE}`, { campaignId: CAMPAIGN, publisherId: PUBLISHER, effectiveFrom }), [200, 201]);
  const registration = {
    kind: 'ringba',
    name: 'LeadNet on Ringba',
    destinations: [LINE],
    fields: { startedAt: { param: 'start', token: null }, durationSec: { param: 'duration', token: null } },
    creditPolicy: { mode: 'propose', windowDays: 30 },
  };
  const put = await api(t, 'PUT', `/v1/networks/${NETWORK}`, registration);
  expectStatus('PUT /v1/networks/leadnet-ringba', put, [200, 201]);
  if (put.status === 201) return put.body.issued.pixelUrls as Record<string, string>;
  // A running stack registered it on an earlier run: its secret was shown then; take a fresh one.
  const rotated = await api(t, 'POST', `/v1/networks/${NETWORK}/rotate-secret`, { overlapSec: 0 });
  expectStatus('POST /v1/networks/leadnet-ringba/rotate-secret', rotated, [200]);
  return rotated.body.issued.pixelUrls as Record<string, string>;
}

function planCalls(firstStartMs: number, random: () => number): NetworkCall[] {
  const calls: NetworkCall[] = [];
  const add = (state: State, source: number, legSec: number, claimSec: number) => {
    const [publisher, subSource] = SOURCES[source]!;
    const i = calls.length;
    calls.push({
      state,
      callSid: state === 'claimed_not_received' ? null : `CA${randomBytes(16).toString('hex')}`,
      networkCallId: state === 'received_not_claimed' ? null : `RGB${randomBytes(6).toString('hex')}`,
      caller: caller(random),
      publisher,
      subSource,
      startMs: firstStartMs + i * 7_000,
      legSec,
      claimSec,
    });
  };
  for (let s = 0; s < SOURCES.length; s++) for (let k = 0; k < 3; k++) add('matched', s, 120 + Math.floor(random() * 200), 0);
  add('duration_gap', 2, 200, 0);
  add('billable_disagreement', 4, 35, 0);
  add('claimed_not_received', 1, 0, 140);
  add('received_not_claimed', 5, 160, 0);
  // The network measures from its IVR: a few seconds longer, or minutes for the planted gap.
  return calls.map((c) => ({ ...c, claimSec: c.claimSec > 0 ? c.claimSec : c.state === 'duration_gap' ? c.legSec + 180 : c.legSec + Math.floor(random() * 6) }));
}

async function twilioPost(t: NetworkDemoTarget, form: [string, string][]): Promise<void> {
  const url = `${t.publicBaseUrl}/webhooks/twilio/${t.accountId}`;
  const res = await fetch(`${t.baseUrl}/webhooks/twilio/${t.accountId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(t.authToken, url, Object.fromEntries(form)) },
    body: new URLSearchParams(form).toString(),
  });
  if (res.status !== 204) throw new NetworkDemoError(`a Twilio callback answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
}

async function playLeg(t: NetworkDemoTarget, c: NetworkCall): Promise<void> {
  const base: [string, string][] = [
    ['AccountSid', t.accountSid],
    ['CallSid', c.callSid!],
    ['Direction', 'inbound'],
    ['From', c.caller],
    ['To', LINE],
    ['StirVerstat', 'TN-Validation-Passed-A'],
  ];
  await twilioPost(t, [...base, ['CallStatus', 'ringing']]);
  const endMs = c.startMs + c.legSec * 1000;
  await twilioPost(t, [...base, ['CallStatus', 'completed'], ['Timestamp', rfc2822(endMs)], ['SequenceNumber', '0'], ['CallDuration', String(c.legSec)], ['Duration', String(Math.ceil(c.legSec / 60))]]);
}

/** The pasted pixel URLs with Ringba's tokens replaced, plus the start and duration parameters the buyer mapped. */
function pixelsOf(urls: Record<string, string>, c: NetworkCall): string[] {
  const start = new Date(c.startMs - 15_000).toISOString();
  const fill = (event: string, revenue: string) =>
    `${urls[event]!.replace('[Call:InboundCallId]', c.networkCallId!)
      .replace('[tag:InboundNumber:Number]', encodeURIComponent(c.caller))
      .replace('[tag:Publisher:Name]', encodeURIComponent(c.publisher))
      .replace('[tag:Publisher:SubId]', encodeURIComponent(c.subSource))
      .replace('[Call:ConversionAmount]', revenue)}&start=${encodeURIComponent(start)}${event === 'incoming' ? '' : `&duration=${c.claimSec}`}`;
  return [fill('incoming', '[Call:ConversionAmount]'), fill('completed', '0'), fill('converted', (PRICE_CENTS / 100).toFixed(2))];
}

async function firePixel(t: NetworkDemoTarget, url: string): Promise<void> {
  const u = new URL(url);
  const res = await fetch(`${t.baseUrl}${u.pathname}${u.search}`);
  if (res.status !== 204) throw new NetworkDemoError(`a pixel answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Polls until every played leg carries its network side (or the deadline passes). */
async function waitForMatches(t: NetworkDemoTarget, calls: readonly NetworkCall[], timeoutMs: number): Promise<void> {
  await t.waitForIdle?.(timeoutMs).catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let done = 0;
    const legs = calls.filter((c) => c.callSid !== null);
    for (const c of legs) {
      const got = await api(t, 'GET', `/v1/calls/${encodeURIComponent(`twilio:${c.callSid}`)}`);
      if (got.status === 200 && got.body.network?.state === c.state) done += 1;
    }
    if (done === legs.length || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function checkDrift(drift: any, calls: readonly NetworkCall[], differences: string[]): void {
  const pairs = calls.filter((c) => c.state !== 'claimed_not_received' && c.state !== 'received_not_claimed');
  if (drift.totals.agreements !== pairs.filter((c) => c.state === 'matched').length) differences.push(`agreements ${drift.totals.agreements}`);
  for (const s of ['duration_gap', 'billable_disagreement'] as const) {
    const n = calls.filter((c) => c.state === s).length;
    if (drift.totals.disagreements[s].calls !== n) differences.push(`${s}: ${drift.totals.disagreements[s].calls} calls, planted ${n}`);
  }
  const lone = calls.length - pairs.length;
  if (drift.pending !== lone) differences.push(`pending ${drift.pending}, planted ${lone} (a lone side settles an hour after its start)`);
}

/** The network phase of `npm run demo`; 0 when everything answered as planted, 1 otherwise. */
export async function runNetworkDemo(t: NetworkDemoTarget, seed: number, timeoutMs: number): Promise<number> {
  const random = mulberry32(seed ^ 0x7e7);
  const effectiveMs = Math.ceil((Date.now() + 61_000) / 1000) * 1000;
  try {
    const pixelUrls = await setUp(t, new Date(effectiveMs).toISOString());
    const calls = planCalls(effectiveMs + 5_000, random);
    const claimed = calls.filter((c) => c.networkCallId !== null);
    console.log(
      `\na network source: ${NETWORK} forwards ${calls.length - 1} calls from 3 publishers and 6 sub-sources to ${LINE}; ` +
        `paste into Ringba: ${pixelUrls.converted!.replace(/\/[A-Za-z0-9_-]{43}\?/, '/<secret>?')}`,
    );
    const pixels = claimed.map((c) => pixelsOf(pixelUrls, c));
    // Half the pixels before the calls (out of order with them), half after (late), shuffled, a few twice.
    const early = shuffle(pixels.filter((_, i) => i % 2 === 0).flat(), random);
    const late = shuffle(pixels.filter((_, i) => i % 2 === 1).flat(), random);
    for (const p of early) await firePixel(t, p);
    for (const c of calls) if (c.callSid !== null) await playLeg(t, c);
    for (const p of [...late, ...early.slice(0, 6)]) await firePixel(t, p);
    await waitForMatches(t, calls, timeoutMs);

    const range = { from: new Date(effectiveMs - 3_600_000).toISOString(), to: new Date(effectiveMs + 3_600_000).toISOString() };
    const drift = await api(t, 'GET', '/v1/reports/network-drift', undefined, { networkId: NETWORK, ...range });
    expectStatus('GET /v1/reports/network-drift', drift, [200]);
    console.log('\nnetwork drift (their count against ours), per day and publisher:\n');
    for (const row of drift.body.rows) {
      const off = Object.entries(row.disagreements as Record<string, { calls: number; atStakeCents: number }>)
        .filter(([, v]) => v.calls > 0)
        .map(([k, v]) => `${k} ${v.calls} ($${(v.atStakeCents / 100).toFixed(2)})`)
        .join(', ');
      console.log(`  ${row.day}  ${String(row.publisher ?? '(no claim)').padEnd(14)} calls ${row.calls}, agreements ${row.agreements}${off ? `, ${off}` : ''}`);
    }
    console.log(`  pending (settle an hour after start): ${drift.body.pending}; disputes proposed: ${drift.body.proposals.length}`);

    const card = await api(t, 'GET', '/v1/reports/sources', undefined, { campaignId: CAMPAIGN, groupBy: 'subSource', basis: 'calls', ...range });
    expectStatus('GET /v1/reports/sources', card, [200]);
    console.log('\nscorecard of the network campaign by sub-source (network publishers like any other):\n');
    for (const r of card.body.rows) console.log(`  ${String(r.publisherId).padEnd(28)} ${String(r.subSource ?? '-').padEnd(10)} calls ${r.calls}, billable ${r.billable}`);

    const differences: string[] = [];
    checkDrift(drift.body, calls, differences);
    const rows = new Map((card.body.rows as { publisherId: string; subSource: string | null; calls: number }[]).map((r) => [`${r.publisherId}|${r.subSource}`, r.calls]));
    for (const c of calls) {
      if (c.callSid === null) continue;
      const key = c.state === 'received_not_claimed' ? `${PUBLISHER}|null` : `${NETWORK}:${c.publisher}|${c.subSource}`;
      if (!rows.has(key)) differences.push(`the scorecard has no row ${key}`);
    }
    if (differences.length > 0) {
      console.log('\nthe network source does NOT match what was planted:');
      for (const d of differences) console.log(`  - ${d}`);
      return 1;
    }
    console.log('\nnetwork calls attributed to their publishers and sub-sources; drift matches what was planted');
    return 0;
  } catch (err) {
    if (!(err instanceof NetworkDemoError)) throw err;
    console.log(`\nnetwork step failed: ${err.message}`);
    return 1;
  }
}
