/**
 * One credit per charge (shared/domain/disputes/credit-condition.ts#creditCondition decides it, as data) spelled as
 * the resolution transaction's items, in this order: the dispute (still open), the credit (its key free), the
 * credited call (still billing the charge). This file only spells conditions; it decides nothing.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { CreditCondition } from '../../domain/disputes/credit-condition';
import { ledgerSortKey } from '../../domain/ledger/entries';
import type { StoredEntry } from '../../domain/ledger/tamper';
import type { TransactItem } from '../platform/dynamodb/ddb-ops';
import { mainKeys } from '../calls/keys';
import { ledgerPk } from '../ledger/ledger-repo';

/** The resolution's items: the dispute's new state, then, with a credit, the credit and the call's copy of it. */
export function resolutionItems(
  tables: { readonly main: string; readonly ledger: string },
  disputeItem: Record<string, AttributeValue>,
  c: CreditCondition<StoredEntry>,
): TransactItem[] {
  const items: TransactItem[] = [
    {
      Put: {
        TableName: tables.main,
        Item: disputeItem,
        ConditionExpression: '#status = :open',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':open': { S: c.disputeStatus } },
      },
    },
  ];
  if (c.credit === null || c.call === null) return items;
  const credit = c.credit;
  items.push({
    Put: {
      TableName: tables.ledger,
      Item: marshall({ pk: ledgerPk(credit.accountId), sk: ledgerSortKey(credit), ...credit }, { removeUndefinedValues: true }),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  });
  // The credit's copy on the call item (StoredCall.credits), in the same transaction, so it is exact: the reports
  // and the daily aggregates read a call's credits from the call instead of reading the period's ledger.
  const reversals = c.call.reversals;
  items.push({
    Update: {
      TableName: tables.main,
      Key: marshall(mainKeys.call(c.call.callId)),
      UpdateExpression: 'ADD #cents :cents, #count :one',
      ConditionExpression: 'attribute_exists(pk) AND #billable = :true AND ' + (reversals === 0 ? 'attribute_not_exists(#revs)' : '#revs = :revs'),
      ExpressionAttributeNames: { '#cents': 'creditCents', '#count': 'creditCount', '#billable': 'billable', '#revs': 'revCount' },
      ExpressionAttributeValues: {
        ':cents': { N: String(credit.amountCents) },
        ':one': { N: '1' },
        ':true': { BOOL: c.call.billable },
        ...(reversals === 0 ? {} : { ':revs': { N: String(reversals) } }),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  });
  return items;
}
