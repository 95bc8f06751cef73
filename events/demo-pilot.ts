/**
 * `npm run demo -- --pilot`: a pilot campaign that hits its spend cap mid-stream, over the public API only.
 *
 * It sets up a fresh publisher, campaign and tracking number (PUT …), creates a pilot capped at 8 calls' worth
 * (POST /v1/pilots, with an Idempotency-Key and a local webhook receiver to notify), plays 24 signed Twilio calls
 * dated inside the pilot's window in a stream of 4 at a time, then follows GET /v1/pilots/{id} until the workflow
 * has closed the pilot and built its report, and prints the report (scorecard and CSV), the notifications received,
 * and whether the report matches the ledger. Exit 1 on any mismatch.
 *
 * The window opens CONFIG_LEAD_MS after the pilot is written; the calls are dated inside it, so nothing waits for
 * real time except the workflow's own waits (sped up when the demo starts its own stack).
 */
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { CONFIG_LEAD_MS } from '../shared/domain/catalog/config';
import { twilioSignature } from '../shared/domain/calls/providers/twilio';
import type { Seed } from '../shared/domain/catalog/seed';
import { rfc2822 } from './traffic';
import { twilioOf } from '../shared/domain/catalog/carriers';

export interface PilotDemoTarget {
  readonly baseUrl: string;
  readonly publicBaseUrl: string;
  readonly seed: Seed;
  readonly authTokens: Record<string, string>;
  readonly adminKeys: Record<string, string>;
}

const CALLS = 24;
const CAP_CALLS = 8;
const PRICE = 4500;

async function api(target: PilotDemoTarget, key: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${target.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, body: type.includes('json') && text !== '' ? JSON.parse(text) : text };
}

function must(r: { status: number; body: unknown }, ok: number[], what: string): any {
  if (!ok.includes(r.status)) throw new Error(`${what} answered ${r.status}: ${JSON.stringify(r.body).slice(0, 400)}`);
  return r.body;
}

const dollars = (cents: number | null) => (cents === null ? '—' : `$${(cents / 100).toFixed(2)}`);

/** Runs the pilot demo; resolves with the exit code. */
export async function runPilotDemo(target: PilotDemoTarget, timeoutMs: number): Promise<number> {
  const account = target.seed.accounts[0];
  const key = account ? target.adminKeys[account.accountId] : undefined;
  const token = account ? target.authTokens[account.accountId] : undefined;
  if (!account || !key || !token) throw new Error('the seed has no account with an admin key');
  const suffix = randomBytes(3).toString('hex');
  const publisherId = `pub-pilot-${suffix}`;
  const campaignId = `pilot-demo-${suffix}`;
  const number = `+1512555${String(8000 + Math.floor(Math.random() * 2000)).padStart(4, '0')}`;

  // A webhook receiver for the pilot's notifications.
  const received: { event: string; threshold?: number; state: string; spentCents: number }[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const notifyUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/pilot-events`;

  try {
    console.log(`pilot demo on account ${account.accountId}: publisher ${publisherId}, campaign ${campaignId}, number ${number}`);
    must(await api(target, key, 'PUT', `/v1/publishers/${publisherId}`, { name: 'Pilot publisher', trafficMethods: ['paid_search'], subSources: ['search', 'social'] }), [200, 201], 'PUT publisher');
    must(
      await api(target, key, 'PUT', `/v1/campaigns/${campaignId}`, { name: 'Pilot demo', vertical: 'home_services', terms: { priceCents: PRICE, bufferSec: 60, duplicateWindowHours: 24 } }),
      [200, 201],
      'PUT campaign',
    );
    must(await api(target, key, 'PUT', `/v1/tracking-numbers/${encodeURIComponent(number)}`, { campaignId, publisherId, subSource: 'search' }), [200, 201], 'PUT number');

    const startsAt = Date.now() + CONFIG_LEAD_MS + 15_000;
    const request = {
      campaignId,
      publisherIds: [publisherId],
      vertical: 'home_services',
      spendCapCents: CAP_CALLS * PRICE,
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(startsAt + 2 * 3_600_000).toISOString(),
      notify: [notifyUrl],
    };
    const pilot = must(await api(target, key, 'POST', '/v1/pilots', request, { 'idempotency-key': `demo-${suffix}` }), [201], 'POST /v1/pilots');
    console.log(`created ${pilot.pilotId}: cap ${dollars(pilot.spendCapCents)} (${CAP_CALLS} calls at ${dollars(PRICE)}), window ${pilot.startsAt} → ${pilot.endsAt}, state ${pilot.state}`);

    // The stream: 24 calls of 2 minutes, one every 30 s of window time, 4 webhooks sets in flight at once.
    const accountSid = twilioOf(account).accountSid;
    const url = `${target.publicBaseUrl}/webhooks/twilio/${account.accountId}`;
    const post = async (form: Record<string, string>) => {
      const res = await fetch(`${target.baseUrl}/webhooks/twilio/${account.accountId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(token, url, form) },
        body: new URLSearchParams(form).toString(),
      });
      await res.body?.cancel();
      if (res.status !== 204) throw new Error(`webhook answered ${res.status}`);
    };
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < CALLS; i = next++) {
        const callSid = `CA${randomBytes(16).toString('hex')}`;
        const from = `+1206${200 + Math.floor(Math.random() * 700)}${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
        const base = { AccountSid: accountSid, ApiVersion: '2010-04-01', CallSid: callSid, Direction: 'inbound', From: from, To: number, Caller: from, Called: number };
        await post({ ...base, CallStatus: 'ringing' });
        const endMs = startsAt + 10_000 + i * 30_000 + 120_000;
        await post({ ...base, CallStatus: 'completed', CallDuration: '120', Duration: '2', Timestamp: rfc2822(endMs), SequenceNumber: '0', CallbackSource: 'call-progress-events' });
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    console.log(`played ${CALLS} calls; following the pilot…`);

    const deadline = Date.now() + timeoutMs;
    let view: any;
    let last = '';
    for (;;) {
      view = must(await api(target, key, 'GET', `/v1/pilots/${pilot.pilotId}`), [200], 'GET pilot');
      const line = `  ${view.state}: spent ${dollars(view.spentCents)} of ${dollars(view.spendCapCents)} (${view.percentOfCap} %), ${view.billableCalls} billable, ${view.nonBillableCalls} not`;
      if (line !== last) console.log(line);
      last = line;
      if (view.report !== null) break;
      if (Date.now() > deadline) throw new Error(`the pilot was not reported within ${timeoutMs / 1000} s (state ${view.state})`);
      await new Promise((r) => setTimeout(r, 1000));
    }

    const report = must(await api(target, key, 'GET', `/v1/pilots/${pilot.pilotId}/report`), [200], 'GET report');
    const csv = must(await api(target, key, 'GET', `/v1/pilots/${pilot.pilotId}/report?format=csv`), [200], 'GET report CSV') as string;
    const ledger = must(await api(target, key, 'GET', `/v1/ledger?${new URLSearchParams({ campaignId, limit: '100' })}`), [200], 'GET ledger');
    const charges = (ledger.entries as { type: string; pilotId?: string; amountCents: number }[]).filter((e) => e.type === 'charge' && e.pilotId === pilot.pilotId);
    const ledgerCents = charges.reduce((a, e) => a + e.amountCents, 0);

    console.log(`\npilot report (${report.state}, closed on ${report.closedReason} at ${report.closedAt}):\n`);
    console.log('  publisher / sub-source          calls  billable  not   spend      net        per billable');
    const row = (label: string, r: any) =>
      console.log(
        `  ${label.padEnd(32)} ${String(r.calls).padStart(5)}  ${String(r.billableCalls).padStart(8)}  ${String(r.nonBillableCalls).padStart(3)}   ${dollars(r.spendCents).padEnd(10)} ${dollars(r.netCents).padEnd(10)} ${dollars(r.costPerBillableCallCents)}`,
      );
    for (const p of report.publishers) {
      for (const s of p.subSources) row(`${p.publisherId} / ${s.subSource ?? '(none)'}`, s);
      row(`${p.publisherId} (all)`, p);
    }
    row('total', report.totals);
    console.log(`  reasons: ${JSON.stringify(report.totals.reasons)}`);
    console.log(`\nreport CSV:\n${csv}`);
    console.log(`notifications: ${received.map((n) => `${n.event}${n.threshold ? ` ${n.threshold} %` : ''}`).join(', ')}`);
    console.log(`report JSON and CSV in S3: ${view.report.json.split('?')[0]}`);

    const ok = charges.length === CAP_CALLS && ledgerCents === CAP_CALLS * PRICE && report.totals.spendCents === ledgerCents && report.ledgerMatchesCounter === true;
    console.log(
      ok
        ? `\nexactly the cap was charged (${charges.length} calls, ${dollars(ledgerCents)}); the report matches the ledger`
        : `\nMISMATCH: ledger ${charges.length} charges / ${dollars(ledgerCents)}, report ${dollars(report.totals.spendCents)}, counter match ${report.ledgerMatchesCounter}`,
    );
    return ok ? 0 : 1;
  } finally {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }
}
