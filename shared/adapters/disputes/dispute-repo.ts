/**
 * Main-table reads and writes of the disputes slice (docs/CONTRACTS.md, "Disputes, statements, reconciliation"):
 *
 * - dispute items `pk = ACCT#<accountId>`, `sk = DISPUTE#<disputeId>` (`disputeId = dispute:<callId>`): under the
 *   account, so a key can only ever reach its own account's disputes and listing them is one Query;
 * - the resolution of a dispute: ONE TransactWriteItems of the dispute (Put, condition: still open) and, when
 *   accepted, the credit (Put into the append-only ledger, condition: absent) — Puts only, no Update or Delete;
 * - the publisher's credit policy (attribute `creditPolicy` of the publisher item `PUB#<publisherId>`);
 * - the facts of an account's rated calls in a time range (gsi1) that reconciliation matches invoice lines on.
 */
import {
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { DISPUTE_REASONS, type CreditPolicy, type Dispute, type DisputeStatus } from '../../domain/disputes/disputes';
import { creditCondition } from '../../domain/disputes/credit-condition';
import { ledgerSortKey } from '../../domain/ledger/entries';
import type { ReasonCode } from '../../domain/rating/decision';
import type { OurCall } from '../../domain/reconciliation/reconcile-invoice';
import type { StoredEntry } from '../../domain/ledger/tamper';
import type { Page } from '../../app/kernel/ports';
import type { CallFactsReader, CreditPolicyReader, DisputeListQuery, DisputeStore } from '../../app/disputes/disputes';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { decodeCursor, encodeCursor } from '../http/cursor';
import { cancellationReasons, errorName, getItem, isTransactionConflict } from '../platform/dynamodb/ddb-ops';
import { resolutionItems } from './credit-condition';

export const disputeKeys = {
  pk: (accountId: string) => `ACCT#${accountId}`,
  sk: (disputeId: string) => `DISPUTE#${disputeId}`,
};

/**
 * The policy as the publisher item stores it. Not strict: the management API owns the publisher item and may add
 * fields; only these two decide a dispute.
 */
const StoredPolicy = z.object({
  disputeWindowDays: z.number().int().min(0).max(366),
  allowedReasons: z.array(z.enum(DISPUTE_REASONS)).min(1),
});

export interface DisputeRepoOptions {
  mainTable: string;
  ledgerTable: string;
  client?: DynamoDBClient;
}

function toDispute(item: Record<string, AttributeValue>): Dispute {
  const { pk: _pk, sk: _sk, ...dispute } = unmarshall(item);
  return dispute as Dispute;
}

export class DisputeRepo implements DisputeStore, CreditPolicyReader, CallFactsReader {
  private readonly mainTable: string;
  private readonly ledgerTable: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: DisputeRepoOptions) {
    this.mainTable = options.mainTable;
    this.ledgerTable = options.ledgerTable;
    const client = options.client;
    this.client = dynamodbClient(client);
  }

  async get(accountId: string, disputeId: string): Promise<Dispute | null> {
    const item = await getItem(this.client(), {
      TableName: this.mainTable,
      Key: marshall({ pk: disputeKeys.pk(accountId), sk: disputeKeys.sk(disputeId) }),
      ConsistentRead: true,
    });
    return item ? toDispute(item) : null;
  }

  /** Puts a new (open) dispute; 'exists' when one is already stored for the call (a concurrent open won). */
  async create(dispute: Dispute): Promise<'created' | 'exists'> {
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.mainTable,
          Item: this.item(dispute),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'created';
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return 'exists';
      throw err;
    }
  }

  /**
   * Stores a resolved dispute, and with it the credit of an accepted one, in one transaction. 'not_open' when the
   * stored dispute is no longer open (a concurrent resolution won) — nothing is written then.
   */
  async resolve(dispute: Dispute, credit: StoredEntry | null, expect: { readonly reversals: number } = { reversals: 0 }): Promise<'resolved' | 'not_open' | 'charge_changed'> {
    const condition = creditCondition(dispute, credit, expect);
    const items = resolutionItems({ main: this.mainTable, ledger: this.ledgerTable }, this.item(dispute), condition);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client().send(new TransactWriteItemsCommand({ TransactItems: items }));
        return 'resolved';
      } catch (err) {
        const reasons = cancellationReasons(err);
        if (isTransactionConflict(err) && attempt < 3) {
          await new Promise((r) => setTimeout(r, 20 * 2 ** attempt * (0.5 + Math.random())));
          continue;
        }
        if (errorName(err) !== 'TransactionCanceledException') throw err;
        if (reasons[0]?.Code === 'ConditionalCheckFailed') return 'not_open';
        // The dispute was open but its credit exists: only a write that bypassed this transaction can do that.
        if (reasons[1]?.Code === 'ConditionalCheckFailed') throw new Error(`credit for ${dispute.disputeId} exists while the dispute is open`);
        if (reasons[2]?.Code === 'ConditionalCheckFailed') {
          if (reasons[2].Item === undefined) throw new Error(`the call of ${dispute.disputeId} does not exist`);
          return 'charge_changed';
        }
        throw new Error(`dispute resolution for ${dispute.disputeId} cancelled: ${reasons.map((r) => r.Code ?? 'None').join(',')}`);
      }
    }
  }

  /** Disputes of an account in disputeId order, optionally of one status / publisher. */
  async list(query: DisputeListQuery): Promise<Page<Dispute>> {
    const pk = disputeKeys.pk(query.accountId);
    const names: Record<string, string> = {};
    const values: Record<string, AttributeValue> = { ':pk': { S: pk }, ':prefix': { S: 'DISPUTE#' } };
    const filters: string[] = [];
    if (query.status !== undefined) {
      names['#status'] = 'status';
      values[':status'] = { S: query.status };
      filters.push('#status = :status');
    }
    if (query.publisherId !== undefined) {
      values[':pub'] = { S: query.publisherId };
      filters.push('publisherId = :pub');
    }
    let startKey = query.cursor === undefined ? undefined : decodeCursor(query.cursor, ['pk', 'sk'], { name: 'pk', value: pk });
    const disputes: Dispute[] = [];
    for (;;) {
      const out = await this.client().send(
        new QueryCommand({
          TableName: this.mainTable,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
          ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
          ExclusiveStartKey: startKey,
          Limit: Math.max(query.limit, 25),
        }),
      );
      const items = out.Items ?? [];
      for (const [i, item] of items.entries()) {
        disputes.push(toDispute(item));
        if (disputes.length === query.limit) {
          const more = out.LastEvaluatedKey !== undefined || i < items.length - 1;
          const { pk: itemPk, sk } = unmarshall(item) as { pk: string; sk: string };
          return { items: disputes, cursor: more ? encodeCursor({ pk: itemPk, sk }) : null };
        }
      }
      if (out.LastEvaluatedKey === undefined) return { items: disputes, cursor: null };
      startKey = out.LastEvaluatedKey;
    }
  }

  /** The publisher's credit policy; null when the publisher item or its policy is absent. */
  async creditPolicy(accountId: string, publisherId: string): Promise<CreditPolicy | null> {
    const item = await getItem(this.client(), {
      TableName: this.mainTable,
      Key: marshall({ pk: `ACCT#${accountId}`, sk: `PUB#${publisherId}` }),
      ProjectionExpression: 'creditPolicy',
      // A policy changed a moment ago must govern the next dispute: off the hot path, so read it exactly.
      ConsistentRead: true,
    });
    const stored = item ? (unmarshall(item) as { creditPolicy?: unknown }).creditPolicy : undefined;
    if (stored === undefined || stored === null) return null;
    const parsed = StoredPolicy.safeParse(stored);
    // The management API validates policies on the way in; an invalid stored one is a bug, not bad input.
    if (!parsed.success) throw new Error(`publisher ${publisherId} of ${accountId} has an invalid creditPolicy`);
    return parsed.data;
  }

  /**
   * Rated calls of an account that started in [from, to) (gsi1), optionally of one publisher, reading only what
   * matching needs. The caller's number is not read: invoice callers are matched by their keyed hash.
   */
  async callsInRange(query: { accountId: string; from: string; to: string; publisherId?: string }): Promise<OurCall[]> {
    const names: Record<string, string> = {
      '#gpk': 'gsi1pk',
      '#gsk': 'gsi1sk',
      '#pk': 'pk',
      '#started': 'startedAt',
      '#billable': 'billable',
      '#hash': 'callerHash',
      '#rating': 'rating',
      '#reasons': 'x',
    };
    const values: Record<string, AttributeValue> = {
      ':pk': { S: `ACCT#${query.accountId}` },
      ':from': { S: query.from },
      ':to': { S: query.to },
    };
    let filter: string | undefined;
    if (query.publisherId !== undefined) {
      names['#pub'] = 'publisherId';
      values[':pub'] = { S: query.publisherId };
      filter = '#pub = :pub';
    }
    const calls: OurCall[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client().send(
        new QueryCommand({
          TableName: this.mainTable,
          IndexName: 'gsi1',
          // gsi1sk = <startedAt>#<callId>: BETWEEN from AND to keeps [from, to), since `to#…` sorts after `to`.
          KeyConditionExpression: '#gpk = :pk AND #gsk BETWEEN :from AND :to',
          ...(filter !== undefined ? { FilterExpression: filter } : {}),
          ProjectionExpression: '#pk, #started, #billable, #hash, #rating.#reasons',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) {
        const raw = unmarshall(item) as { pk: string; startedAt: string; billable?: boolean; callerHash?: string; rating?: { x?: string } };
        calls.push({
          callId: raw.pk.slice('CALL#'.length),
          callerHash: raw.callerHash ?? null,
          startedAtMs: Date.parse(raw.startedAt),
          billable: raw.billable === true,
          reasons: raw.rating?.x ? (raw.rating.x.split(' ') as ReasonCode[]) : [],
        });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return calls;
  }

  private item(dispute: Dispute): Record<string, AttributeValue> {
    return marshall({ pk: disputeKeys.pk(dispute.accountId), sk: disputeKeys.sk(dispute.disputeId), ...dispute }, { removeUndefinedValues: true });
  }
}
