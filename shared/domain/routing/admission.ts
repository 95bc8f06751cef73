/**
 * Admission before connect: ONE pure decision, made before the buyer's line rings, from the same versioned terms
 * and the same rule functions as rating, and explained like rating (every rule with its inputs and result):
 * `route` (the targets in the order this call tries them) or `refuse` (the first failing rule).
 *
 * How it cannot drift from rating. Admission does not re-implement rating's rules: it runs rating itself
 * (rating/rules.ts rateCall) on the facts it knows, with the facts it cannot know set so that they fail nothing
 * (connected, talk and total time above any buffer, no machine), and takes every rule rating produced except the
 * three that only the end of the call decides (RATING_ONLY_RULES). A rule rating gains later (the caller-id rule,
 * for one) is therefore part of admission the day it lands, and the property test (test/unit/callflow/
 * admission-rating.unit.test.ts) holds the two together: on the facts both know they never disagree.
 *
 * Rules, in rating's order, then admission's own:
 *   unknown_number, outside_hours            as rating (the instant is the voice request's arrival)
 *   not_qualified                            as rating, once the IVR answer is known (stage `connect`); deferred at
 *                                            stage `screen` when the flow still has to ask
 *   out_of_geo                               as rating
 *   caller_id_withheld                       as rating once rating evaluates it; until then from the `withheld`
 *                                            input (the caller-identity function decides whether `from` is withheld,
 *                                            the terms' `withheldCallerId` whether that bills)
 *   duplicate_caller                         as rating, but it FLAGS, it does not refuse: a repeat caller is a
 *                                            customer calling back, and the buyer wants the call even if it will
 *                                            not bill; the reservation is still taken (an earlier call may yet be
 *                                            credited and this one re-rated billable)
 *   blocked_caller, blocked_signal (DNC, …)  as rating, on the signals known before connect (`quality`: DNC listing
 *                                            and consent from rating's readers, under the account's blocking choice)
 *   outside_window, over_cap                 as rating; `capRefusal` comes from the reservation's failed write
 *                                            (reservations.ts reserveRefusal), exactly as rating's comes from the
 *                                            charge's, and admission is run again with it
 *   campaign_capped                          the flow's campaign caps (concurrent, hourly, daily admitted calls)
 *                                            against `counts`: as known (none) until the count's conditional write
 *                                            (counters.ts) fails, then the counts as they were, and admission is run
 *                                            again with them
 *   no_target                                every target of the route is paused, closed, out of geo, capped or at
 *                                            capacity (order.ts; each with its reason in `route`)
 * A refused call is never connected and never charged: every rating rule admission refuses on also fails in rating.
 */
import type { CapRefusal, PilotMatch } from '../pilots/caps';
import { REASON_CODES, type CallFacts, type PriorBilled, type ReasonCode, type RuleResult } from '../rating/decision';
import { rateCall, type BlockMatch, type CallSignal, type CampaignTargeting } from '../rating/rules';
import { priceFor, termsInForce, type ContractTerms, type TermsVersion } from '../terms/terms';
import type { AssignedNumber } from '../catalog/types';
import { planRoute, type RouteStep } from './order';
import { callerGeoOf, type Target, type TargetFacts } from './targets';

/** Rating rules only the end of the call decides: admission cannot know them, and they are the only ones rating may add. */
export const RATING_ONLY_RULES = ['not_connected', 'machine_answered', 'below_buffer'] as const;
type RatingOnlyRule = (typeof RATING_ONLY_RULES)[number];

/** Quality signals that need the call's duration or talk time: never known before connect. */
export const POST_CALL_SIGNALS: readonly CallSignal[] = ['near_buffer_hangup', 'silent_or_short_talk'];

export type AdmissionRule = Exclude<ReasonCode, RatingOnlyRule> | 'caller_id_withheld' | 'campaign_capped' | 'no_target';

/** Every rule admission evaluates, in rating's order: rating's, less the three only the call's end decides, then its own. */
export const ADMISSION_RULES: readonly AdmissionRule[] = [
  ...REASON_CODES.filter((r): r is Exclude<ReasonCode, RatingOnlyRule> => !(RATING_ONLY_RULES as readonly string[]).includes(r)),
  'campaign_capped',
  'no_target',
];

/** Rules that are reported but never refuse a call. */
export const FLAG_ONLY_RULES: readonly AdmissionRule[] = ['duplicate_caller'];

export interface AdmissionRuleResult {
  readonly rule: AdmissionRule;
  readonly passed: boolean;
  readonly inputs: Record<string, unknown>;
}

/** Caps on the calls a campaign admits (none: null), counted over admitted calls. */
export interface CampaignCaps {
  readonly concurrentCalls: number | null;
  readonly hourlyCalls: number | null;
  readonly dailyCalls: number | null;
}

export interface CampaignCounts {
  /** Admitted calls of the campaign not yet ended. */
  readonly active: number;
  /** Calls admitted in the current hour / day of the campaign's hours zone (UTC without hours). */
  readonly thisHour: number;
  readonly today: number;
}

export interface AdmissionInput {
  /** `screen`: the first request, before the IVR; `connect`: the IVR answered (or there is none), about to dial. */
  readonly stage: 'screen' | 'connect';
  readonly callId: string;
  /** What the provider's request says about the caller and the number dialled (caller numbers never leave here). */
  readonly call: Pick<CallFacts, 'from' | 'to' | 'fromState' | 'fromZip' | 'tags'> & { readonly areaCode?: string | null; readonly digits: string | null };
  /** The voice request's arrival: the call's start as far as admission can tell. */
  readonly atMs: number;
  readonly assignment: AssignedNumber | null;
  readonly campaign: CampaignTargeting | null;
  readonly termsVersions: readonly TermsVersion[];
  readonly priorBilled: PriorBilled | null;
  readonly blocked: BlockMatch | null;
  /** Signals known before connect (DNC listing, consent, attestation, …) and the account's blocking choice. */
  readonly quality: { readonly signals: readonly CallSignal[]; readonly blockSignals: readonly CallSignal[] } | null;
  /**
   * Whether the caller id is withheld and whether the terms let such a call bill, for as long as rating does not
   * evaluate rule caller_id_withheld itself (then rating's verdict is used and this input is ignored).
   */
  readonly withheld: { readonly callerIdWithheld: boolean; readonly withheldCallerId: 'billable' | 'non_billable' } | null;
  readonly pilot: PilotMatch | null;
  /** Set when the reservation's write failed on a cap (reserveRefusal): admission is run again with it. */
  readonly capRefusal: CapRefusal | null;
  readonly caps: CampaignCaps | null;
  readonly counts: CampaignCounts;
  /** The route's target ids (the flow's route chosen by the IVR) and what is known of each. */
  readonly route: readonly string[];
  readonly targets: ReadonlyMap<string, Target>;
  readonly targetFacts: ReadonlyMap<string, TargetFacts>;
}

interface DecisionBase {
  readonly stage: 'screen' | 'connect';
  readonly rules: readonly AdmissionRuleResult[];
  /** Failing flag-only rules: the call is admitted, and will not bill for these reasons. */
  readonly flags: readonly AdmissionRule[];
  readonly termsVersion: number | null;
  readonly campaignId: string | null;
  readonly publisherId: string | null;
  readonly subSource: string | null;
  /** Every target in this call's order, eligible or skipped with its reason (null: refused before routing). */
  readonly route: readonly RouteStep[] | null;
}

export type AdmissionDecision =
  | (DecisionBase & {
      readonly kind: 'route';
      /** The pilot whose caps the call is reserved against, and the amount (stage `connect` only). */
      readonly reservation: { readonly pilotId: string; readonly amountCents: number } | null;
    })
  | (DecisionBase & { readonly kind: 'refuse'; readonly reason: AdmissionRule; readonly reasons: readonly AdmissionRule[] });

/** Seconds that clear any buffer (the schema caps bufferSec at a day). */
const UNBOUNDED_SEC = 86_400;

/** The rating rules admission knows, evaluated by rating itself on the facts known before connect. */
function ratingRules(input: AdmissionInput): { rules: AdmissionRuleResult[]; terms: TermsVersion | null } {
  const facts: CallFacts = {
    status: 'completed',
    from: input.call.from,
    to: input.call.to,
    totalSec: UNBOUNDED_SEC,
    talkSec: UNBOUNDED_SEC,
    answeredBy: null,
    digits: input.call.digits,
    fromState: input.call.fromState,
    fromZip: input.call.fromZip,
    tags: input.call.tags,
    ...(input.call.areaCode === undefined ? {} : { areaCode: input.call.areaCode }),
  };
  const rated = rateCall({
    call: facts,
    startedAtMs: input.atMs,
    assignment: input.assignment,
    campaign: input.campaign,
    termsVersions: input.termsVersions,
    priorBilled: input.priorBilled,
    blocked: input.blocked,
    quality: input.quality,
    pilot: input.pilot,
    capRefusal: input.capRefusal,
  });
  const onlyAtEnd = new Set<string>(RATING_ONLY_RULES);
  const rules = rated.rules
    .filter((r: RuleResult) => !onlyAtEnd.has(r.rule))
    .filter((r) => !(input.stage === 'screen' && r.rule === 'not_qualified'))
    .map((r) => ({ rule: r.rule as AdmissionRule, passed: r.passed, inputs: r.inputs }));
  const assigned = input.assignment !== null && input.campaign !== null && input.campaign.campaignId === input.assignment.campaignId;
  return { rules, terms: assigned ? termsInForce(input.termsVersions, input.atMs) : null };
}

/** The caller-id rule until rating evaluates it, placed where rating places it (after out_of_geo). */
function withWithheldRule(rules: AdmissionRuleResult[], input: AdmissionInput): AdmissionRuleResult[] {
  if (input.withheld === null || rules.some((r) => r.rule === 'caller_id_withheld') || rules.length <= 1) return rules;
  const rule: AdmissionRuleResult = {
    rule: 'caller_id_withheld',
    passed: !input.withheld.callerIdWithheld || input.withheld.withheldCallerId === 'billable',
    inputs: { callerIdWithheld: input.withheld.callerIdWithheld, withheldCallerId: input.withheld.withheldCallerId },
  };
  const at = rules.findIndex((r) => r.rule === 'out_of_geo');
  return at < 0 ? [...rules, rule] : [...rules.slice(0, at + 1), rule, ...rules.slice(at + 1)];
}

function capsRule(caps: CampaignCaps | null, counts: CampaignCounts): AdmissionRuleResult {
  if (caps === null) return { rule: 'campaign_capped', passed: true, inputs: { caps: null } };
  const over =
    (caps.concurrentCalls !== null && counts.active >= caps.concurrentCalls) ||
    (caps.hourlyCalls !== null && counts.thisHour >= caps.hourlyCalls) ||
    (caps.dailyCalls !== null && counts.today >= caps.dailyCalls);
  return { rule: 'campaign_capped', passed: !over, inputs: { ...caps, active: counts.active, thisHour: counts.thisHour, today: counts.today } };
}

/**
 * The most a call can cost under `terms`, given what is known before connect (its IVR answer and tags): an override
 * that matches fixes the price; else the base price or any band the call's duration may reach. The reservation holds
 * this much, so the charge rating later makes always fits in it.
 */
export function highestReachablePrice(terms: ContractTerms, digits: string | null, tags: readonly string[]): number {
  const durations = [terms.bufferSec, ...terms.priceBands.map((b) => b.fromSec)];
  return Math.max(...durations.map((d) => priceFor(terms, Math.max(d, terms.bufferSec), digits, tags).priceCents));
}

export function admit(input: AdmissionInput): AdmissionDecision {
  const { rules: rated, terms } = ratingRules(input);
  const rules = withWithheldRule(rated, input);
  const known = terms !== null;
  if (known) rules.push(capsRule(input.caps, input.counts));

  const base = {
    stage: input.stage,
    termsVersion: terms?.version ?? null,
    campaignId: known ? (input.assignment?.campaignId ?? null) : null,
    publisherId: known ? (input.assignment?.publisherId ?? null) : null,
    subSource: known ? (input.assignment?.subSource ?? null) : null,
  };
  const refusing = (rs: readonly AdmissionRuleResult[]) => rs.filter((r) => !r.passed && !FLAG_ONLY_RULES.includes(r.rule)).map((r) => r.rule);
  const flags = rules.filter((r) => !r.passed && FLAG_ONLY_RULES.includes(r.rule)).map((r) => r.rule);

  const before = refusing(rules);
  if (before.length > 0) return { ...base, kind: 'refuse', reason: before[0] as AdmissionRule, reasons: before, rules, flags, route: null };

  const geo = callerGeoOf(input.call);
  const route = planRoute(input.route, input.targets, input.targetFacts, geo, input.callId, input.atMs);
  const eligible = route.filter((s) => s.status === 'eligible').length;
  const skipped: Record<string, number> = {};
  for (const s of route) if (s.status !== 'eligible') skipped[s.status] = (skipped[s.status] ?? 0) + 1;
  rules.push({ rule: 'no_target', passed: eligible > 0, inputs: { targets: route.length, eligible, skipped } });
  if (eligible === 0) return { ...base, kind: 'refuse', reason: 'no_target', reasons: ['no_target'], rules, flags, route };

  const pilot = input.pilot;
  const reservation =
    input.stage === 'connect' && pilot !== null && pilot.inWindow && terms !== null
      ? { pilotId: pilot.pilot.pilotId, amountCents: highestReachablePrice(terms, input.call.digits, input.call.tags) }
      : null;
  return { ...base, kind: 'route', rules, flags, route, reservation };
}
