/**
 * The rating: is a call billable under its campaign's contract, and for how much? A pure function of (call facts,
 * campaign targeting, terms versions, prior duplicate marker, block-list match, quality signals, pilot); the writer
 * looks those up and supplies them, and the rating explanation supplies them again from what the call item recorded
 * (decision.ts RecordedRating). Every rule reports the inputs that decided it (decision.ts RatingDecision).
 *
 * Rules, in this order (the first failing rule is the primary reason; every failing rule is listed):
 *  1. unknown_number   the dialled number has no assignment, its campaign is gone, or no terms version was in
 *                      force when the call started (inputs say which). Nothing else is evaluated.
 *  2. outside_hours    the call started outside the campaign's hours of operation (wall clock in the hours'
 *                      IANA zone; windows are [open, close)). No hours = always open.
 *  3. not_connected    the call ended busy, no-answer, failed or canceled.
 *  4. machine_answered answering-machine detection said `machine_*` or `fax` (`human`/`unknown`/absent pass).
 *  5. below_buffer     billable seconds < bufferSec, on the terms' duration basis: `total` = the inbound leg's
 *                      CallDuration; `talk` = seconds after the buyer answered. With basis `talk` and no talk
 *                      measurement the call has 0 billable seconds: no evidence of a conversation, no charge.
 *                      Skipped for an unconnected call (its duration says nothing more).
 *  6. not_qualified    the terms require an IVR answer and the caller's digits are not one of the accepted ones.
 *  7. out_of_geo       the campaign has a geography and the caller matches none of its states, ZIP prefixes or
 *                      area codes. State and ZIP come from the provider (Twilio FromState/FromZip, best effort);
 *                      the area code is derived from the caller's number with libphonenumber-js (NANP only).
 *                      An attribute we do not know matches nothing, so an unlocatable caller is out of geo.
 *  7b. caller_id_withheld the caller id is withheld (anonymous / restricted / unknown / empty, per provider:
 *                      caller.ts WITHHELD_CALLER_IDS) and the terms say `withheldCallerId: non_billable` (the default
 *                      of a new terms change). Under `billable` the rule passes and the call is flagged with the
 *                      signal caller_id_withheld instead; every withheld caller shares one identity, so rule 8 lets
 *                      at most one withheld call bill per window.
 *  8. duplicate_caller a billed call from the same caller (campaign or account scope, per the terms) started
 *                      within duplicateWindowHours of this one. The caller is its identity (caller.ts callerIdentity: a valid
 *                      number, other digits, an address, or "withheld"). Which call that is, is decided by the caller's
 *                      duplicate window (duplicate-window.ts: the earliest-started billable call bills, in start
 *                      order, whatever the arrival order); the writer supplies it as `priorBilled`.
 *  9. blocked_caller   the caller is on the account's block list.
 *  9b. blocked_signal a signal flagged on the call is one the account makes non-billable: a quality signal
 *                      (quality/signals.ts; `Account.quality.blockSignals`), `dnc_listed` (`Account.compliance.
 *                      dncNonBillable`) or `consent_missing` (`consentMissingNonBillable`). None by default: signals
 *                      flag, they do not block.
 * 10. outside_window   the call belongs to a pilot (pilots/caps.ts: its campaign, one of its publishers, started
 *                      after the pilot was created) but started outside the pilot's window. Only for pilot calls.
 * 11. over_cap         a pilot call that passed every other rule, but the pilot's counter refused the charge
 *                      (spend cap, daily cap, call count, or the pilot closed): the writer learns it from the
 *                      rating transaction's cancellation and rates again with `capRefusal`. Only inside a window.
 *
 * Monotonicity, property-tested: raising the buffer, narrowing the geography or narrowing the hours never makes
 * a non-billable call billable; a billable call's amount is always one of the contract's prices.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { callerIdentity, type CallerNumberClass } from '../calls/caller';
import type { CapRefusal, PilotMatch } from '../pilots/caps';
import { QUALITY_SIGNALS } from '../quality/signals';
import { priceFor, termsInForce, minuteOfDay, type Geography, type HoursOfOperation, type TermsVersion } from '../terms/terms';
import type { Account, AssignedNumber } from '../catalog/types';
import type { CallStatusEvent } from '../calls/events';
import { wallTime } from '../kernel/zoned-time';
import type { CallFacts, PriorBilled, RatingDecision, RuleResult } from './decision';

/**
 * What can be flagged on a call: the quality signals, a Do-Not-Call listing, missing consent, a sub-source the
 * publisher did not declare (source transparency), and a withheld caller id (flagged on every such call, whether the
 * terms make it non-billable or not: the signal says what the call showed, rule caller_id_withheld what it costs).
 */
export const CALL_SIGNALS = [...QUALITY_SIGNALS, 'dnc_listed', 'consent_missing', 'undisclosed_source', 'caller_id_withheld'] as const;
export type CallSignal = (typeof CALL_SIGNALS)[number];

/** The signals an account makes non-billable (rule blocked_signal): its quality blockSignals and compliance choices. */
export function accountBlockSignals(account: Pick<Account, 'quality' | 'compliance'> | null): CallSignal[] {
  return [
    ...(account?.quality?.blockSignals ?? []),
    ...(account?.compliance?.dncNonBillable === true ? (['dnc_listed'] as const) : []),
    ...(account?.compliance?.consentMissingNonBillable === true ? (['consent_missing'] as const) : []),
  ];
}

/** The campaign's non-monetary targeting (not versioned). */
export interface CampaignTargeting {
  readonly campaignId: string;
  readonly hours: HoursOfOperation | null;
  readonly geography: Geography | null;
}

export interface BlockMatch {
  /** The block-list entry that matched (never the number). */
  readonly blockId: string;
}

export interface RatingInput {
  readonly call: CallFacts;
  readonly startedAtMs: number;
  readonly assignment: AssignedNumber | null;
  readonly campaign: CampaignTargeting | null;
  /** All versions of the campaign's terms; the one in force at `startedAtMs` is chosen here. */
  readonly termsVersions: readonly TermsVersion[];
  /** The duplicate marker held for this caller in the terms' scope (null if none, or if its call was fully credited). */
  readonly priorBilled: PriorBilled | null;
  readonly blocked: BlockMatch | null;
  /** Quality signals found on the call and the account's blocking choice (quality/signals.ts); absent: none. */
  readonly quality?: { readonly signals: readonly CallSignal[]; readonly blockSignals: readonly CallSignal[] } | null;
  /** The pilot governing the call (pilotForCall), if any. */
  readonly pilot?: PilotMatch | null;
  /** Set on re-rating after the pilot's counter refused the charge. */
  readonly capRefusal?: CapRefusal | null;
}

/** Facts from the folded terminal event plus what the writer gathered from other slots. */
export function callFactsFrom(
  terminal: CallStatusEvent,
  extra: {
    talkSec?: number | null;
    digits?: string | null;
    /** Who answered, when the terminal event does not say and a detection event did (fold.ts detectedAnswer). */
    answeredBy?: string | null;
    tags?: readonly string[];
    areaCode?: string | null;
    callerNumberClass?: CallerNumberClass;
  } = {},
): CallFacts {
  return {
    status: terminal.status,
    from: terminal.from,
    to: terminal.to,
    totalSec: terminal.durationSec ?? 0,
    talkSec: extra.talkSec ?? null,
    answeredBy: terminal.answeredBy ?? extra.answeredBy ?? null,
    digits: extra.digits ?? terminal.digits,
    fromState: terminal.fromState,
    fromZip: terminal.fromZip,
    tags: extra.tags ?? [],
    ...(extra.areaCode === undefined ? {} : { areaCode: extra.areaCode }),
    ...(extra.callerNumberClass === undefined ? {} : { callerNumberClass: extra.callerNumberClass }),
  };
}

export interface CallerGeo {
  readonly state: string | null;
  readonly zip: string | null;
  readonly areaCode: string | null;
}

/** Where the caller is, as far as we can tell without a lookup service. */
export function callerGeo(call: Pick<CallFacts, 'from' | 'fromState' | 'fromZip' | 'areaCode'>): CallerGeo {
  const parsed = call.areaCode !== undefined ? null : parsePhoneNumberFromString(call.from.trim(), 'US');
  const areaCode =
    call.areaCode !== undefined
      ? call.areaCode
      : parsed && parsed.isValid() && parsed.countryCallingCode === '1'
        ? String(parsed.nationalNumber).slice(0, 3)
        : null;
  const state = call.fromState?.trim().toUpperCase() || null;
  const zip = call.fromZip?.trim() || null;
  return { state, zip, areaCode };
}

/** Whether the caller id is withheld: as recorded at rating, else from `from` (caller.ts, the one place deciding it). */
export function isCallerWithheld(call: Pick<CallFacts, 'from' | 'callerNumberClass'>): boolean {
  return (call.callerNumberClass ?? callerIdentity(call.from).numberClass) === 'withheld';
}

/** A terms version's duplicate window in ms (0: no window). */
export function duplicateWindowMs(terms: Pick<TermsVersion, 'duplicateWindowHours'>): number {
  return terms.duplicateWindowHours * 3_600_000;
}

/** Symmetric, so that a late-processed earlier call is judged against a later billed one the same way. */
export function withinDuplicateWindow(prior: PriorBilled, startedAtMs: number, windowMs: number): boolean {
  return Math.abs(prior.billedStartMs - startedAtMs) < windowMs;
}

export function isMachineAnswer(answeredBy: string | null): boolean {
  return answeredBy !== null && (answeredBy.startsWith('machine_') || answeredBy === 'fax');
}

export function rateCall(input: RatingInput): RatingDecision {
  const { call, assignment, campaign } = input;
  const assigned = assignment !== null && campaign !== null && campaign.campaignId === assignment.campaignId;
  const terms = assigned ? termsInForce(input.termsVersions, input.startedAtMs) : null;
  const rules: RuleResult[] = [unknownNumberRule(input, assigned, terms)];
  if (!assigned || terms === null) return decide(rules, null, null, null, 0);

  rules.push(hoursRule(campaign.hours, input.startedAtMs));
  const billableSec = terms.durationBasis === 'total' ? call.totalSec : (call.talkSec ?? 0);
  rules.push(...connectionRules(call, terms, billableSec));
  rules.push(qualificationRule(call, terms));
  rules.push(geoRule(campaign.geography, callerGeo(call)));
  rules.push(withheldCallerRule(call, terms));
  rules.push(duplicateCallerRule(input, terms));
  rules.push({ rule: 'blocked_caller', passed: input.blocked === null, inputs: { blockId: input.blocked?.blockId ?? null } });
  rules.push(blockedSignalRule(input));
  rules.push(...pilotRules(input));
  return decide(rules, assignment, terms, call, billableSec);
}

function unknownNumberRule(input: RatingInput, assigned: boolean, terms: TermsVersion | null): RuleResult {
  return {
    rule: 'unknown_number',
    passed: terms !== null,
    inputs: {
      to: input.call.to,
      campaignId: input.assignment?.campaignId ?? null,
      campaignFound: assigned,
      termsVersion: terms?.version ?? null,
      startedAt: new Date(input.startedAtMs).toISOString(),
    },
  };
}

/** not_connected, machine_answered, and below_buffer for a connected call only (an unconnected call's duration says nothing more). */
function connectionRules(call: CallFacts, terms: TermsVersion, billableSec: number): RuleResult[] {
  const connected = call.status === 'completed';
  const rules: RuleResult[] = [
    { rule: 'not_connected', passed: connected, inputs: { status: call.status } },
    { rule: 'machine_answered', passed: !isMachineAnswer(call.answeredBy), inputs: { answeredBy: call.answeredBy } },
  ];
  if (connected) {
    rules.push({
      rule: 'below_buffer',
      passed: billableSec >= terms.bufferSec,
      inputs: { durationBasis: terms.durationBasis, billableSec, totalSec: call.totalSec, talkSec: call.talkSec, bufferSec: terms.bufferSec },
    });
  }
  return rules;
}

function qualificationRule(call: CallFacts, terms: TermsVersion): RuleResult {
  const accepted = terms.qualification?.acceptedDigits ?? null;
  return {
    rule: 'not_qualified',
    passed: accepted === null || (call.digits !== null && accepted.includes(call.digits)),
    inputs: { required: accepted !== null, acceptedDigits: accepted, digits: call.digits },
  };
}

function withheldCallerRule(call: CallFacts, terms: TermsVersion): RuleResult {
  const withheld = isCallerWithheld(call);
  return {
    rule: 'caller_id_withheld',
    passed: !withheld || terms.withheldCallerId === 'billable',
    inputs: { callerIdWithheld: withheld, withheldCallerId: terms.withheldCallerId },
  };
}

function duplicateCallerRule(input: RatingInput, terms: TermsVersion): RuleResult {
  const prior = input.priorBilled;
  const duplicate = prior !== null && withinDuplicateWindow(prior, input.startedAtMs, duplicateWindowMs(terms));
  return {
    rule: 'duplicate_caller',
    passed: !duplicate,
    inputs: {
      duplicateScope: terms.duplicateScope,
      duplicateWindowHours: terms.duplicateWindowHours,
      priorCallId: duplicate ? prior.callId : null,
      priorStartedAt: duplicate ? new Date(prior.billedStartMs).toISOString() : null,
    },
  };
}

function blockedSignalRule(input: RatingInput): RuleResult {
  const signals = input.quality?.signals ?? [];
  const blockSignals = input.quality?.blockSignals ?? [];
  const blockedBy = signals.filter((s) => blockSignals.includes(s));
  return { rule: 'blocked_signal', passed: blockedBy.length === 0, inputs: { signals, blockSignals, blockedBy } };
}

/** outside_window for a call under a pilot, and over_cap for one inside the pilot's window. */
function pilotRules(input: RatingInput): RuleResult[] {
  const pilot = input.pilot ?? null;
  if (pilot === null) return [];
  const p = pilot.pilot;
  const rules: RuleResult[] = [
    {
      rule: 'outside_window',
      passed: pilot.inWindow,
      inputs: { pilotId: p.pilotId, startsAt: p.startsAt, endsAt: p.endsAt, startedAt: new Date(input.startedAtMs).toISOString() },
    },
  ];
  if (pilot.inWindow) {
    const refusal = input.capRefusal ?? null;
    rules.push({
      rule: 'over_cap',
      passed: refusal === null,
      inputs: { pilotId: p.pilotId, refusal, spendCapCents: p.spendCapCents, dailyCapCents: p.dailyCapCents, maxBillableCalls: p.maxBillableCalls },
    });
  }
  return rules;
}

function decide(
  rules: RuleResult[],
  assignment: AssignedNumber | null,
  terms: TermsVersion | null,
  call: CallFacts | null,
  billableSec: number,
): RatingDecision {
  const reasons = rules.filter((r) => !r.passed).map((r) => r.rule);
  const billable = reasons.length === 0 && terms !== null && call !== null;
  const quote = billable ? priceFor(terms, billableSec, call.digits, call.tags) : null;
  return {
    billable,
    amountCents: quote?.priceCents ?? 0,
    reasons,
    campaignId: terms && assignment ? assignment.campaignId : null,
    publisherId: terms && assignment ? assignment.publisherId : null,
    subSource: terms && assignment ? assignment.subSource : null,
    termsVersion: terms?.version ?? null,
    rules,
    price: quote ? { billableSec, source: quote.source } : null,
  };
}

function hoursRule(hours: HoursOfOperation | null, startedAtMs: number): RuleResult {
  if (hours === null) return { rule: 'outside_hours', passed: true, inputs: { hours: null } };
  const w = wallTime(startedAtMs, hours.timeZone);
  const minute = w.hour * 60 + w.minute;
  const open = hours.windows.some((win) => win.day === w.weekday && minuteOfDay(win.open) <= minute && minute < minuteOfDay(win.close));
  const local = `${String(w.hour).padStart(2, '0')}:${String(w.minute).padStart(2, '0')}`;
  return { rule: 'outside_hours', passed: open, inputs: { timeZone: hours.timeZone, localDay: w.weekday, localTime: local } };
}

function geoRule(geography: Geography | null, geo: CallerGeo): RuleResult {
  const inputs = { callerState: geo.state, callerZip: geo.zip, callerAreaCode: geo.areaCode };
  if (geography === null) return { rule: 'out_of_geo', passed: true, inputs: { geography: null, ...inputs } };
  const { state, zip, areaCode } = geo;
  const matchedBy =
    state !== null && geography.states.includes(state)
      ? 'state'
      : zip !== null && geography.zipPrefixes.some((p) => zip.startsWith(p))
        ? 'zip'
        : areaCode !== null && geography.areaCodes.includes(areaCode)
          ? 'area_code'
          : null;
  return { rule: 'out_of_geo', passed: matchedBy !== null, inputs: { ...inputs, matchedBy } };
}

/**
 * Re-rating after a credit (documented rule): a call whose ONLY failing rule was `duplicate_caller`, because of
 * a prior call that has now been fully credited, no longer has a reason not to bill. The credited call leaves its
 * caller's duplicate window and the window decides again (duplicate-window.ts); this test still picks the
 * duplicates of a credited call that a marker of the old shape does not list. A partial credit changes nothing.
 */
export function shouldRerateAfterCredit(decision: RatingDecision, creditedCallId: string): boolean {
  if (decision.reasons.length !== 1 || decision.reasons[0] !== 'duplicate_caller') return false;
  const rule = decision.rules.find((r) => r.rule === 'duplicate_caller');
  return rule?.inputs.priorCallId === creditedCallId;
}
