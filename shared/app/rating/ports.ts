/**
 * The ports the rating use cases consume (rate-call.ts, rerate-call.ts, process-ingest-batch.ts, duplicate-window.ts):
 * the block list, compliance and consent readers, the recording-job queue and the raw archive, and the errors their
 * adapters throw. The call store they write through is shared (shared/app/kernel/ports.ts). No AWS types here.
 */
import type { IngestMessage } from '../../domain/calls/events';
import type { RecordingJob } from '../recordings/ports';

/**
 * The account's block list, as the ledger writer reads it: is this caller (keyed hash) blocked for a call that
 * started at `forInstantMs`? Entries take effect CONFIG_LEAD_MS after they are written, like every other change
 * a cached reader must see (config.ts), so a cached copy may serve.
 */
export interface BlockListReader {
  blockedCaller(accountId: string, callerHash: string, forInstantMs: number): Promise<{ readonly blockId: string } | null>;
}

/**
 * Compliance as the ledger writer reads it. `dncListed`: the account's DNC lists that list this caller
 * (keyed hash) for a call that started at `forInstantMs` (entries take effect CONFIG_LEAD_MS after they are
 * written, so a cached answer may serve; shared/adapters/compliance/dnc-repo.ts), or null.
 */
export interface ComplianceReader {
  dncListed(accountId: string, callerHash: string, forInstantMs: number): Promise<{ readonly listIds: readonly string[] } | null>;
}

/**
 * Consent evidence: the latest evidence for this caller captured at or before `startedAtMs` and within
 * CONSENT_VALIDITY_DAYS (shared/domain/compliance/consent.ts), or null. Uncached (shared/adapters/compliance/consent-repo.ts).
 */
export interface ConsentReader {
  consentFor(accountId: string, callerHash: string, startedAtMs: number): Promise<{ readonly certificateId: string | null; readonly capturedAt: string } | null>;
}

export interface RecordingJobQueue {
  send(job: RecordingJob): Promise<void>;
}

export interface RawArchive {
  /** Writes the batch, one object per (account, UTC day of receipt). Same batchId → same keys (retry-safe). */
  archiveBatch(batchId: string, messages: readonly IngestMessage[]): Promise<void>;
}

/** A single-item write collided with a concurrent transaction on the same item; safe to retry. */
export class WriteConflict extends Error {
  constructor(what: string) {
    super(`write conflict on ${what}`);
    this.name = 'WriteConflict';
  }
}

/** An event names a call that already belongs to another account (a CallSid collision or a forgery). */
export class CallAccountMismatch extends Error {
  constructor(readonly callId: string) {
    super(`call ${callId} belongs to another account`);
    this.name = 'CallAccountMismatch';
  }
}
