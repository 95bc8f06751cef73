/**
 * What the voice function and the dialled legs' callbacks write (docs/CONTRACTS.md, "Routing"), in the main table:
 *
 *   routing record   pk = CALL#<callId>                  sk = ROUTING       admissions[], events[], flowVersion, degraded
 *   lease slot       pk = LEASE#<accountId>#<targetId>   sk = SLOT#<n>      holder (callId), expiresAtMs, maxCallMs
 *   reservation      pk = CALL#<callId>                  sk = RESERVATION   (reservation-condition.ts)
 *
 * An answer is ONE TransactWriteItems (`commit`): the reservation's counter, day and reservation items, the lease
 * slot, and the routing record's append. So a call is never dialled without its lease and reservation, and never
 * holds either without the audit saying why. The routing record sits beside the call item (same partition), not in
 * it: the ledger writer owns the call item.
 *
 * Lease slots: the first try is the slot the call id hashes to (no read on the answer path); when its condition
 * fails the target's slots are read once and the domain picks a free or expired one (leases.ts slotToTry); none:
 * the target is at capacity. An expired slot is free to take, so a lost `completed` callback blocks a slot only until
 * its expiry.
 */
import { createHash } from 'node:crypto';
import { GetItemCommand, QueryCommand, TransactWriteItemsCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AuditEvent } from '../../domain/callflow/machine';
import { acquire, extendOnAnswer, releaseLease, slotToTry, type LeaseSlot, type LeaseWrite } from '../../domain/routing/leases';
import { release, reserveRefusal, type DayCounter, type PilotCounter, type Reservation } from '../../domain/routing/reservations';
import type { AnswerCommit, CommitResult, ReservationEnder, RoutingStore } from '../../app/routing/ports';
import type { RoutingRecord } from '../../domain/routing/audit';
import type { DialLegEvent, DialLegSink } from '../../app/calls/ports';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { cancellationReasons, errorName, isTransactionConflict, type TransactItem } from '../platform/dynamodb/ddb-ops';
import { pointerItem, reservationItems, reservationKey } from './reservation-condition';

const N = (n: number): AttributeValue => ({ N: String(n) });

export const routingKeys = {
  record: (callId: string) => ({ pk: `CALL#${callId}`, sk: 'ROUTING' }),
  leasePk: (accountId: string, targetId: string) => `LEASE#${accountId}#${targetId}`,
  slot: (accountId: string, targetId: string, slot: number) => ({ pk: routingKeys.leasePk(accountId, targetId), sk: `SLOT#${slot}` }),
};

/** The leg statuses that end a dialled leg (its lease is given back). */
const LEG_ENDS = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);
/**
 * Attempts of a transaction that lost to a concurrent one on the same item (TransactionConflict: many calls of one
 * pilot admitted at once all update its counter), with full-jitter exponential backoff. The voice answer's own budget
 * bounds the wait; past it the fail-safe answers.
 */
const CONFLICT_RETRIES = 30;

function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * Math.min(250, 10 * 2 ** Math.min(attempt, 5))));
}

export interface RoutingRepoOptions {
  readonly mainTable: string;
  readonly client?: DynamoDBClient;
}

function hashedSlot(callId: string, cap: number): number {
  return createHash('sha256').update(callId).digest().readUInt32BE(0) % cap;
}

export class RoutingRepo implements RoutingStore, DialLegSink, ReservationEnder {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: RoutingRepoOptions) {
    this.table = options.mainTable;
    this.client = dynamodbClient(options.client);
  }

  // ------------------------------------------------------------------ the answer's write

  async commit(c: AnswerCommit): Promise<CommitResult> {
    if (c.reservation !== null) {
      const refused = await this.reserve(c);
      if (refused !== null) return refused;
    }
    let slot = c.lease === null ? null : hashedSlot(c.callId, c.lease.cap);
    for (let attempt = 0; ; attempt++) {
      const lease = c.lease === null || slot === null ? null : acquire(c.lease.targetId, slot, c.callId, c.atMs, c.lease.times);
      const items: TransactItem[] = [
        ...(lease === null || c.lease === null ? [] : [this.leaseItem(c.accountId, lease, (c.lease.times.maxCallSec + c.lease.times.graceSec) * 1000)]),
        this.appendItem(c),
        ...(c.reservation?.write.reservation ? [pointerItem(this.table, c.accountId, c.reservation.write.reservation)] : []),
      ];
      try {
        await this.client().send(new TransactWriteItemsCommand({ TransactItems: items }));
        return { ok: true };
      } catch (err) {
        const leaseLost = lease !== null && c.lease !== null && cancellationReasons(err)[0]?.Code === 'ConditionalCheckFailed';
        if (leaseLost && c.lease !== null) {
          slot = slotToTry(c.lease.cap, await this.readSlots(c.accountId, c.lease.targetId), c.callId, c.atMs);
          // The reservation stays: it is the call's, whichever target it is dialled to (or released once it is rated).
          if (slot === null) return { ok: false, failed: 'lease', targetId: c.lease.targetId };
          if (attempt < CONFLICT_RETRIES) continue;
        }
        if (!isTransactionConflict(err) || attempt >= CONFLICT_RETRIES) throw err;
        await backoff(attempt);
      }
    }
  }

  /** Takes the reservation (null: taken now, or already the call's); else the cap that refused it. */
  private async reserve(c: AnswerCommit): Promise<CommitResult | null> {
    const { pilot, write } = c.reservation!;
    const items = reservationItems(this.table, c.accountId, pilot.pilotId, c.callId, write, c.atMs);
    for (let attempt = 0; ; attempt++) {
      try {
        if (items.length === 1) await this.client().send(new UpdateItemCommand(items[0]!.Update!));
        else await this.client().send(new TransactWriteItemsCommand({ TransactItems: items }));
        return null;
      } catch (err) {
        const single = errorName(err) === 'ConditionalCheckFailedException';
        const reasons = single ? [{ Code: 'ConditionalCheckFailed', Item: (err as { Item?: Record<string, AttributeValue> }).Item }] : cancellationReasons(err);
        if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) {
          const counter = reasons[0]?.Item ? unmarshall(reasons[0].Item) : null;
          const entry = (counter?.reservations as Record<string, { ended?: boolean }> | undefined)?.[c.callId];
          // A retried request of a call that already holds its reservation: nothing more to take.
          if (entry !== undefined && entry.ended !== true) return null;
          // … of a call whose reservation has ended (it was rated): never a second one.
          if (entry?.ended === true) return { ok: false, failed: 'reservation', refusal: 'closed' };
          return { ok: false, failed: 'reservation', refusal: this.refusalOf(reasons, c) };
        }
        if (!isTransactionConflict(err) || attempt >= CONFLICT_RETRIES) throw err;
        await backoff(attempt);
      }
    }
  }

  /** Which cap refused the reservation, from the items as they were (ALL_OLD on the failed conditions). */
  private refusalOf(reasons: readonly { readonly Code?: string; readonly Item?: Record<string, AttributeValue> }[], c: AnswerCommit) {
    const w = c.reservation!.write;
    const old = (i: number) => (reasons[i]?.Item ? unmarshall(reasons[i]!.Item!) : null);
    const counterItem = old(0);
    const counter: PilotCounter | null =
      counterItem === null
        ? reasons[0]?.Code === 'ConditionalCheckFailed'
          ? null
          : { open: true, spentCents: 0, heldCents: 0, billableCalls: 0, heldCalls: 0 }
        : {
            open: counterItem.open !== false,
            spentCents: Number(counterItem.spentCents ?? 0),
            heldCents: Number(counterItem.heldCents ?? 0),
            billableCalls: Number(counterItem.billableCalls ?? 0),
            heldCalls: Number(counterItem.heldCalls ?? 0),
          };
    const dayOld = w.delta.day === null ? null : old(1);
    const day: DayCounter | null = dayOld === null || w.delta.day === null ? null : { date: w.delta.day.date, spentCents: Number(dayOld.spentCents ?? 0), heldCents: Number(dayOld.heldCents ?? 0) };
    return reserveRefusal(w, counter, day);
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

  private appendItem(c: AnswerCommit): TransactItem {
    const events = c.audit.map((e) => ({ ...e, atMs: c.atMs }));
    const admissions = c.admission === null ? [] : [{ ...c.admission, atMs: c.atMs }];
    return {
      Update: {
        TableName: this.table,
        Key: marshall(routingKeys.record(c.callId)),
        UpdateExpression:
          'SET accountId = :acct, trackingNumber = if_not_exists(trackingNumber, :to), flowVersion = if_not_exists(flowVersion, :v), admissions = list_append(if_not_exists(admissions, :empty), :adm), events = list_append(if_not_exists(events, :empty), :ev)',
        ConditionExpression: 'attribute_not_exists(accountId) OR accountId = :acct',
        ExpressionAttributeValues: marshall(
          { ':acct': c.accountId, ':to': c.trackingNumber, ':v': c.flowVersion, ':empty': [], ':adm': admissions, ':ev': events },
          { removeUndefinedValues: true, convertClassInstanceToMap: true },
        ),
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

  // ------------------------------------------------------------------ reservations after rating

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

  /** Gives a held reservation back (conditional on its entry in the counter: at most once), then marks its pointer. */
  async releaseReservation(accountId: string, pilotId: string, held: Reservation, atMs: number): Promise<void> {
    const write = release(held);
    const items = reservationItems(this.table, accountId, pilotId, held.callId, write, atMs);
    for (let attempt = 0; ; attempt++) {
      try {
        if (items.length === 1) await this.client().send(new UpdateItemCommand(items[0]!.Update!));
        else await this.client().send(new TransactWriteItemsCommand({ TransactItems: items }));
        break;
      } catch (err) {
        if (errorName(err) === 'ConditionalCheckFailedException') break;
        if (errorName(err) === 'TransactionCanceledException' && cancellationReasons(err).some((r) => r.Code === 'ConditionalCheckFailed')) break;
        if (!isTransactionConflict(err) || attempt >= CONFLICT_RETRIES) throw err;
        await backoff(attempt);
      }
    }
    await this.client().send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(reservationKey(held.callId)),
        UpdateExpression: 'SET #state = :released, endedAtMs = :now',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':released': { S: 'released' }, ':now': N(atMs) },
      }),
    );
  }
}
