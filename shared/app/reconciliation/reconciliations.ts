/**
 * Use case: reconcile a publisher's invoice (CSV) against our calls and ledger for a period
 * (shared/domain/reconciliation/reconcile-invoice.ts), and on request open a dispute for every mismatch where we hold a charge.
 *
 * Scope: the publisher's rated calls that started in [from, to) and their ledger entries (same key range: credits
 * carry their charge's `effectiveAt`). Invoice callers are matched through the same keyed hash the writer stored
 * (normalised to E.164, HMAC under the caller-hash key), so no caller number is ever compared or returned in clear.
 *
 * Disputes opened from a reconciliation are ordinary disputes (reason `other`, the note names the invoice line
 * and both amounts), so they obey the publisher's credit policy; a refusal is reported per line, not thrown. The
 * note is deterministic, so re-running the same reconciliation answers with the disputes it already opened.
 */
import { identityHash, typedCallerIdentity } from '../../domain/calls/caller';
import { errorView, isCallerError } from '../kernel/errors';
import { parseInvoiceCsv, type ParsedInvoice } from '../../domain/reconciliation/invoice-csv';
import { reconcileInvoice, type ReconciliationReport } from '../../domain/reconciliation/reconcile-invoice';
import { periodBounds } from '../../domain/ledger/statements';
import { openCallDispute, requireAdmin, type CallFactsReader, type DisputeDeps } from '../disputes/disputes';
import type { ApiKeyRecord, ConfigStore } from '../kernel/ports';
import { accountTimeZone, type LedgerRangeReader } from '../ledger/statements';

export const DEFAULT_TOLERANCE_SEC = 120;

export interface ReconciliationDeps extends DisputeDeps {
  readonly config: Pick<ConfigStore, 'getAccount'>;
  readonly ledger: DisputeDeps['ledger'] & LedgerRangeReader;
  readonly callFacts: CallFactsReader;
  /** The caller-hash HMAC key (the one the ledger writer uses). */
  readonly callerHashKey: () => Promise<string>;
  /**
   * The networks' matches (shared/app/networks): the buyer's call a network call id was matched to, or null. Absent:
   * a network's invoice is reconciled by caller and start only.
   */
  readonly networkMatches?: { matchedLeg(accountId: string, networkId: string, networkCallId: string): Promise<string | null> };
}

export interface ReconciliationRequest {
  readonly publisherId: string;
  /** Either a period (YYYY-MM in the account's zone) or an explicit [from, to) of ISO instants. */
  readonly scope: { readonly period: string } | { readonly from: string; readonly to: string };
  readonly csv: string;
  readonly toleranceSec?: number;
  readonly openDisputes: boolean;
  /** The invoice is a network's (its lines name the network's call ids): lines are read through its matches. */
  readonly networkId?: string;
}

export type DisputeOutcome =
  | { readonly lineNo: number; readonly callId: string; readonly outcome: 'opened' | 'already_open'; readonly disputeId: string }
  | { readonly lineNo: number; readonly callId: string; readonly outcome: 'refused'; readonly status: number; readonly detail: string };

export interface ReconciliationResponse {
  readonly publisherId: string;
  readonly timeZone: string;
  readonly from: string;
  readonly to: string;
  readonly period: string | null;
  readonly toleranceSec: number;
  readonly amountUnit: 'dollars' | 'cents';
  readonly report: ReconciliationReport;
  /** Present when `openDisputes` was asked for. */
  readonly disputes?: readonly DisputeOutcome[];
}

export async function reconcileInvoiceCsv(
  principal: ApiKeyRecord,
  request: ReconciliationRequest,
  deps: ReconciliationDeps,
): Promise<ReconciliationResponse> {
  if (request.openDisputes) requireAdmin(principal);
  const timeZone = await accountTimeZone(principal, deps);
  const period = 'period' in request.scope ? request.scope.period : null;
  const [from, to] =
    'period' in request.scope
      ? (({ startMs, endMs }) => [new Date(startMs).toISOString(), new Date(endMs).toISOString()])(periodBounds(request.scope.period, timeZone))
      : [request.scope.from, request.scope.to];
  const invoice = await throughNetworkMatches(principal.accountId, request.networkId, parseInvoiceCsv(request.csv, timeZone), deps);
  const range = { accountId: principal.accountId, from, to, publisherId: request.publisherId };
  const [calls, entries, key] = await Promise.all([deps.callFacts.callsInRange(range), deps.ledger.entriesInRange(range), deps.callerHashKey()]);
  const toleranceSec = request.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const report = reconcileInvoice(invoice, calls, entries, {
    toleranceSec,
    // The identity the writer gave the caller (caller.ts); a withheld or unreadable invoice caller matches by call id only.
    hashCaller: (raw) => {
      const typed = typedCallerIdentity(raw);
      return typeof typed === 'string' ? null : identityHash(key, typed);
    },
  });
  const base = { publisherId: request.publisherId, timeZone, from, to, period, toleranceSec, amountUnit: invoice.amountUnit, report };
  if (!request.openDisputes) return base;
  return { ...base, disputes: await openMismatchDisputes(principal, report, deps) };
}

/**
 * A network's invoice names the network's call ids: each line whose id a claim was matched to one of our calls
 * (matching.ts, the same match the drift report and the call detail show) is read as that call's line; a line the
 * network's claim did not match keeps its id, and is then matched by caller and start or reported missing.
 */
async function throughNetworkMatches(accountId: string, networkId: string | undefined, invoice: ParsedInvoice, deps: ReconciliationDeps): Promise<ParsedInvoice> {
  const matches = deps.networkMatches;
  if (networkId === undefined || matches === undefined) return invoice;
  const lines = [];
  for (const line of invoice.lines) {
    const leg = line.callId === null ? null : await matches.matchedLeg(accountId, networkId, line.callId);
    lines.push(leg === null ? line : { ...line, callId: leg });
  }
  return { ...invoice, lines };
}

/** One dispute per amount mismatch on a call we charged (in line order, one at a time: disputes are rare writes). */
async function openMismatchDisputes(principal: ApiKeyRecord, report: ReconciliationReport, deps: DisputeDeps): Promise<DisputeOutcome[]> {
  const outcomes: DisputeOutcome[] = [];
  for (const m of report.amountMismatches) {
    if (m.ourChargeCents <= 0) continue;
    const note = `Invoice line ${m.lineNo} billed ${m.billedCents} cents; our net for this call is ${m.ourNetCents} cents.`;
    try {
      const opened = await openCallDispute(principal, m.callId, { reason: 'other', note }, deps);
      outcomes.push({ lineNo: m.lineNo, callId: m.callId, outcome: opened.created ? 'opened' : 'already_open', disputeId: opened.dispute.disputeId });
    } catch (err) {
      if (!isCallerError(err)) throw err;
      const { status, detail } = errorView(err);
      outcomes.push({ lineNo: m.lineNo, callId: m.callId, outcome: 'refused', status, detail });
    }
  }
  return outcomes;
}
