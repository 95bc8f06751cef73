/**
 * Rating one call from its terminal event (docs/CONTRACTS.md, "Rating a call"): the configuration in force at its
 * start, its caller, its quality signals, then the commit, again as the cancellation reasons require (the duplicate
 * window, a pilot's counter, a concurrent writer). Used by the ledger writer (process-ingest-batch.ts) and by
 * re-rating (rerate-call.ts).
 */
import { callerIdentity, identityHash, normaliseNumber, WITHHELD_IDENTITY } from '../../domain/calls/caller';
import { callTimes, detectedAnswer, gatheredDigits, isChildLeg, talkSeconds } from '../../domain/calls/fold';
import { asCampaign, asTrackingNumber, assignmentAt, termsUseDigits, undeclaredSubSource } from '../../domain/catalog/config';
import { chargeEntry } from '../../domain/ledger/entries';
import { EMPTY_WINDOW } from '../../domain/rating/duplicate-window';
import { pilotCharge, pilotForCall, type CapRefusal, type PilotMatch } from '../../domain/pilots/caps';
import { consentFinding, consentRequired } from '../../domain/compliance/consent';
import { callSignals, type QualityFacts } from '../../domain/quality/call-signals';
import { DEFAULT_QUALITY_CONFIG } from '../../domain/quality/signals';
import { keyedNumberBlock, type CallerTraits } from '../../domain/quality/caller-traits';
import { ivrTimingOf } from '../../domain/quality/ivr-timing';
import { accountBlockSignals, callerGeo, callFactsFrom, rateCall, type CallSignal } from '../../domain/rating/rules';
import { type RatingDecision } from '../../domain/rating/decision';
import { termsInForce, type TermsVersion } from '../../domain/terms/terms';
import type { Account, Campaign, AssignedNumber } from '../../domain/catalog/types';
import type { CallEvent, CallStatusEvent, Provider } from '../../domain/calls/events';
import { backoffMs, sleep as realSleep } from '../kernel/concurrency';
import { WriteConflict, type BlockListReader, type CommitOutcome, type RatedCall, type Rerating, type StoredWindow } from './ports';
import type { StoredCall } from '../kernel/ports';
import { settleWindow, type SettleResult } from './duplicate-window';
import type { ProcessIngestDeps, RatingDeps } from './process-ingest-batch';

/** A write retried after a pause while a concurrent writer holds the item (WriteConflict), up to maxAttempts. */
export async function withConflictRetry<T>(deps: Pick<ProcessIngestDeps, 'maxAttempts' | 'sleep'>, write: () => Promise<T>): Promise<T> {
  const maxAttempts = deps.maxAttempts ?? 6;
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof WriteConflict) || attempt >= maxAttempts) throw err;
      await (deps.sleep ?? realSleep)(backoffMs(attempt));
    }
  }
}

/** Everything rating needs besides the duplicate marker: looked up once per call, from cached configuration. */
interface RatingContext {
  readonly assignment: AssignedNumber | null;
  readonly campaign: Campaign | null;
  /** The version in force at the call's start (null: unknown number, or no version in force yet). */
  readonly terms: TermsVersion | null;
  readonly digits: string | null;
  /** Who answered the caller's leg: the terminal event's own answer, else a detection event's (fold.ts detectedAnswer). */
  readonly answeredBy: string | null;
  /** Seconds after the buyer answered (the dialled leg), when a leg has ended (read only for basis `talk`). */
  readonly talkSec: number | null;
  /** The call item's stored events, when they had to be read (for digits or talk time); else null. */
  readonly storedEvents: readonly CallEvent[] | null;
  /** The pilot governing the call (its campaign's pilots naming its publisher), if any. */
  readonly pilot: PilotMatch | null;
}

/**
 * The assignment and the terms in force when the call started, the caller's IVR answer and the talk time. The
 * answer comes from the gather slot (`s_in-progress_gather`), the talk time from the dialled leg's slots (`c_*`);
 * when one is not among this batch's events and the terms depend on it, the call item is read (consistently) —
 * the only case that costs a read on the hot path.
 */
async function ratingContext(
  terminal: CallStatusEvent,
  events: readonly CallEvent[],
  startedAtMs: number,
  deps: RatingDeps,
): Promise<RatingContext> {
  const dialled = normaliseNumber(terminal.to) ?? terminal.to;
  const found = await deps.config.getTrackingNumber(dialled, startedAtMs);
  // A number assigned to another account is unknown to this one.
  const number = found !== null && found.accountId === terminal.accountId ? asTrackingNumber(found) : null;
  const assignment = number === null ? null : assignmentAt(number, startedAtMs);
  const record = assignment === null ? null : await deps.config.getCampaign(terminal.accountId, assignment.campaignId, startedAtMs);
  const campaign = record === null ? null : asCampaign(record);
  const terms = campaign === null ? null : termsInForce(campaign.termsVersions, startedAtMs);
  let digits = gatheredDigits(events);
  let talkSec = talkSeconds(events);
  const needDigits = digits === null && terms !== null && termsUseDigits(terms);
  const needTalk = talkSec === null && terms !== null && terms.durationBasis === 'talk';
  let answeredBy = terminal.answeredBy ?? detectedAnswer(events);
  // Twilio says who answered on the terminal callback; the other carriers report machine detection apart, and an
  // earlier delivery of it is only on the item.
  const needAnswer = answeredBy === null && terminal.provider !== 'twilio' && terms !== null;
  let storedEvents: readonly CallEvent[] | null = null;
  if (needDigits || needTalk || needAnswer) {
    const stored = await deps.calls.getCall(terminal.callId, { consistent: true });
    storedEvents = stored?.events ?? [];
    if (needDigits) digits = gatheredDigits(storedEvents);
    if (needTalk) talkSec = talkSeconds(storedEvents);
    if (needAnswer) answeredBy = detectedAnswer(storedEvents);
  }
  const pilot = assignment === null || campaign === null ? null : pilotForCall(campaign.pilots, assignment.publisherId, startedAtMs);
  return { assignment, campaign, terms, digits, answeredBy, talkSec, storedEvents, pilot };
}

/**
 * The caller as rating needs it (docs/ARCHITECTURE.md "PII"; caller.ts callerIdentity): the number (to seal), the
 * keyed hash of its identity (every match) and its traits (what later steps need instead of the number). A first
 * rating derives them from the terminal event's `from`; a re-rating takes what the item recorded, since its slots no
 * longer carry the number.
 */
interface CallerAtRating {
  /** To seal onto the item (`callerEnc`); null: nothing to seal (not a valid number, or a re-rating that has none). */
  readonly e164: string | null;
  /**
   * The identity's keyed hash as stored on the item (`callerHash`: gsi2, gsi4, blocks, DNC, consent, outcomes);
   * null for a withheld caller, whom nothing can name (caller.ts typedCallerIdentity), so it enters no caller index.
   */
  readonly hash: string | null;
  /** The keyed hash the duplicate marker is keyed by: every caller's, the shared withheld identity's included. */
  readonly duplicateHash: string | null;
  readonly traits: CallerTraits;
  /** Whether the traits are new (written with the rating) or read from the item (kept as they are). */
  readonly fresh: boolean;
}

/** The caller from what the provider sent; the block is keyed at the account's velocity digit count. */
async function callerFromNumber(from: string, provider: Provider, account: Account | null, deps: Pick<RatingDeps, 'callerHashKey'>): Promise<CallerAtRating> {
  const identity = callerIdentity(from, provider);
  const key = await deps.callerHashKey();
  const digits = (account?.quality ?? DEFAULT_QUALITY_CONFIG).velocity.numberBlockDigits;
  const duplicateHash = identityHash(key, identity);
  return {
    e164: identity.kind === 'e164' ? identity.canonical : null,
    hash: identity.kind === 'withheld' ? null : duplicateHash,
    duplicateHash,
    traits: {
      numberClass: identity.numberClass,
      areaCode: callerGeo({ from, fromState: null, fromZip: null }).areaCode,
      numberBlock: keyedNumberBlock(key, from, digits),
    },
    fresh: true,
  };
}

/**
 * The caller of a stored call being re-rated: the traits and hash its rating recorded. A withheld caller's item has
 * no hash (none is stored for it) but its traits say withheld, which is all its identity is. An item rated before caller
 * numbers were sealed has no traits but kept the number in its slots (`from`): derived from it as a first rating would (and
 * sealed). Items rated before every caller had an identity keep what they had: a caller with a number that was not
 * valid has neither hash nor number left, so its re-rating has no duplicate marker (docs/CONTRACTS.md).
 */
export async function callerOfStored(stored: StoredCall, terminal: CallStatusEvent, account: Account | null, deps: RatingDeps): Promise<CallerAtRating> {
  const traits = stored.callerTraits;
  if (traits !== undefined) {
    const hash = stored.callerHash ?? null;
    const duplicateHash = traits.numberClass === 'withheld' ? identityHash(await deps.callerHashKey(), WITHHELD_IDENTITY) : hash;
    return { e164: null, hash, duplicateHash, traits, fresh: false };
  }
  // A deletion request removed the legacy number but kept the keyed hash: matching still uses it, and only a valid
  // number was ever hashed then.
  if (terminal.from === '' && stored.callerHash != null) {
    return { e164: null, hash: stored.callerHash, duplicateHash: stored.callerHash, traits: { numberClass: 'valid', areaCode: null, numberBlock: null }, fresh: false };
  }
  return callerFromNumber(terminal.from, terminal.provider, account, deps);
}

/** How a rating is committed: a first rating, or a re-rating of a call that is still rated as it was read. */
interface RateMode {
  readonly rerate?: Rerating;
  /** A re-rating: the caller as the stored item has it (callerOfStored). */
  readonly caller?: CallerAtRating;
}

/** What a call's rating is made from, gathered once before the commit attempts. */
interface RatingFacts {
  readonly terminal: CallStatusEvent;
  readonly events: readonly CallEvent[];
  readonly times: ReturnType<typeof callTimes>;
  readonly ctx: RatingContext;
  readonly caller: CallerAtRating;
  readonly blocked: Awaited<ReturnType<BlockListReader['blockedCaller']>> | null;
  readonly call: ReturnType<typeof callFactsFrom>;
  readonly quality: Awaited<ReturnType<typeof qualityOf>> | null;
}

async function ratingFacts(terminal: CallStatusEvent, events: readonly CallEvent[], deps: RatingDeps, mode: RateMode): Promise<RatingFacts> {
  const accountId = terminal.accountId;
  const times = callTimes(terminal);
  const ctx = await ratingContext(terminal, events, times.startedAtMs, deps);
  // Cached per container (config cache): its quality settings and the velocity digit count of the caller's block.
  const account = await deps.config.getAccount(accountId);
  const caller = mode.caller ?? (await callerFromNumber(terminal.from, terminal.provider, account, deps));
  // A withheld caller cannot be on a block list (block-list.ts refuses the marker): no read for it.
  const blocked = caller.hash === null || deps.blocks === undefined ? null : await deps.blocks.blockedCaller(accountId, caller.hash, times.startedAtMs);
  // Without an ended dialled leg the talk time is unknown: basis `talk` then rates 0 s (rating-v2.ts) until the
  // leg's event arrives and re-rates the call (rerateCall).
  const call = callFactsFrom(terminal, { digits: ctx.digits, answeredBy: ctx.answeredBy, talkSec: ctx.talkSec, areaCode: caller.traits.areaCode, callerNumberClass: caller.traits.numberClass });
  const quality = ctx.terms === null ? null : await qualityOf(terminal, events, ctx, caller, account, times.startedAtMs, deps);
  return { terminal, events, times, ctx, caller, blocked, call, quality };
}

/** Every outcome one commit attempt can have. */
type AttemptOutcome = CommitOutcome | SettleResult | { readonly outcome: 'nothing' };

/** What a decision writes, rated at `ratedAt`: the call's rating, its charge, and its pilot's counter charge. */
function ratingWrites(f: RatingFacts, ratedAt: string) {
  const { accountId, callId } = f.terminal;
  const { times, ctx, caller } = f;
  // Billable with a pilot means inside its window (rating-v2 rule 10): the charge is counted against its cap.
  const pilot = ctx.pilot?.inWindow === true ? ctx.pilot.pilot : null;
  return {
    ratedWith: (decision: RatingDecision): RatedCall => ({
      decision,
      ratedAt,
      startedAt: times.startedAt,
      endedAt: times.endedAt,
      durationSec: times.durationSec,
      callerHash: caller.hash,
      callerE164: caller.e164,
      callerTraits: caller.fresh ? caller.traits : null,
    }),
    chargeOf: (decision: RatingDecision) =>
      chargeEntry({ accountId, callId, decision, startedAt: times.startedAt, createdAt: ratedAt, ...(pilot === null ? {} : { pilotId: pilot.pilotId }) }),
    pilotChargeOf: (decision: RatingDecision) => (pilot === null ? null : pilotCharge(accountId, pilot, decision.amountCents, times.startedAtMs)),
  };
}

/**
 * One commit attempt of the rating, under the pilot refusal learned so far: non-billable (one UpdateItem), billable
 * without a duplicate window (one transaction), or a candidate of its caller's window (settled with it). `window` is
 * what this writer believes the caller's marker is; a cancelled commit replaces it with the marker it found.
 */
async function commitAttempt(
  f: RatingFacts,
  refusal: CapRefusal | null,
  window: { current: StoredWindow },
  deps: RatingDeps,
  mode: RateMode,
): Promise<{ outcome: AttemptOutcome; decision: RatingDecision }> {
  const { accountId, callId } = f.terminal;
  const { times, ctx, caller, events } = f;
  const inputs = {
    call: f.call,
    startedAtMs: times.startedAtMs,
    assignment: ctx.assignment,
    campaign: ctx.campaign,
    termsVersions: ctx.campaign?.termsVersions ?? [],
    blocked: f.blocked,
    quality: f.quality,
    pilot: ctx.pilot,
    capRefusal: refusal,
  };
  // The call as if no other call of the caller billed: whether it is a candidate of its duplicate window.
  const candidate = rateCall({ ...inputs, priorBilled: null });
  const { ratedWith, chargeOf, pilotChargeOf } = ratingWrites(f, deps.now().toISOString());
  const rerate = mode.rerate === undefined ? {} : { rerate: mode.rerate };

  const windowMs = ctx.terms === null ? 0 : ctx.terms.duplicateWindowHours * 3_600_000;
  if (!candidate.billable || ctx.terms === null) {
    return { outcome: await deps.calls.commitNonBillable({ callId, accountId, events, rated: ratedWith(candidate), ...rerate }), decision: candidate };
  }
  if (caller.duplicateHash === null || windowMs <= 0) {
    // Without a window, or for an item rated before every caller had an identity, there is nothing to de-duplicate
    // against.
    const outcome = await deps.calls.commitRating({ callId, accountId, events, rated: ratedWith(candidate), entry: chargeOf(candidate), window: null, pilot: pilotChargeOf(candidate), ...rerate });
    return { outcome, decision: candidate };
  }
  // A candidate: its duplicate window decides whether it bills, and what that changes for the caller's other calls.
  let decision = candidate;
  const key = { scope: duplicateScopeKey(ctx.terms, candidate.campaignId!), callerHash: caller.duplicateHash };
  const outcome = await settleWindow(
    {
      accountId,
      key,
      initial: window.current,
      arrival: { callId, startMs: times.startedAtMs, windowMs, priceCents: candidate.amountCents, pilot: pilotChargeOf(candidate) },
      leaving: [],
      commit: async (write, plan, rerates) => {
        const arrival = plan.arrivals.get(callId)!;
        decision = arrival.billed ? candidate : rateCall({ ...inputs, priorBilled: { callId: arrival.prior!.callId, billedStartMs: arrival.prior!.startMs } });
        const billed = arrival.billed;
        const committed = await deps.calls.commitRating({
          callId,
          accountId,
          events,
          rated: ratedWith(decision),
          entry: billed ? chargeOf(decision) : null,
          window: write,
          pilot: billed ? pilotChargeOf(decision) : null,
          rerates,
          ...rerate,
        });
        if (committed.outcome === 'window_changed') window.current = committed.window;
        return committed;
      },
    },
    deps,
  );
  return { outcome, decision };
}

/**
 * What a rating leaves to its caller. `awaitingTalk`: this writer committed a rating below the buffer on basis `talk`
 * with the legs it had in hand: none ended (talk unknown), or only some (a busy leg's 0 s, while the next target's
 * 187 s is in another writer's batch). A leg stored concurrently may have been stored after this rating read the item
 * and re-rated nothing (the call was not rated yet), so the caller looks again once (processCall): between the two
 * writers one of them always sees both the leg and the rating. The look is one consistent read when nothing changed.
 * Also set when the call was already rated and this batch only stored an ended leg (a redelivered terminal with it).
 */
export interface RateResult {
  readonly awaitingTalk: boolean;
}

const SETTLED: RateResult = { awaitingTalk: false };

/** Rates the call from its terminal event and commits, re-rating as the cancellation reasons require. */
export async function rate(terminal: CallStatusEvent, events: readonly CallEvent[], deps: RatingDeps, mode: RateMode = {}): Promise<RateResult> {
  const { accountId, callId } = terminal;
  const facts = await ratingFacts(terminal, events, deps, mode);
  let refusal: CapRefusal | null = null;
  // What this writer believes the caller's duplicate marker is: none at first, so a first-time caller's rating is one
  // transaction with no read; a cancellation returns the marker it found, and the plan is made again from it.
  const window = { current: { state: EMPTY_WINDOW, stored: { kind: 'absent' } } as StoredWindow };
  const maxAttempts = deps.maxAttempts ?? 6;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const { outcome, decision } = await commitAttempt(facts, refusal, window, deps, mode);
    switch (outcome.outcome) {
      case 'committed':
        deps.telemetry.callRated(decision);
        deps.log.info('call rated', {
          accountId,
          callId,
          billable: decision.billable,
          reasons: decision.reasons,
          amountCents: decision.amountCents,
          campaignId: decision.campaignId,
          publisherId: decision.publisherId,
          termsVersion: decision.termsVersion,
        });
        await endReservation(terminal, deps);
        return { awaitingTalk: mode.rerate === undefined && facts.ctx.terms?.durationBasis === 'talk' && decision.reasons.includes('below_buffer') };
      case 'already_rated':
        // A re-rating lost to another (the rating it read is gone): that one stands.
        if (mode.rerate !== undefined) return SETTLED;
        // Someone else rated it (or this is a redelivery): just make sure our events are in their slots.
        await withConflictRetry(deps, () => deps.calls.mergeEvents(callId, accountId, events));
        // A redelivery after a crash between the rating and the reservation's end ends it now.
        await endReservation(terminal, deps);
        // A dialled leg that ended, stored only now beside a rating made without it: its talk time can change that
        // rating (below_buffer on basis talk), exactly as when it arrives alone; the caller looks again.
        return { awaitingTalk: events.some((e) => isChildLeg(e) && talkSeconds([e]) !== null) };
      case 'over_cap':
      case 'arriving_over_cap':
        // The counter is authoritative: rate again as over_cap (non-billable, nothing counted, not a candidate).
        refusal = outcome.refusal;
        break;
      case 'conflict':
        await (deps.sleep ?? realSleep)(backoffMs(attempt));
        break;
      case 'nothing':
      case 'window_changed':
      case 'rerate_stale':
        throw new Error(`call ${callId}: unexpected rating outcome ${outcome.outcome}`);
      default: {
        const exhaustive: never = outcome;
        throw new Error(`unexpected outcome ${JSON.stringify(exhaustive)}`);
      }
    }
  }
  throw new WriteConflict(`${callId} (rating did not settle after ${maxAttempts} attempts)`);
}

/**
 * The reservation admission took for the call (a pilot call the voice function connected) ends once the rating is
 * committed: the rating's charge already counts in the pilot's held total, so what is left is to give the reserved
 * amount back (routing/reservation-condition.ts). Idempotent: a reservation no longer held is left alone.
 */
async function endReservation(terminal: CallStatusEvent, deps: RatingDeps): Promise<void> {
  if (deps.reservations === undefined) return;
  await deps.reservations.releaseAfterRating(terminal.accountId, terminal.callId, deps.now().getTime());
}

/**
 * The signals flagged on a call and the account's choice of those that block billing:
 * - the per-call quality signals (quality-signals.ts `callSignals`) from what the writer has at hand. The
 *   incoming-call event (SHAKEN/STIR attestation) is used when it is in the batch or the item was read anyway;
 *   otherwise the attestation rule is left out (not guessed), and no read is added to the hot path for it. The IVR
 *   answer timing (ivr-timing.ts: incoming-call webhook → gather action, both on our ingest clock) likewise, with one
 *   exception: an account that BLOCKS coached_ivr gets one consistent read of the call item when the two requests
 *   are not in hand (billing then depends on them). Flag-only accounts get too_fast from the scheduled quality pass
 *   (quality-pass.ts), which reads the stored slots anyway;
 * - `dnc_listed`: the caller (keyed hash) is on one of the account's Do-Not-Call lists at the call's start;
 * - `consent_missing`: the publisher declares outbound or purchased-list traffic and no consent evidence for the
 *   caller was captured before the call (consent.ts);
 * - `caller_id_withheld`: the caller id is withheld (its number class); flagged whether or not the terms bill it.
 * The account and the publisher come from the config cache; DNC answers are cached per caller; consent is one Query,
 * only for publishers that need it.
 */
async function qualityOf(
  terminal: CallStatusEvent,
  events: readonly CallEvent[],
  ctx: RatingContext,
  caller: CallerAtRating,
  account: Account | null,
  startedAtMs: number,
  deps: RatingDeps,
): Promise<{ signals: CallSignal[]; blockSignals: readonly CallSignal[] }> {
  const hash = caller.hash;
  const config = account?.quality ?? DEFAULT_QUALITY_CONFIG;
  let inHand: readonly CallEvent[] = [...events, ...(ctx.storedEvents ?? [])];
  // Billing depends on the IVR timing only when the account blocks coached_ivr: then it is worth one read.
  if (ctx.storedEvents === null && config.blockSignals.includes('coached_ivr') && ivrTimingOf(inHand) === null) {
    inHand = [...events, ...((await deps.calls.getCall(terminal.callId, { consistent: true }))?.events ?? [])];
  }
  const incoming = inHand.find((e): e is CallStatusEvent => e.kind === 'call.status' && !isChildLeg(e) && e.status === 'ringing');
  const recording = events.find((e) => e.kind === 'recording.status' && e.recordingStatus === 'completed');
  const ivr = ivrTimingOf(inHand);
  const findings = callSignals(
    {
      status: terminal.status,
      from: terminal.from,
      totalSec: terminal.durationSec ?? 0,
      talkSec: ctx.talkSec,
      answeredBy: ctx.answeredBy,
      stirVerstat: incoming === undefined ? undefined : incoming.stirVerstat,
      direction: (terminal.direction as QualityFacts['direction']) ?? null,
      recordingDurationSec: recording?.kind === 'recording.status' ? recording.recordingDurationSec : null,
      ivr,
      callerNumber: caller.traits.numberClass,
    },
    ctx.terms!,
    config,
  );
  const signals: CallSignal[] = findings.map((f) => f.signal);
  if (hash !== null && deps.dnc !== undefined && (await deps.dnc.dncListed(terminal.accountId, hash, startedAtMs)) !== null) signals.push('dnc_listed');
  const publisher = ctx.assignment === null ? null : await deps.config.getPublisher(terminal.accountId, ctx.assignment.publisherId);
  // Source transparency: the number's sub-source is not one the publisher declared.
  if (publisher !== null && undeclaredSubSource(publisher, ctx.assignment!.subSource)) signals.push('undisclosed_source');
  if (consentRequired(publisher) && deps.consent !== undefined) {
    const evidence = hash === null ? null : await deps.consent.consentFor(terminal.accountId, hash, startedAtMs);
    if (consentFinding(true, evidence) !== null) signals.push('consent_missing');
  }
  // Flagged whatever the terms decide about billing it (rule caller_id_withheld): one notion, the number's class.
  if (caller.traits.numberClass === 'withheld') signals.push('caller_id_withheld');
  return { signals, blockSignals: accountBlockSignals(account) };
}

export function duplicateScopeKey(terms: Pick<TermsVersion, 'duplicateScope'>, campaignId: string): string {
  return terms.duplicateScope === 'account' ? '*' : campaignId;
}
