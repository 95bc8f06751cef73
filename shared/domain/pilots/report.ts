/**
 * The pilot report: a per-publisher and per-sub-source scorecard of the calls the pilot governs (from the call
 * items) and its money (from the ledger), as JSON and CSV, stored under the pilot's own S3 prefix.
 */
import { REASON_CODES, type ReasonCode } from '../rating/decision';
import { type ChargeEntry } from '../ledger/entries';
import type { LedgerEntry } from '../ledger/entries';
import { CALL_SIGNALS, type CallSignal } from '../rating/rules';
import type { Geography } from '../terms/terms';
import { pilotChargeTotals } from './progress';
import type { CloseReason, CounterSnapshot, PilotRecord, PilotState } from './pilots';

/** A rated call as the report needs it (no caller data). */
export interface PilotCall {
  readonly callId: string;
  readonly campaignId: string | null;
  readonly publisherId: string | null;
  readonly subSource: string | null;
  readonly startedAt: string | null;
  readonly billable: boolean;
  readonly reasons: readonly ReasonCode[];
  /** Signals flagged at rating (rating/rules.ts CALL_SIGNALS); absent: none. */
  readonly signals?: readonly string[];
}

export interface ScorecardRow {
  readonly publisherId: string;
  /** `null`: calls without a sub-source; on publisher and total rows, `*`. */
  readonly subSource: string | null;
  readonly calls: number;
  readonly billableCalls: number;
  readonly nonBillableCalls: number;
  /** Non-billable calls by their primary (first) reason. */
  readonly reasons: Readonly<Partial<Record<ReasonCode, number>>>;
  /** Calls flagged with each signal at rating (only signals seen). */
  readonly signals: Readonly<Partial<Record<CallSignal, number>>>;
  readonly duplicates: number;
  readonly spendCents: number;
  /** ≤ 0. */
  readonly creditsCents: number;
  /** ≤ 0: the pilot's charges reversed because an earlier call of the caller bills instead (duplicate-window.ts). */
  readonly reversalsCents: number;
  readonly netCents: number;
  /** Net spend per billable call, rounded to the cent; null without billable calls. */
  readonly costPerBillableCallCents: number | null;
}

export interface PublisherScorecard extends ScorecardRow {
  readonly subSources: readonly ScorecardRow[];
}

export interface PilotReport {
  readonly pilotId: string;
  readonly accountId: string;
  readonly campaignId: string;
  readonly vertical: string;
  readonly geography: Geography | null;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly spendCapCents: number;
  readonly dailyCapCents: number | null;
  readonly maxBillableCalls: number | null;
  readonly state: PilotState;
  readonly closedAt: string | null;
  readonly closedReason: CloseReason | null;
  readonly generatedAt: string;
  /** The counter when the report was built, and whether the ledger's charges add up to it. */
  readonly counter: { readonly spentCents: number; readonly billableCalls: number };
  readonly ledgerMatchesCounter: boolean;
  readonly totals: ScorecardRow;
  readonly publishers: readonly PublisherScorecard[];
}

/** Calls the pilot governs: its campaign, its publishers, started inside its window. */
export function isPilotCall(p: Pick<PilotRecord, 'campaignId' | 'publisherIds' | 'startsAt' | 'endsAt'>, c: PilotCall): boolean {
  if (c.campaignId !== p.campaignId || c.publisherId === null || !p.publisherIds.includes(c.publisherId) || c.startedAt === null) return false;
  const t = Date.parse(c.startedAt);
  return t >= Date.parse(p.startsAt) && t < Date.parse(p.endsAt);
}

interface Acc {
  calls: number;
  billable: number;
  reasons: Partial<Record<ReasonCode, number>>;
  signals: Partial<Record<CallSignal, number>>;
  duplicates: number;
  spend: number;
  credits: number;
  reversals: number;
}

const emptyAcc = (): Acc => ({ calls: 0, billable: 0, reasons: {}, signals: {}, duplicates: 0, spend: 0, credits: 0, reversals: 0 });

function rowOf(publisherId: string, subSource: string | null, a: Acc): ScorecardRow {
  const net = a.spend + a.credits + a.reversals;
  const reasons: Partial<Record<ReasonCode, number>> = {};
  for (const code of REASON_CODES) if (a.reasons[code]) reasons[code] = a.reasons[code];
  const signals: Partial<Record<CallSignal, number>> = {};
  for (const s of CALL_SIGNALS) if (a.signals[s]) signals[s] = a.signals[s];
  return {
    publisherId,
    subSource,
    calls: a.calls,
    billableCalls: a.billable,
    nonBillableCalls: a.calls - a.billable,
    reasons,
    signals,
    duplicates: a.duplicates,
    spendCents: a.spend,
    creditsCents: a.credits,
    reversalsCents: a.reversals,
    netCents: net,
    costPerBillableCallCents: a.billable === 0 ? null : Math.round(net / a.billable),
  };
}

function merge(into: Acc, a: Acc): void {
  into.calls += a.calls;
  into.billable += a.billable;
  into.duplicates += a.duplicates;
  into.spend += a.spend;
  into.credits += a.credits;
  into.reversals += a.reversals;
  for (const [k, v] of Object.entries(a.reasons) as [ReasonCode, number][]) into.reasons[k] = (into.reasons[k] ?? 0) + v;
  for (const [k, v] of Object.entries(a.signals) as [CallSignal, number][]) into.signals[k] = (into.signals[k] ?? 0) + v;
}

/**
 * The scorecard: calls (from the call items) and money (from the ledger: the pilot's charges, and the credits that
 * correct them) per publisher and sub-source. Spend comes from the ledger, not from the calls, so the report adds
 * up to the statement a publisher gets. Rows are sorted by publisher, then sub-source (`null` first).
 */
export function buildPilotReport(args: {
  pilot: PilotRecord;
  calls: readonly PilotCall[];
  entries: readonly LedgerEntry[];
  counter: Pick<CounterSnapshot, 'spentCents' | 'billableCalls' | 'closedAt' | 'closedReason'>;
  state: PilotState;
  generatedAt: string;
}): PilotReport {
  const { pilot } = args;
  const cells = new ReportCells(pilot.publisherIds);
  for (const c of args.calls) if (isPilotCall(pilot, c)) countCall(cells.at(c.publisherId!, c.subSource), c);
  addLedgerMoney(cells, args.entries, pilot.pilotId);
  const { totals, publishers } = cells.scorecards();
  const ledger = pilotChargeTotals(args.entries, pilot.pilotId);
  return {
    pilotId: pilot.pilotId,
    accountId: pilot.accountId,
    campaignId: pilot.campaignId,
    vertical: pilot.vertical,
    geography: pilot.geography,
    startsAt: pilot.startsAt,
    endsAt: pilot.endsAt,
    spendCapCents: pilot.spendCapCents,
    dailyCapCents: pilot.dailyCapCents,
    maxBillableCalls: pilot.maxBillableCalls,
    state: args.state,
    closedAt: args.counter.closedAt,
    closedReason: args.counter.closedReason,
    generatedAt: args.generatedAt,
    counter: { spentCents: args.counter.spentCents, billableCalls: args.counter.billableCalls },
    ledgerMatchesCounter: ledger.spentCents === args.counter.spentCents && ledger.billableCalls === args.counter.billableCalls,
    totals,
    publishers,
  };
}

/** The key of calls without a sub-source: sorts before every label. */
const SUB_NONE = '\u0000';

/** publisherId → sub-source → counters; every publisher of the pilot has a row, calls or not. */
class ReportCells {
  private readonly cells = new Map<string, Map<string, Acc>>();

  constructor(publisherIds: readonly string[]) {
    for (const id of publisherIds) this.cells.set(id, new Map());
  }

  at(publisherId: string, subSource: string | null): Acc {
    let subs = this.cells.get(publisherId);
    if (!subs) this.cells.set(publisherId, (subs = new Map()));
    const k = subSource ?? SUB_NONE;
    let a = subs.get(k);
    if (!a) subs.set(k, (a = emptyAcc()));
    return a;
  }

  /** Sub-source rows under each publisher's row, sorted, and the pilot's total. */
  scorecards(): { totals: ScorecardRow; publishers: PublisherScorecard[] } {
    const total = emptyAcc();
    const publishers: PublisherScorecard[] = [...this.cells.keys()].sort().map((publisherId) => {
      const subs = this.cells.get(publisherId)!;
      const pubAcc = emptyAcc();
      const subRows = [...subs.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, a]) => {
          merge(pubAcc, a);
          return rowOf(publisherId, k === SUB_NONE ? null : k, a);
        });
      merge(total, pubAcc);
      return { ...rowOf(publisherId, '*', pubAcc), subSources: subRows };
    });
    return { totals: rowOf('*', '*', total), publishers };
  }
}

/** A governed call: counted, by its primary reason when it does not bill, and by the signals it was flagged with. */
function countCall(a: Acc, c: PilotCall): void {
  a.calls += 1;
  if (c.billable) a.billable += 1;
  else {
    const primary = c.reasons[0];
    if (primary !== undefined) a.reasons[primary] = (a.reasons[primary] ?? 0) + 1;
  }
  if (c.reasons.includes('duplicate_caller')) a.duplicates += 1;
  for (const s of c.signals ?? []) if ((CALL_SIGNALS as readonly string[]).includes(s)) a.signals[s as CallSignal] = (a.signals[s as CallSignal] ?? 0) + 1;
}

/** The pilot's charges, and the credits and reversals that correct them, in the cell of the charged source. */
function addLedgerMoney(cells: ReportCells, entries: readonly LedgerEntry[], pilotId: string): void {
  const charges = new Map<string, ChargeEntry>();
  for (const e of entries) if (e.type === 'charge' && e.pilotId === pilotId) charges.set(e.entryId, e);
  for (const e of charges.values()) cells.at(e.publisherId, e.subSource).spend += e.amountCents;
  for (const e of entries) {
    if (e.type === 'credit' && charges.has(e.correctsEntryId)) cells.at(e.publisherId, e.subSource).credits += e.amountCents;
    if (e.type === 'reversal' && charges.has(e.correctsEntryId)) cells.at(e.publisherId, e.subSource).reversals += e.amountCents;
  }
}

const CSV_FIXED = [
  'publisherId',
  'subSource',
  'calls',
  'billableCalls',
  'nonBillableCalls',
  'duplicates',
  'spendCents',
  'creditsCents',
  'reversalsCents',
  'netCents',
  'costPerBillableCallCents',
] as const;

function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * The report as CSV: one line per (publisher, sub-source), then the publisher's total (`subSource` = `*`), and the
 * pilot's total last (`*`, `*`); a column per rating reason (non-billable calls by primary reason). An empty
 * sub-source is calls without one. CRLF line ends (RFC 4180).
 */
export function reportCsv(report: PilotReport): string {
  const header = [...CSV_FIXED, ...REASON_CODES.map((r) => `reason_${r}`), ...CALL_SIGNALS.map((s) => `signal_${s}`)];
  const line = (r: ScorecardRow) =>
    [
      r.publisherId,
      r.subSource,
      r.calls,
      r.billableCalls,
      r.nonBillableCalls,
      r.duplicates,
      r.spendCents,
      r.creditsCents,
      r.reversalsCents,
      r.netCents,
      r.costPerBillableCallCents,
      ...REASON_CODES.map((code) => r.reasons[code] ?? 0),
      ...CALL_SIGNALS.map((s) => r.signals[s] ?? 0),
    ]
      .map(csvCell)
      .join(',');
  const lines = [header.join(',')];
  for (const p of report.publishers) {
    for (const s of p.subSources) lines.push(line(s));
    lines.push(line(p));
  }
  lines.push(line(report.totals));
  return `${lines.join('\r\n')}\r\n`;
}

/** S3 keys of a pilot's report (in the archive bucket, under its own prefix). */
export const PILOT_REPORT_PREFIX = 'pilot-reports/';

export function reportKeys(accountId: string, pilotId: string): { jsonKey: string; csvKey: string } {
  const base = `${PILOT_REPORT_PREFIX}${accountId}/${pilotId}/report`;
  return { jsonKey: `${base}.json`, csvKey: `${base}.csv` };
}
