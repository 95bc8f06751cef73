/**
 * Reconciling a publisher's invoice against our ledger. Pure: parsed invoice lines (invoice-csv.ts) + our calls +
 * our entries in, a report out. Caller numbers on the invoice are hashed through the injected `hashCaller` (the
 * same keyed hash the writer stored) and never appear in the report.
 *
 * Matching: a line with a call id matches that call (`CA…` is taken as `twilio:CA…`). Otherwise (or when the id is
 * not ours) lines are matched by caller hash and start within `toleranceSec`, closest pairs first, so the result
 * does not depend on line order. A second line for a call already matched is a duplicate line.
 * Verdicts per matched line, against the call's NET (charges + credits + reversals in scope): equal → matched; the
 * call is not billable and they billed > 0 → nonBillable (with our reasons); otherwise → amountMismatch. Our calls
 * with a positive net that no line matched are missingOnTheirSide.
 *
 * Reversals are booked when they are written (ledger/entries.ts), so a period's entries can hold the reversal of a charge
 * of an earlier period's call: such reversals are listed apart (`reversalsOfEarlierCalls`, no invoice line matches
 * them) and counted in our net, so the report's net equals the statement's for the same scope.
 */
import type { DisputeReason } from '../disputes/disputes';
import type { LedgerEntry } from '../ledger/entries';
import type { ReasonCode } from '../rating/decision';
import type { InvoiceLine, InvoiceLineError, ParsedInvoice } from './invoice-csv';

export interface OurCall {
  readonly callId: string;
  readonly callerHash: string | null;
  readonly startedAtMs: number;
  readonly billable: boolean;
  readonly reasons: readonly ReasonCode[];
}

export type MatchedBy = 'call_id' | 'caller_time';

export interface ReconciliationReport {
  readonly matched: readonly { lineNo: number; callId: string; amountCents: number; matchedBy: MatchedBy }[];
  readonly nonBillable: readonly {
    lineNo: number;
    callId: string;
    billedCents: number;
    reasons: readonly ReasonCode[];
    disputeReason: DisputeReason;
    matchedBy: MatchedBy;
  }[];
  readonly amountMismatches: readonly {
    lineNo: number;
    callId: string;
    billedCents: number;
    ourNetCents: number;
    ourChargeCents: number;
    ourCreditCents: number;
    ourReversalCents: number;
    matchedBy: MatchedBy;
  }[];
  readonly duplicateLines: readonly { lineNo: number; callId: string; firstLineNo: number }[];
  readonly missingOnOurSide: readonly { lineNo: number; billedCents: number; reason: 'unknown_call_id' | 'no_call_near_time' }[];
  readonly missingOnTheirSide: readonly { callId: string; ourNetCents: number }[];
  /** Reversals in scope of charges whose call started before it (the correction is booked when written). */
  readonly reversalsOfEarlierCalls: readonly { entryId: string; callId: string; amountCents: number; correctsEntryId: string; priorCallId: string }[];
  readonly unreadable: readonly InvoiceLineError[];
  readonly totals: { readonly billedCents: number; readonly ourNetCents: number; readonly differenceCents: number };
}

export interface ReconcileOptions {
  readonly toleranceSec: number;
  /** Normalise + keyed-hash a caller as written on the invoice; null when it is not a dialable number. */
  readonly hashCaller: (raw: string) => string | null;
}

/** Our non-billable reason → the dispute reason a buyer would cite for it. */
export function disputeReasonFor(reason: ReasonCode | undefined): DisputeReason {
  switch (reason) {
    case 'below_buffer':
      return 'below_buffer';
    case 'not_qualified':
      return 'not_qualified';
    case 'duplicate_caller':
      return 'repeat_caller';
    case 'machine_answered':
      return 'robocall';
    case 'blocked_caller':
    case 'blocked_signal':
      return 'fraud';
    case 'unknown_number':
      return 'wrong_number';
    case 'outside_hours':
    case 'outside_window':
    case 'over_cap':
    case 'not_connected':
    case 'out_of_geo':
    case 'caller_id_withheld':
    case undefined:
      return 'other';
    default: {
      const exhaustive: never = reason;
      return exhaustive;
    }
  }
}

function normaliseCallId(raw: string): string {
  return /^CA[0-9a-f]{32}$/i.test(raw) ? `twilio:${raw}` : raw;
}

/**
 * `calls` is the scope the invoice covers (e.g. the publisher's calls of the period); `entries` are our ledger
 * entries for those calls.
 */
export function reconcileInvoice(
  invoice: Pick<ParsedInvoice, 'lines' | 'errors'>,
  calls: readonly OurCall[],
  entries: readonly LedgerEntry[],
  options: ReconcileOptions,
): ReconciliationReport {
  const byId = new Map(calls.map((c) => [c.callId, c]));
  const ledger = ledgerMoney(entries, byId);
  const lines = [...invoice.lines].sort((a, b) => a.lineNo - b.lineNo);
  const m = matchByCallId(lines, byId);
  const nearDuplicate = matchByCallerTime(m, calls, options);
  const missingOnOurSide = unmatchedLines(m, nearDuplicate);
  const { matched, nonBillable, amountMismatches } = lineVerdicts(lines, m, ledger);
  const missingOnTheirSide = calls
    .filter((c) => !m.callToLine.has(c.callId) && ledger.netOf(c.callId) > 0)
    .map((c) => ({ callId: c.callId, ourNetCents: ledger.netOf(c.callId) }))
    .sort((a, b) => (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0));

  const reversalsOfEarlierCalls = ledger.reversalsOfEarlierCalls;
  const billedCents = lines.reduce((s, l) => s + l.billedCents, 0);
  const ourNetCents = calls.reduce((s, c) => s + ledger.netOf(c.callId), 0) + reversalsOfEarlierCalls.reduce((s, r) => s + r.amountCents, 0);
  reversalsOfEarlierCalls.sort((a, b) => (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0));
  return {
    matched,
    nonBillable,
    amountMismatches,
    duplicateLines: m.duplicateLines.sort((a, b) => a.lineNo - b.lineNo),
    missingOnOurSide,
    missingOnTheirSide,
    reversalsOfEarlierCalls,
    unreadable: invoice.errors,
    totals: { billedCents, ourNetCents, differenceCents: billedCents - ourNetCents },
  };
}

interface CallMoney {
  charge: number;
  credit: number;
  reversal: number;
}

interface LedgerMoney {
  readonly money: ReadonlyMap<string, CallMoney>;
  /** Charges + credits + reversals of the call in scope. */
  netOf(callId: string): number;
  readonly reversalsOfEarlierCalls: ReconciliationReport['reversalsOfEarlierCalls'][number][];
}

/** Our money per call, and the reversals in scope of calls outside it (charges of an earlier period). */
function ledgerMoney(entries: readonly LedgerEntry[], byId: ReadonlyMap<string, OurCall>): LedgerMoney {
  const money = new Map<string, CallMoney>();
  const reversalsOfEarlierCalls: ReconciliationReport['reversalsOfEarlierCalls'][number][] = [];
  for (const e of entries) {
    const m = money.get(e.callId) ?? { charge: 0, credit: 0, reversal: 0 };
    switch (e.type) {
      case 'charge':
        m.charge += e.amountCents;
        break;
      case 'credit':
        m.credit += e.amountCents;
        break;
      case 'reversal':
        m.reversal += e.amountCents;
        if (!byId.has(e.callId)) {
          reversalsOfEarlierCalls.push({ entryId: e.entryId, callId: e.callId, amountCents: e.amountCents, correctsEntryId: e.correctsEntryId, priorCallId: e.priorCallId });
        }
        break;
      default: {
        const exhaustive: never = e;
        throw new Error(`unknown entry ${JSON.stringify(exhaustive)}`);
      }
    }
    money.set(e.callId, m);
  }
  const netOf = (callId: string) => {
    const m = money.get(callId);
    return m ? m.charge + m.credit + m.reversal : 0;
  };
  return { money, netOf, reversalsOfEarlierCalls };
}

/** Which line took which call, the duplicate lines so far, and the lines no call id matched. */
interface Matching {
  readonly lineToCall: Map<number, { call: OurCall; matchedBy: MatchedBy }>;
  readonly callToLine: Map<string, number>;
  readonly duplicateLines: { lineNo: number; callId: string; firstLineNo: number }[];
  readonly unmatched: InvoiceLine[];
}

/** 1. By call id, in file order: the first line for a call wins, later ones are duplicates. */
function matchByCallId(lines: readonly InvoiceLine[], byId: ReadonlyMap<string, OurCall>): Matching {
  const m: Matching = { lineToCall: new Map(), callToLine: new Map(), duplicateLines: [], unmatched: [] };
  for (const line of lines) {
    const call = line.callId === null ? undefined : byId.get(normaliseCallId(line.callId));
    if (!call) {
      m.unmatched.push(line);
      continue;
    }
    const first = m.callToLine.get(call.callId);
    if (first !== undefined) m.duplicateLines.push({ lineNo: line.lineNo, callId: call.callId, firstLineNo: first });
    else {
      m.lineToCall.set(line.lineNo, { call, matchedBy: 'call_id' });
      m.callToLine.set(call.callId, line.lineNo);
    }
  }
  return m;
}

/**
 * 2. By caller hash and start time: every candidate pair within tolerance, closest first (ties: line, call id).
 * Returns the lines whose only candidates were already taken: duplicates of the line that took them.
 */
function matchByCallerTime(m: Matching, calls: readonly OurCall[], options: ReconcileOptions): Map<number, { callId: string; firstLineNo: number }> {
  const toleranceMs = options.toleranceSec * 1000;
  const byCaller = new Map<string, OurCall[]>();
  for (const c of calls) if (c.callerHash !== null) byCaller.set(c.callerHash, [...(byCaller.get(c.callerHash) ?? []), c]);
  const pairs: { line: InvoiceLine; call: OurCall; deltaMs: number }[] = [];
  for (const line of m.unmatched) {
    if (line.caller === null || line.startMs === null) continue;
    const hash = options.hashCaller(line.caller);
    for (const call of hash === null ? [] : (byCaller.get(hash) ?? [])) {
      const deltaMs = Math.abs(call.startedAtMs - line.startMs);
      if (deltaMs <= toleranceMs) pairs.push({ line, call, deltaMs });
    }
  }
  pairs.sort((a, b) => a.deltaMs - b.deltaMs || a.line.lineNo - b.line.lineNo || (a.call.callId < b.call.callId ? -1 : 1));
  const nearDuplicate = new Map<number, { callId: string; firstLineNo: number }>();
  for (const { line, call } of pairs) {
    if (m.lineToCall.has(line.lineNo)) continue;
    const taken = m.callToLine.get(call.callId);
    if (taken !== undefined) {
      if (!nearDuplicate.has(line.lineNo)) nearDuplicate.set(line.lineNo, { callId: call.callId, firstLineNo: taken });
      continue;
    }
    m.lineToCall.set(line.lineNo, { call, matchedBy: 'caller_time' });
    m.callToLine.set(call.callId, line.lineNo);
  }
  return nearDuplicate;
}

/** The lines still without a call: duplicates of a taken call, or missing on our side. */
function unmatchedLines(m: Matching, nearDuplicate: ReadonlyMap<number, { callId: string; firstLineNo: number }>): ReconciliationReport['missingOnOurSide'][number][] {
  const missingOnOurSide: ReconciliationReport['missingOnOurSide'][number][] = [];
  for (const line of m.unmatched) {
    if (m.lineToCall.has(line.lineNo)) continue;
    const dupOf = nearDuplicate.get(line.lineNo);
    if (dupOf !== undefined) m.duplicateLines.push({ lineNo: line.lineNo, ...dupOf });
    else
      missingOnOurSide.push({
        lineNo: line.lineNo,
        billedCents: line.billedCents,
        reason: line.callId !== null && (line.caller === null || line.startMs === null) ? 'unknown_call_id' : 'no_call_near_time',
      });
  }
  return missingOnOurSide;
}

/** Each matched line against its call's net, in file order: matched, non-billable, or an amount mismatch. */
function lineVerdicts(lines: readonly InvoiceLine[], m: Matching, ledger: LedgerMoney): Pick<ReconciliationReport, 'matched' | 'nonBillable' | 'amountMismatches'> {
  const matched: ReconciliationReport['matched'][number][] = [];
  const nonBillable: ReconciliationReport['nonBillable'][number][] = [];
  const amountMismatches: ReconciliationReport['amountMismatches'][number][] = [];
  for (const line of lines) {
    const hit = m.lineToCall.get(line.lineNo);
    if (!hit) continue;
    const { call, matchedBy } = hit;
    const ourNetCents = ledger.netOf(call.callId);
    if (line.billedCents === ourNetCents) matched.push({ lineNo: line.lineNo, callId: call.callId, amountCents: ourNetCents, matchedBy });
    else if (!call.billable && line.billedCents > 0)
      nonBillable.push({
        lineNo: line.lineNo,
        callId: call.callId,
        billedCents: line.billedCents,
        reasons: call.reasons,
        disputeReason: disputeReasonFor(call.reasons[0]),
        matchedBy,
      });
    else {
      const money = ledger.money.get(call.callId) ?? { charge: 0, credit: 0, reversal: 0 };
      amountMismatches.push({
        lineNo: line.lineNo,
        callId: call.callId,
        billedCents: line.billedCents,
        ourNetCents,
        ourChargeCents: money.charge,
        ourCreditCents: money.credit,
        ourReversalCents: money.reversal,
        matchedBy,
      });
    }
  }
  return { matched, nonBillable, amountMismatches };
}
