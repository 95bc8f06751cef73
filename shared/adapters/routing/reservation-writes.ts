/**
 * The requests that take and end pilot reservations (their items are spelled in reservation-condition.ts, decided in
 * shared/domain/routing/reservations.ts). Used by the answer's write and the rating's release (routing-repo.ts) and by
 * the sweep of expired reservations (RoutingRepo's sweep methods).
 *
 * Ending is two requests, in this order: mark the call's pointer with the end (conditional on it being absent or
 * held: at most one end is recorded), then remove the counter entry and give its money back (conditional on the
 * entry: exactly once, whoever gets there). A crash between the two leaves an entry whose pointer is ended: its money
 * is still held, and it is given back by whoever ends it next (a redelivered rating, or the sweep once it expires).
 */
import { PutItemCommand, TransactWriteItemsCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { CapRefusal } from '../../domain/pilots/caps';
import { ENDED_CALL_REFUSAL, reserveRefusal, type DayCounter, type PilotCounter, type Reservation, type ReservationWrite } from '../../domain/routing/reservations';
import { cancellationReasons, errorName, getItem, isTransactionConflict, type TransactItem } from '../platform/dynamodb/ddb-ops';
import { mainKeys } from '../calls/keys';
import { counterEntries, entryReservation, markerPointerUpdate, pointerItem, pruneMarkerUpdate, reservationItems } from './reservation-condition';

/**
 * Attempts of a write that lost to a concurrent one on the same item (TransactionConflict: many calls of one pilot
 * admitted at once all update its counter), with full-jitter exponential backoff. The voice answer's own budget
 * bounds the wait; past it the fail-safe answers.
 */
export const CONFLICT_RETRIES = 30;

export function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * Math.min(250, 10 * 2 ** Math.min(attempt, 5))));
}

type Reason = { readonly Code?: string; readonly Item?: Record<string, AttributeValue> };

/** Sends the items (one: a single UpdateItem or PutItem; more: one transaction), retrying conflicts; the failed conditions' reasons, or null when written. */
async function send(db: DynamoDBClient, items: readonly TransactItem[]): Promise<readonly Reason[] | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      const one = items.length === 1 ? items[0]! : null;
      if (one?.Update !== undefined) await db.send(new UpdateItemCommand(one.Update));
      else if (one?.Put !== undefined) await db.send(new PutItemCommand(one.Put));
      else await db.send(new TransactWriteItemsCommand({ TransactItems: [...items] }));
      return null;
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return [{ Code: 'ConditionalCheckFailed', Item: (err as { Item?: Record<string, AttributeValue> }).Item }];
      const reasons = cancellationReasons(err);
      if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) return reasons;
      if (!isTransactionConflict(err) || attempt >= CONFLICT_RETRIES) throw err;
      await backoff(attempt);
    }
  }
}

export type TakeResult =
  /** Taken by this request. */
  | { readonly kind: 'taken'; readonly reservation: Reservation }
  /** The call already holds it (a retried request): the reservation as the counter has it. */
  | { readonly kind: 'held'; readonly reservation: Reservation }
  | { readonly kind: 'refused'; readonly refusal: CapRefusal | null };

/** The answer's reservation: one conditional update of the counter (and its day, for a daily cap). */
export async function takeReservation(db: DynamoDBClient, table: string, accountId: string, pilotId: string, callId: string, write: ReservationWrite, atMs: number): Promise<TakeResult> {
  const reasons = await send(db, reservationItems(table, accountId, pilotId, callId, write, atMs));
  if (reasons === null) return { kind: 'taken', reservation: write.reservation! };
  const counter = reasons[0]?.Item ? unmarshall(reasons[0].Item) : null;
  const entry = (counter?.reservations as Record<string, { ended?: boolean }> | undefined)?.[callId];
  const live = entryReservation(pilotId, callId, entry);
  if (live !== null) return { kind: 'held', reservation: live };
  // A counter written before ended entries were removed: the marker says this call's reservation is over.
  if (entry?.ended === true) return { kind: 'refused', refusal: ENDED_CALL_REFUSAL };
  return { kind: 'refused', refusal: refusalOf(reasons, write) };
}

/** Which cap refused the reservation, from the items as they were (ALL_OLD on the failed conditions). */
function refusalOf(reasons: readonly Reason[], w: ReservationWrite): CapRefusal | null {
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

/** The counter half of an end (release, settle, expire, or the answer giving back what it took): true when this write gave the money back. */
export async function endOnCounter(db: DynamoDBClient, table: string, accountId: string, pilotId: string, ending: ReservationWrite, atMs: number): Promise<boolean> {
  const r = ending.reservation!;
  return (await send(db, reservationItems(table, accountId, pilotId, r.callId, ending, atMs))) === null;
}

/** Ends a reservation: the pointer first (its end, unless it already has one), then the counter (true: this call gave the money back). */
export async function endReservation(db: DynamoDBClient, table: string, accountId: string, pilotId: string, ending: ReservationWrite, atMs: number): Promise<boolean> {
  const r = ending.reservation!;
  await send(db, [pointerItem(table, accountId, r, atMs)]);
  return endOnCounter(db, table, accountId, pilotId, ending, atMs);
}

/** The pilot counter's live reservations and pre-existing ended markers (strongly consistent; null: no counter). */
export async function readCounterEntries(db: DynamoDBClient, table: string, accountId: string, pilotId: string): Promise<{ live: Reservation[]; endedMarkers: string[] } | null> {
  const item = await getItem(db, { TableName: table, Key: marshall(mainKeys.pilotCounter(accountId, pilotId)), ConsistentRead: true });
  return item === undefined ? null : counterEntries(pilotId, unmarshall(item));
}

/** Prunes one pre-existing ended marker, its call's pointer marked ended first (true: this call removed it). */
export async function pruneMarker(db: DynamoDBClient, table: string, accountId: string, pilotId: string, callId: string, atMs: number): Promise<boolean> {
  await send(db, [{ Update: markerPointerUpdate(table, accountId, callId, atMs) }]);
  return (await send(db, [{ Update: pruneMarkerUpdate(table, accountId, pilotId, callId) }])) === null;
}
