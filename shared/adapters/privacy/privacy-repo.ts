/**
 * Main-table reads and writes of recordings retention and deletion requests (docs/CONTRACTS.md,
 * "Recordings retention and deletion"):
 *
 * - the legal hold on a call item (`hold = {d: disputeId, a: epoch ms}`), set in its OWN transaction with a
 *   ConditionCheck that the dispute is still open (so a late retry of an open can never re-hold a closed dispute),
 *   removed when the dispute closes. The dispute's own writes (dispute-repo.ts) are untouched;
 * - the erasure of a call's personal fields: `REMOVE callerEnc, callerE164` and the caller's number and ZIP in every
 *   status slot (`f`, `z`); `SET erasure = {d: deletionId, a}` (first erasure kept); `callerHash` stays (duplicate
 *   detection, gsi2/gsi4). A recording under hold is kept and the request's id added to the string set
 *   `erasurePending`; the condition on `hold` makes "held or not" and "deferred or deleted" one atomic decision;
 * - the calls of a caller: gsi4 (every rated call by `callerHash`, KEYS_ONLY), all accounts, paged;
 * - deletion request items `ACCT#<accountId>` / `PRIVACY#<deletionId>` with their outcome.
 */
import {
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type CancellationReason,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { TABLES } from '../../../infra/resources';
import type { StoredCall } from '../../app/kernel/ports';
import type { DeletionRecord, EraseCallRequest, PrivacyStore } from '../../app/privacy/privacy';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { errorName, getItem, queryItems } from '../platform/dynamodb/ddb-ops';
import { disputeKeys } from '../disputes/dispute-repo';
import { mainKeys } from '../calls/keys';
import { parseCall } from '../calls/call-codec';

/** gsi4: every rated call of a caller hash (infra/resources.ts). */
export const allCallsOfCallerIndex = TABLES.main.globalSecondaryIndexes.find((i) => i.indexName === 'gsi4')!;

export const privacyKeys = {
  deletion: (accountId: string, deletionId: string) => ({ pk: `ACCT#${accountId}`, sk: `PRIVACY#${deletionId}` }),
};

const S = (s: string): AttributeValue => ({ S: s });

function toRecord(item: Record<string, AttributeValue>): DeletionRecord & { callerHash: string } {
  const { pk: _pk, sk: _sk, deferred, ...rest } = unmarshall(item) as Record<string, unknown>;
  const pending = deferred instanceof Set ? [...(deferred as Set<string>)].sort() : [];
  return { ...(rest as Omit<DeletionRecord, 'recordingsDeferred'> & { callerHash: string }), recordingsDeferred: pending };
}

export interface PrivacyRepoOptions {
  mainTable: string;
  client?: DynamoDBClient;
}

export class PrivacyRepo implements PrivacyStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: PrivacyRepoOptions) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
  }

  // ---------------------------------------------------------------- legal hold

  async setHold(args: { accountId: string; disputeId: string; callId: string; atMs: number }): Promise<'held' | 'not_open'> {
    try {
      await this.client().send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.table,
                Key: marshall({ pk: disputeKeys.pk(args.accountId), sk: disputeKeys.sk(args.disputeId) }),
                ConditionExpression: '#status = :open',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':open': S('open') },
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: marshall(mainKeys.call(args.callId)),
                UpdateExpression: 'SET #hold = :hold',
                ConditionExpression: 'attribute_exists(pk) AND accountId = :acct',
                ExpressionAttributeNames: { '#hold': 'hold' },
                ExpressionAttributeValues: { ':hold': { M: { d: S(args.disputeId), a: { N: String(args.atMs) } } }, ':acct': S(args.accountId) },
              },
            },
          ],
        }),
      );
      return 'held';
    } catch (err) {
      if (errorName(err) !== 'TransactionCanceledException') throw err;
      const [dispute, call] = (err as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
      if (dispute?.Code === 'ConditionalCheckFailed') return 'not_open';
      if (call?.Code === 'ConditionalCheckFailed') throw new Error(`legal hold: call ${args.callId} is missing or another account's`);
      throw err;
    }
  }

  /** Removes the hold; the call as it is now and the deletion requests waiting for it (null: no such call). */
  async releaseHold(callId: string): Promise<{ call: StoredCall; pendingDeletions: string[] } | null> {
    try {
      const out = await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(mainKeys.call(callId)),
          UpdateExpression: 'REMOVE #hold',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#hold': 'hold' },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const item = out.Attributes!;
      const pending = unmarshall(item).erasurePending;
      return { call: parseCall(item), pendingDeletions: pending instanceof Set ? [...(pending as Set<string>)].sort() : [] };
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return null;
      throw err;
    }
  }

  // ---------------------------------------------------------------- erasure

  async callIdsByCaller(callerHash: string): Promise<string[]> {
    const ids: string[] = [];
    const items = queryItems(this.client(), {
      TableName: this.table,
      IndexName: allCallsOfCallerIndex.indexName,
      KeyConditionExpression: '#h = :h',
      ExpressionAttributeNames: { '#h': allCallsOfCallerIndex.partitionKey.name },
      ExpressionAttributeValues: { ':h': S(callerHash) },
    });
    for await (const item of items) {
      const pk = String(unmarshall(item).pk);
      if (pk.startsWith('CALL#')) ids.push(pk.slice('CALL#'.length));
    }
    return ids;
  }

  async eraseCall(args: EraseCallRequest): Promise<'erased' | 'hold_changed'> {
    const names: Record<string, string> = { '#erasure': 'erasure', '#hold': 'hold' };
    const removes = ['callerEnc', 'callerE164'];
    args.statusSlots.forEach((slot, i) => {
      names[`#s${i}`] = slot;
      removes.push(`#s${i}.f`, `#s${i}.z`);
    });
    const values: Record<string, AttributeValue> = {
      ':e': { M: { d: S(args.deletionId), a: { N: String(args.atMs) } } },
      ':acct': S(args.accountId),
    };
    let add = '';
    if (args.recording === 'defer') {
      values[':pending'] = { SS: [args.deletionId] };
      add = ' ADD erasurePending :pending';
    }
    try {
      await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(mainKeys.call(args.callId)),
          UpdateExpression: `SET #erasure = if_not_exists(#erasure, :e) REMOVE ${removes.join(', ')}${add}`,
          ConditionExpression: `accountId = :acct AND ${args.recording === 'defer' ? 'attribute_exists(#hold)' : 'attribute_not_exists(#hold)'}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return 'erased';
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return 'hold_changed';
      throw err;
    }
  }

  /** After the recording's objects are deleted: the call no longer names it, and no request waits for it. */
  async removeRecording(callId: string): Promise<'removed' | 'held'> {
    try {
      await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(mainKeys.call(callId)),
          UpdateExpression: 'REMOVE #rec, erasurePending',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#hold)',
          ExpressionAttributeNames: { '#rec': 'recording', '#hold': 'hold' },
        }),
      );
      return 'removed';
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return 'held';
      throw err;
    }
  }

  // ---------------------------------------------------------------- deletion requests

  async getDeletion(accountId: string, deletionId: string): Promise<(DeletionRecord & { callerHash: string }) | null> {
    const item = await getItem(this.client(), { TableName: this.table, Key: marshall(privacyKeys.deletion(accountId, deletionId)), ConsistentRead: true });
    return item ? toRecord(item) : null;
  }

  async createDeletion(record: DeletionRecord & { callerHash: string }): Promise<'created' | 'exists'> {
    const { recordingsDeferred: _none, ...rest } = record;
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ ...privacyKeys.deletion(record.accountId, record.deletionId), ...rest }, { removeUndefinedValues: true }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'created';
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return 'exists';
      throw err;
    }
  }

  /** Stores the outcome of a run (the request's status is derived by the caller: deferred while any is pending). */
  async finishDeletion(record: DeletionRecord): Promise<void> {
    const { accountId, deletionId, recordingsDeferred } = record;
    const fields: Record<string, unknown> = {
      ':status': record.status,
      ':completedAt': record.completedAt,
      ':calls': record.calls,
      ':callIds': record.callIds,
      ':callIdsTruncated': record.callIdsTruncated,
      ':erased': record.personalFieldsRemoved,
      ':deleted': record.recordingsDeleted,
    };
    // Every attribute through a name placeholder (several are DynamoDB reserved words).
    const names: Record<string, string> = {
      '#status': 'status',
      '#completedAt': 'completedAt',
      '#calls': 'calls',
      '#callIds': 'callIds',
      '#callIdsTruncated': 'callIdsTruncated',
      '#erased': 'personalFieldsRemoved',
      '#deleted': 'recordingsDeleted',
    };
    const sets = Object.keys(names).map((n) => `${n} = ${n === '#status' ? ':status' : `:${n.slice(1)}`}`);
    const values = marshall(fields, { removeUndefinedValues: true });
    let expression = `SET ${sets.join(', ')}`;
    if (recordingsDeferred.length > 0) {
      values[':deferred'] = { SS: [...recordingsDeferred] };
      names['#deferred'] = 'deferred';
      expression += ' ADD #deferred :deferred';
    }
    await this.client().send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(privacyKeys.deletion(accountId, deletionId)),
        UpdateExpression: expression,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  /** A deferred recording was deleted once its hold was released; the request completes with its last one. */
  async completeDeferred(accountId: string, deletionId: string, callId: string, atIso: string): Promise<void> {
    const key = marshall(privacyKeys.deletion(accountId, deletionId));
    let remaining: unknown;
    try {
      const out = await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'DELETE #deferred :c ADD #deleted :one',
          ConditionExpression: 'contains(#deferred, :id)',
          ExpressionAttributeNames: { '#deferred': 'deferred', '#deleted': 'recordingsDeleted' },
          ExpressionAttributeValues: { ':c': { SS: [callId] }, ':id': S(callId), ':one': { N: '1' } },
          ReturnValues: 'ALL_NEW',
        }),
      );
      remaining = out.Attributes?.deferred;
    } catch (err) {
      // Already counted (a repeated release), or the request's run has not stored its outcome yet (it will count the
      // call as deleted itself: it reads the call after this).
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      return;
    }
    if (remaining !== undefined) return;
    try {
      await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET #status = :done, #completedAt = :at',
          ConditionExpression: 'attribute_not_exists(#deferred) AND #status = :deferred',
          ExpressionAttributeNames: { '#status': 'status', '#completedAt': 'completedAt', '#deferred': 'deferred' },
          ExpressionAttributeValues: { ':done': S('completed'), ':at': S(atIso), ':deferred': S('deferred') },
        }),
      );
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
    }
  }
}
