/**
 * The scheduled quality pass's storage (shared/app/quality/quality-pass.ts) on the main table:
 * - the account's rated calls in start order: main `gsi1` (`gsi1pk = ACCT#<accountId>`, `gsi1sk = <startedAt>#<callId>`,
 *   projection ALL), ascending, so each call arrives whole (slots for the caller's number block and the IVR timing,
 *   rating for its source, `callerHash`, and what the pass stored before) without a GetItem per call. Every account
 *   call is read, across campaigns: farming and bursts are the account's loss whichever campaign they hit;
 * - the cross-call flags: attribute `xq` of the call item (quality-signals.ts encodeCrossCallFlags), set by one
 *   UpdateItem conditional on what the pass read (absent, or the same flags): a concurrent or stale write loses and is
 *   retried by the next run. Never `rating`, `billable`, `amountCents` or a ledger item;
 * - the checkpoint: `QPASS#<accountId>` / `CHECKPOINT`, one PutItem per run, conditional on the checkpoint read.
 * IAM (infra/stack.ts): Query on gsi1, UpdateItem only on `CALL#` partitions, GetItem/PutItem only on `QPASS#`
 * partitions and GetItem on `ACCT#` (the account's quality config), via `dynamodb:LeadingKeys`.
 */
import { PutItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { TABLES } from '../../../infra/resources';
import { encodeCrossCallFlags, type CrossCallFlags } from '../../domain/quality/cross-call-flags';
import type { QualityPassCheckpoint, QualityPassStore } from '../../app/quality/quality-pass';
import type { StoredCall } from '../../app/kernel/ports';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { errorName, getItem, queryItems } from '../platform/dynamodb/ddb-ops';
import { callIndex, mainKeys } from '../calls/keys';
import { parseCall } from '../calls/call-codec';

const GSI1 = TABLES.main.globalSecondaryIndexes[0];

/** The attribute of the call item that holds the pass's flags. */
export const CROSS_CALL_ATTRIBUTE = 'xq';

export const qualityPassKeys = {
  checkpoint: (accountId: string) => ({ pk: `QPASS#${accountId}`, sk: 'CHECKPOINT' }),
};

export class QualityPassRepo implements QualityPassStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;
  private readonly pageSize: number;

  constructor(options: { mainTable: string; client?: DynamoDBClient; pageSize?: number }) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
    this.pageSize = options.pageSize ?? 500;
  }

  async *streamCalls(accountId: string, fromIso: string, toIso: string): AsyncGenerator<StoredCall> {
    const items = queryItems(this.client(), {
      TableName: this.table,
      IndexName: GSI1.indexName,
      // <startedAt>#<callId>: BETWEEN from AND to keeps [from, to), since `to#…` sorts after `to`.
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#pk': GSI1.partitionKey.name, '#sk': GSI1.sortKey.name },
      ExpressionAttributeValues: { ':pk': { S: callIndex.pk(accountId) }, ':from': { S: fromIso }, ':to': { S: toIso } },
      ScanIndexForward: true,
      Limit: this.pageSize,
    });
    for await (const item of items) yield parseCall(item);
  }

  async setCrossCallFlags(callId: string, flags: CrossCallFlags, expected: CrossCallFlags | null): Promise<'written' | 'changed'> {
    const values: Record<string, AttributeValue> = { ':x': { M: marshall(encodeCrossCallFlags(flags)) } };
    let condition = 'attribute_exists(#pk) AND attribute_exists(#rating) AND ';
    if (expected === null) condition += 'attribute_not_exists(#xq)';
    else {
      condition += '#xq.#f = :prev';
      values[':prev'] = { S: String(encodeCrossCallFlags(expected).f) };
    }
    try {
      await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(mainKeys.call(callId)),
          UpdateExpression: 'SET #xq = :x',
          ConditionExpression: condition,
          ExpressionAttributeNames: { '#pk': 'pk', '#rating': 'rating', '#xq': CROSS_CALL_ATTRIBUTE, ...(expected === null ? {} : { '#f': 'f' }) },
          ExpressionAttributeValues: values,
        }),
      );
      return 'written';
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException' || errorName(err) === 'TransactionConflictException') return 'changed';
      throw err;
    }
  }

  async getCheckpoint(accountId: string): Promise<QualityPassCheckpoint | null> {
    const item = await getItem(this.client(), { TableName: this.table, Key: marshall(qualityPassKeys.checkpoint(accountId)), ConsistentRead: true });
    if (!item) return null;
    const raw = unmarshall(item) as Record<string, unknown>;
    return { through: String(raw.through), runAt: String(raw.runAt) };
  }

  async putCheckpoint(accountId: string, next: QualityPassCheckpoint, expected: QualityPassCheckpoint | null): Promise<'stored' | 'changed'> {
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ ...qualityPassKeys.checkpoint(accountId), accountId, through: next.through, runAt: next.runAt }),
          ConditionExpression: expected === null ? 'attribute_not_exists(#pk)' : '#through = :prev',
          ExpressionAttributeNames: expected === null ? { '#pk': 'pk' } : { '#through': 'through' },
          ...(expected === null ? {} : { ExpressionAttributeValues: { ':prev': { S: expected.through } } }),
        }),
      );
      return 'stored';
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return 'changed';
      throw err;
    }
  }
}
