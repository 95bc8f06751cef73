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
import type { ReservationEnder } from '../routing/ports';
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { foldCall, isChildLeg, owningCallId, talkSeconds } from '../../domain/calls/fold';
import type { CallEvent, IngestMessage } from '../../domain/calls/events';
import { settleWithLimit } from '../kernel/concurrency';
import { CallAccountMismatch, type BlockListReader, type CallRatingStore, type ComplianceReader, type ConsentReader, type RawArchive, type RecordingJobQueue } from './ports';
import type { CallStore, ConfigStore, Log, Telemetry } from '../kernel/ports';
import { rate, withConflictRetry } from './rate-call';
import { rerateCall } from './rerate-call';
import { isNetworkPostbackMessage, type NetworkPostbackMessage } from '../../domain/networks/postback-message';
import { ingestNetworkPostbacks, matchAfterRating, type MatchingPassDeps } from '../networks/matching-pass';

export interface QueueRecord {
  readonly messageId: string;
  readonly body: string;
}

export interface ProcessIngestDeps {
  readonly calls: CallStore & CallRatingStore;
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
  /** Ends a call's pilot reservation (taken when the voice function admitted it) once its rating is committed; absent: none are taken. */
  readonly reservations?: ReservationEnder;
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
  /**
   * The networks' matching pass (shared/app/networks/matching-pass.ts): network postbacks on this queue are stored and
   * matched, and a rated call on a network's destination is matched. Absent: postbacks are failed back (never dropped).
   */
  readonly networks?: MatchingPassDeps;
}

/** What rating a call needs (the ledger writer's dependencies without the queue and archive). */
export type RatingDeps = Pick<
  ProcessIngestDeps,
  'calls' | 'config' | 'blocks' | 'dnc' | 'consent' | 'callerHashKey' | 'now' | 'telemetry' | 'log' | 'maxAttempts' | 'sleep' | 'reservations'
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

/** A network postback's body (postback-message.ts), or null for anything else. */
function networkMessage(body: string): NetworkPostbackMessage | 'malformed' | null {
  try {
    const json: unknown = JSON.parse(body);
    if (typeof json !== 'object' || json === null || (json as { kind?: unknown }).kind !== 'network.postback') return null;
    return isNetworkPostbackMessage(json) ? json : 'malformed';
  } catch {
    return null;
  }
}

/**
 * Network postbacks of the batch, after its calls were rated (a claim and its call in one batch then match at once).
 * A failure fails every postback of the batch: storing them again is a no-op.
 */
async function processNetworkRecords(records: readonly { messageId: string; message: NetworkPostbackMessage }[], deps: ProcessIngestDeps): Promise<string[]> {
  if (records.length === 0) return [];
  if (deps.networks === undefined) return records.map((r) => r.messageId);
  try {
    await ingestNetworkPostbacks(records.map((r) => r.message), deps.networks);
    return [];
  } catch (err) {
    deps.log.error('network postbacks failed; messages will be retried', { messages: records.length, error: describe(err) });
    return records.map((r) => r.messageId);
  }
}

async function processRecords(all: readonly QueueRecord[], deps: ProcessIngestDeps): Promise<BatchResult> {
  const failed = new Set<string>();
  const network: { messageId: string; message: NetworkPostbackMessage }[] = [];
  const records: QueueRecord[] = [];
  for (const r of all) {
    const n = networkMessage(r.body);
    if (n === null) records.push(r);
    else if (n === 'malformed') {
      deps.log.error('malformed network postback message', { messageId: r.messageId });
      failed.add(r.messageId);
    } else network.push({ messageId: r.messageId, message: n });
  }
  const result = await processCallRecords(records, deps, failed);
  for (const id of await processNetworkRecords(network, deps)) failed.add(id);
  return { failedMessageIds: [...new Set([...result.failedMessageIds, ...failed])] };
}

async function processCallRecords(records: readonly QueueRecord[], deps: ProcessIngestDeps, failed: Set<string>): Promise<BatchResult> {
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
    const rated = await rate(view.terminal, events, deps);
    // Rated before its dialled leg ended (a leg stored meanwhile by another writer found no rating to correct), or an
    // ended leg only stored beside a rating made without it (rate-call.ts RateResult): look again, once.
    if (rated.awaitingTalk) await rerateCall(callId, { kind: 'talk_time' }, deps);
    // The network side: a forwarded call is matched to its network's claims once our leg is rated.
    if (deps.networks !== undefined) await matchAfterRating(accountId, callId, deps.networks);
  } else {
    await withConflictRetry(deps, () => deps.calls.mergeEvents(callId, accountId, events));
    // A dialled leg that ended, delivered with other events of its call: its talk time can change a rating made
    // without it, exactly as when it arrives alone.
    if (events.some(isChildLeg) && talkSeconds(events.filter(isChildLeg)) !== null) await rerateCall(callId, { kind: 'talk_time' }, deps);
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

function describe(err: unknown): { name: string; message: string } | string {
  return err instanceof Error ? { name: err.name, message: err.message } : String(err);
}

// Re-rating and the duplicate scope have their own modules; importers of this module still find them here.
export { rerateAfterCredit, rerateCall, type RerateResult, type RerateTrigger } from './rerate-call';
export { duplicateScopeKey } from './rate-call';
