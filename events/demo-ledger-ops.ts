/**
 * The second half of `npm run demo`: after the traffic has been checked against its ground truth, walks
 * the buyer's back office over HTTP with an admin key:
 *
 *   1. terms      GET the campaign (version in force), schedule a v2 for next month, explain two ratings rule by rule
 *   2. disputes   open two disputes on the junk publisher's charges, accept one (credit), reject the other
 *   3. statement  the publisher's month: charges, credits, net payable, digest
 *   4. invoice    reconcile a publisher invoice CSV built from our own calls, with planted discrepancies
 *
 * Every request names the statuses it expects; any other is a StepError and the demo exits 1. Re-running against a
 * long-lived stack (npm start) is safe: an identical terms PUT adds no version and a dispute opened by an earlier
 * run is shown as it stands instead of being resolved again. Caller numbers are never printed.
 */
import type { StatementResponse } from '../shared/app/ledger/statements';
import { maskNumber } from '../shared/domain/calls/caller';
import { wallTime, zonedToUtcMs } from '../shared/domain/kernel/zoned-time';

export interface OpsContext {
  readonly baseUrl: string;
  readonly adminKey: string;
  /** The account's IANA time zone (statement periods are months in it). */
  readonly timeZone: string;
  readonly campaignId: string;
  /** The publisher whose charges are disputed and whose invoice is reconciled. */
  readonly publisherId: string;
  /** Call ids the demo just played (the disputes and rating examples are picked among them), and their time range. */
  readonly playedCallIds: ReadonlySet<string>;
  readonly playedRange: { readonly from: string; readonly to: string };
  readonly now?: () => Date;
}

/** A request answered with a status the step did not expect. */
export class StepError extends Error {}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

interface ApiCallItem {
  readonly callId: string;
  readonly publisherId: string | null;
  readonly billable: boolean;
  readonly amountCents: number;
  readonly reasons: readonly string[];
  readonly startedAt: string | null;
}

interface LedgerItem {
  readonly callId: string;
  readonly type: string;
  readonly amountCents: number;
}

interface Totals {
  readonly chargesCents: number;
  readonly creditsCents: number;
  readonly reversalsCents: number;
  readonly netCents: number;
  readonly count: number;
}

interface Override {
  readonly when: { readonly kind: string; readonly tag?: string; readonly digits?: string };
  readonly priceCents: number;
}

interface TermsVersionView {
  readonly version: number;
  readonly effectiveFrom: string;
  readonly priceCents: number;
  readonly bufferSec: number;
  readonly duplicateWindowHours: number;
  readonly durationBasis: string;
  readonly overrides: readonly Override[];
  readonly [k: string]: unknown;
}

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const money = (cents: number) => usd.format(cents / 100);

/** Anything that looks like a phone number is masked before it is printed (rule inputs should hold none). */
function masked(value: unknown): string {
  if (typeof value === 'string') return /^\+\d{8,15}$/.test(value) ? maskNumber(value) : value;
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' && /^\+\d{8,15}$/.test(v) ? maskNumber(v) : v));
}

function problemDetail(body: unknown): string {
  if (body !== null && typeof body === 'object' && 'detail' in body && typeof body.detail === 'string') return body.detail;
  return masked(body).slice(0, 200);
}

class Api {
  constructor(private readonly ctx: OpsContext) {}

  async request(
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    options: { query?: Record<string, string>; json?: unknown; csv?: string; expect: readonly number[] },
  ): Promise<Answer> {
    const query = options.query ? `?${new URLSearchParams(options.query)}` : '';
    const headers: Record<string, string> = { authorization: `Bearer ${this.ctx.adminKey}` };
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.csv !== undefined) {
      headers['content-type'] = 'text/csv';
      body = options.csv;
    }
    const res = await fetch(`${this.ctx.baseUrl}${path}${query}`, { method, headers, body, signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON: kept as text for the error message.
    }
    if (!options.expect.includes(res.status)) {
      throw new StepError(`${method} ${path} answered ${res.status} (expected ${options.expect.join(' or ')}): ${problemDetail(parsed)}`);
    }
    return { status: res.status, body: parsed };
  }

  async get<T>(path: string, query?: Record<string, string>): Promise<T> {
    return (await this.request('GET', path, { ...(query ? { query } : {}), expect: [200] })).body as T;
  }

  async all<T>(path: string, key: string, query: Record<string, string>): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | null = null;
    do {
      const page: Record<string, unknown> = await this.get<Record<string, unknown>>(path, { ...query, limit: '100', ...(cursor ? { cursor } : {}) });
      out.push(...(page[key] as T[]));
      cursor = (page.cursor as string | null) ?? null;
    } while (cursor !== null);
    return out;
  }
}

function heading(title: string): void {
  console.log(`\n== ${title}`);
}

/** Left-aligned first column, right-aligned others. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (row: readonly string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].map((l) => `  ${l}`).join('\n');
}

function describeTerms(t: TermsVersionView): string {
  const overrides = t.overrides.map((o) => `, ${o.when.kind} ${o.when.tag ?? o.when.digits ?? ''} pays ${money(o.priceCents)}`).join('');
  return `${money(t.priceCents)} per call, buffer ${t.bufferSec} s (${t.durationBasis}), duplicate window ${t.duplicateWindowHours} h${overrides}`;
}

/** The first instant of the month after `nowMs` in `timeZone`, at least `leadMs` ahead. */
function nextMonthStart(nowMs: number, timeZone: string, leadMs: number): string {
  const w = wallTime(nowMs, timeZone);
  for (let ahead = 1; ; ahead++) {
    const month0 = w.month - 1 + ahead;
    const at = zonedToUtcMs({ year: w.year + Math.floor(month0 / 12), month: (month0 % 12) + 1, day: 1 }, timeZone);
    if (at >= nowMs + leadMs) return new Date(at).toISOString();
  }
}

function periodOf(iso: string, timeZone: string): string {
  const w = wallTime(Date.parse(iso), timeZone);
  return `${w.year}-${String(w.month).padStart(2, '0')}`;
}

// ------------------------------------------------------------------------------------------------ 1. terms

async function terms(api: Api, ctx: OpsContext, calls: readonly ApiCallItem[], nowMs: number): Promise<void> {
  heading(`terms: GET /v1/campaigns/${ctx.campaignId}`);
  const campaign = await api.get<{
    name: string;
    vertical: string;
    geography: unknown;
    hours: unknown;
    termsInForce: TermsVersionView | null;
    termsVersions: TermsVersionView[];
  }>(`/v1/campaigns/${ctx.campaignId}`);
  const inForce = campaign.termsInForce;
  console.log(`  ${campaign.name}: terms v${inForce?.version ?? '-'} in force${inForce ? `, ${describeTerms(inForce)}` : ''}`);

  // A contract change is a new version, effective in the future (≥ 60 s by design): the demo schedules one for next
  // month and does not wait for it. A tag override is used so that no call the demo plays is priced differently.
  const latest = campaign.termsVersions.reduce((a, b) => (b.version > a.version ? b : a));
  const { version: _v, effectiveFrom: _e, createdAt: _c, ...latestTerms } = latest;
  const storm: Override = { when: { kind: 'tag', tag: 'storm-surge' }, priceCents: 6000 };
  const hasStorm = latest.overrides.some((o) => JSON.stringify(o) === JSON.stringify(storm));
  const put = await api.request('PUT', `/v1/campaigns/${ctx.campaignId}`, {
    json: {
      name: campaign.name,
      vertical: campaign.vertical,
      geography: campaign.geography,
      hours: campaign.hours,
      terms: { ...latestTerms, overrides: hasStorm ? latest.overrides : [...latest.overrides, storm] },
      effectiveFrom: nextMonthStart(nowMs, ctx.timeZone, 120_000),
    },
    expect: [200],
  });
  const after = put.body as { termsInForce: TermsVersionView | null; termsVersions: TermsVersionView[] };
  const scheduled = after.termsVersions.filter((v) => Date.parse(v.effectiveFrom) > nowMs);
  console.log(
    `  PUT with a storm-surge price override (${money(storm.priceCents)}): ` +
      (hasStorm ? 'identical to the latest version, no version added' : `version ${after.termsVersions.at(-1)!.version} appended`),
  );
  for (const v of after.termsVersions) {
    const state = Date.parse(v.effectiveFrom) > nowMs ? 'scheduled' : v.version === after.termsInForce?.version ? 'in force' : 'superseded';
    console.log(`    v${v.version}  from ${v.effectiveFrom}  ${state.padEnd(10)}  ${describeTerms(v)}`);
  }
  if (after.termsInForce?.version !== inForce?.version) throw new StepError('the terms in force changed immediately after a PUT');
  if (!hasStorm && scheduled.length === 0) throw new StepError('the new terms version is not scheduled in the future');

  // One billable and one non-billable call, explained rule by rule.
  const billable = calls.find((c) => c.billable);
  const refused = calls.find((c) => !c.billable && c.reasons.some((r) => r === 'below_buffer' || r === 'duplicate_caller')) ?? calls.find((c) => !c.billable);
  for (const call of [billable, refused]) {
    if (!call) continue;
    const r = await api.get<{
      billable: boolean;
      amountCents: number;
      reasons: string[];
      termsVersion: number | null;
      rules: { rule: string; passed: boolean; inputs: Record<string, unknown> }[];
      price: { billableSec: number; source: { kind: string } } | null;
      matchesRecorded: boolean;
    }>(`/v1/calls/${encodeURIComponent(call.callId)}/rating`);
    heading(`rating: GET /v1/calls/${call.callId}/rating`);
    console.log(
      `  ${r.billable ? `billable, ${money(r.amountCents)}` : `not billable (${r.reasons.join(', ')})`} under terms v${r.termsVersion ?? '-'}` +
        `${r.price ? `; price from ${r.price.source.kind} on ${r.price.billableSec} s` : ''}; recomputation matches: ${r.matchesRecorded}`,
    );
    for (const rule of r.rules) {
      const inputs = Object.entries(rule.inputs)
        .map(([k, v]) => `${k}=${masked(v)}`)
        .join(' ');
      console.log(`    ${rule.passed ? 'pass' : 'FAIL'}  ${rule.rule.padEnd(17)} ${inputs.length > 90 ? `${inputs.slice(0, 89)}…` : inputs}`);
    }
  }
}

// ------------------------------------------------------------------------------------------------ 2. disputes

interface DisputeView {
  readonly disputeId: string;
  readonly callId: string;
  readonly status: 'open' | 'accepted' | 'rejected';
  readonly reason: string;
  readonly chargeCents: number;
  readonly creditCents?: number;
}

/** Returns the month (in the account's zone) of the disputed calls: the statement and invoice period. */
async function disputes(api: Api, ctx: OpsContext, calls: readonly ApiCallItem[], nowMs: number): Promise<string> {
  const publisher = await api.get<{ name: string; creditPolicy: { disputeWindowDays: number; allowedReasons: string[] } }>(
    `/v1/publishers/${ctx.publisherId}`,
  );
  const policy = publisher.creditPolicy;
  heading(`disputes: ${publisher.name} (${ctx.publisherId})`);
  console.log(`  credit policy: ${policy.disputeWindowDays}-day window, reasons ${policy.allowedReasons.join(', ')}`);
  const reason = ['fraud', 'repeat_caller'].find((r) => policy.allowedReasons.includes(r)) ?? policy.allowedReasons[0]!;
  const windowStartMs = nowMs - policy.disputeWindowDays * 86_400_000;

  // Newest charges first: the most likely to be inside the window.
  const charged = calls
    .filter((c) => c.billable && c.amountCents > 0 && c.startedAt !== null)
    .sort((a, b) => Date.parse(b.startedAt!) - Date.parse(a.startedAt!));
  if (charged.length < 3) throw new StepError(`${ctx.publisherId} has only ${charged.length} charged call(s) in the demo traffic; play more --calls`);
  const inWindow = charged.filter((c) => Date.parse(c.startedAt!) > windowStartMs + 3_600_000);

  const open = (callId: string, body: { reason: string; note: string }, expect: readonly number[]) =>
    api.request('POST', `/v1/calls/${encodeURIComponent(callId)}/disputes`, { json: body, expect });

  // The policy is enforced: a reason it does not list is refused whatever the call.
  const notAllowed = ['below_buffer', 'other', 'wrong_number'].find((r) => !policy.allowedReasons.includes(r));
  if (notAllowed) {
    const refusal = await open(charged[2]!.callId, { reason: notAllowed, note: 'demo: reason outside the policy' }, [409, 422]);
    console.log(`  ${charged[2]!.callId} reason ${notAllowed}: ${refusal.status} ${problemDetail(refusal.body)}`);
  }
  if (inWindow.length < 2) {
    // The traffic is older than the window (an explicit --start in the past): show the refusal and go on.
    const refusal = await open(charged[0]!.callId, { reason, note: 'demo' }, [422]);
    console.log(`  ${charged[0]!.callId} reason ${reason}: ${refusal.status} ${problemDetail(refusal.body)}`);
    console.log(`  (the calls started before the ${policy.disputeWindowDays}-day window; run with a recent --start to see disputes accepted)`);
    return periodOf(charged[0]!.startedAt!, ctx.timeZone);
  }

  const plan = [
    { call: inWindow[0]!, outcome: 'accepted' as const, note: 'caller says they were promised a gift card for calling' },
    { call: inWindow[1]!, outcome: 'rejected' as const, note: 'recording shows a genuine roof-repair enquiry' },
  ];
  const rows: string[][] = [];
  for (const { call, outcome, note } of plan) {
    // 201 opened; 200 an open dispute of an earlier run (identical retry); 409 one an earlier run resolved.
    const opened = await open(call.callId, { reason, note: `demo: disputed as ${reason}` }, [200, 201, 409]);
    let dispute = opened.body as DisputeView;
    if (opened.status === 409) {
      const earlier = (await api.all<DisputeView>('/v1/disputes', 'disputes', { publisherId: ctx.publisherId })).find((d) => d.callId === call.callId);
      if (!earlier) throw new StepError(`${call.callId}: 409 but no dispute of it is listed: ${problemDetail(opened.body)}`);
      dispute = earlier;
    }
    let action = opened.status === 201 ? 'opened' : 'opened earlier';
    if (dispute.status === 'open') {
      const resolved = await api.request('POST', `/v1/disputes/${encodeURIComponent(dispute.disputeId)}/resolve`, { json: { outcome, note }, expect: [200] });
      // The answer is the dispute and, when accepted, the credit entry it appended.
      dispute = (resolved.body as { dispute: DisputeView }).dispute;
      action += `, ${outcome}`;
    } else {
      action += `, already ${dispute.status}`;
    }
    rows.push([call.callId, reason, money(dispute.chargeCents), action, dispute.creditCents !== undefined ? money(-dispute.creditCents) : '-']);
  }
  console.log(table(['call', 'reason', 'charge', 'what happened', 'credit'], rows));
  const accepted = plan.find((p) => p.outcome === 'accepted')!.call;
  const period = periodOf(accepted.startedAt!, ctx.timeZone);
  const totals = (await api.get<{ totals: Totals }>('/v1/ledger', { publisherId: ctx.publisherId, limit: '1' })).totals;
  console.log(
    `  GET /v1/ledger?publisherId=${ctx.publisherId}: charges ${money(totals.chargesCents)}, credits ${money(totals.creditsCents)}, ` +
      `reversals ${money(totals.reversalsCents)}, ` +
      `net ${money(totals.netCents)} (${totals.count} entries)`,
  );
  return period;
}

// ------------------------------------------------------------------------------------------------ 3. statement

type StatementView = StatementResponse;

async function statement(api: Api, ctx: OpsContext, period: string): Promise<StatementView> {
  heading(`statement: GET /v1/statements?publisherId=${ctx.publisherId}&period=${period}`);
  const s = await api.get<StatementView>('/v1/statements', { publisherId: ctx.publisherId, period });
  console.log(`  ${s.startAt} .. ${s.endAt} (${ctx.timeZone})`);
  console.log(
    `  charges ${money(s.chargesCents)}, credits ${money(s.creditsCents)}, reversals ${money(s.reversalsCents)}, net payable ${money(s.netPayableCents)}, ${s.entryCount} entries`,
  );
  console.log(`  digest ${s.digest.algorithm} ${s.digest.value}`);
  if (s.chargesCents + s.creditsCents + s.reversalsCents !== s.netPayableCents) throw new StepError('the statement does not add up');
  return s;
}

// ------------------------------------------------------------------------------------------------ 4. invoice reconciliation

interface ReportView {
  readonly matched: readonly unknown[];
  readonly nonBillable: readonly { lineNo: number; callId: string; reasons: string[]; disputeReason: string }[];
  readonly amountMismatches: readonly { lineNo: number; callId: string; billedCents: number; ourNetCents: number }[];
  readonly duplicateLines: readonly unknown[];
  readonly missingOnOurSide: readonly { lineNo: number; reason: string }[];
  readonly missingOnTheirSide: readonly unknown[];
  readonly unreadable: readonly unknown[];
  readonly totals: { billedCents: number; ourNetCents: number; differenceCents: number };
}

const twilioSid = (callId: string) => callId.replace(/^twilio:/, '');
const csvMoney = (cents: number) => (cents / 100).toFixed(2);

async function reconciliation(api: Api, ctx: OpsContext, period: string, s: StatementView): Promise<void> {
  heading(`invoice: POST /v1/reconciliations?publisherId=${ctx.publisherId}&period=${period}`);
  const range = { publisherId: ctx.publisherId, from: s.startAt, to: s.endAt };
  const calls = await api.all<ApiCallItem>('/v1/calls', 'calls', range);
  const entries = await api.all<LedgerItem>('/v1/ledger', 'entries', range);
  const net = new Map<string, number>();
  for (const e of entries) net.set(e.callId, (net.get(e.callId) ?? 0) + e.amountCents);

  // What the publisher bills: every call we owe them for, at our amount, except for three planted errors.
  const owed = calls.filter((c) => (net.get(c.callId) ?? 0) > 0 && c.startedAt !== null);
  // Preferably a repeat caller: the non-billable call a publisher most often bills anyway.
  const refusedFor = (reason: string) => calls.find((c) => !c.billable && c.startedAt !== null && c.reasons[0] === reason);
  const notOwed = refusedFor('duplicate_caller') ?? refusedFor('below_buffer') ?? calls.find((c) => !c.billable && c.startedAt !== null);
  if (owed.length < 2 || !notOwed) throw new StepError(`too few ${ctx.publisherId} calls in ${period} to build an invoice`);
  const lines: string[] = ['call_id,start_time,amount_usd'];
  owed.forEach((c, i) => lines.push(`${twilioSid(c.callId)},${c.startedAt},${csvMoney(net.get(c.callId)! + (i === 0 ? 500 : 0))}`));
  lines.push(`${twilioSid(notOwed.callId)},${notOwed.startedAt},${csvMoney(owed[0]!.amountCents)}`);
  lines.push(`CA${'0'.repeat(31)}1,${s.startAt},${csvMoney(owed[0]!.amountCents)}`);
  console.log(
    `  invoice: ${lines.length - 1} lines (${owed.length} calls we owe, one of them billed $5.00 high, ` +
      `one call we rated non-billable, one call id we never saw)`,
  );

  const res = await api.request('POST', '/v1/reconciliations', { query: { publisherId: ctx.publisherId, period }, csv: `${lines.join('\n')}\n`, expect: [200] });
  const r = (res.body as { report: ReportView }).report;
  console.log(
    table(
      ['category', 'lines'],
      [
        ['matched', String(r.matched.length)],
        ['billed but non-billable', String(r.nonBillable.length)],
        ['amount mismatch', String(r.amountMismatches.length)],
        ['duplicate lines', String(r.duplicateLines.length)],
        ['missing on our side', String(r.missingOnOurSide.length)],
        ['missing on their side', String(r.missingOnTheirSide.length)],
        ['unreadable', String(r.unreadable.length)],
      ],
    ),
  );
  for (const n of r.nonBillable) console.log(`  line ${n.lineNo}: ${n.callId} is not billable (${n.reasons.join(', ')}); dispute as ${n.disputeReason}`);
  for (const m of r.amountMismatches) console.log(`  line ${m.lineNo}: ${m.callId} billed ${money(m.billedCents)}, we owe ${money(m.ourNetCents)}`);
  for (const m of r.missingOnOurSide) console.log(`  line ${m.lineNo}: no such call on our side (${m.reason})`);
  console.log(`  billed ${money(r.totals.billedCents)}, we owe ${money(r.totals.ourNetCents)}, difference ${money(r.totals.differenceCents)}`);
  const expected = [r.matched.length === owed.length - 1, r.nonBillable.length === 1, r.amountMismatches.length === 1, r.missingOnOurSide.length === 1];
  if (expected.includes(false)) throw new StepError('the reconciliation report does not show the planted discrepancies');
}

// ------------------------------------------------------------------------------------------------ entry point

/** Runs the four steps; throws StepError on an unexpected answer. */
export async function runLedgerOperations(ctx: OpsContext): Promise<void> {
  const api = new Api(ctx);
  const nowMs = (ctx.now ?? (() => new Date()))().getTime();
  const played = (await api.all<ApiCallItem>('/v1/calls', 'calls', { campaignId: ctx.campaignId, ...ctx.playedRange })).filter((c) => ctx.playedCallIds.has(c.callId));
  await terms(api, ctx, played, nowMs);
  const period = await disputes(
    api,
    ctx,
    played.filter((c) => c.publisherId === ctx.publisherId),
    nowMs,
  );
  const s = await statement(api, ctx, period);
  await reconciliation(api, ctx, period, s);
}
