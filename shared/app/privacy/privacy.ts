/**
 * Recordings retention and deletion requests (docs/CONTRACTS.md "Recordings retention and deletion").
 *
 * Legal hold. While a call has an open dispute its recording must neither expire nor be deleted. The hold is kept on
 * the call item (`hold`, the state) and mirrored onto the recording as its `expiry=hold` S3 tag, which no lifecycle
 * rule selects (shared/domain/recordings/retention.ts). `holdRecording` runs right after the dispute is stored (and again on an
 * identical retry while it is open), `releaseRecording` right after it is closed (and again on a retry of the
 * resolve); neither is part of the dispute's own writes. If either fails, the route answers 503 `legal-hold-pending`
 * (the dispute itself IS stored): the identical request repeated answers as usual and applies the hold. Ordering:
 * the state changes first (the hold's own transaction checks that the dispute is still open), then the tag follows the
 * state (S3RecordingObjects.syncHold), so concurrent opens, closes and a recording being stored converge.
 *
 * Deletion requests. `POST /v1/privacy/deletions {callerNumber}` (admin, Idempotency-Key) hashes the number at once,
 * finds every rated call of the caller (gsi4, by the keyed hash), and for each of the account's calls removes the
 * personal fields (sealed and legacy clear numbers, the caller's ZIP in every status slot and, on items written before
 * the slots stopped carrying it, the number; the keyed hash and the caller traits `ct` stay: no number), deletes its
 * recording (every version), or, when the recording is under legal hold, keeps it and defers its deletion to the
 * hold's release. Ledger entries are never touched (they hold no personal data), so amounts, hashes and seals still
 * verify. The request and its outcome are stored (`GET /v1/privacy/deletions/{deletionId}`): 200 when done, 202 while
 * deferred recordings wait for their disputes.
 */
import { route, type Route } from '../kernel/route';
import { createHash } from 'node:crypto';
import { identityHash, typedCallerIdentity, withheldCallerRefusal } from '../../domain/calls/caller';
import { parseBody } from '../../domain/catalog/config-schema';
import type { Dispute } from '../../domain/disputes/disputes';
import { slotName } from '../../domain/calls/fold';
import { IdempotencyKeySchema } from '../../domain/pilots/pilots-schema';
import { DeletionRecordSchema, DeletionRequestBodySchema } from '../../domain/privacy/privacy-schema';
import { DomainError } from '../../domain/kernel/errors';
import { invalidInput, isCallerError, notFound, unprocessable } from '../kernel/errors';
import { settleWithLimit } from '../kernel/concurrency';
import { requireAdmin } from '../catalog/management';
import type { ApiKeyRecord, CallStore, StoredCall } from '../kernel/ports';
import { jsonBody } from '../kernel/query';

/** Calls erased at once by one request. */
const ERASE_CONCURRENCY = 4;
/** Call ids kept on a deletion request (an item stays far below DynamoDB's 400 KB). */
export const MAX_LISTED_CALL_IDS = 1000;

// ------------------------------------------------------------------ ports

export type DeletionStatus = 'running' | 'deferred' | 'completed';

/** A deletion request as stored and answered (never the number; the keyed hash stays in storage only). */
export interface DeletionRecord {
  readonly deletionId: string;
  readonly accountId: string;
  readonly status: DeletionStatus;
  readonly requestedAt: string;
  readonly requestedBy: string;
  readonly completedAt: string | null;
  /** The account's calls of the caller that were found. */
  readonly calls: number;
  readonly callIds: readonly string[];
  readonly callIdsTruncated: boolean;
  readonly personalFieldsRemoved: number;
  readonly recordingsDeleted: number;
  /** Calls whose recording is under legal hold: deleted when their dispute closes. */
  readonly recordingsDeferred: readonly string[];
}

/** One call's erasure by a deletion request (PrivacyStore.eraseCall). */
export interface EraseCallRequest {
  readonly callId: string;
  readonly accountId: string;
  readonly deletionId: string;
  readonly atMs: number;
  readonly statusSlots: readonly string[];
  /** `defer`: the recording is held (condition: hold present); otherwise the condition is: no hold. */
  readonly recording: 'defer' | 'delete' | 'none';
}

export interface PrivacyStore {
  setHold(args: { accountId: string; disputeId: string; callId: string; atMs: number }): Promise<'held' | 'not_open'>;
  releaseHold(callId: string): Promise<{ call: StoredCall; pendingDeletions: string[] } | null>;
  callIdsByCaller(callerHash: string): Promise<string[]>;
  eraseCall(args: EraseCallRequest): Promise<'erased' | 'hold_changed'>;
  removeRecording(callId: string): Promise<'removed' | 'held'>;
  getDeletion(accountId: string, deletionId: string): Promise<(DeletionRecord & { callerHash: string }) | null>;
  createDeletion(record: DeletionRecord & { callerHash: string }): Promise<'created' | 'exists'>;
  finishDeletion(record: DeletionRecord): Promise<void>;
  completeDeferred(accountId: string, deletionId: string, callId: string, atIso: string): Promise<void>;
}

export interface RecordingObjects {
  syncHold(key: string, readHeld: () => Promise<boolean>): Promise<boolean>;
  deleteRecording(key: string): Promise<unknown>;
}

export interface PrivacyDeps {
  readonly calls: Pick<CallStore, 'getCall'>;
  readonly store: PrivacyStore;
  readonly recordings: RecordingObjects;
  /** The caller-hash HMAC key (CALLER_HASH_KEY_REF), the one the ledger writer hashes callers with. */
  readonly callerHashKey: () => Promise<string>;
  readonly now: () => Date;
}

/**
 * The dispute is stored, the legal hold of its recording is not (yet) in the state it must be: the storage did not
 * take the change, so the same request may succeed later (kind `unavailable`: 503 with Retry-After).
 */
export function legalHoldPending(detail: string): DomainError {
  return new DomainError('unavailable', 'legal_hold_pending', 'Legal hold not applied yet', detail);
}

// ------------------------------------------------------------------ legal hold

async function heldNow(callId: string, deps: Pick<PrivacyDeps, 'calls'>): Promise<boolean> {
  return (await deps.calls.getCall(callId, { consistent: true }))?.legalHold != null;
}

/** After a dispute was stored (or re-sent) while open: hold the call's recording. */
export async function holdRecording(dispute: Dispute, deps: PrivacyDeps): Promise<void> {
  if (dispute.status !== 'open') return;
  try {
    const held = await deps.store.setHold({ accountId: dispute.accountId, disputeId: dispute.disputeId, callId: dispute.callId, atMs: deps.now().getTime() });
    // Closed meanwhile: its close released (or will release) the recording.
    if (held === 'not_open') return;
    const call = await deps.calls.getCall(dispute.callId, { consistent: true });
    // No recording yet: the fetcher tags it held when it stores it (fetch-recording.ts).
    if (call?.recording != null) await deps.recordings.syncHold(call.recording.key, () => heldNow(dispute.callId, deps));
  } catch (err) {
    if (isCallerError(err)) throw err;
    throw legalHoldPending('The dispute is stored, but the legal hold on its recording could not be applied. Repeat the identical request to apply it.');
  }
}

/** After a dispute was closed (or its resolve re-sent): release the hold, or finish a deletion that waited for it. */
export async function releaseRecording(dispute: Dispute, deps: PrivacyDeps): Promise<void> {
  if (dispute.status === 'open') return;
  try {
    const released = await deps.store.releaseHold(dispute.callId);
    if (released === null || released.call.recording === null) return;
    const { call, pendingDeletions } = released;
    if (pendingDeletions.length === 0) {
      await deps.recordings.syncHold(call.recording!.key, () => heldNow(dispute.callId, deps));
      return;
    }
    // A deletion request deferred this recording: delete it now (unless a new hold came first).
    if (call.legalHold != null) return;
    await deps.recordings.deleteRecording(call.recording!.key);
    if ((await deps.store.removeRecording(call.callId)) === 'held') return;
    const at = deps.now().toISOString();
    for (const deletionId of pendingDeletions) await deps.store.completeDeferred(call.accountId, deletionId, call.callId, at);
  } catch (err) {
    if (isCallerError(err)) throw err;
    throw legalHoldPending('The dispute is resolved, but the legal hold on its recording could not be released. Repeat the identical request to release it.');
  }
}

// ------------------------------------------------------------------ deletion requests

/** Deterministic per account and Idempotency-Key: a retried request finds its own record. */
export function deletionIdOf(accountId: string, idempotencyKey: string): string {
  return `del_${createHash('sha256').update(`${accountId}\n${idempotencyKey}`).digest('hex').slice(0, 24)}`;
}

function publicRecord(r: DeletionRecord & { callerHash?: string }): DeletionRecord {
  const { callerHash: _hash, ...rest } = r;
  return rest;
}

type Erased = 'deleted' | 'deferred' | 'none';

/** Erases one call; the hold decides atomically (the store's condition) whether its recording goes now or later. */
async function eraseOne(first: StoredCall, deletionId: string, deps: PrivacyDeps): Promise<Erased> {
  let call: StoredCall | null = first;
  for (let attempt = 0; attempt < 4 && call !== null; attempt++) {
    const recording = call.recording === null ? 'none' : call.legalHold != null ? 'defer' : 'delete';
    const statusSlots = [...new Set(call.events.filter((e) => e.kind === 'call.status').map(slotName))];
    const result = await deps.store.eraseCall({ callId: call.callId, accountId: call.accountId, deletionId, atMs: deps.now().getTime(), statusSlots, recording });
    if (result === 'erased') {
      if (recording === 'none') return 'none';
      if (recording === 'defer') return 'deferred';
      await deps.recordings.deleteRecording(call.recording!.key);
      // A hold set between the erasure and here finds the recording gone: the deletion request came first.
      await deps.store.removeRecording(call.callId);
      return 'deleted';
    }
    call = await deps.calls.getCall(call.callId, { consistent: true });
  }
  if (call === null) return 'none';
  throw new Error(`erasure of ${first.callId}: its legal hold kept changing`);
}

export interface DeletionAnswer {
  readonly created: boolean;
  readonly record: DeletionRecord;
}

export async function requestDeletion(principal: ApiKeyRecord, idempotencyKey: string | undefined, json: unknown, deps: PrivacyDeps): Promise<DeletionAnswer> {
  requireAdmin(principal);
  if (idempotencyKey === undefined) {
    throw invalidInput('An Idempotency-Key header is required: it makes a retried deletion request return the same outcome.', [
      { field: 'Idempotency-Key', message: 'is required' },
    ]);
  }
  const key = IdempotencyKeySchema.safeParse(idempotencyKey);
  if (!key.success) throw invalidInput('Invalid Idempotency-Key header.', [{ field: 'Idempotency-Key', message: key.error.issues[0]!.message }]);
  const body = parseBody(DeletionRequestBodySchema, json, 'deletion request');
  // The identity the writer gave the caller (caller.ts): a valid number, or other digits a carrier sent. A withheld
  // marker names nobody (and stores no personal data to erase).
  const typed = typedCallerIdentity(body.callerNumber);
  if (typed === 'withheld') throw withheldCallerRefusal('callerNumber');
  if (typed === 'not_a_number') throw unprocessable('The caller number is not a valid phone number.', [{ field: 'callerNumber', message: 'must be a valid phone number, e.g. +15125550101' }]);
  const hash = identityHash(await deps.callerHashKey(), typed);
  const accountId = principal.accountId;
  const deletionId = deletionIdOf(accountId, key.data);

  const sameKeyOtherBody = () =>
    unprocessable('This Idempotency-Key was already used for another caller; use a new key for a new request.', [
      { field: 'Idempotency-Key', message: 'was used with a different request' },
    ]);
  let existing = await deps.store.getDeletion(accountId, deletionId);
  let created = false;
  if (existing === null) {
    const record: DeletionRecord & { callerHash: string } = {
      deletionId,
      accountId,
      status: 'running',
      requestedAt: deps.now().toISOString(),
      requestedBy: `${principal.label ?? 'api-key'} (${principal.role})`,
      completedAt: null,
      calls: 0,
      callIds: [],
      callIdsTruncated: false,
      personalFieldsRemoved: 0,
      recordingsDeleted: 0,
      recordingsDeferred: [],
      callerHash: hash,
    };
    created = (await deps.store.createDeletion(record)) === 'created';
    existing = created ? record : await deps.store.getDeletion(accountId, deletionId);
    if (existing === null) throw new Error(`deletion ${deletionId} vanished`);
  }
  if (existing.callerHash !== hash) throw sameKeyOtherBody();
  // Done (or waiting for holds only): answer what was stored. A run cut short ('running') is resumed: every step is
  // idempotent.
  if (existing.status !== 'running') return { created: false, record: publicRecord(existing) };
  return { created, record: await runDeletion(existing, deps) };
}

async function runDeletion(request: DeletionRecord & { callerHash: string }, deps: PrivacyDeps): Promise<DeletionRecord> {
  const ids = await deps.store.callIdsByCaller(request.callerHash);
  // gsi4 spans accounts (the hash key is per environment): only this account's calls are touched.
  const calls = (await settleWithLimit(ids, ERASE_CONCURRENCY, (id) => deps.calls.getCall(id, { consistent: true }))).flatMap((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value !== null && r.value.accountId === request.accountId ? [r.value] : [];
  });
  const results = await settleWithLimit(calls, ERASE_CONCURRENCY, (call) => eraseOne(call, request.deletionId, deps));
  const outcome = results.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
  let deferred = calls.filter((_, i) => outcome[i] === 'deferred').map((c) => c.callId);
  let deleted = outcome.filter((o) => o === 'deleted').length;
  // A hold released between the erasure and here already deleted the recording (and found no request to count it).
  const stillHeld = await settleWithLimit(deferred, ERASE_CONCURRENCY, async (id) => (await deps.calls.getCall(id, { consistent: true }))?.recording != null);
  const released = deferred.filter((_, i) => stillHeld[i]?.status === 'fulfilled' && !(stillHeld[i] as PromiseFulfilledResult<boolean>).value);
  deferred = deferred.filter((id) => !released.includes(id));
  deleted += released.length;
  const callIds = calls.map((c) => c.callId).sort();
  const record: DeletionRecord = {
    deletionId: request.deletionId,
    accountId: request.accountId,
    status: deferred.length > 0 ? 'deferred' : 'completed',
    requestedAt: request.requestedAt,
    requestedBy: request.requestedBy,
    completedAt: deferred.length > 0 ? null : deps.now().toISOString(),
    calls: calls.length,
    callIds: callIds.slice(0, MAX_LISTED_CALL_IDS),
    callIdsTruncated: callIds.length > MAX_LISTED_CALL_IDS,
    personalFieldsRemoved: calls.length,
    recordingsDeleted: deleted,
    recordingsDeferred: deferred.sort(),
  };
  await deps.store.finishDeletion(record);
  // And one released after the check above but before the outcome was stored: count it now (idempotent).
  for (const id of deferred) {
    const call = await deps.calls.getCall(id, { consistent: true });
    if (call !== null && call.recording === null) await deps.store.completeDeferred(request.accountId, request.deletionId, id, deps.now().toISOString());
  }
  const stored = await deps.store.getDeletion(request.accountId, request.deletionId);
  return publicRecord(stored ?? record);
}

export async function getDeletion(principal: ApiKeyRecord, deletionId: string, deps: Pick<PrivacyDeps, 'store'>): Promise<DeletionRecord> {
  requireAdmin(principal);
  const found = /^del_[0-9a-f]{24}$/.test(deletionId) ? await deps.store.getDeletion(principal.accountId, deletionId) : null;
  if (found === null) throw notFound('There is no deletion request with this id.');
  return publicRecord(found);
}

// ------------------------------------------------------------------ routes

/** 200 once everything is deleted; 202 while deferred recordings wait for their disputes to close. */
function statusOf(record: DeletionRecord): number {
  return record.status === 'completed' ? 200 : 202;
}

export const PRIVACY_ROUTES: readonly Route<PrivacyDeps>[] = [
  route({
    method: 'POST',
    path: '/v1/privacy/deletions',
    summary:
      "A caller's deletion request (admin), idempotent on the Idempotency-Key header: every call of the caller in this account loses its personal fields and its recording (a recording under legal hold is deleted when its dispute closes); ledger entries stay. 200 done, 202 recordings deferred; the same key with another number is 422",
    auth: 'admin',
    request: DeletionRequestBodySchema,
    headers: [{ name: 'Idempotency-Key', required: true, description: 'The same key and number answer the same request' }],
    responses: {
      200: { description: 'Done', schema: DeletionRecordSchema },
      202: { description: 'Personal fields removed; recordings under legal hold deferred', schema: DeletionRecordSchema },
    },
    problems: [400, 401, 403, 415, 422],
    query: {},
    pathCarriesPii: true,
    async handle(principal, req, deps) {
      const answer = await requestDeletion(principal, req.idempotencyKey, jsonBody(req), deps);
      return { status: statusOf(answer.record), body: answer.record };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/privacy/deletions/{deletionId}',
    summary: 'A deletion request and its outcome (admin)',
    auth: 'admin',
    responses: { 200: { description: 'The request', schema: DeletionRecordSchema } },
    problems: [400, 401, 403, 404],
    query: {},
    pathCarriesPii: true,
    async handle(principal, req, deps) {
      const record = await getDeletion(principal, req.pathParameters.deletionId ?? '', deps);
      return { status: 200, body: record };
    },
  }),
];
