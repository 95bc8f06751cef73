/**
 * Destinations in the main table (docs/CONTRACTS.md, "Routing"): one item per target,
 *
 *   pk = ACCT#<accountId>   sk = TARGET#<targetId>   (Target, rev)
 *
 * written by one conditional PutItem on `rev`. The voice function reads every target of an account with one Query,
 * through a per-container cache: a target is not effective-dated, so a change is seen by a warm container within the
 * cache's lifetime (≤ CONFIG_LEAD_MS); the management API reads strongly consistent, uncached.
 */
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { CONFIG_LEAD_MS } from '../../domain/catalog/config';
import type { Target } from '../../domain/routing/targets';
import { ConfigWriteConflict } from '../../app/kernel/ports';
import type { TargetStore } from '../../app/routing/ports';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { errorName, getItem, queryItems } from '../platform/dynamodb/ddb-ops';
import { ExactCache } from '../platform/exact-cache';
import { mainKeys } from '../calls/keys';

const PREFIX = 'TARGET#';

function fromItem(item: Record<string, unknown>): Target {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as unknown as Target;
}

export interface TargetRepoOptions {
  readonly mainTable: string;
  readonly client?: DynamoDBClient;
  /** Lifetime of the cached list of an account's targets (default and at most CONFIG_LEAD_MS). */
  readonly cacheTtlMs?: number;
  readonly now?: () => number;
}

export class TargetRepo implements TargetStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;
  private readonly lists: ExactCache<readonly Target[]>;

  constructor(options: TargetRepoOptions) {
    this.table = options.mainTable;
    this.client = dynamodbClient(options.client);
    this.lists = new ExactCache(Math.min(options.cacheTtlMs ?? CONFIG_LEAD_MS, CONFIG_LEAD_MS), options.now ?? Date.now);
  }

  async readTarget(accountId: string, targetId: string): Promise<Target | null> {
    const item = await getItem(this.client(), { TableName: this.table, Key: marshall(mainKeys.target(accountId, targetId)), ConsistentRead: true });
    return item === undefined ? null : fromItem(unmarshall(item));
  }

  async putTarget(target: Target, expectedRev: number | null): Promise<void> {
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ ...mainKeys.target(target.accountId, target.targetId), ...target }, { removeUndefinedValues: true }),
          ...(expectedRev === null
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': { N: String(expectedRev) } } }),
        }),
      );
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') throw new ConfigWriteConflict(`target ${target.targetId}`);
      throw err;
    }
    this.lists.delete(target.accountId);
  }

  /** Uncached, strongly consistent. */
  async readTargets(accountId: string): Promise<readonly Target[]> {
    const out: Target[] = [];
    const pages = queryItems(this.client(), {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': { S: mainKeys.account(accountId).pk }, ':prefix': { S: PREFIX } },
      ConsistentRead: true,
    });
    for await (const item of pages) out.push(fromItem(unmarshall(item)));
    return out;
  }

  /** Cached per container (see the module comment). */
  listTargets(accountId: string): Promise<readonly Target[]> {
    return this.lists.get(accountId, () => this.readTargets(accountId));
  }
}
