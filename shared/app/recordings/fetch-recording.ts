/**
 * Use case: fetch one completed recording into the recordings bucket and record it on the call.
 * Idempotent: a call that already has this recording stored is skipped, so redelivered or duplicated jobs cost
 * one GetItem. Failures are thrown; the queue retries with backoff and dead-letters what keeps failing.
 */
import * as z from 'zod/mini';
import { recordingTags, retentionDaysOf } from '../../domain/recordings/retention';
import { mediaTarget, providerOfCallId, vonageMediaJwt, type MediaCredentials } from '../../domain/recordings/media-auth';
import { PROVIDER_ID } from '../../domain/calls/providers/verdicts';
import type { Provider } from '../../domain/calls/events';
import type { Account } from '../../domain/catalog/types';
import { settleWithLimit } from '../kernel/concurrency';
import type { CallStore, ConfigStore, Log, RecordingMedia, SecretStore, Telemetry } from '../kernel/ports';
import type { RecordingJob } from './ports';
import type { QueueRecord, BatchResult } from '../rating/process-ingest-batch';

export interface FetchRecordingDeps {
  readonly calls: Pick<CallStore, 'getCall' | 'setRecording'>;
  readonly config: Pick<ConfigStore, 'getAccount'>;
  readonly secrets: Pick<SecretStore, 'getSecret'>;
  readonly media: Pick<RecordingMedia, 'store'>;
  /**
   * Makes the stored object's hold tag follow the call's legal hold when a dispute opened or closed while
   * the recording was being stored (S3RecordingObjects.syncHold). Absent: the tags set at upload stay.
   */
  readonly holds?: { syncHold(key: string, readHeld: () => Promise<boolean>): Promise<boolean> };
  readonly now: () => Date;
  readonly telemetry: Telemetry;
  readonly log: Log;
}

const RecordingJobSchema = z.object({
  v: z.literal(1),
  accountId: z.string().check(z.minLength(1)),
  callId: z.string().check(z.minLength(1)),
  // Twilio's RE…, or the carriers' recording UUIDs.
  recordingId: z.string().check(z.regex(PROVIDER_ID)),
  recordingUrl: z.url({ protocol: /^https?$/ }),
  recordingDurationSec: z.nullable(z.int().check(z.minimum(0))),
});

/** Throws an error naming the bad fields (a job is written by the ledger writer, so this means a bug). */
export function parseRecordingJob(body: string): RecordingJob {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error('malformed recording job: not JSON');
  }
  const parsed = RecordingJobSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`malformed recording job: ${parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ')}`);
  }
  return parsed.data;
}

/** Object key of a call's recording (CONTRACTS.md: `recordings/<accountId>/<callId>.<ext>`). */
export function recordingKey(accountId: string, callId: string, ext: string): string {
  return `recordings/${accountId}/${callId}.${ext}`;
}

export async function fetchRecording(job: RecordingJob, deps: FetchRecordingDeps): Promise<'stored' | 'skipped'> {
  const { accountId, callId, recordingId } = job;
  const call = await deps.calls.getCall(callId, { consistent: true });
  // The writer merges the recording event before it queues the job, so a missing call is a bug or a race.
  if (call === null) throw new Error(`call ${callId} not found`);
  if (call.accountId !== accountId) throw new Error(`call ${callId} belongs to another account`);
  if (call.recording?.recordingId === recordingId) return 'skipped';
  // A deletion request erased this call's personal data (shared/app/privacy/privacy.ts): its recording is not stored.
  if (call.erasure != null) return 'skipped';

  const account = await deps.config.getAccount(accountId);
  if (account === null) throw new Error(`account ${accountId} not found`);
  const provider = providerOfCallId(callId);
  if (provider === null) throw new Error(`call ${callId} names no provider`);
  const credentials = await credentialsFor(provider, account, job, deps);
  // Each provider's media URL and extension (shared/domain/recordings/media-auth.ts): Twilio's .wav original.
  const target = mediaTarget(provider, job.recordingUrl);
  const key = recordingKey(accountId, callId, target.ext);
  // The account's retention class and the call's legal hold as object tags (shared/domain/recordings/retention.ts);
  // a class change applies to recordings stored after it (the account is cached for at most 60 s).
  const held = call.legalHold != null;
  const tags = recordingTags(retentionDaysOf(account), held);
  const stored = await deps.media.store({ url: target.url, provider, credentials, key, tags });
  await deps.calls.setRecording(callId, {
    recordingId,
    key,
    sha256: stored.sha256,
    bytes: stored.bytes,
    durationSec: job.recordingDurationSec,
    contentType: stored.contentType,
    storedAt: deps.now().toISOString(),
  });
  if (deps.holds !== undefined) {
    // A dispute opened or closed between the read above and setRecording found no recording on the call to tag:
    // the state after setRecording decides (one more strongly consistent GetItem per recording).
    const readHeld = async () => (await deps.calls.getCall(callId, { consistent: true }))?.legalHold != null;
    if ((await readHeld()) !== held) await deps.holds.syncHold(key, readHeld);
  }
  deps.telemetry.recordingStored(stored.bytes);
  deps.log.info('recording stored', { accountId, callId, recordingId, bytes: stored.bytes });
  return 'stored';
}

/**
 * The account's credentials for its provider's media: Twilio's auth token, Plivo's first auth token, a JWT signed
 * with the Vonage application's key; none for Telnyx's presigned URLs. An account without them cannot have its
 * recordings fetched: thrown, so the job is retried and dead-lettered (alarmed) rather than silently dropped.
 */
async function credentialsFor(provider: Provider, account: Account, job: RecordingJob, deps: FetchRecordingDeps): Promise<MediaCredentials> {
  switch (provider) {
    case 'twilio':
      if (account.twilio === undefined) throw new Error(`account ${account.accountId} has no Twilio credentials`);
      return { kind: 'basic', username: account.twilio.accountSid, password: await deps.secrets.getSecret(account.twilio.authTokenSecret) };
    case 'telnyx':
      return { kind: 'none' };
    case 'vonage': {
      if (account.vonage?.privateKeySecret === undefined) throw new Error(`account ${account.accountId} has no Vonage private key for recordings`);
      const pem = await deps.secrets.getSecret(account.vonage.privateKeySecret);
      const nowMs = deps.now().getTime();
      return { kind: 'bearer', token: vonageMediaJwt(pem, account.vonage.applicationId, Math.floor(nowMs / 1000), `${job.recordingId}:${nowMs}`) };
    }
    case 'plivo': {
      const token = account.plivo?.authTokenSecrets[0];
      if (account.plivo === undefined || token === undefined) throw new Error(`account ${account.accountId} has no Plivo credentials`);
      return { kind: 'basic', username: account.plivo.authId, password: await deps.secrets.getSecret(token) };
    }
  }
}

/** A batch of the recordings queue; failed messages are returned for the partial batch response. */
export async function processRecordingBatch(records: readonly QueueRecord[], deps: FetchRecordingDeps): Promise<BatchResult> {
  const results = await settleWithLimit(records, 5, (r) => fetchRecording(parseRecordingJob(r.body), deps));
  const failedMessageIds: string[] = [];
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') return;
    const record = records[i]!;
    deps.telemetry.recordingFetchFailed();
    const err = result.reason;
    deps.log.error('recording fetch failed', {
      messageId: record.messageId,
      error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
    });
    failedMessageIds.push(record.messageId);
  });
  return { failedMessageIds };
}
