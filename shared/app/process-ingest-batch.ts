/**
 * Use case: one batch of the ingest queue → archive → fold per call → rate → ledger.
 *
 * 1. The batch is archived to S3 first (one object per account and day), so every accepted webhook is kept raw
 *    before anything derived from it is written. If the archive fails, the whole batch is retried.
 * 2. Messages are grouped by call. Each call is handled once per batch, with bounded concurrency:
 *    - no terminal event in the batch: its events are merged into their slots (one UpdateItem);
 *    - a terminal event: the call is rated (rating-v2.ts) under the tracking-number assignment and the terms
 *      version in force when it started, optimistically, assuming it is not rated yet and no duplicate marker
 *      holds the window, and committed in one request (billable: TransactWriteItems; otherwise UpdateItem).
 *      The cancellation reasons say what to do when that assumption was wrong (CONTRACTS.md).
 * 3. Completed recordings are queued for the fetcher (idempotent there, so redeliveries are harmless).
 * A failing call fails only its own messages (partial batch response); SQS redelivers them.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { callerHash, normaliseNumber } from '../domain/caller';
import { callTimes, foldCall, gatheredDigits } from '../domain/fold';
import { asCampaignConfig, asNumberConfig, assignmentAt, termsUseDigits } from '../domain/config';
import { chargeEntry } from '../domain/ledger';
import type { PriorBilled } from '../domain/rating';
import { pilotCharge, pilotForCall, type CapRefusal, type PilotMatch } from '../domain/pilot-terms';
import { callFactsFrom, rateCallV2 } from '../domain/rating-v2';
import { termsInForce, type TermsVersion } from '../domain/terms';
import type { CallEvent, CallStatusEvent, CampaignConfig, IngestMessage, TrackingNumber } from '../domain/types';
import { backoffMs, settleWithLimit, sleep as realSleep } from './concurrency';
import {
  CallAccountMismatch,
  WriteConflict,
  type BlockListReader,
  type CallStore,
  type CommitOutcome,
  type ConfigStore,
  type Log,
  type RatedCall,
  type RawArchive,
  type RecordingJobQueue,
  type Telemetry,
} from './ports';

export interface QueueRecord {
  readonly messageId: string;
  readonly body: string;
}

export interface ProcessIngestDeps {
  readonly calls: CallStore;
  /** Cached: the writer asks for copies exact at each call's start (config.ts). */
  readonly config: Pick<ConfigStore, 'getTrackingNumber' | 'getCampaign'>;
  /** The accounts' block lists (rating rule blocked_caller); absent: nobody is blocked. */
  readonly blocks?: BlockListReader;
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
    const key = `${message.event.accountId}\u0000${message.event.callId}`;
    const group = groups.get(key) ?? { messageIds: [], events: [] };
    group.messageIds.push(messageId);
    group.events.push(message.event);
    groups.set(key, group);
  }

  const list = [...groups.values()];
  const results = await settleWithLimit(list, deps.concurrency ?? 16, (g) => processCall(g.events, deps));
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      const group = list[i]!;
      const first = group.events[0]!;
      deps.log.error('call processing failed; messages will be retried', {
        accountId: first.accountId,
        callId: first.callId,
        error: describe(result.reason),
        permanent: result.reason instanceof CallAccountMismatch,
      });
      for (const id of group.messageIds) failed.add(id);
    }
  });
  return { failedMessageIds: [...failed] };
}

async function processCall(events: readonly CallEvent[], deps: ProcessIngestDeps): Promise<void> {
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

async function withConflictRetry<T>(deps: ProcessIngestDeps, write: () => Promise<T>): Promise<T> {
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
  readonly assignment: TrackingNumber | null;
  readonly campaign: CampaignConfig | null;
  /** The version in force at the call's start (null: unknown number, or no version in force yet). */
  readonly terms: TermsVersion | null;
  readonly digits: string | null;
  /** The pilot governing the call (its campaign's pilots naming its publisher), if any. */
  readonly pilot: PilotMatch | null;
}

/**
 * The assignment and the terms in force when the call started, and the caller's IVR answer. The answer comes
 * from the gather slot (`s_in-progress_gather`); when it is not among this batch's events and the terms depend
 * on it, the call item is read (consistently) for it — the only case that costs a read on the hot path.
 */
async function ratingContext(
  terminal: CallStatusEvent,
  events: readonly CallEvent[],
  startedAtMs: number,
  deps: ProcessIngestDeps,
): Promise<RatingContext> {
  const dialled = normaliseNumber(terminal.to) ?? terminal.to;
  const found = await deps.config.getTrackingNumber(dialled, startedAtMs);
  // A number assigned to another account is unknown to this one.
  const number = found !== null && found.accountId === terminal.accountId ? asNumberConfig(found) : null;
  const assignment = number === null ? null : assignmentAt(number, startedAtMs);
  const record = assignment === null ? null : await deps.config.getCampaign(terminal.accountId, assignment.campaignId, startedAtMs);
  const campaign = record === null ? null : asCampaignConfig(record);
  const terms = campaign === null ? null : termsInForce(campaign.termsVersions, startedAtMs);
  let digits = gatheredDigits(events);
  if (digits === null && terms !== null && termsUseDigits(terms)) {
    const stored = await deps.calls.getCall(terminal.callId, { consistent: true });
    digits = stored === null ? null : gatheredDigits(stored.events);
  }
  const pilot = assignment === null || campaign === null ? null : pilotForCall(campaign.pilots, assignment.publisherId, startedAtMs);
  return { assignment, campaign, terms, digits, pilot };
}

/** Rates the call from its terminal event and commits, re-rating as the cancellation reasons require. */
async function rate(terminal: CallStatusEvent, events: readonly CallEvent[], deps: ProcessIngestDeps): Promise<void> {
  const { accountId, callId } = terminal;
  const times = callTimes(terminal);
  const ctx = await ratingContext(terminal, events, times.startedAtMs, deps);
  const callerE164 = normaliseNumber(terminal.from);
  const hash = callerE164 === null ? null : callerHash(await deps.callerHashKey(), callerE164);
  // Only a number we could normalise can be on a block list (they are stored as keyed hashes of E.164).
  const blocked = hash === null || deps.blocks === undefined ? null : await deps.blocks.blockedCaller(accountId, hash, times.startedAtMs);
  // Talk time (after the buyer answered) is not measured yet: basis `talk` then rates 0 s (rating-v2.ts).
  const call = callFactsFrom(terminal, { digits: ctx.digits, talkSec: null });

  let prior: PriorBilled | null = null;
  let refusal: CapRefusal | null = null;
  const maxAttempts = deps.maxAttempts ?? 6;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const decision = rateCallV2({
      call,
      startedAtMs: times.startedAtMs,
      assignment: ctx.assignment,
      campaign: ctx.campaign,
      termsVersions: ctx.campaign?.termsVersions ?? [],
      priorBilled: prior,
      blocked,
      pilot: ctx.pilot,
      capRefusal: refusal,
    });
    const rated: RatedCall = {
      decision,
      ratedAt: deps.now().toISOString(),
      startedAt: times.startedAt,
      endedAt: times.endedAt,
      durationSec: times.durationSec,
      callerHash: hash,
      callerE164,
    };

    let outcome: CommitOutcome;
    if (decision.billable && ctx.terms !== null) {
      const windowMs = ctx.terms.duplicateWindowHours * 3_600_000;
      // Billable with a pilot means inside its window (rating-v2 rule 10): the charge is counted against its cap.
      const pilot = ctx.pilot?.inWindow === true ? ctx.pilot.pilot : null;
      outcome = await deps.calls.commitRating({
        callId,
        accountId,
        events,
        rated,
        entry: chargeEntry({
          accountId,
          callId,
          decision,
          startedAt: times.startedAt,
          createdAt: rated.ratedAt,
          ...(pilot === null ? {} : { pilotId: pilot.pilotId }),
        }),
        pilot: pilot === null ? null : pilotCharge(accountId, pilot, decision.amountCents, times.startedAtMs),
        // Without a caller identity (withheld number) or a window there is nothing to de-duplicate against.
        marker:
          hash !== null && windowMs > 0
            ? { campaignId: duplicateScopeKey(ctx.terms, decision.campaignId!), callerHash: hash, billedStartMs: times.startedAtMs, windowMs }
            : null,
      });
    } else {
      outcome = await deps.calls.commitNonBillable({ callId, accountId, events, rated });
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
        // Someone else rated it (or this is a redelivery): just make sure our events are in their slots.
        await withConflictRetry(deps, () => deps.calls.mergeEvents(callId, accountId, events));
        return;
      case 'duplicate':
        if (outcome.prior.callId === callId) throw new Error(`call ${callId} holds its own duplicate marker but is not rated`);
        prior = outcome.prior;
        break;
      case 'over_cap':
        // The counter is authoritative: rate again as over_cap (non-billable, nothing counted).
        refusal = outcome.refusal;
        break;
      case 'conflict':
        await (deps.sleep ?? realSleep)(backoffMs(attempt));
        break;
      default: {
        const exhaustive: never = outcome;
        throw new Error(`unexpected outcome ${JSON.stringify(exhaustive)}`);
      }
    }
  }
  throw new WriteConflict(`${callId} (rating did not settle after ${maxAttempts} attempts)`);
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
