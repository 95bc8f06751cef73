/**
 * Use cases of the read API: one call, a page of calls, a page of ledger entries with totals, and the
 * explanation of a call's rating. The principal
 * (from the bearer API key) scopes every read to its account; another account's call is a 404, exactly as a missing one
 * (call-access.ts).
 * Query parameters are validated by hand (a handful of simple rules; full zod's schema construction was the
 * largest part of this function's own module-load time); unknown parameters are rejected so that a typo
 * (`publisher=`) is not silently ignored.
 */
import type { CallNetworkAttribution } from '../../domain/networks/attribution';
import { routingView, type RoutingView } from '../../domain/routing/audit';
import type { RoutingStore } from '../routing/ports';
import { asCampaign } from '../../domain/catalog/config';
import { foldCall, gatheredDigits } from '../../domain/calls/fold';
import { Conflict } from '../../domain/kernel/problems';
import { pilotForCall } from '../../domain/pilots/caps';
import { CALL_SIGNALS, accountBlockSignals, callFactsFrom, rateCall, type CallSignal } from '../../domain/rating/rules';
import type { CallOutcomeOnCall } from '../../domain/outcomes/outcomes';
import type { CallQa } from '../../domain/qa/qa';
import type { CrossCallFlags } from '../../domain/quality/cross-call-flags';
import type { TermsVersion } from '../../domain/terms/terms';
import type { CallStatus } from '../../domain/calls/events';
import type { ApiRole } from '../../domain/kernel/roles';
import type { RatingDecision, ReasonCode, RecordedRating, RuleResult } from '../../domain/rating/decision';
import type { LedgerEntry, LedgerTotals } from '../../domain/ledger/entries';
import { callerForRole, type CallerCipher } from '../../domain/privacy/pii';
import type { ApiKeyRecord, CallStore, ConfigStore, RecordingMedia, StoredCall } from '../kernel/ports';
import type { LedgerStore } from '../ledger/ports';
import { readOwnCall } from './call-access';
import { cursorScope, openCursor, sealCursor, type CursorSealer } from '../kernel/pagination';
import { cursor, flag, id, instant, pageSize, parseQuery, type QueryParams } from '../kernel/query';

export type { QueryParams } from '../kernel/query';

export interface ReadApiDeps {
  readonly calls: Pick<CallStore, 'getCall' | 'listCalls'>;
  readonly ledger: LedgerStore;
  readonly media: Pick<RecordingMedia, 'presignGet'>;
  /** Opens sealed caller numbers (shared/adapters/privacy/pii-cipher.ts); without it calls show no caller. */
  readonly pii?: Pick<CallerCipher, 'decryptCaller'>;
  /** Seals and opens page cursors (pagination.ts). */
  readonly cursors: CursorSealer;
  /** The routing records the voice function writes; absent: calls show no routing. */
  readonly routing?: Pick<RoutingStore, 'readRouting'>;
}

/** The documented shape of `GET /v1/calls/{callId}`. Rating fields are null until the call is rated. */
export interface CallResponse {
  readonly callId: string;
  readonly accountId: string;
  readonly campaignId: string | null;
  readonly publisherId: string | null;
  readonly subSource: string | null;
  readonly status: CallStatus | null;
  readonly durationSec: number | null;
  readonly billable: boolean | null;
  readonly amountCents: number | null;
  readonly reasons: readonly ReasonCode[];
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly recording: { readonly sha256: string; readonly bytes: number; readonly url: string } | null;
  /** The CRM outcome in force for the call and how it was matched (shared/domain/outcomes/outcomes.ts), or null. */
  readonly outcome: CallOutcomeOnCall | null;
  /** The QA reviewer's verdict in force (shared/domain/qa/qa.ts), or null when not reviewed. */
  readonly qa: CallQa | null;
  /** The caller's E.164 number for `admin` keys, masked (`+1512•••0123`) for `analyst` keys; null when anonymous. */
  readonly caller: string | null;
  /**
   * Quality and compliance signals flagged when the call was rated (rating/rules.ts CALL_SIGNALS, in that order): what a
   * buyer reviewing the call needs to see beside its billing, not only under `/rating`. Empty when none.
   */
  readonly signals: readonly CallSignal[];
  /** What the scheduled quality pass flagged from the calls around this one (as under `/rating`), or null. */
  readonly crossCallSignals: CrossCallFlags | null;
  /** The network side of a forwarded call: the matched claim and the match state (shared/domain/networks/attribution.ts); null when none. */
  readonly network: CallNetworkAttribution | null;
}

export interface CallsPage {
  readonly calls: readonly CallResponse[];
  readonly cursor: string | null;
}

export interface LedgerPage {
  readonly entries: readonly LedgerEntry[];
  readonly totals: LedgerTotals;
  readonly cursor: string | null;
}


/** The query of `GET /v1/ledger` (call-routes.ts declares it). */
export const LEDGER_QUERY = { campaignId: id, publisherId: id, from: instant, to: instant, cursor, limit: pageSize };
/** The query of `GET /v1/calls`. */
export const CALLS_QUERY = { ...LEDGER_QUERY, billable: flag };

/** The caller's number as `role` may see it (shared/domain/privacy/pii.ts); legacy items carry it in clear. */
async function callerOf(call: StoredCall, role: ApiRole, pii: ReadApiDeps['pii']): Promise<string | null> {
  const e164 =
    call.callerEnc !== undefined && pii !== undefined
      ? await pii.decryptCaller(call.callerEnc, { accountId: call.accountId, callId: call.callId })
      : (call.callerE164 ?? null);
  return callerForRole(role, e164);
}

async function toResponse(call: StoredCall, role: ApiRole, deps: Pick<ReadApiDeps, 'media' | 'pii'>): Promise<CallResponse> {
  const media = deps.media;
  const view = call.events.length > 0 ? foldCall(call.events) : null;
  const r = call.rating;
  return {
    callId: call.callId,
    accountId: call.accountId,
    campaignId: r?.campaignId ?? null,
    publisherId: r?.publisherId ?? null,
    subSource: r?.subSource ?? null,
    status: view?.status ?? null,
    durationSec: call.durationSec ?? view?.terminal?.durationSec ?? null,
    billable: r?.billable ?? null,
    amountCents: r?.amountCents ?? null,
    reasons: r?.reasons ?? [],
    startedAt: call.startedAt,
    endedAt: call.endedAt,
    recording:
      call.recording === null
        ? null
        : { sha256: call.recording.sha256, bytes: call.recording.bytes, url: await media.presignGet(call.recording.key) },
    outcome: call.outcome ?? null,
    qa: call.qa ?? null,
    caller: await callerOf(call, role, deps.pii),
    signals: ratingSignals(r),
    crossCallSignals: call.crossCall ?? null,
    network: call.network ?? null,
  };
}

/** The signals the rating recorded, in CALL_SIGNALS order; a name this version does not know is left out. */
function ratingSignals(rating: StoredCall['rating']): CallSignal[] {
  const recorded = rating?.recorded.signals ?? [];
  return CALL_SIGNALS.filter((s) => recorded.includes(s));
}

/** `GET /v1/calls/{callId}`: the call, and how CallLedger answered and routed it (null: it did not answer it). */
export interface CallDetail extends CallResponse {
  readonly routing: RoutingView | null;
}

export async function getCallDetail(principal: ApiKeyRecord, callId: string, deps: Pick<ReadApiDeps, 'calls' | 'media' | 'pii' | 'routing'>): Promise<CallDetail> {
  const call = await readOwnCall(principal, callId, (id) => deps.calls.getCall(id));
  const record = deps.routing === undefined ? null : await deps.routing.readRouting(call.callId);
  const routing = record === null || record.accountId !== principal.accountId ? null : routingView(record);
  return { ...(await toResponse(call, principal.role, deps)), routing };
}

/** Rated calls, newest first. */
export async function listCallsPage(principal: ApiKeyRecord, params: QueryParams, deps: ReadApiDeps): Promise<CallsPage> {
  const { cursor: token, limit, ...filters } = parseQuery(CALLS_QUERY, params);
  const scope = cursorScope('GET /v1/calls', principal.accountId, filters);
  const position = await openCursor(deps.cursors, scope, token);
  const page = await deps.calls.listCalls({ ...filters, accountId: principal.accountId, limit: limit ?? 50, ...(position === undefined ? {} : { cursor: position }) });
  return {
    calls: await Promise.all(page.items.map((c) => toResponse(c, principal.role, deps))),
    cursor: await sealCursor(deps.cursors, scope, page.cursor),
  };
}

/** Entries in effective-time order; totals cover the whole filtered range, not just this page. */
export async function listLedgerPage(principal: ApiKeyRecord, params: QueryParams, deps: ReadApiDeps): Promise<LedgerPage> {
  const q = parseQuery(LEDGER_QUERY, params);
  const filters = { from: q.from, to: q.to, campaignId: q.campaignId, publisherId: q.publisherId };
  const range = { accountId: principal.accountId, ...filters };
  const scope = cursorScope('GET /v1/ledger', principal.accountId, filters);
  const position = await openCursor(deps.cursors, scope, q.cursor);
  const [page, totals] = await Promise.all([
    deps.ledger.listEntries({ ...range, limit: q.limit ?? 50, cursor: position }),
    deps.ledger.totals(range),
  ]);
  return { entries: page.items, totals, cursor: await sealCursor(deps.cursors, scope, page.cursor) };
}

// ------------------------------------------------------------------ rating explanation

export interface RatingExplainDeps {
  readonly calls: Pick<CallStore, 'getCall'>;
  /** Cached config; asked for a copy exact at the call's start (config.ts). */
  readonly config: Pick<ConfigStore, 'getCampaign' | 'getAccount'>;
}

/** `GET /v1/calls/{callId}/rating`. Never carries the caller's number (rule inputs are derived facts only). */
export interface RatingExplanation {
  readonly callId: string;
  readonly startedAt: string | null;
  readonly campaignId: string | null;
  readonly publisherId: string | null;
  readonly subSource: string | null;
  /** The decision as recorded when the call was rated (authoritative). */
  readonly billable: boolean;
  readonly amountCents: number;
  readonly reasons: readonly ReasonCode[];
  readonly termsVersion: number | null;
  /** That version's terms (null for an unknown number). */
  readonly terms: TermsVersion | null;
  /** Every rule in order, with the inputs that decided it, recomputed from the call's events and those terms. */
  readonly rules: RatingDecision['rules'];
  /** How the amount was found (override, band or base price) and on how many seconds; null when not billable. */
  readonly price: RatingDecision['price'];
  /**
   * Whether the recomputation gives the recorded reasons and amount. Hours and geography are campaign settings,
   * not versioned terms: if they changed after the call was rated, the rules show today's evaluation and this is
   * false; the recorded decision stands.
   */
  readonly matchesRecorded: boolean;
  /**
   * What the scheduled quality pass flagged from the calls around this one (repeat_caller, velocity,
   * coached_ivr; shared/app/quality/quality-pass.ts), or null. Flags only: never a rule of this rating, never billing.
   */
  readonly crossCallSignals: CrossCallFlags | null;
}

/**
 * The number rule of a call the explanation cannot rate again (its campaign or the recorded terms version is gone),
 * as recorded: passed when the rating found the number's campaign and terms, with the campaign the number named.
 */
function recordedNumberRule(rating: RecordedRating, to: string): RuleResult {
  const known = rating.campaignId !== null && rating.publisherId !== null && rating.termsVersion !== null;
  return { rule: 'unknown_number', passed: known, inputs: { to, campaignId: rating.campaignId ?? rating.recorded.assignedCampaignId ?? null } };
}

export async function getCallRating(principal: ApiKeyRecord, callId: string, deps: RatingExplainDeps): Promise<RatingExplanation> {
  const call = await readOwnCall(principal, callId, (id) => deps.calls.getCall(id));
  const rating = call.rating;
  const terminal = call.events.length > 0 ? foldCall(call.events).terminal : null;
  if (rating === null || terminal === null) throw new Conflict('The call has not been rated yet (no final status has arrived).');

  const recorded = {
    callId,
    startedAt: call.startedAt,
    campaignId: rating.campaignId,
    publisherId: rating.publisherId,
    subSource: rating.subSource,
    billable: rating.billable,
    amountCents: rating.amountCents,
    reasons: rating.reasons,
    termsVersion: rating.termsVersion,
    crossCallSignals: call.crossCall ?? null,
  };
  const startedAtMs = call.startedAt === null ? Date.parse(terminal.occurredAt) : Date.parse(call.startedAt);
  const record =
    rating.campaignId === null || rating.termsVersion === null ? null : await deps.config.getCampaign(call.accountId, rating.campaignId, startedAtMs);
  const campaign = record === null ? null : asCampaign(record);
  const terms = campaign?.termsVersions.find((v) => v.version === rating.termsVersion) ?? null;
  if (campaign === null || terms === null || rating.campaignId === null || rating.publisherId === null) {
    // An unknown number: the one rule evaluated, as recorded.
    return { ...recorded, terms: null, rules: [recordedNumberRule(rating, terminal.to)], price: null, matchesRecorded: true };
  }
  const decision = rateCall({
    // The slots carry no number; the caller's area code is what the rating recorded (legacy items: from `from`).
    call: callFactsFrom(terminal, {
      digits: gatheredDigits(call.events),
      talkSec: rating.recorded.talkSec ?? null,
      ...(call.callerTraits === undefined
        ? // An item rated before the traits existed: its number is in its slots, or, erased by a deletion request, it
          // kept the hash that only a valid number had then.
          terminal.from === '' && call.callerHash != null
          ? { callerNumberClass: 'valid' as const }
          : {}
        : { areaCode: call.callerTraits.areaCode, callerNumberClass: call.callerTraits.numberClass }),
    }),
    startedAtMs,
    assignment: { accountId: call.accountId, number: terminal.to, campaignId: rating.campaignId, publisherId: rating.publisherId, subSource: rating.subSource },
    campaign,
    // Pinned to the recorded version (versions are immutable), whatever was appended since.
    termsVersions: [{ ...terms, effectiveFrom: new Date(Math.min(startedAtMs, Date.parse(terms.effectiveFrom))).toISOString() }],
    priorBilled: rating.recorded.priorBilled ?? null,
    blocked: rating.recorded.blockId === undefined ? null : { blockId: rating.recorded.blockId },
    quality: {
      signals: (rating.recorded.signals ?? []) as CallSignal[],
      blockSignals: accountBlockSignals(await deps.config.getAccount(call.accountId)),
    },
    pilot: pilotForCall(campaign.pilots, rating.publisherId, startedAtMs),
    capRefusal: rating.recorded.capRefusal ?? null,
  });
  return {
    ...recorded,
    terms,
    rules: decision.rules,
    price: decision.price,
    matchesRecorded: decision.amountCents === rating.amountCents && decision.reasons.join() === rating.reasons.join(),
  };
}
