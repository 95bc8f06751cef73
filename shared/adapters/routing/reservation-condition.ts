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
 *   reservation   pk = CALL#<callId>   sk = RESERVATION   (Reservation + accountId; one per call: a call has one pilot)
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Reservation, ReservationWrite } from '../../domain/routing/reservations';
import type { TransactItem } from '../platform/dynamodb/ddb-ops';
import { mainKeys } from '../calls/keys';

const N = (n: number): AttributeValue => ({ N: String(n) });

export const reservationKey = (callId: string) => ({ pk: `CALL#${callId}`, sk: 'RESERVATION' });

function counterItem(table: string, accountId: string, pilotId: string, w: ReservationWrite): TransactItem {
  const c = w.condition;
  const conditions: string[] = ['attribute_exists(spentCents)'];
  const values: Record<string, AttributeValue> = { ':dh': N(w.delta.heldCents), ':dc': N(w.delta.heldCalls), ':zero': N(0) };
  const names: Record<string, string> = {};
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
  return {
    Update: {
      TableName: table,
      Key: marshall(mainKeys.pilotCounter(accountId, pilotId)),
      UpdateExpression: 'SET heldCents = if_not_exists(heldCents, :zero) + :dh, heldCalls = if_not_exists(heldCalls, :zero) + :dc',
      ConditionExpression: conditions.join(' AND '),
      ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
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

function reservationItem(table: string, accountId: string, w: ReservationWrite, nowMs: number): TransactItem | null {
  const r: Reservation | null = w.reservation;
  if (r === null) return null;
  const c = w.condition;
  if (c.reservationAbsent) {
    return {
      Put: {
        TableName: table,
        Item: marshall({ ...reservationKey(r.callId), accountId, ...r }),
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }
  const expired = c.reservationExpiredAtMs !== undefined;
  return {
    Update: {
      TableName: table,
      Key: marshall(reservationKey(r.callId)),
      UpdateExpression: 'SET #state = :to, chargedCents = :charged, endedAtMs = :now',
      ConditionExpression: `#state = :held${expired ? ' AND expiresAtMs <= :now' : ''}`,
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':to': { S: r.state },
        ':held': { S: 'held' },
        ':charged': r.chargedCents === null ? { NULL: true } : N(r.chargedCents),
        ':now': N(nowMs),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** The write's items: the counter first, then the day item (if any), then the reservation item (if any). */
export function reservationItems(table: string, accountId: string, pilotId: string, w: ReservationWrite, nowMs: number): TransactItem[] {
  return [counterItem(table, accountId, pilotId, w), dayItem(table, accountId, pilotId, w), reservationItem(table, accountId, w, nowMs)].filter(
    (x): x is TransactItem => x !== null,
  );
}
