/**
 * A pilot's counter condition (shared/domain/pilots/caps.ts#counterCondition decides it, as data) translated into
 * the rating transaction's counter updates: the database enforces the caps in the same transaction as the charge,
 * so no cached copy and no concurrent writer can overspend them. This file only spells conditions; it decides nothing.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { CounterCondition, DayCondition } from '../../domain/pilots/caps';
import type { TransactItem } from '../platform/dynamodb/ddb-ops';
import { mainKeys } from '../calls/keys';

const N = (n: number): AttributeValue => ({ N: String(n) });

/** The counter item's update: `spent <= :maxBefore`, `billableCalls < :callsBelow`, open when the move counts. */
function totalUpdate(table: string, c: CounterCondition): TransactItem {
  const conditions = ['attribute_exists(spentCents)'];
  const values: Record<string, AttributeValue> = { ':p': N(c.deltaCents), ':c': N(c.deltaCalls), ':zero': N(0) };
  if (c.mustBeOpen) {
    conditions.push('#open = :true');
    values[':true'] = { BOOL: true };
  }
  if (c.spentCentsAtMost !== null) {
    conditions.push('spentCents <= :maxBefore');
    values[':maxBefore'] = N(c.spentCentsAtMost);
  }
  if (c.billableCallsBelow !== null) {
    conditions.push('billableCalls < :callsBelow');
    values[':callsBelow'] = N(c.billableCallsBelow);
  }
  return {
    Update: {
      TableName: table,
      Key: marshall(mainKeys.pilotCounter(c.accountId, c.pilotId)),
      // heldCents/heldCalls (spent or billable + reserved, routing/reservation-condition.ts) move with every charge.
      UpdateExpression:
        'SET spentCents = spentCents + :p, billableCalls = billableCalls + :c, heldCents = if_not_exists(heldCents, :zero) + :p, heldCalls = if_not_exists(heldCalls, :zero) + :c',
      ConditionExpression: conditions.join(' AND '),
      ...(c.mustBeOpen ? { ExpressionAttributeNames: { '#open': 'open' } } : {}),
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** A day item's update: created by the day's first charge, or existing (it counted a charge given back). */
function dayUpdate(table: string, c: CounterCondition, d: DayCondition): TransactItem {
  const limit = d.spentCentsAtMost === null ? '' : 'spentCents <= :maxBefore';
  const condition = d.mustExist
    ? ['attribute_exists(spentCents)', limit].filter((x) => x !== '').join(' AND ')
    : limit === ''
      ? undefined
      : `attribute_not_exists(spentCents) OR ${limit}`;
  return {
    Update: {
      TableName: table,
      Key: marshall(mainKeys.pilotDay(c.accountId, c.pilotId, d.date)),
      UpdateExpression:
        'SET spentCents = if_not_exists(spentCents, :zero) + :p, billableCalls = if_not_exists(billableCalls, :zero) + :c, heldCents = if_not_exists(heldCents, :zero) + :p',
      ...(condition === undefined ? {} : { ConditionExpression: condition }),
      ExpressionAttributeValues: {
        ':p': N(d.deltaCents),
        ':c': N(d.deltaCalls),
        ':zero': N(0),
        ...(d.spentCentsAtMost === null ? {} : { ':maxBefore': N(d.spentCentsAtMost) }),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** The counter's updates for one condition: the counter item first, then one per day item, in `days` order. */
export function counterUpdates(table: string, c: CounterCondition): { readonly total: TransactItem; readonly days: readonly TransactItem[] } {
  return { total: totalUpdate(table, c), days: c.days.map((d) => dayUpdate(table, c, d)) };
}
