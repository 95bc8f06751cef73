/**
 * A reservation's write (shared/domain/routing/reservations.ts decides it, as data) spelled as DynamoDB items: the
 * pilot's counter, its day item, and the call's pointer. This file only spells (and reads back what it spelled); it
 * decides nothing.
 *
 * The counter holds `heldCents` (spent + reserved) and `heldCalls` (billable + reserved) beside the rating's
 * `spentCents` and `billableCalls`, so every cap is one comparison. Rating's own charge adds to both (pilots/
 * counter-condition.ts), and a reservation is ended by `release` once its call is rated: charge then release add up to
 * the domain's `settle` (held +charge −amount, spent +charge, billable +1, heldCalls 0), and in between the call is
 * counted twice, which can only refuse a reservation, never admit one beyond a cap.
 *
 * Two items say where a reservation is, each with its own job:
 *
 *   counter entry   pk = PILOT#<accountId>#<pilotId>  sk = COUNTER      reservations.<callId> = {amountCents, day, expiresAtMs}
 *   pointer         pk = CALL#<callId>                sk = RESERVATION  Reservation + accountId (+ endedAtMs once ended)
 *
 * - The counter entry is the money: it exists exactly while the reservation holds money, and whoever removes it gives
 *   the money back in the same conditional update (`attribute_exists(reservations.<callId>.amountCents)`), so a
 *   settle, a release and the sweep's expiry racing each other give it back exactly once. Only LIVE reservations are
 *   in the map: an ended one is removed, so the counter item stays as small as the calls in progress (each entry
 *   ≈ 80 B) and every update of it costs what the live calls weigh, not the pilot's history. The calls in progress are
 *   themselves bounded by the caps (heldCents ≤ spendCap: at most spendCap / price live entries; heldCalls ≤
 *   maxBillableCalls), so the item is bounded by the pilot's terms (400 KB ≈ 5,000 calls in progress). Taking one is a single-item
 *   conditional update (plus the day item, in one transaction, for a pilot with a daily cap): concurrent calls of one
 *   pilot serialise on the item instead of cancelling each other's transactions (TransactionConflict), which under 64
 *   calls at once cost more than the answer's budget.
 * - The pointer is the call's: written `held` in the answer's transaction (routing-repo.ts commit), and marked with
 *   its end (`released`, `settled`, `expired`) BEFORE the counter entry is removed. Every Put of it is conditional on
 *   `attribute_not_exists(pk) OR state = held`: an ended call's pointer never goes back to held. That is what keeps
 *   a late retry of an ended call from reserving again without any marker left in the counter: its reserve update
 *   succeeds (no entry), the commit's pointer Put fails, and the answer gives back what it just took and refuses the
 *   call (reservations.ts ENDED_CALL_REFUSAL). Marking the pointer first means there is no moment when the entry is
 *   gone and the pointer still says held.
 *
 * Counters written before this design keep `{ended: true}` under the calls they ended: such a marker still blocks a
 * reservation (`attribute_not_exists` below), reads as an ended reservation, and the sweep prunes it (marking the
 * pointer ended first, if it is not).
 */
import type { AttributeValue, Update } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Reservation, ReservationWrite } from '../../domain/routing/reservations';
import type { TransactItem } from '../platform/dynamodb/ddb-ops';
import { mainKeys } from '../calls/keys';

const N = (n: number): AttributeValue => ({ N: String(n) });

export const reservationKey = (callId: string) => ({ pk: `CALL#${callId}`, sk: 'RESERVATION' });

/** The counter's update: held totals, and the reservation's entry in its `reservations` map (set when taken, removed when ended). */
export function counterUpdate(table: string, accountId: string, pilotId: string, callId: string, w: ReservationWrite, nowMs: number): Update {
  const c = w.condition;
  const conditions: string[] = ['attribute_exists(spentCents)'];
  const values: Record<string, AttributeValue> = { ':dh': N(w.delta.heldCents), ':dc': N(w.delta.heldCalls), ':zero': N(0) };
  const names: Record<string, string> = { '#call': callId };
  if (c.counterOpen) {
    conditions.push('#open = :true');
    names['#open'] = 'open';
    values[':true'] = { BOOL: true };
  }
  if (c.heldCentsAtMost !== undefined) {
    conditions.push('(attribute_not_exists(heldCents) OR heldCents <= :heldMax)');
    values[':heldMax'] = N(c.heldCentsAtMost);
  }
  if (c.heldCallsAtMost !== undefined && c.heldCallsAtMost !== null) {
    conditions.push('(attribute_not_exists(heldCalls) OR heldCalls <= :callsMax)');
    values[':callsMax'] = N(c.heldCallsAtMost);
  }
  // Absent in any form: neither live nor a pre-existing `{ended: true}` marker (the pointer covers ended calls since).
  if (c.reservationAbsent) conditions.push('attribute_not_exists(reservations.#call)');
  if (c.reservationHeld) conditions.push('attribute_exists(reservations.#call.amountCents)');
  if (c.reservationExpiredAtMs !== undefined) {
    conditions.push('reservations.#call.expiresAtMs <= :now');
    values[':now'] = N(nowMs);
  }
  const held = 'heldCents = if_not_exists(heldCents, :zero) + :dh, heldCalls = if_not_exists(heldCalls, :zero) + :dc';
  const r = w.reservation;
  let update: string;
  if (r !== null && r.state === 'held') {
    values[':entry'] = { M: marshall({ amountCents: r.amountCents, day: r.day, expiresAtMs: r.expiresAtMs }) };
    update = `SET ${held}, reservations.#call = :entry`;
  } else {
    // Ended: the entry goes (the pointer, marked first, remembers that the call's reservation is over).
    update = `SET ${held} REMOVE reservations.#call`;
  }
  return {
    TableName: table,
    Key: marshall(mainKeys.pilotCounter(accountId, pilotId)),
    UpdateExpression: update,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

function dayItem(table: string, accountId: string, pilotId: string, w: ReservationWrite): TransactItem | null {
  const day = w.delta.day;
  if (day === null) return null;
  const limit = w.condition.dayHeldCentsAtMost;
  return {
    Update: {
      TableName: table,
      Key: marshall(mainKeys.pilotDay(accountId, pilotId, day.date)),
      UpdateExpression: 'SET heldCents = if_not_exists(heldCents, :zero) + :dh',
      ...(limit ? { ConditionExpression: 'attribute_not_exists(heldCents) OR heldCents <= :dayMax' } : {}),
      ExpressionAttributeValues: { ':dh': N(day.heldCents), ':zero': N(0), ...(limit ? { ':dayMax': N(limit.atMost) } : {}) },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/**
 * The call's pointer as `r` says (held when the answer takes it; its end when it ends), conditional on the pointer
 * being absent or still held: an ended reservation's pointer is never overwritten (ALL_OLD tells a failed Put's state).
 */
export function pointerItem(table: string, accountId: string, r: Reservation, endedAtMs: number | null = null): TransactItem {
  return {
    Put: {
      TableName: table,
      Item: marshall({ ...reservationKey(r.callId), accountId, ...r, ...(endedAtMs === null ? {} : { endedAtMs }) }),
      ConditionExpression: 'attribute_not_exists(pk) OR #state = :held',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: { ':held': { S: 'held' } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** The write's items: the counter first, then the day when it has one (one transaction). */
export function reservationItems(table: string, accountId: string, pilotId: string, callId: string, w: ReservationWrite, nowMs: number): TransactItem[] {
  const day = dayItem(table, accountId, pilotId, w);
  return [{ Update: counterUpdate(table, accountId, pilotId, callId, w, nowMs) }, ...(day === null ? [] : [day])];
}

/** An entry of the counter's map as stored: live (amount, day, expiry) or a pre-existing `{ended: true}` marker. */
type StoredEntry = { readonly amountCents?: unknown; readonly day?: unknown; readonly expiresAtMs?: unknown; readonly ended?: unknown };

/** The live reservation a counter entry spells (null: an `{ended: true}` marker, or not an entry at all). */
export function entryReservation(pilotId: string, callId: string, entry: StoredEntry | undefined): Reservation | null {
  if (entry === undefined || entry === null || typeof entry !== 'object' || entry.amountCents === undefined) return null;
  return {
    pilotId,
    callId,
    amountCents: Number(entry.amountCents),
    day: typeof entry.day === 'string' ? entry.day : null,
    expiresAtMs: Number(entry.expiresAtMs),
    state: 'held',
    chargedCents: null,
  };
}

/** The counter item's (unmarshalled) entries: live reservations, and the calls of pre-existing ended markers. */
export function counterEntries(pilotId: string, counter: Record<string, unknown>): { live: Reservation[]; endedMarkers: string[] } {
  const map = (counter.reservations ?? {}) as Record<string, StoredEntry>;
  const live: Reservation[] = [];
  const endedMarkers: string[] = [];
  for (const [callId, entry] of Object.entries(map)) {
    const r = entryReservation(pilotId, callId, entry);
    if (r !== null) live.push(r);
    else if (entry?.ended === true) endedMarkers.push(callId);
  }
  return { live, endedMarkers };
}

/** Removes a pre-existing `{ended: true}` marker (only that: a live entry under the same call is never touched). */
export function pruneMarkerUpdate(table: string, accountId: string, pilotId: string, callId: string): Update {
  return {
    TableName: table,
    Key: marshall(mainKeys.pilotCounter(accountId, pilotId)),
    UpdateExpression: 'REMOVE reservations.#call',
    ConditionExpression: 'reservations.#call.ended = :true',
    ExpressionAttributeNames: { '#call': callId },
    ExpressionAttributeValues: { ':true': { BOOL: true } },
  };
}

/**
 * Marks the pointer of a call whose only trace is a pre-existing marker as ended (`released`: that is what the marker
 * recorded), if it is absent or still held; its other fields stay as they are.
 */
export function markerPointerUpdate(table: string, accountId: string, callId: string, atMs: number): Update {
  return {
    TableName: table,
    Key: marshall(reservationKey(callId)),
    UpdateExpression: 'SET #state = :released, endedAtMs = if_not_exists(endedAtMs, :now), accountId = if_not_exists(accountId, :acct)',
    ConditionExpression: 'attribute_not_exists(pk) OR #state = :held',
    ExpressionAttributeNames: { '#state': 'state' },
    ExpressionAttributeValues: { ':released': { S: 'released' }, ':held': { S: 'held' }, ':now': N(atMs), ':acct': { S: accountId } },
  };
}
