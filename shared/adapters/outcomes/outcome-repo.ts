/**
 * CRM outcomes in the main table (docs/CONTRACTS.md, "Outcomes"; rules in shared/domain/outcomes/outcomes.ts):
 *
 *   pk = ACCT#<accountId>   sk = OUTCOME#<externalId>   (OutcomeRecord: the report in force, history, callerHash,
 *                                                       callId | null, match, matchedAt, rev; never the number)
 *
 * and the outcome in force on the matched call item (attribute `outcome`, call-item.ts encodeOutcome), which the
 * campaign index (gsi3, ALL) carries to reports. A change is ONE TransactWriteItems: the outcome item (conditional on
 * `rev`), the matched call's `outcome` (conditional on the call being the account's) and, on a re-point, the removal
 * of the previous call's `outcome` (conditional on it still naming this externalId). So the outcome item and the
 * calls never disagree, and a lost race (any condition) is a ConfigWriteConflict the use case retries after a re-read.
 * Without a call to touch it is one conditional PutItem.
 *
 * Matching reads the caller index (gsi2: connected calls by caller, KEYS_ONLY, eventually consistent — a call rated a
 * moment ago may be missing; the outcome then stays unmatched until it is posted again).
 */
import {
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { CallOutcomeOnCall, CandidateCall, OutcomeRecord } from '../../domain/outcomes/outcomes';
import { ConfigWriteConflict, type Page } from '../../app/kernel/ports';
import type { OutcomeListQuery, OutcomeStore } from '../../app/outcomes/outcomes';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { encodeOutcome } from '../calls/call-item';
import { decodeCursor, encodeCursor } from '../http/cursor';
import { callerIndex, callIndex, mainKeys } from '../calls/keys';
import { errorName, getItem } from '../platform/dynamodb/ddb-ops';

export const outcomeKeys = {
  pk: (accountId: string) => `ACCT#${accountId}`,
  sk: (externalId: string) => `OUTCOME#${externalId}`,
  prefix: 'OUTCOME#',
};

/** Candidates read per match: the newest connected calls of the caller inside the window (the rule needs the first). */
const CANDIDATES = 10;

/**
 * The record's caller hash is stored as `ch`, never `callerHash`: that attribute name keys the main table's index of
 * calls by caller (gsi4), which must hold call items only (and rejects a NULL key value outright).
 */
function toRecord(item: Record<string, AttributeValue>): OutcomeRecord {
  const { pk: _pk, sk: _sk, ch, ...rest } = unmarshall(item) as Record<string, unknown>;
  if (!Array.isArray(rest.history) || rest.history.length === 0) throw new Error(`outcome item ${String(rest.externalId)} has no history`);
  return { ...rest, callerHash: typeof ch === 'string' ? ch : null } as unknown as OutcomeRecord;
}

function toItem(record: OutcomeRecord): Record<string, AttributeValue> {
  const { callerHash, ...rest } = record;
  return marshall({ pk: outcomeKeys.pk(record.accountId), sk: outcomeKeys.sk(record.externalId), ...rest, ch: callerHash }, { removeUndefinedValues: true });
}

export interface OutcomeRepoOptions {
  mainTable: string;
  client?: DynamoDBClient;
}

export class OutcomeRepo implements OutcomeStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: OutcomeRepoOptions) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
  }

  /** Strongly consistent. */
  async readOutcome(accountId: string, externalId: string): Promise<OutcomeRecord | null> {
    const item = await getItem(this.client(), {
      TableName: this.table,
      Key: marshall({ pk: outcomeKeys.pk(accountId), sk: outcomeKeys.sk(externalId) }),
      ConsistentRead: true,
    });
    return item ? toRecord(item) : null;
  }

  /**
   * The account's outcomes in key order (by externalId), optionally only the matched or unmatched ones (a filter on
   * `callId`'s type: the Query reads every outcome of the account it passes, and pages until `limit` are found).
   */
  async listOutcomes(query: OutcomeListQuery): Promise<Page<OutcomeRecord>> {
    const pk = outcomeKeys.pk(query.accountId);
    let startKey = query.cursor === undefined ? undefined : decodeCursor(query.cursor, ['pk', 'sk'], { name: 'pk', value: pk });
    const filter =
      query.matched === undefined
        ? {}
        : {
            FilterExpression: 'attribute_type(#cid, :type)',
            ExpressionAttributeNames: { '#cid': 'callId' },
          };
    const values: Record<string, AttributeValue> = {
      ':pk': { S: pk },
      ':prefix': { S: outcomeKeys.prefix },
      ...(query.matched === undefined ? {} : { ':type': { S: query.matched ? 'S' : 'NULL' } }),
    };
    const records: OutcomeRecord[] = [];
    for (;;) {
      const out = await this.client().send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ...filter,
          ExpressionAttributeValues: values,
          ExclusiveStartKey: startKey,
          Limit: Math.max(query.limit, 25),
        }),
      );
      const items = out.Items ?? [];
      for (const [i, item] of items.entries()) {
        records.push(toRecord(item));
        if (records.length === query.limit) {
          const more = out.LastEvaluatedKey !== undefined || i < items.length - 1;
          const { sk } = unmarshall(item) as { sk: string };
          return { items: records, cursor: more ? encodeCursor({ pk, sk }) : null };
        }
      }
      if (out.LastEvaluatedKey === undefined) return { items: records, cursor: null };
      startKey = out.LastEvaluatedKey;
    }
  }

  /** The call's account and the externalId its `outcome` names (strongly consistent, two attributes read), or null. */
  async callOutcomeOwner(callId: string): Promise<{ accountId: string; outcomeExternalId: string | null } | null> {
    const item = await getItem(this.client(), {
      TableName: this.table,
      Key: marshall(mainKeys.call(callId)),
      ProjectionExpression: '#acct, #o.#e',
      ExpressionAttributeNames: { '#acct': 'accountId', '#o': 'outcome', '#e': 'e' },
      ConsistentRead: true,
    });
    if (!item) return null;
    const raw = unmarshall(item) as { accountId?: string; outcome?: { e?: string } };
    if (typeof raw.accountId !== 'string') return null;
    return { accountId: raw.accountId, outcomeExternalId: typeof raw.outcome?.e === 'string' ? raw.outcome.e : null };
  }

  /** The caller's connected calls of the account that started in [fromIso, toIso] (both inclusive), newest first. */
  async connectedCallsOfCaller(accountId: string, callerHash: string, fromIso: string, toIso: string): Promise<CandidateCall[]> {
    const out = await this.client().send(
      new QueryCommand({
        TableName: this.table,
        IndexName: callerIndex.name,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#pk': 'gsi2pk', '#sk': 'gsi1sk' },
        ExpressionAttributeValues: {
          ':pk': { S: callerIndex.pk(accountId, callerHash) },
          ':from': { S: fromIso },
          // <startedAt>#<callId>: `~` sorts after every character of a call id, so a call that started AT toIso is in.
          ':to': { S: callIndex.sk(toIso, '~') },
        },
        ScanIndexForward: false,
        Limit: CANDIDATES,
      }),
    );
    return (out.Items ?? []).map((item) => {
      const { pk, gsi1sk } = unmarshall(item) as { pk: string; gsi1sk: string };
      return { callId: pk.slice('CALL#'.length), startedAt: gsi1sk.slice(0, gsi1sk.indexOf('#')), connected: true };
    });
  }

  /**
   * Writes the outcome if its stored `rev` is still `expectedRev` (null: it must not exist), with the calls' `outcome`
   * attributes in the same transaction; any failed condition or conflict → ConfigWriteConflict (re-read and retry).
   */
  async writeOutcome(args: {
    record: OutcomeRecord;
    expectedRev: number | null;
    setCall: { callId: string; outcome: CallOutcomeOnCall } | null;
    clearCall: { callId: string; externalId: string } | null;
  }): Promise<void> {
    const { record } = args;
    const put = {
      TableName: this.table,
      Item: toItem(record),
      ...(args.expectedRev === null
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': { N: String(args.expectedRev) } } }),
    };
    try {
      if (args.setCall === null && args.clearCall === null) {
        await this.client().send(new PutItemCommand(put));
        return;
      }
      const items: NonNullable<ConstructorParameters<typeof TransactWriteItemsCommand>[0]['TransactItems']> = [{ Put: put }];
      if (args.setCall !== null) {
        items.push({
          Update: {
            TableName: this.table,
            Key: marshall(mainKeys.call(args.setCall.callId)),
            UpdateExpression: 'SET #o = :o',
            ConditionExpression: '#acct = :acct',
            ExpressionAttributeNames: { '#o': 'outcome', '#acct': 'accountId' },
            ExpressionAttributeValues: { ':o': encodeOutcome(args.setCall.outcome), ':acct': { S: record.accountId } },
          },
        });
      }
      if (args.clearCall !== null) {
        items.push({
          Update: {
            TableName: this.table,
            Key: marshall(mainKeys.call(args.clearCall.callId)),
            UpdateExpression: 'REMOVE #o',
            ConditionExpression: '#o.#e = :ext AND #acct = :acct',
            ExpressionAttributeNames: { '#o': 'outcome', '#e': 'e', '#acct': 'accountId' },
            ExpressionAttributeValues: { ':ext': { S: args.clearCall.externalId }, ':acct': { S: record.accountId } },
          },
        });
      }
      await this.client().send(new TransactWriteItemsCommand({ TransactItems: items }));
    } catch (err) {
      const name = errorName(err);
      if (name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException' || name === 'TransactionConflictException') {
        throw new ConfigWriteConflict(`outcome ${record.externalId}`);
      }
      throw err;
    }
  }
}
