/**
 * What the voice function and the dialled legs' callbacks write (docs/CONTRACTS.md, "Routing"), in the main table:
 *
 *   routing record   pk = CALL#<callId>                  sk = ROUTING       admissions[], events[], answered{}, flowVersion, degraded
 *   lease slot       pk = LEASE#<accountId>#<targetId>   sk = SLOT#<n>      holder (callId), expiresAtMs, maxCallMs
 *   reservation      pk = CALL#<callId>                  sk = RESERVATION   the pointer (reservation-condition.ts)
 *
 * An answer is at most TWO requests (`commit`): the pilot reservation's conditional update of the counter (single
 * item, so concurrent calls of a pilot serialise instead of cancelling each other), then ONE TransactWriteItems of the
 * lease slot, the routing record's append and the reservation's pointer. So a call is never dialled without its lease
 * and reservation, and never holds either without the audit saying why. The routing record sits beside the call item
 * (same partition), not in it: the ledger writer owns the call item. The transaction's conditions, each with its
 * meaning when it alone fails:
 *   lease    held by another live call: try the slot the domain picks (none: the target is at capacity);
 *   append   this request's key is already in `answered`: the same request (step and parameters) was answered
 *            before, so nothing is appended again and the rest is written without the append (the lease is the
 *            call's own, the pointer held): the retry gets the same answer, with one audit;
 *   pointer  the call's reservation has ended (settled, released, expired): a late retry; the reservation just
 *            taken is given back and the call refused (ENDED_CALL_REFUSAL).
 *
 * Lease slots: the first try is the slot the call id hashes to (no read on the answer path); when its condition
 * fails the target's slots are read once and the domain picks a free or expired one (leases.ts slotToTry); none:
 * the target is at capacity. An expired slot is free to take, so a lost `completed` callback blocks a slot only until
 * its expiry.
 */
import { createHash } from 'node:crypto';
import { GetItemCommand, PutItemCommand, QueryCommand, TransactWriteItemsCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AuditEvent } from '../../domain/callflow/machine';
import { acquire, extendOnAnswer, releaseLease, slotToTry, type LeaseSlot, type LeaseWrite } from '../../domain/routing/leases';
import { ENDED_CALL_REFUSAL, expire, release, type Reservation } from '../../domain/routing/reservations';
import type { AnswerCommit, CommitResult, ReservationEnder, RoutingStore } from '../../app/routing/ports';
import type { ReservationSweepStore } from '../../app/routing/sweep-reservations';
import type { RoutingRecord } from '../../domain/routing/audit';
import type { DialLegEvent, DialLegSink } from '../../app/calls/ports';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { cancellationReasons, errorName, isTransactionConflict, type TransactItem } from '../platform/dynamodb/ddb-ops';
import { pointerItem, reservationKey } from './reservation-condition';
import { backoff, CONFLICT_RETRIES, endOnCounter, endReservation, pruneMarker, readCounterEntries, takeReservation, type TakeResult } from './reservation-writes';

const N = (n: number): AttributeValue => ({ N: String(n) });

export const routingKeys = {
  record: (callId: string) => ({ pk: `CALL#${callId}`, sk: 'ROUTING' }),
  leasePk: (accountId: string, targetId: string) => `LEASE#${accountId}#${targetId}`,
  slot: (accountId: string, targetId: string, slot: number) => ({ pk: routingKeys.leasePk(accountId, targetId), sk: `SLOT#${slot}` }),
};

/** The leg statuses that end a dialled leg (its lease is given back). */
const LEG_ENDS = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);
export interface RoutingRepoOptions {
  readonly mainTable: string;
  readonly client?: DynamoDBClient;
}

function hashedSlot(callId: string, cap: number): number {
  return createHash('sha256').update(callId).digest().readUInt32BE(0) % cap;
}

export class RoutingRepo implements RoutingStore, DialLegSink, ReservationEnder, Omit<ReservationSweepStore, 'livePilots'> {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: RoutingRepoOptions) {
    this.table = options.mainTable;
    this.client = dynamodbClient(options.client);
  }

  // ------------------------------------------------------------------ the answer's write

  async commit(c: AnswerCommit): Promise<CommitResult> {
    let taken: TakeResult | null = null;
    if (c.reservation !== null) {
      taken = await takeReservation(this.client(), this.table, c.accountId, c.reservation.pilot.pilotId, c.callId, c.reservation.write, c.atMs);
      if (taken.kind === 'refused') return { ok: false, failed: 'reservation', refusal: taken.refusal };
    }
    const pointer = taken === null ? null : pointerItem(this.table, c.accountId, taken.reservation);
    let slot = c.lease === null ? null : hashedSlot(c.callId, c.lease.cap);
    let withAudit = true;
    for (let attempt = 0; ; attempt++) {
      const lease = c.lease === null || slot === null ? null : acquire(c.lease.targetId, slot, c.callId, c.atMs, c.lease.times);
      // Cancellation reasons come one per item, in this order; absent items have index -1.
      const items: TransactItem[] = [];
      const leaseAt = lease === null || c.lease === null ? -1 : items.push(this.leaseItem(c.accountId, lease, (c.lease.times.maxCallSec + c.lease.times.graceSec) * 1000)) - 1;
      const appendAt = withAudit ? items.push(this.appendItem(c)) - 1 : -1;
      const pointerAt = pointer === null ? -1 : items.push(pointer) - 1;
      if (items.length === 0) return { ok: true };
      try {
        await this.client().send(new TransactWriteItemsCommand({ TransactItems: items }));
        return { ok: true };
      } catch (err) {
        const reasons = cancellationReasons(err);
        const failed = (i: number) => i >= 0 && reasons[i]?.Code === 'ConditionalCheckFailed';
        // The call's reservation has ended (a late retry of its answer): what this request took goes back.
        if (failed(pointerAt)) return this.endedCall(c, taken);
        if (failed(leaseAt) && c.lease !== null) {
          slot = slotToTry(c.lease.cap, await this.readSlots(c.accountId, c.lease.targetId), c.callId, c.atMs);
          // The reservation stays: it is the call's, whichever target it is dialled to (or released once it is rated).
          // Its pointer is written now, so that rating (or the answer's own release) finds it whatever comes next.
          if (slot === null) return pointer !== null && !(await this.putPointer(pointer)) ? this.endedCall(c, taken) : { ok: false, failed: 'lease', targetId: c.lease.targetId };
          if (attempt < CONFLICT_RETRIES) continue;
        }
        if (failed(appendAt) && !failed(leaseAt)) {
          // This very request (same step, same parameters) was answered and recorded before: the audit stands as it is,
          // and the rest of the write (the lease, idempotent for its holder, and the pointer) is written without it.
          if (!answeredBefore(reasons[appendAt]?.Item, c)) throw err;
          withAudit = false;
          continue;
        }
        if (!isTransactionConflict(err) || attempt >= CONFLICT_RETRIES) throw err;
        await backoff(attempt);
      }
    }
  }

  /** A retry of a call whose reservation has ended: never a second one. What this request took is given back. */
  private async endedCall(c: AnswerCommit, taken: TakeResult | null): Promise<CommitResult> {
    if (taken?.kind === 'taken' && c.reservation !== null) await endOnCounter(this.client(), this.table, c.accountId, c.reservation.pilot.pilotId, release(taken.reservation), c.atMs);
    return { ok: false, failed: 'reservation', refusal: ENDED_CALL_REFUSAL };
  }

  /** The pointer alone (false: the call's reservation has ended). */
  private async putPointer(pointer: TransactItem): Promise<boolean> {
    try {
      await this.client().send(new PutItemCommand(pointer.Put!));
      return true;
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  private leaseItem(accountId: string, w: LeaseWrite, answeredHoldMs: number): TransactItem {
    const key = marshall(routingKeys.slot(accountId, w.targetId, w.slot));
    if (w.condition.kind !== 'free_or_expired_or_mine') throw new Error('leaseItem: only an acquire is part of an answer');
    return {
      Update: {
        TableName: this.table,
        Key: key,
        UpdateExpression: 'SET holder = :me, expiresAtMs = :exp, maxCallMs = :max',
        ConditionExpression: 'attribute_not_exists(holder) OR holder = :me OR expiresAtMs <= :now',
        ExpressionAttributeValues: { ':me': { S: w.condition.callId }, ':exp': N(w.expiresAtMs ?? 0), ':max': N(answeredHoldMs), ':now': N(w.condition.atMs) },
      },
    };
  }

  /**
   * The routing record's append, once per request: the request's key (the step and what was posted with it,
   * AnswerCommit.requestKey) goes into the record's `answered` set in the same update, and the update requires it
   * absent, so a retried request (Twilio retries a voice URL it did not hear back from) appends nothing twice.
   */
  private appendItem(c: AnswerCommit): TransactItem {
    const events = c.audit.map((e) => ({ ...e, atMs: c.atMs }));
    const admissions = c.admission === null ? [] : [{ ...c.admission, atMs: c.atMs }];
    return {
      Update: {
        TableName: this.table,
        Key: marshall(routingKeys.record(c.callId)),
        UpdateExpression:
          'SET accountId = :acct, trackingNumber = if_not_exists(trackingNumber, :to), flowVersion = if_not_exists(flowVersion, :v), admissions = list_append(if_not_exists(admissions, :empty), :adm), events = list_append(if_not_exists(events, :empty), :ev) ADD answered :keys',
        ConditionExpression: '(attribute_not_exists(accountId) OR accountId = :acct) AND (attribute_not_exists(answered) OR NOT contains(answered, :key))',
        ExpressionAttributeValues: {
          ...marshall(
            { ':acct': c.accountId, ':to': c.trackingNumber, ':v': c.flowVersion, ':empty': [], ':adm': admissions, ':ev': events, ':key': c.requestKey },
            { removeUndefinedValues: true, convertClassInstanceToMap: true },
          ),
          ':keys': { SS: [c.requestKey] },
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  async recordDegraded(accountId: string, callId: string, atMs: number, audit: readonly AuditEvent[]): Promise<void> {
    await this.client().send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(routingKeys.record(callId)),
        UpdateExpression: 'SET accountId = :acct, degraded = :true, events = list_append(if_not_exists(events, :empty), :ev)',
        ConditionExpression: 'attribute_not_exists(accountId) OR accountId = :acct',
        ExpressionAttributeValues: marshall({ ':acct': accountId, ':true': true, ':empty': [], ':ev': audit.map((e) => ({ ...e, atMs })) }, { removeUndefinedValues: true }),
      }),
    );
  }

  async readRouting(callId: string): Promise<RoutingRecord | null> {
    const out = await this.client().send(new GetItemCommand({ TableName: this.table, Key: marshall(routingKeys.record(callId)), ConsistentRead: true }));
    if (out.Item === undefined) return null;
    const item = unmarshall(out.Item);
    return {
      accountId: String(item.accountId),
      callId,
      flowVersion: item.flowVersion === undefined || item.flowVersion === null ? null : Number(item.flowVersion),
      trackingNumber: typeof item.trackingNumber === 'string' ? item.trackingNumber : null,
      admissions: (item.admissions ?? []) as RoutingRecord['admissions'],
      events: (item.events ?? []) as RoutingRecord['events'],
      degraded: item.degraded === true,
    };
  }

  // ------------------------------------------------------------------ leases

  async readSlots(accountId: string, targetId: string): Promise<LeaseSlot[]> {
    const out = await this.client().send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: routingKeys.leasePk(accountId, targetId) } },
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map((raw) => {
      const i = unmarshall(raw);
      return { slot: Number(String(i.sk).slice('SLOT#'.length)), holder: typeof i.holder === 'string' ? i.holder : null, expiresAtMs: i.expiresAtMs === undefined ? null : Number(i.expiresAtMs) };
    });
  }

  /**
   * A dialled leg's progress: `in-progress` (answered) pushes its lease's expiry out to the call's limit, an end gives
   * the slot back; both conditional on the call still holding it (a late callback never frees another call's slot).
   * Every status is appended to the call's routing record.
   */
  async dialLeg(e: DialLegEvent): Promise<void> {
    const answered = e.status === 'in-progress' || e.status === 'answered';
    if (answered || LEG_ENDS.has(e.status)) {
      const slots = await this.readSlots(e.accountId, e.targetId);
      const held = slots.find((s) => s.holder === e.callId);
      if (held !== undefined) await this.writeSlot(e, held.slot, answered);
    }
    await this.client().send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(routingKeys.record(e.callId)),
        UpdateExpression: 'SET accountId = if_not_exists(accountId, :acct), events = list_append(if_not_exists(events, :empty), :ev)',
        ConditionExpression: 'attribute_not_exists(accountId) OR accountId = :acct',
        ExpressionAttributeValues: marshall({
          ':acct': e.accountId,
          ':empty': [],
          ':ev': [{ event: 'leg', targetId: e.targetId, position: e.position, status: e.status, durationSec: e.durationSec, atMs: e.atMs }],
        }),
      }),
    );
  }

  private async writeSlot(e: DialLegEvent, slot: number, answered: boolean): Promise<void> {
    const key = marshall(routingKeys.slot(e.accountId, e.targetId, slot));
    // The domain's writes (leases.ts), spelled: both are conditional on the holder.
    const w = answered ? extendOnAnswer(e.targetId, slot, e.callId, e.atMs, { ringTimeoutSec: 0, maxCallSec: 0, graceSec: 0 }) : releaseLease(e.targetId, slot, e.callId);
    try {
      await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key,
          ...(w.holder === null
            ? { UpdateExpression: 'REMOVE holder, expiresAtMs', ExpressionAttributeValues: { ':me': { S: e.callId } } }
            : // The call's limit (+ grace) was stored with the slot when it was taken (maxCallMs).
              { UpdateExpression: 'SET expiresAtMs = :base + maxCallMs', ExpressionAttributeValues: { ':me': { S: e.callId }, ':base': N(w.expiresAtMs ?? e.atMs) } }),
          ConditionExpression: 'holder = :me',
        }),
      );
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
    }
  }

  // ------------------------------------------------------------------ reservations after rating, and the sweep

  /**
   * Ends the call's reservation once its rating is committed: `release` (the charge, if any, is already in heldCents
   * through the rating's own transaction). Conditional on it still being held, so a redelivered rating, an expiry
   * sweep and this never end one reservation twice.
   */
  async releaseAfterRating(accountId: string, callId: string, atMs: number): Promise<void> {
    const out = await this.client().send(new GetItemCommand({ TableName: this.table, Key: marshall(reservationKey(callId)), ConsistentRead: true }));
    if (out.Item === undefined) return;
    const item = unmarshall(out.Item) as Reservation & { accountId: string };
    if (item.state !== 'held' || item.accountId !== accountId) return;
    await this.releaseReservation(accountId, item.pilotId, item, atMs);
  }

  /** Gives a held reservation back: its pointer marked `released`, then its counter entry removed (at most once). */
  async releaseReservation(accountId: string, pilotId: string, held: Reservation, atMs: number): Promise<void> {
    await endReservation(this.client(), this.table, accountId, pilotId, release(held), atMs);
  }

  async counterEntries(accountId: string, pilotId: string): Promise<{ live: Reservation[]; endedMarkers: string[] } | null> {
    return readCounterEntries(this.client(), this.table, accountId, pilotId);
  }

  /** The sweep's end of an expired reservation: pointer `expired`, then the counter entry if it is still there and expired. */
  async expireReservation(accountId: string, pilotId: string, held: Reservation, nowMs: number): Promise<boolean> {
    return endReservation(this.client(), this.table, accountId, pilotId, expire(held, nowMs), nowMs);
  }

  async pruneEndedMarker(accountId: string, pilotId: string, callId: string, atMs: number): Promise<boolean> {
    return pruneMarker(this.client(), this.table, accountId, pilotId, callId, atMs);
  }
}

/** The failed append's record (ALL_OLD) is this account's and already holds this request's key. */
function answeredBefore(old: Record<string, AttributeValue> | undefined, c: AnswerCommit): boolean {
  if (old === undefined) return false;
  const item = unmarshall(old);
  return item.accountId === c.accountId && item.answered instanceof Set && item.answered.has(c.requestKey);
}
