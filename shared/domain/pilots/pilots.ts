/**
 * Pilot campaigns (issue 4), everything but what rating needs (that is pilot-terms.ts): the rules a new pilot must
 * clear, the life cycle of its state, its progress against the caps, which notifications are due, and the pilot
 * report (a per-publisher and per-sub-source scorecard). Pure: no I/O, no zod (pilots-schema.ts parses requests).
 *
 * Where the truth lives. The cap is enforced by DynamoDB in the rating transaction (pilot-terms.ts): the pilot's
 * counter item holds `open`, `spentCents` and `billableCalls`, and a charge is written only if the counter allows it.
 * Everything here reads snapshots of that counter; nothing here can let a charge through. Closing a pilot is one
 * conditional write of `open = false` on the counter (condition `open = true`), so exactly one closer wins whoever
 * races (the workflow, the scheduled enforcer, a stop request), and the winner alone moves the state and notifies.
 *
 * Life cycle (`PILOT_TRANSITIONS`):
 *
 *   scheduled ──activate──▶ active ──cap reached──▶ capped ──report──▶ closed
 *       │                    │  └────window over──▶ ended  ──report──▶ closed
 *       └──────stop──────────┴──stop──▶ stopped (report added, state kept)
 *   any non-terminal state ──workflow failure──▶ failed (the enforcer still closes and reports it → closed)
 */
import { createHash } from 'node:crypto';
import { Conflict, Unprocessable, type FieldError } from '../kernel/problems';
import type { PilotTerms } from './caps';
import { pilotDay } from './caps';
import { contractPrices, termsInForce, type Geography } from '../terms/terms';
import { CONFIG_LEAD_MS } from '../catalog/config';
import { REASON_CODES, type ReasonCode } from '../rating/decision';
import { type Campaign, type Publisher } from '../catalog/types';
import { type ChargeEntry } from '../ledger/entries';
import type { LedgerEntry } from '../ledger/entries';
import { CALL_SIGNALS, type CallSignal } from '../rating/rules';

// ---------------------------------------------------------------- vocabulary

export const PILOT_STATES = ['scheduled', 'active', 'capped', 'ended', 'closed', 'stopped', 'failed'] as const;
export type PilotState = (typeof PILOT_STATES)[number];

/** Why a counter was closed. `cap` covers the spend cap and the billable-call limit. */
export type CloseReason = 'cap' | 'window' | 'stopped';

/** Percentages of the spend cap at which the pilot's webhooks are told. */
export const NOTIFY_THRESHOLDS = [50, 80, 100] as const;

/** The longest window: a Standard Step Functions execution lives at most a year. */
export const MAX_WINDOW_MS = 365 * 86_400_000;

/** What a client asks for (`POST /v1/pilots`), parsed by pilots-schema.ts. */
export interface PilotRequest {
  readonly campaignId: string;
  readonly publisherIds: readonly string[];
  readonly vertical: string;
  readonly geography: Geography | null;
  readonly spendCapCents: number;
  readonly dailyCapCents: number | null;
  readonly maxBillableCalls: number | null;
  readonly startsAt: string;
  readonly endsAt: string;
  /** Webhook URLs told about activation, thresholds, closing and the report. */
  readonly notify: readonly string[];
}

/** Where a pilot's report is stored (S3 keys) once built. */
export interface PilotReportRef {
  readonly jsonKey: string;
  readonly csvKey: string;
  readonly builtAt: string;
}

/**
 * A pilot as stored (main table `ACCT#<accountId>` / `PILOT#<pilotId>`): its immutable terms and request, and the
 * mutable record the workflow keeps (state, execution, notifications sent, report).
 */
export interface PilotRecord {
  readonly accountId: string;
  readonly pilotId: string;
  readonly campaignId: string;
  readonly publisherIds: readonly string[];
  readonly vertical: string;
  readonly geography: Geography | null;
  /** Normalised to `toISOString()`. */
  readonly startsAt: string;
  readonly endsAt: string;
  readonly spendCapCents: number;
  readonly dailyCapCents: number | null;
  readonly maxBillableCalls: number | null;
  /** The daily cap's zone (the campaign's hours zone, else the account's). */
  readonly timeZone: string;
  readonly notify: readonly string[];
  readonly createdAt: string;
  /** `<key label> (<role>)`. */
  readonly createdBy: string;
  /** sha256 of the Idempotency-Key (the key itself is not stored). */
  readonly clientKeyHash: string;
  /** sha256 of the canonical request: a retry with the same key must send the same request. */
  readonly requestHash: string;
  /** Monitor loop period and the wait after the window before closing (calls still in progress then). */
  readonly monitorSeconds: number;
  readonly settleSeconds: number;
  readonly state: PilotState;
  readonly executionArn: string | null;
  /** Notification keys already claimed (`activated`, `threshold:50`, `closed`, `report_ready`). */
  readonly notified: readonly string[];
  readonly closedAt: string | null;
  readonly closedReason: CloseReason | null;
  readonly report: PilotReportRef | null;
  readonly failure: string | null;
  readonly updatedAt: string;
}

/** The counter as read (pilot-terms.ts `CounterImage` plus how it was closed). */
export interface CounterSnapshot {
  readonly open: boolean;
  readonly spentCents: number;
  readonly billableCalls: number;
  readonly closedAt: string | null;
  readonly closedReason: CloseReason | null;
}

export function termsOf(p: PilotRecord): PilotTerms {
  return {
    pilotId: p.pilotId,
    publisherIds: p.publisherIds,
    startsAt: p.startsAt,
    endsAt: p.endsAt,
    spendCapCents: p.spendCapCents,
    dailyCapCents: p.dailyCapCents,
    maxBillableCalls: p.maxBillableCalls,
    timeZone: p.timeZone,
    createdAt: p.createdAt,
  };
}

// ---------------------------------------------------------------- ids and idempotency

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The pilot id is derived from the account and the client's Idempotency-Key, so a retried create addresses the
 * same item (and the same Step Functions execution name) without any extra lookup item.
 */
export function pilotIdFor(accountId: string, idempotencyKey: string): string {
  return `pilot-${sha256Hex(`${accountId}\n${idempotencyKey}`).slice(0, 24)}`;
}

/** Canonical JSON (sorted keys) of the parsed request, hashed: the "same body" of an idempotent retry. */
export function requestHash(req: PilotRequest): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  const normalised = { ...req, startsAt: new Date(req.startsAt).toISOString(), endsAt: new Date(req.endsAt).toISOString() };
  return sha256Hex(JSON.stringify(canonical(normalised)));
}

// ---------------------------------------------------------------- validation

export interface PilotValidationContext {
  readonly nowMs: number;
  readonly campaign: Campaign | null;
  /** publisherId → the publisher, or null when the account has none by that id. */
  readonly publishers: ReadonlyMap<string, Publisher | null>;
}

/**
 * The rules a new pilot must clear (422), in the order a client fixes them: the numbers, the window, then the
 * campaign and publishers it names. Overlap with another pilot is a 409 (`assertNoOverlap`): it depends on the
 * campaign's current state, not on the request alone.
 */
export function validatePilotRequest(req: PilotRequest, ctx: PilotValidationContext): void {
  const errors: FieldError[] = [];
  if (req.spendCapCents <= 0) errors.push({ field: 'spendCapCents', message: 'must be greater than 0' });
  if (req.dailyCapCents !== null) {
    if (req.dailyCapCents <= 0) errors.push({ field: 'dailyCapCents', message: 'must be greater than 0' });
    else if (req.dailyCapCents > req.spendCapCents) errors.push({ field: 'dailyCapCents', message: 'must not exceed spendCapCents' });
  }
  if (req.maxBillableCalls !== null && req.maxBillableCalls <= 0) errors.push({ field: 'maxBillableCalls', message: 'must be greater than 0' });

  const startsMs = Date.parse(req.startsAt);
  const endsMs = Date.parse(req.endsAt);
  const earliest = ctx.nowMs + CONFIG_LEAD_MS;
  if (startsMs < ctx.nowMs) {
    errors.push({ field: 'startsAt', message: 'is in the past' });
  } else if (startsMs < earliest) {
    errors.push({
      field: 'startsAt',
      message: `must be at or after ${new Date(earliest).toISOString()}: a pilot is written at least ${CONFIG_LEAD_MS / 1000} s before its window opens`,
    });
  }
  if (endsMs <= startsMs) errors.push({ field: 'endsAt', message: 'must be after startsAt' });
  else if (endsMs - startsMs > MAX_WINDOW_MS) errors.push({ field: 'endsAt', message: 'the window may last at most 365 days' });

  const campaign = ctx.campaign;
  if (campaign === null) {
    errors.push({ field: 'campaignId', message: 'names no campaign of this account' });
  } else if (campaign.vertical !== req.vertical) {
    errors.push({ field: 'vertical', message: "must be the campaign's vertical" });
  }
  req.publisherIds.forEach((id, i) => {
    if ((ctx.publishers.get(id) ?? null) === null) errors.push({ field: `publisherIds.${i}`, message: 'names no publisher of this account' });
  });
  if (errors.length > 0) {
    throw new Unprocessable(`The pilot cannot be created: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}.`, errors);
  }
}

/** Half-open windows [s, e) overlap. */
export function windowsOverlap(a: { startsAt: string; endsAt: string }, b: { startsAt: string; endsAt: string }): boolean {
  return Date.parse(a.startsAt) < Date.parse(b.endsAt) && Date.parse(b.startsAt) < Date.parse(a.endsAt);
}

/**
 * The campaign's pilot that shares a publisher with `req` over an overlapping window, if any. Every pilot in the
 * campaign's list counts, stopped ones too: terms are immutable and `pilotForCall` picks the pilot whose window
 * holds a call, so two candidate windows for one publisher would make the governing pilot ambiguous.
 */
export function overlappingPilot(existing: readonly PilotTerms[] | undefined, req: Pick<PilotRequest, 'publisherIds' | 'startsAt' | 'endsAt'>): PilotTerms | null {
  for (const p of existing ?? []) {
    if (p.publisherIds.some((id) => req.publisherIds.includes(id)) && windowsOverlap(p, req)) return p;
  }
  return null;
}

export function assertNoOverlap(existing: readonly PilotTerms[] | undefined, req: PilotRequest): void {
  const other = overlappingPilot(existing, req);
  if (other !== null) {
    const shared = other.publisherIds.filter((id) => req.publisherIds.includes(id));
    throw new Conflict(
      `Pilot ${other.pilotId} of this campaign already covers publisher ${shared.join(', ')} from ${other.startsAt} to ${other.endsAt}; windows of pilots sharing a publisher may not overlap.`,
    );
  }
}

/** The daily cap's zone: the campaign's hours zone, else the account's. */
export function pilotTimeZone(campaign: Pick<Campaign, 'hours'>, accountTimeZone: string): string {
  return campaign.hours?.timeZone ?? accountTimeZone;
}

// ---------------------------------------------------------------- state machine

export const TERMINAL_STATES: ReadonlySet<PilotState> = new Set(['closed', 'stopped']);

/** Every allowed change of state; anything else is refused by the repository's conditional update. */
export const PILOT_TRANSITIONS: Readonly<Record<PilotState, readonly PilotState[]>> = {
  scheduled: ['active', 'stopped', 'failed', 'capped', 'ended'],
  active: ['capped', 'ended', 'stopped', 'failed'],
  capped: ['closed', 'failed'],
  ended: ['closed', 'failed'],
  failed: ['capped', 'ended', 'closed', 'stopped'],
  closed: [],
  stopped: [],
};

export function canTransition(from: PilotState, to: PilotState): boolean {
  return PILOT_TRANSITIONS[from].includes(to);
}

/** The states from which `to` may be reached (what the conditional update tests). */
export function statesLeadingTo(to: PilotState): PilotState[] {
  return PILOT_STATES.filter((s) => canTransition(s, to));
}

/** The state a close with `reason` moves a pilot to. */
export function stateAfterClose(reason: CloseReason): PilotState {
  return reason === 'cap' ? 'capped' : reason === 'window' ? 'ended' : 'stopped';
}

/** The state once the report is stored: `closed`, except that a stopped pilot stays `stopped`. */
export function stateAfterReport(current: PilotState): PilotState {
  return current === 'stopped' ? 'stopped' : 'closed';
}

// ---------------------------------------------------------------- progress

export interface PilotProgress {
  readonly spentCents: number;
  readonly remainingCents: number;
  /** Whole percent of the spend cap spent (floor). */
  readonly percentOfCap: number;
  readonly billableCalls: number;
  readonly remainingCalls: number | null;
  /** `before` the window, `open`, or `after` it. */
  readonly window: 'before' | 'open' | 'after';
  /** Seconds until the window closes (0 after it). */
  readonly timeLeftSec: number;
  readonly secondsToStart: number;
}

export function pilotProgress(p: Pick<PilotRecord, 'startsAt' | 'endsAt' | 'spendCapCents' | 'maxBillableCalls'>, counter: Pick<CounterSnapshot, 'spentCents' | 'billableCalls'>, nowMs: number): PilotProgress {
  const startsMs = Date.parse(p.startsAt);
  const endsMs = Date.parse(p.endsAt);
  return {
    spentCents: counter.spentCents,
    remainingCents: Math.max(0, p.spendCapCents - counter.spentCents),
    percentOfCap: Math.floor((counter.spentCents * 100) / p.spendCapCents),
    billableCalls: counter.billableCalls,
    remainingCalls: p.maxBillableCalls === null ? null : Math.max(0, p.maxBillableCalls - counter.billableCalls),
    window: nowMs < startsMs ? 'before' : nowMs < endsMs ? 'open' : 'after',
    timeLeftSec: Math.max(0, Math.ceil((endsMs - Math.max(nowMs, startsMs)) / 1000)),
    secondsToStart: Math.max(0, Math.ceil((startsMs - nowMs) / 1000)),
  };
}

/**
 * The cheapest charge the campaign's terms in force can produce (null when none are in force). The cap counts as
 * reached when the remainder cannot pay for it: no call can be charged any more, so waiting for the window's end
 * would only delay the report.
 */
export function minimumPriceCents(campaign: Pick<Campaign, 'termsVersions'>, atMs: number): number | null {
  const terms = termsInForce(campaign.termsVersions, atMs);
  if (terms === null) return null;
  const prices = [...contractPrices(terms)].filter((p) => p > 0);
  return prices.length === 0 ? null : Math.min(...prices);
}

export function capReached(p: Pick<PilotRecord, 'spendCapCents' | 'maxBillableCalls'>, counter: Pick<CounterSnapshot, 'spentCents' | 'billableCalls'>, minPriceCents: number | null): boolean {
  if (p.maxBillableCalls !== null && counter.billableCalls >= p.maxBillableCalls) return true;
  const remaining = p.spendCapCents - counter.spentCents;
  return remaining <= 0 || (minPriceCents !== null && remaining < minPriceCents);
}

/** The monitor's verdict: keep watching, close for the cap, close for the window (after settling), or already closed. */
export type MonitorDecision = 'continue' | 'cap' | 'window' | 'closed';

export function monitorDecision(
  p: Pick<PilotRecord, 'startsAt' | 'endsAt' | 'spendCapCents' | 'maxBillableCalls'>,
  counter: Pick<CounterSnapshot, 'open' | 'spentCents' | 'billableCalls'>,
  nowMs: number,
  minPriceCents: number | null,
): MonitorDecision {
  if (!counter.open) return 'closed';
  if (capReached(p, counter, minPriceCents)) return 'cap';
  if (nowMs >= Date.parse(p.endsAt)) return 'window';
  return 'continue';
}

/** Whether the enforcer closes now: cap reached, or the window is over by more than the settle time. */
export function enforcementDecision(
  p: Pick<PilotRecord, 'startsAt' | 'endsAt' | 'spendCapCents' | 'maxBillableCalls' | 'settleSeconds'>,
  counter: Pick<CounterSnapshot, 'open' | 'spentCents' | 'billableCalls'>,
  nowMs: number,
  minPriceCents: number | null,
): 'keep' | 'close_cap' | 'close_window' | 'closed' {
  if (!counter.open) return 'closed';
  if (capReached(p, counter, minPriceCents)) return 'close_cap';
  if (nowMs >= Date.parse(p.endsAt) + p.settleSeconds * 1000) return 'close_window';
  return 'keep';
}

/** Threshold notification keys due at `percent`, not yet claimed. */
export function thresholdsDue(percent: number, notified: readonly string[]): string[] {
  return NOTIFY_THRESHOLDS.filter((t) => percent >= t).map((t) => `threshold:${t}`).filter((k) => !notified.includes(k));
}

/**
 * Counter against ledger: the charges of the pilot in the ledger should sum to the counter (the rating transaction
 * writes both). If the ledger holds more, the counter is raised to it (never lowered: a lower counter would let a
 * charge past the cap); if the counter holds more, it is reported as drift and left alone.
 */
export function reconcileCounter(counter: Pick<CounterSnapshot, 'spentCents' | 'billableCalls'>, ledger: { spentCents: number; billableCalls: number }):
  | { readonly action: 'none' }
  | { readonly action: 'raise'; readonly spentCents: number; readonly billableCalls: number }
  | { readonly action: 'drift'; readonly counterAheadCents: number } {
  if (ledger.spentCents > counter.spentCents || ledger.billableCalls > counter.billableCalls) {
    return {
      action: 'raise',
      spentCents: Math.max(ledger.spentCents, counter.spentCents),
      billableCalls: Math.max(ledger.billableCalls, counter.billableCalls),
    };
  }
  if (ledger.spentCents < counter.spentCents) return { action: 'drift', counterAheadCents: counter.spentCents - ledger.spentCents };
  return { action: 'none' };
}

/**
 * The pilot's live charges in a ledger range: entries with its pilotId, less the charges a reversal took back (the
 * rating transaction that reverses a charge gives its amount and its call back to the counter, so the counter counts
 * live charges only). Credits are not given back: the cap is on what was charged.
 */
export function pilotChargeTotals(entries: readonly LedgerEntry[], pilotId: string): { spentCents: number; billableCalls: number } {
  const reversed = new Set(entries.flatMap((e) => (e.type === 'reversal' && e.pilotId === pilotId ? [e.correctsEntryId] : [])));
  let spentCents = 0;
  let billableCalls = 0;
  for (const e of entries) {
    if (e.type === 'charge' && e.pilotId === pilotId && !reversed.has(e.entryId)) {
      spentCents += e.amountCents;
      billableCalls += 1;
    }
  }
  return { spentCents, billableCalls };
}

/** The day (in the pilot's zone) whose daily counter applies now. */
export function currentPilotDay(p: Pick<PilotRecord, 'timeZone'>, nowMs: number): string {
  return pilotDay(p, nowMs);
}

// ---------------------------------------------------------------- notifications

export type PilotEvent = 'pilot.activated' | 'pilot.threshold' | 'pilot.closed' | 'pilot.report_ready';

/** The JSON body POSTed to each notify URL. No caller data: ids, figures and the state only. */
export interface PilotNotification {
  readonly event: PilotEvent;
  readonly accountId: string;
  readonly pilotId: string;
  readonly campaignId: string;
  readonly state: PilotState;
  readonly spentCents: number;
  readonly spendCapCents: number;
  readonly percentOfCap: number;
  readonly billableCalls: number;
  readonly threshold?: number;
  readonly closedReason?: CloseReason;
  readonly at: string;
}

export function notificationFor(
  key: string,
  p: Pick<PilotRecord, 'accountId' | 'pilotId' | 'campaignId' | 'spendCapCents'>,
  state: PilotState,
  counter: Pick<CounterSnapshot, 'spentCents' | 'billableCalls' | 'closedReason'>,
  at: string,
): PilotNotification {
  const base = {
    accountId: p.accountId,
    pilotId: p.pilotId,
    campaignId: p.campaignId,
    state,
    spentCents: counter.spentCents,
    spendCapCents: p.spendCapCents,
    percentOfCap: Math.floor((counter.spentCents * 100) / p.spendCapCents),
    billableCalls: counter.billableCalls,
    at,
  };
  if (key.startsWith('threshold:')) return { ...base, event: 'pilot.threshold', threshold: Number(key.slice('threshold:'.length)) };
  if (key === 'activated') return { ...base, event: 'pilot.activated' };
  if (key === 'closed') return { ...base, event: 'pilot.closed', ...(counter.closedReason ? { closedReason: counter.closedReason } : {}) };
  return { ...base, event: 'pilot.report_ready' };
}

// ---------------------------------------------------------------- the report

/** A rated call as the report needs it (no caller data). */
export interface PilotCall {
  readonly callId: string;
  readonly campaignId: string | null;
  readonly publisherId: string | null;
  readonly subSource: string | null;
  readonly startedAt: string | null;
  readonly billable: boolean;
  readonly reasons: readonly ReasonCode[];
  /** Signals flagged at rating (rating-v2 CALL_SIGNALS); absent: none. */
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
  const cells = new Map<string, Map<string, Acc>>();
  const SUB_NONE = '\u0000';
  const cell = (publisherId: string, subSource: string | null): Acc => {
    let subs = cells.get(publisherId);
    if (!subs) cells.set(publisherId, (subs = new Map()));
    const k = subSource ?? SUB_NONE;
    let a = subs.get(k);
    if (!a) subs.set(k, (a = emptyAcc()));
    return a;
  };
  for (const id of pilot.publisherIds) cells.set(id, new Map());

  for (const c of args.calls) {
    if (!isPilotCall(pilot, c)) continue;
    const a = cell(c.publisherId!, c.subSource);
    a.calls += 1;
    if (c.billable) a.billable += 1;
    else {
      const primary = c.reasons[0];
      if (primary !== undefined) a.reasons[primary] = (a.reasons[primary] ?? 0) + 1;
    }
    if (c.reasons.includes('duplicate_caller')) a.duplicates += 1;
    for (const s of c.signals ?? []) if ((CALL_SIGNALS as readonly string[]).includes(s)) a.signals[s as CallSignal] = (a.signals[s as CallSignal] ?? 0) + 1;
  }

  const charges = new Map<string, ChargeEntry>();
  for (const e of args.entries) if (e.type === 'charge' && e.pilotId === pilot.pilotId) charges.set(e.entryId, e);
  for (const e of charges.values()) cell(e.publisherId, e.subSource).spend += e.amountCents;
  for (const e of args.entries) {
    if (e.type === 'credit' && charges.has(e.correctsEntryId)) cell(e.publisherId, e.subSource).credits += e.amountCents;
    if (e.type === 'reversal' && charges.has(e.correctsEntryId)) cell(e.publisherId, e.subSource).reversals += e.amountCents;
  }

  const total = emptyAcc();
  const publishers: PublisherScorecard[] = [...cells.keys()].sort().map((publisherId) => {
    const subs = cells.get(publisherId)!;
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
    totals: rowOf('*', '*', total),
    publishers,
  };
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
