/**
 * A reservation's write (shared/domain/routing/reservations.ts decides it, as data) spelled as the transaction's
 * items: the pilot's counter, its day item, and the reservation item. This file only spells; it decides nothing.
 *
 * The counter holds `heldCents` (spent + reserved) and `heldCalls` (billable + reserved) beside the rating's
 * `spentCents` and `billableCalls`, so every cap is one comparison. Rating's own charge adds to both (pilots/
 * counter-condition.ts), and a reservation is ended by `release` once its call is rated: charge then release add up to
 * the domain's `settle` (held +charge −amount, spent +charge, billable +1, heldCalls 0), and in between the call is
 * counted twice, which can only refuse a reservation, never admit one beyond a cap.
 *
 * The reservation itself lives IN the counter item, as `reservations.<callId>` (its amount, day and expiry): taking,
 * settling and expiring it is then one single-item conditional update, and concurrent calls of one pilot serialise on
 * that item instead of cancelling each other's transactions (TransactionConflict), which under 64 calls at once cost
 * more than the answer's budget. A pilot with a daily cap adds its day item, in one transaction.
 * An ended reservation leaves `{ended: true}` under its call (≈ 50 bytes), so that a late retry of the call's answer
 * cannot reserve for it again; a pilot's item thus grows with its calls (≈ 8,000 calls before DynamoDB's 400 KB).
 * Beside it, the call's pointer (written with the answer's lease and routing record) says which pilot to release:
 *
 *   pointer   pk = CALL#<callId>   sk = RESERVATION   (Reservation + accountId; one per call: a call has one pilot)
 */
import type { AttributeValue, Update } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Reservation, ReservationWrite } from '../../domain/routing/reservations';
import type { TransactItem } from '../platform/dynamodb/ddb-ops';
import { mainKeys } from '../calls/keys';

const N = (n: number): AttributeValue => ({ N: String(n) });

export const reservationKey = (callId: string) => ({ pk: `CALL#${callId}`, sk: 'RESERVATION' });

/** The counter's update: held totals, and the reservation's entry in its `reservations` map. */
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
    // Ended, not removed: a late retry of the call's answer must not reserve for it again (attribute_not_exists above).
    values[':ended'] = { M: { ended: { BOOL: true } } };
    update = `SET ${held}, reservations.#call = :ended`;
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

/** The call's pointer to its reservation (written with the answer; its state follows the reservation's end). */
export function pointerItem(table: string, accountId: string, r: Reservation): TransactItem {
  return { Put: { TableName: table, Item: marshall({ ...reservationKey(r.callId), accountId, ...r }) } };
}

/** The write's items when it has a day item: the counter first, then the day (one transaction). */
export function reservationItems(table: string, accountId: string, pilotId: string, callId: string, w: ReservationWrite, nowMs: number): TransactItem[] {
  const day = dayItem(table, accountId, pilotId, w);
  return [{ Update: counterUpdate(table, accountId, pilotId, callId, w, nowMs) }, ...(day === null ? [] : [day])];
}
