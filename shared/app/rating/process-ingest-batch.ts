/**
 * Use case: one batch of the ingest queue → archive → fold per call → rate → ledger.
 *
 * 1. The batch is archived to S3 first (one object per account and day), so every accepted webhook is kept raw
 *    before anything derived from it is written. If the archive fails, the whole batch is retried.
 * 2. Messages are grouped by call. Each call is handled once per batch, with bounded concurrency:
 *    - no terminal event in the batch: its events are merged into their slots (one UpdateItem);
 *    - a terminal event: the call is rated (rating-v2.ts) under the tracking-number assignment and the terms
 *      version in force when it started, optimistically, assuming it is not rated yet and its caller has no
 *      duplicate marker, and committed in one request (billable but for the duplicate rule: TransactWriteItems with
 *      the caller's duplicate window, duplicate-window.ts; otherwise UpdateItem). The cancellation reasons say what to
 *      do when that assumption was wrong (CONTRACTS.md); a cancelled window returns the marker to plan again from.
 * 3. Completed recordings are queued for the fetcher (idempotent there, so redeliveries are harmless).
 * A failing call fails only its own messages (partial batch response); SQS redelivers them.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { callerIdentity, identityHash, normaliseNumber, WITHHELD_IDENTITY } from '../../domain/calls/caller';
import { callTimes, foldCall, gatheredDigits, isChildLeg, owningCallId, talkSeconds } from '../../domain/calls/fold';
import { asCampaign, asTrackingNumber, assignmentAt, termsUseDigits, undeclaredSubSource } from '../../domain/catalog/config';
import { chargeEntry } from '../../domain/ledger/entries';
import { EMPTY_WINDOW } from '../../domain/rating/duplicate-window';
import { pilotCharge, pilotForCall, type CapRefusal, type PilotMatch } from '../../domain/pilots/caps';
import { consentFinding, consentRequired } from '../../domain/compliance/consent';
import { callSignals, type QualityFacts } from '../../domain/quality/call-signals';
import { keyedNumberBlock, type CallerTraits } from '../../domain/quality/caller-traits';
import { DEFAULT_QUALITY_CONFIG } from '../../domain/quality/signals';
import { ivrTimingOf } from '../../domain/quality/ivr-timing';
import { accountBlockSignals, callerGeo, callFactsFrom, rateCall, type CallSignal } from '../../domain/rating/rules';
import type { RatingDecision, RecordedRating } from '../../domain/rating/decision';
import { termsInForce, type TermsVersion } from '../../domain/terms/terms';
import type { Account, Campaign, AssignedNumber } from '../../domain/catalog/types';
import type { CallEvent, CallStatusEvent, IngestMessage, Provider } from '../../domain/calls/events';
import { backoffMs, settleWithLimit, sleep as realSleep } from '../kernel/concurrency';
import { CallAccountMismatch, WriteConflict, type BlockListReader, type CallStore, type ComplianceReader, type ConsentReader, type CommitOutcome, type ConfigStore, type Log, type RatedCall, type RawArchive, type Rerating, type RecordingJobQueue, type StoredCall, type StoredWindow, type Telemetry } from '../kernel/ports';
import { callNetCents, settleWindow, type SettleResult } from './duplicate-window';

export interface QueueRecord {
  readonly messageId: string;
  readonly body: string;
}

export interface ProcessIngestDeps {
  readonly calls: CallStore;
  /** Cached: the writer asks for copies exact at each call's start (config.ts). */
  readonly config: Pick<ConfigStore, 'getTrackingNumber' | 'getCampaign' | 'getAccount' | 'getPublisher'>;
  /** The accounts' block lists (rating rule blocked_caller); absent: nobody is blocked. */
  readonly blocks?: BlockListReader;
  /** Do-Not-Call lists (flag `dnc_listed`); absent: not checked. */
  readonly dnc?: ComplianceReader;
  /** Consent evidence (flag `consent_missing` for publishers that must attach it); absent: not checked. */
  readonly consent?: ConsentReader;
  readonly archive: RawArchive;
  readonly recordingJobs: RecordingJobQueue;
  /** The caller-hash HMAC key (resolved and cached by the secrets adapter). */
  readonly callerHashKey: () => Promise<string>;
  readonly now: () => Date;
  readonly telemetry: Telemetry;
  readonly log: Log;
  /** Calls handled at once (default 16: every call of a 10-message batch in parallel). */
  readonly concurrency?: number;
  /** Commit attempts per call before its messages are failed back to SQS (default 6). */
  readonly maxAttempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What rating a call needs (the ledger writer's dependencies without the queue and archive). */
export type RatingDeps = Pick<
  ProcessIngestDeps,
  'calls' | 'config' | 'blocks' | 'dnc' | 'consent' | 'callerHashKey' | 'now' | 'telemetry' | 'log' | 'maxAttempts' | 'sleep'
>;

export interface BatchResult {
  readonly failedMessageIds: readonly string[];
}

/**
 * Structural check of a queue message. The ingest function wrote it, so a failure here means a bug or a foreign
 * producer: the message is failed (and eventually dead-lettered), never guessed at.
 */
const IngestMessageShape = z.object({
  v: z.literal(1),
  event: z.looseObject({
    kind: z.enum(['call.status', 'recording.status']),
    eventId: z.string().check(z.minLength(1)),
    accountId: z.string().check(z.minLength(1)),
    callId: z.string().check(z.minLength(1)),
    occurredAt: z.string(),
    receivedAt: z.string(),
  }),
  raw: z.object({ contentType: z.string(), body: z.string(), receivedAt: z.iso.datetime() }),
});

function parseMessage(body: string): IngestMessage | null {
  try {
    const parsed = IngestMessageShape.safeParse(JSON.parse(body));
    return parsed.success ? (parsed.data as unknown as IngestMessage) : null;
  } catch {
    return null;
  }
}

/** Deterministic per set of messages, so a retried batch overwrites its own archive objects. */
function batchIdOf(messageIds: readonly string[]): string {
  return createHash('sha256').update([...messageIds].sort().join('\n')).digest('hex').slice(0, 32);
}

export async function processIngestBatch(records: readonly QueueRecord[], deps: ProcessIngestDeps): Promise<BatchResult> {
  const result = await processRecords(records, deps);
  deps.telemetry.ingestBatchProcessed(records.length, result.failedMessageIds.length);
  return result;
}

async function processRecords(records: readonly QueueRecord[], deps: ProcessIngestDeps): Promise<BatchResult> {
  const failed = new Set<string>();
  const parsed: { messageId: string; message: IngestMessage }[] = [];
  for (const r of records) {
    const message = parseMessage(r.body);
    if (message === null) {
      deps.log.error('malformed ingest message', { messageId: r.messageId });
      failed.add(r.messageId);
    } else {
      parsed.push({ messageId: r.messageId, message });
    }
  }
  if (parsed.length === 0) return { failedMessageIds: [...failed] };

  try {
    await deps.archive.archiveBatch(
      batchIdOf(parsed.map((p) => p.messageId)),
      parsed.map((p) => p.message),
    );
  } catch (err) {
    deps.log.error('archive failed; failing the batch', { error: describe(err), messages: parsed.length });
    return { failedMessageIds: records.map((r) => r.messageId) };
  }

  // Group by (account, call): events claiming a call for two accounts never share a write.
  const groups = new Map<string, { messageIds: string[]; events: CallEvent[] }>();
  for (const { messageId, message } of parsed) {
    // A child leg's events go to its parent's item (fold.ts isChildLeg): they measure the parent's talk time.
    const key = `${message.event.accountId}\u0000${owningCallId(message.event)}`;
    const group = groups.get(key) ?? { messageIds: [], events: [] };
    group.messageIds.push(messageId);
    group.events.push(message.event);
    groups.set(key, group);
  }

  const list = [...groups.values()];
  const results = await settleWithLimit(list, deps.concurrency ?? 16, (g) => processCall(g.events, deps));
  for (const [i, result] of results.entries()) {
    if (result.status === 'fulfilled') continue;
    const group = list[i]!;
    const first = group.events[0]!;
    if (result.reason instanceof CallAccountMismatch && (await refuseForeignCall(result.reason, group.events, deps))) continue;
    deps.log.error('call processing failed; messages will be retried', { accountId: first.accountId, callId: first.callId, error: describe(result.reason) });
    for (const id of group.messageIds) failed.add(id);
  }
  return { failedMessageIds: [...failed] };
}

/**
 * Events naming a call that another account already owns (a CallSid claimed twice: two accounts sharing a Twilio
 * account, or a forgery with a valid token). Retrying cannot change who owns the call, so the events are recorded
 * as refused, counted (metric CallAccountConflict, alarmed) and acknowledged; the owner's call item is never
 * written (every write of it is conditioned on its account). False when the refusal could not be recorded: the
 * messages are then retried like any failure, so a conflict is never acknowledged unrecorded.
 */
async function refuseForeignCall(err: CallAccountMismatch, events: readonly CallEvent[], deps: ProcessIngestDeps): Promise<boolean> {
  const accountId = events[0]!.accountId;
  const eventIds = [...new Set(events.map((e) => e.eventId))];
  try {
    await deps.calls.recordAccountConflict({ accountId, callId: err.callId, eventIds, at: deps.now().toISOString() });
  } catch (recordErr) {
    deps.log.error('could not record a refused call; messages will be retried', { accountId, callId: err.callId, error: describe(recordErr) });
    return false;
  }
  deps.telemetry.callAccountConflict();
  deps.log.warn('events refused: the call belongs to another account', { accountId, callId: err.callId, eventIds });
  return true;
}

async function processCall(events: readonly CallEvent[], deps: ProcessIngestDeps): Promise<void> {
  if (events.every(isChildLeg)) {
    // Only the dialled leg's events: stored on the parent; a leg that ended gives the talk time, which can change
    // a rating already made without it (below_buffer on basis `talk`).
    const first = events[0]!;
    await withConflictRetry(deps, () => deps.calls.mergeEvents(first.parentCallId, first.accountId, events));
    if (talkSeconds(events) !== null) await rerateCall(first.parentCallId, { kind: 'talk_time' }, deps);
    return;
  }
  const view = foldCall(events);
  const { accountId, callId } = view;
  if (view.terminal !== null) {
    await rate(view.terminal, events, deps);
  } else {
    await withConflictRetry(deps, () => deps.calls.mergeEvents(callId, accountId, events));
  }
  for (const r of view.recordings) {
    if (r.recordingStatus !== 'completed' || r.recordingUrl === null) continue;
    await deps.recordingJobs.send({
      v: 1,
      accountId,
      callId,
      recordingId: r.recordingId,
      recordingUrl: r.recordingUrl,
      recordingDurationSec: r.recordingDurationSec,
    });
  }
}

async function withConflictRetry<T>(deps: Pick<ProcessIngestDeps, 'maxAttempts' | 'sleep'>, write: () => Promise<T>): Promise<T> {
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
  let storedEvents: readonly CallEvent[] | null = null;
  if (needDigits || needTalk) {
    const stored = await deps.calls.getCall(terminal.callId, { consistent: true });
    storedEvents = stored?.events ?? [];
    if (needDigits) digits = gatheredDigits(storedEvents);
    if (needTalk) talkSec = talkSeconds(storedEvents);
  }
  const pilot = assignment === null || campaign === null ? null : pilotForCall(campaign.pilots, assignment.publisherId, startedAtMs);
  return { assignment, campaign, terms, digits, talkSec, storedEvents, pilot };
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
 * no hash (none is stored for it) but its traits say withheld, which is all its identity is. An item rated before
 * issue 6 has no traits but kept the number in its slots (`from`): derived from it as a first rating would (and
 * sealed). Items rated before every caller had an identity keep what they had: a caller with a number that was not
 * valid has neither hash nor number left, so its re-rating has no duplicate marker (docs/CONTRACTS.md).
 */
async function callerOfStored(stored: StoredCall, terminal: CallStatusEvent, account: Account | null, deps: RatingDeps): Promise<CallerAtRating> {
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

/** Rates the call from its terminal event and commits, re-rating as the cancellation reasons require. */
async function rate(terminal: CallStatusEvent, events: readonly CallEvent[], deps: RatingDeps, mode: RateMode = {}): Promise<void> {
  const { accountId, callId } = terminal;
  const times = callTimes(terminal);
  const ctx = await ratingContext(terminal, events, times.startedAtMs, deps);
  // Cached per container (config cache): its quality settings and the velocity digit count of the caller's block.
  const account = await deps.config.getAccount(accountId);
  const caller = mode.caller ?? (await callerFromNumber(terminal.from, terminal.provider, account, deps));
  const { e164: callerE164, hash } = caller;
  // A withheld caller cannot be on a block list (block-list.ts refuses the marker): no read for it.
  const blocked = hash === null || deps.blocks === undefined ? null : await deps.blocks.blockedCaller(accountId, hash, times.startedAtMs);
  // Without an ended dialled leg the talk time is unknown: basis `talk` then rates 0 s (rating-v2.ts) until the
  // leg's event arrives and re-rates the call (rerateCall).
  const call = callFactsFrom(terminal, { digits: ctx.digits, talkSec: ctx.talkSec, areaCode: caller.traits.areaCode, callerNumberClass: caller.traits.numberClass });
  const quality = ctx.terms === null ? null : await qualityOf(terminal, events, ctx, caller, account, times.startedAtMs, deps);

  let refusal: CapRefusal | null = null;
  // What this writer believes the caller's duplicate marker is: none at first, so a first-time caller's rating is one
  // transaction with no read; a cancellation returns the marker it found, and the plan is made again from it.
  let window: StoredWindow = { state: EMPTY_WINDOW, stored: { kind: 'absent' } };
  const maxAttempts = deps.maxAttempts ?? 6;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const inputs = {
      call,
      startedAtMs: times.startedAtMs,
      assignment: ctx.assignment,
      campaign: ctx.campaign,
      termsVersions: ctx.campaign?.termsVersions ?? [],
      blocked,
      quality,
      pilot: ctx.pilot,
      capRefusal: refusal,
    };
    // The call as if no other call of the caller billed: whether it is a candidate of its duplicate window.
    const candidate = rateCall({ ...inputs, priorBilled: null });
    const ratedAt = deps.now().toISOString();
    const ratedWith = (decision: RatingDecision): RatedCall => ({
      decision,
      ratedAt,
      startedAt: times.startedAt,
      endedAt: times.endedAt,
      durationSec: times.durationSec,
      callerHash: hash,
      callerE164,
      callerTraits: caller.fresh ? caller.traits : null,
    });
    const rerate = mode.rerate === undefined ? {} : { rerate: mode.rerate };
    // Billable with a pilot means inside its window (rating-v2 rule 10): the charge is counted against its cap.
    const pilot = ctx.pilot?.inWindow === true ? ctx.pilot.pilot : null;
    const chargeOf = (decision: RatingDecision) =>
      chargeEntry({ accountId, callId, decision, startedAt: times.startedAt, createdAt: ratedAt, ...(pilot === null ? {} : { pilotId: pilot.pilotId }) });
    const pilotChargeOf = (decision: RatingDecision) => (pilot === null ? null : pilotCharge(accountId, pilot, decision.amountCents, times.startedAtMs));

    let decision = candidate;
    let outcome: CommitOutcome | SettleResult | { readonly outcome: 'nothing' };
    const windowMs = ctx.terms === null ? 0 : ctx.terms.duplicateWindowHours * 3_600_000;
    if (!candidate.billable || ctx.terms === null) {
      outcome = await deps.calls.commitNonBillable({ callId, accountId, events, rated: ratedWith(candidate), ...rerate });
    } else if (caller.duplicateHash === null || windowMs <= 0) {
      // Without a window, or for an item rated before every caller had an identity, there is nothing to de-duplicate
      // against.
      outcome = await deps.calls.commitRating({ callId, accountId, events, rated: ratedWith(candidate), entry: chargeOf(candidate), window: null, pilot: pilotChargeOf(candidate), ...rerate });
    } else {
      // A candidate: its duplicate window decides whether it bills, and what that changes for the caller's other calls.
      const key = { scope: duplicateScopeKey(ctx.terms, candidate.campaignId!), callerHash: caller.duplicateHash };
      outcome = await settleWindow(
        {
          accountId,
          key,
          initial: window,
          arrival: { callId, startMs: times.startedAtMs, windowMs, priceCents: candidate.amountCents, pilot: pilotChargeOf(candidate) },
          leaving: [],
          commit: async (write, plan, rerates) => {
            const arrival = plan.arrivals.get(callId)!;
            decision = arrival.billed ? candidate : rateCall({ ...inputs, priorBilled: { callId: arrival.prior!.callId, billedStartMs: arrival.prior!.startMs } });
            const committed = await deps.calls.commitRating({
              callId,
              accountId,
              events,
              rated: ratedWith(decision),
              entry: arrival.billed ? chargeOf(decision) : null,
              window: write,
              pilot: arrival.billed ? pilotChargeOf(decision) : null,
              rerates,
              ...rerate,
            });
            if (committed.outcome === 'window_changed') window = committed.window;
            return committed;
          },
        },
        deps,
      );
    }

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
        return;
      case 'already_rated':
        // A re-rating lost to another (the rating it read is gone): that one stands.
        if (mode.rerate !== undefined) return;
        // Someone else rated it (or this is a redelivery): just make sure our events are in their slots.
        await withConflictRetry(deps, () => deps.calls.mergeEvents(callId, accountId, events));
        return;
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
      answeredBy: terminal.answeredBy,
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

// ------------------------------------------------------------------ re-rating

/**
 * Why a rated call may be rated again. Re-rating only ever turns a NON-billable rating into another one
 * (possibly billable: then its charge is appended, `charge:<callId>`, under the usual conditions), never touches
 * a charged call, and is conditional on the rating it read (`ratedAt`), so repeating it is harmless.
 * - `talk_time`: the dialled leg ended after the call was rated without its talk time (basis `talk`).
 * - `credited`: the call was a `duplicate_caller` only because of `creditedCallId`, whose charge has now been
 *   fully credited (rating-v2 `shouldRerateAfterCredit`), and its duplicate marker was written before markers kept
 *   their calls (a current marker settles its calls itself: rerateAfterCredit). Re-rated, it arrives in the window.
 */
export type RerateTrigger = { readonly kind: 'talk_time' } | { readonly kind: 'credited'; readonly creditedCallId: string };

export type RerateResult = 'rerated' | 'not_applicable';

export async function rerateCall(callId: string, trigger: RerateTrigger, deps: RatingDeps): Promise<RerateResult> {
  const stored = await deps.calls.getCall(callId, { consistent: true });
  const rating = stored?.rating ?? null;
  if (stored === null || rating === null || rating.billable || stored.ratedAt === null) return 'not_applicable';
  const own = stored.events.filter((e) => !isChildLeg(e));
  const terminal = own.length === 0 ? null : foldCall(own).terminal;
  if (terminal === null) return 'not_applicable';
  if (trigger.kind === 'talk_time' && !rating.reasons.includes('below_buffer')) return 'not_applicable';
  if (trigger.kind === 'credited' && !(rating.reasons.length === 1 && rating.reasons[0] === 'duplicate_caller' && priorCallIdOf(rating) === trigger.creditedCallId)) {
    return 'not_applicable';
  }
  const account = await deps.config.getAccount(stored.accountId);
  await rate(terminal, stored.events, deps, {
    rerate: { expectRatedAt: stored.ratedAt },
    caller: await callerOfStored(stored, terminal, account, deps),
  });
  return 'rerated';
}

function priorCallIdOf(rating: RecordedRating): string | null {
  return rating.recorded.priorBilled?.callId ?? null;
}

/**
 * After the charge of `creditedCallId` was fully credited: the credited call no longer counts for its caller's
 * duplicate window (documented rule), so it leaves it, and the window is settled again in start order (its
 * duplicates may bill, in their turn a later billed call may become a duplicate and be reversed: duplicate-window.ts),
 * in one transaction. Idempotent: once it has left, a repeat (a repeated resolve) finds nothing to do.
 *
 * Markers written before the window kept its calls know only the credited call: its duplicates are then found in the
 * calls index (gsi1, eventually consistent: resolving again re-runs it) and re-rated in start order, each arriving in
 * the window as a candidate.
 */
export async function rerateAfterCredit(
  accountId: string,
  creditedCallId: string,
  deps: RatingDeps & { readonly calls: Pick<CallStore, 'listCalls'> },
): Promise<{ readonly rerated: readonly string[] }> {
  const credited = await deps.calls.getCall(creditedCallId, { consistent: true });
  const rating = credited?.rating ?? null;
  if (credited === null || rating === null || credited.startedAt === null || rating.campaignId === null || rating.termsVersion === null) return { rerated: [] };
  // A withheld caller's item stores no hash; its window is keyed by the identity all withheld callers share.
  const duplicateHash =
    credited.callerTraits?.numberClass === 'withheld' ? identityHash(await deps.callerHashKey(), WITHHELD_IDENTITY) : (credited.callerHash ?? null);
  if (duplicateHash === null || !rating.billable || callNetCents(credited) !== 0) return { rerated: [] };
  const startedAtMs = Date.parse(credited.startedAt);
  const campaign = await deps.config.getCampaign(accountId, rating.campaignId, startedAtMs);
  const terms = campaign === null ? null : asCampaign(campaign).termsVersions.find((v) => v.version === rating.termsVersion);
  if (terms === undefined || terms === null || terms.duplicateWindowHours <= 0) return { rerated: [] };
  const windowMs = terms.duplicateWindowHours * 3_600_000;

  const key = { scope: duplicateScopeKey(terms, rating.campaignId), callerHash: duplicateHash };
  const initial = await deps.calls.getWindow(accountId, key);
  const settled = await settleWindow(
    { accountId, key, initial, arrival: null, leaving: [creditedCallId], commit: (window, _plan, rerates) => deps.calls.commitWindow({ accountId, window, rerates }) },
    deps,
  );
  const rerated = settled.outcome === 'committed' ? settled.plan.actions.map((a) => a.callId) : [];
  if (initial.stored.kind !== 'legacy') return { rerated };

  const inWindow = new Set(initial.state.calls.map((c) => c.callId));
  const candidates: { callId: string; startedAt: string }[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.calls.listCalls({
      accountId,
      billable: false,
      from: new Date(startedAtMs - windowMs).toISOString(),
      to: new Date(startedAtMs + windowMs + 1).toISOString(),
      limit: 100,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const c of page.items) {
      if (inWindow.has(c.callId)) continue;
      if (c.rating !== null && c.startedAt !== null && c.rating.reasons.join() === 'duplicate_caller' && priorCallIdOf(c.rating) === creditedCallId) {
        candidates.push({ callId: c.callId, startedAt: c.startedAt });
      }
    }
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);

  candidates.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.callId < b.callId ? -1 : 1));
  const legacy: string[] = [];
  for (const c of candidates) {
    if ((await rerateCall(c.callId, { kind: 'credited', creditedCallId }, deps)) === 'rerated') legacy.push(c.callId);
  }
  return { rerated: [...rerated, ...legacy] };
}

/**
 * The campaign part of the duplicate marker's key (`DUP#<accountId>#<this>#<callerHash>`): the campaign, or `*`
 * when the terms count a caller's billed calls on any campaign of the account.
 */
export function duplicateScopeKey(terms: Pick<TermsVersion, 'duplicateScope'>, campaignId: string): string {
  return terms.duplicateScope === 'account' ? '*' : campaignId;
}

function describe(err: unknown): { name: string; message: string } | string {
  return err instanceof Error ? { name: err.name, message: err.message } : String(err);
}
