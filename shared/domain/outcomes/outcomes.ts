/**
 * CRM outcomes: what a call became in the buyer's CRM — booked, closed or lost, with revenue
 * and margin — posted by the buyer (`POST /v1/outcomes`, JSON or CSV) and attributed to one of the account's calls.
 * Pure: the rules of idempotency, supersession and matching; the use case (shared/app/outcomes/outcomes.ts) does the reads.
 *
 * Identity and idempotency. An outcome is identified by the CRM's `externalId` within the account. Each posted line
 * is one status report `{status, revenueCents, marginCents, occurredAt}`:
 * - a report identical to one already in the history (same status, amounts and occurredAt) changes nothing
 *   (`unchanged`): a retried upload is harmless, even one that re-sends an older status;
 * - any other report is appended to the history (`updated`), which is never rewritten;
 * - the report IN FORCE is the one with the latest `occurredAt` (ties: the one received last). So a later status
 *   supersedes an earlier one whatever order the CRM sends them in, and the earlier stays in the history.
 *
 * Matching rule (documented in docs/CONTRACTS.md, "Outcomes"):
 * 1. By call id: a line that names a `callId` is attributed to that call, which must be a call of the account (else
 *    the line is refused, 422). A later line naming another call re-points the outcome (explicit beats inferred).
 * 2. By caller and time: otherwise the caller number (normalised to E.164, then only its keyed hash is used and
 *    stored) and the ANCHOR time pick the caller's most recent CONNECTED call (terminal status `completed`) of the
 *    account that started at or before the anchor and no earlier than anchor − lookBackDays (default 30; the
 *    account's `outcomeLookBackDays` if set; a request's `?lookBackDays=` overrides both, 1–365). Ties on the start
 *    instant: the greater callId. The anchor is the EARLIEST `occurredAt` reported for the externalId, so a status
 *    reported weeks later (closed after booked) still attributes to the call that produced the lead, not to a call the
 *    customer made in between.
 * 3. Stability: once matched, later reports keep the call unless they name another callId, or (for a caller-and-time
 *    match) another caller number, which re-runs rule 2.
 * 4. Unmatched outcomes are stored (callId null) and listed, never dropped; every later POST of the same externalId —
 *    even an identical one — retries rule 2 (a call processed late, or a look-back that now reaches it).
 * A call carries ONE outcome (the attribute `outcome` on its item, for the reports): the last one written to it. A
 * re-point clears the previous call's attribute if it still names this externalId.
 */
import type { CallOutcome, OutcomeStatus } from '../reports/analytics';

export type { CallOutcome, OutcomeStatus } from '../reports/analytics';

export const OUTCOME_STATUSES = ['booked', 'closed', 'lost'] as const satisfies readonly OutcomeStatus[];
export const DEFAULT_LOOK_BACK_DAYS = 30;
export const MAX_LOOK_BACK_DAYS = 365;
/** Lines per POST (JSON array or CSV rows). */
export const MAX_OUTCOME_LINES = 1000;

const DAY_MS = 86_400_000;

/** How an outcome was attributed to its call. */
export type OutcomeMatch = 'call_id' | 'caller_time';

/** The outcome in force as the call item carries it (call-item.ts `outcome`), with how it was matched. */
export interface CallOutcomeOnCall extends CallOutcome {
  readonly match: OutcomeMatch;
}

/** One posted line, validated, the caller number already replaced by its keyed hash. */
export interface OutcomeLine {
  /** 1-based: position in the JSON array, or record number in the CSV file (the header is record 1). */
  readonly line: number;
  readonly externalId: string;
  readonly callId: string | null;
  readonly callerHash: string | null;
  /** `toISOString()` form. */
  readonly occurredAt: string;
  readonly status: OutcomeStatus;
  readonly revenueCents: number;
  readonly marginCents: number;
}

export interface OutcomeReport {
  readonly status: OutcomeStatus;
  readonly revenueCents: number;
  readonly marginCents: number;
  readonly occurredAt: string;
  readonly receivedAt: string;
  /** `<key label> (<role>)` of the API key that posted it. */
  readonly by: string;
}

/** The stored outcome (main table `ACCT#<accountId>` / `OUTCOME#<externalId>`). Never the caller number. */
export interface OutcomeRecord {
  readonly accountId: string;
  readonly externalId: string;
  /** The report in force. */
  readonly status: OutcomeStatus;
  readonly revenueCents: number;
  readonly marginCents: number;
  readonly occurredAt: string;
  /** Every report, in the order received. */
  readonly history: readonly OutcomeReport[];
  /** Keyed hash of the caller number last reported (for matching by caller and time), or null. */
  readonly callerHash: string | null;
  readonly callId: string | null;
  readonly match: OutcomeMatch | null;
  readonly matchedAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Bumped by every write; writes are conditional on it. */
  readonly rev: number;
}

// ---------------------------------------------------------------- matching

/** A call that could be the one an outcome came from (the caller index holds connected calls only). */
export interface CandidateCall {
  readonly callId: string;
  readonly startedAt: string;
  readonly connected: boolean;
}

/** The look-back window of an anchor instant: [anchor − days, anchor], both ISO. */
export function lookBackWindow(anchorIso: string, lookBackDays: number): { readonly fromIso: string; readonly toIso: string } {
  const anchorMs = Date.parse(anchorIso);
  return { fromIso: new Date(anchorMs - lookBackDays * DAY_MS).toISOString(), toIso: new Date(anchorMs).toISOString() };
}

/**
 * Rule 2: the most recent connected candidate that started at or before the anchor and no earlier than anchor −
 * lookBackDays; ties on the start: the greater callId. Null when none qualifies.
 */
export function chooseCallerMatch(candidates: readonly CandidateCall[], anchorIso: string, lookBackDays: number): string | null {
  const anchorMs = Date.parse(anchorIso);
  const earliestMs = anchorMs - lookBackDays * DAY_MS;
  let best: CandidateCall | null = null;
  let bestMs = -Infinity;
  for (const c of candidates) {
    const ms = Date.parse(c.startedAt);
    if (!c.connected || !(ms <= anchorMs) || ms < earliestMs) continue;
    if (ms > bestMs || (ms === bestMs && best !== null && c.callId > best.callId)) {
      best = c;
      bestMs = ms;
    }
  }
  return best?.callId ?? null;
}

/** What must be looked up before a line can be applied. */
export type MatchPlan =
  | { readonly kind: 'keep' }
  | { readonly kind: 'call_id'; readonly callId: string }
  | { readonly kind: 'caller_time'; readonly callerHash: string; readonly anchorAt: string }
  | { readonly kind: 'none' };

/** Rules 1–4: how this line's outcome is to be matched, given what is stored. */
export function planMatch(existing: OutcomeRecord | null, line: OutcomeLine): MatchPlan {
  if (line.callId !== null) return existing?.callId === line.callId ? { kind: 'keep' } : { kind: 'call_id', callId: line.callId };
  if (existing !== null && existing.callId !== null) {
    const callerChanged = existing.match === 'caller_time' && line.callerHash !== null && line.callerHash !== existing.callerHash;
    if (!callerChanged) return { kind: 'keep' };
  }
  const callerHash = line.callerHash ?? existing?.callerHash ?? null;
  if (callerHash === null) return { kind: 'none' };
  return { kind: 'caller_time', callerHash, anchorAt: anchorOf(existing, line) };
}

/** The earliest occurredAt reported for the externalId, this line included. */
export function anchorOf(existing: OutcomeRecord | null, line: Pick<OutcomeLine, 'occurredAt'>): string {
  let anchor = line.occurredAt;
  for (const r of existing?.history ?? []) if (r.occurredAt < anchor) anchor = r.occurredAt;
  return anchor;
}

// ---------------------------------------------------------------- supersession

/** The report in force: the latest occurredAt; ties go to the one received last (later in the history). */
export function reportInForce(history: readonly OutcomeReport[]): OutcomeReport {
  let best = history[0];
  if (best === undefined) throw new Error('reportInForce: empty history');
  for (const r of history) if (r.occurredAt >= best.occurredAt) best = r;
  return best;
}

function sameReport(r: Pick<OutcomeReport, 'status' | 'revenueCents' | 'marginCents' | 'occurredAt'>, line: OutcomeLine): boolean {
  return r.status === line.status && r.revenueCents === line.revenueCents && r.marginCents === line.marginCents && r.occurredAt === line.occurredAt;
}

export type LineResult = 'created' | 'updated' | 'unchanged' | 'refused';

/** The match decided for a line: keep the stored one, or this (null = unmatched). */
export type DecidedMatch = 'keep' | { readonly callId: string; readonly match: OutcomeMatch } | null;

export interface AppliedOutcome {
  readonly record: OutcomeRecord;
  readonly result: Exclude<LineResult, 'refused'>;
  /** The call whose `outcome` attribute must now carry the outcome in force (null: none to write). */
  readonly setCall: { readonly callId: string; readonly outcome: CallOutcomeOnCall } | null;
  /** The call this outcome no longer belongs to (its attribute is cleared if it still names this externalId). */
  readonly clearCallId: string | null;
}

/** Applies a line to the stored outcome (null: new) with the match decided for it. */
export function applyOutcomeLine(
  existing: OutcomeRecord | null,
  line: OutcomeLine,
  decided: DecidedMatch,
  ctx: { readonly accountId: string; readonly by: string; readonly nowIso: string },
): AppliedOutcome {
  const duplicate = existing !== null && existing.history.some((r) => sameReport(r, line));
  const report: OutcomeReport = {
    status: line.status,
    revenueCents: line.revenueCents,
    marginCents: line.marginCents,
    occurredAt: line.occurredAt,
    receivedAt: ctx.nowIso,
    by: ctx.by,
  };
  const history = existing === null ? [report] : duplicate ? existing.history : [...existing.history, report];
  const force = reportInForce(history);
  const previousCallId = existing?.callId ?? null;
  const match = decided === 'keep' ? (existing === null ? null : { callId: existing.callId, match: existing.match }) : decided;
  const callId = match?.callId ?? null;
  const matchChanged = callId !== previousCallId || (match?.match ?? null) !== (existing?.match ?? null);
  const callerHash = line.callerHash ?? existing?.callerHash ?? null;
  const forceChanged =
    existing === null ||
    force.status !== existing.status ||
    force.revenueCents !== existing.revenueCents ||
    force.marginCents !== existing.marginCents ||
    force.occurredAt !== existing.occurredAt;
  const changed = existing === null || !duplicate || matchChanged || callerHash !== existing.callerHash;

  const record: OutcomeRecord = {
    accountId: ctx.accountId,
    externalId: line.externalId,
    status: force.status,
    revenueCents: force.revenueCents,
    marginCents: force.marginCents,
    occurredAt: force.occurredAt,
    history,
    callerHash,
    callId,
    match: callId === null ? null : (match?.match ?? null),
    matchedAt: callId === null ? null : matchChanged ? ctx.nowIso : (existing?.matchedAt ?? ctx.nowIso),
    createdAt: existing?.createdAt ?? ctx.nowIso,
    updatedAt: changed ? ctx.nowIso : (existing?.updatedAt ?? ctx.nowIso),
    rev: existing === null ? 1 : changed ? existing.rev + 1 : existing.rev,
  };
  const setCall =
    callId !== null && record.match !== null && (matchChanged || forceChanged)
      ? { callId, outcome: callOutcomeOf(record as OutcomeRecord & { match: OutcomeMatch }) }
      : null;
  return {
    record,
    result: existing === null ? 'created' : changed ? 'updated' : 'unchanged',
    setCall,
    clearCallId: previousCallId !== null && previousCallId !== callId ? previousCallId : null,
  };
}

/** The compact outcome a matched call carries. */
export function callOutcomeOf(record: OutcomeRecord & { readonly match: OutcomeMatch }): CallOutcomeOnCall {
  return {
    externalId: record.externalId,
    status: record.status,
    revenueCents: record.revenueCents,
    marginCents: record.marginCents,
    occurredAt: record.occurredAt,
    match: record.match,
  };
}

// ---------------------------------------------------------------- API view

/** `GET /v1/outcomes/{externalId}`: the record without the caller hash (nothing about the caller is returned). */
export interface OutcomeView {
  readonly externalId: string;
  readonly status: OutcomeStatus;
  readonly revenueCents: number;
  readonly marginCents: number;
  readonly occurredAt: string;
  readonly matchedCallId: string | null;
  readonly match: OutcomeMatch | null;
  readonly matchedAt: string | null;
  readonly history: readonly OutcomeReport[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function outcomeView(r: OutcomeRecord): OutcomeView {
  return {
    externalId: r.externalId,
    status: r.status,
    revenueCents: r.revenueCents,
    marginCents: r.marginCents,
    occurredAt: r.occurredAt,
    matchedCallId: r.callId,
    match: r.match,
    matchedAt: r.matchedAt,
    history: r.history,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** The look-back in force: the request's, else the account's setting when it is a whole number 1–365, else 30. */
export function effectiveLookBackDays(requested: number | undefined, accountSetting: unknown): number {
  if (requested !== undefined) return requested;
  return typeof accountSetting === 'number' && Number.isInteger(accountSetting) && accountSetting >= 1 && accountSetting <= MAX_LOOK_BACK_DAYS
    ? accountSetting
    : DEFAULT_LOOK_BACK_DAYS;
}
