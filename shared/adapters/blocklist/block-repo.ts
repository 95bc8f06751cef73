/**
 * Block lists in the main table (docs/CONTRACTS.md, "Block list"): one item per blocked caller, under its account,
 *
 *   pk = ACCT#<accountId>   sk = BLOCK#<callerHash>   (block-list.ts BlockEntry: blockId, last4, reason, history…)
 *
 * keyed by the caller's keyed hash: the number itself is never stored (only its last four digits), and a key can
 * only ever reach its own account's entries. A change appends to `history` with ONE PutItem conditional on `rev`.
 *
 * The ledger writer's reader (`blockedCaller`) loads an account's WHOLE list with one strongly consistent Query
 * (`begins_with(sk, 'BLOCK#')`, paginated, projected to sk + blockId + history) into a per-container cache and
 * answers from a Map<callerHash, entry> by evaluating the history at the call's start. The cache is the configuration's
 * (platform/exact-cache.ts): a copy whose read was issued at L serves calls that started at or before
 * L + CONFIG_LEAD_MS, because every change written after L takes effect later than that; a later call re-reads.
 * Concurrent misses for one account share a single Query (a batch rates up to 16 calls at once).
 * An account with no blocked caller caches an empty Map for the full lifetime (not a 5 s miss).
 *
 * Cost: one Query per active account per minute per writer container (plus, rarely, a re-read for a call that
 * started more than a minute after the copy was read: not possible within the 60 s lifetime for calls processed
 * after they started). A strongly consistent Query costs 1 RCU per 4 KB: ~220 B per entry with a short history, so
 * 1 RCU for ~18 entries, and a 1,000-caller list is ~55 RCU a minute per container and ~250 KB of memory. Past tens of
 * thousands of entries per account, a per-caller GetItem cache would be cheaper; the port allows the switch.
 */
import { PutItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { blockMatch, type BlockChange, type BlockEntry, type BlockHistory } from '../../domain/blocklist/block-list';
import { CONFIG_LEAD_MS } from '../../domain/catalog/config';
import { ConfigWriteConflict, type Page } from '../../app/kernel/ports';
import type { BlockListReader } from '../../app/rating/ports';
import type { BlockListQuery, BlockStore } from '../../app/blocklist/block-list';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { ExactCache } from '../platform/exact-cache';
import { decodeCursor, encodeCursor } from '../http/cursor';
import { errorName, getItem } from '../platform/dynamodb/ddb-ops';

export const blockKeys = {
  pk: (accountId: string) => `ACCT#${accountId}`,
  sk: (callerHash: string) => `BLOCK#${callerHash}`,
  prefix: 'BLOCK#',
};

// ------------------------------------------------------------------ items

/** A stored history, checked enough that a damaged item fails the call (and is retried, then alarms) instead of rating it. */
function historyOf(value: unknown, what: string): readonly BlockChange[] {
  const ok =
    Array.isArray(value) &&
    value.every((c) => typeof c === 'object' && c !== null && typeof c.blocked === 'boolean' && !Number.isNaN(Date.parse(c.effectiveFrom)));
  if (!ok) throw new Error(`block list item ${what} has no valid history`);
  return value as readonly BlockChange[];
}

function toEntry(item: Record<string, AttributeValue>): BlockEntry {
  const { pk: _pk, sk: _sk, ...rest } = unmarshall(item) as Record<string, unknown>;
  historyOf(rest.history, String(rest.blockId));
  return rest as unknown as BlockEntry;
}

// ------------------------------------------------------------------ repository

export interface BlockRepoOptions {
  mainTable: string;
  client?: DynamoDBClient;
  /** Lifetime of a cached list (default and at most CONFIG_LEAD_MS = 60 s). */
  cacheTtlMs?: number;
  now?: () => number;
}

export class BlockRepo implements BlockListReader, BlockStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;
  private readonly lists: ExactCache<ReadonlyMap<string, BlockHistory>>;

  constructor(options: BlockRepoOptions) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
    this.lists = new ExactCache(Math.min(options.cacheTtlMs ?? CONFIG_LEAD_MS, CONFIG_LEAD_MS), options.now ?? Date.now);
  }

  /** The writer's question (ports.ts): is this caller blocked for a call that started at `forInstantMs`? */
  async blockedCaller(accountId: string, callerHash: string, forInstantMs: number): Promise<{ readonly blockId: string } | null> {
    const list = await this.lists.get(accountId, () => this.loadList(accountId), forInstantMs);
    return blockMatch(list.get(callerHash), forInstantMs);
  }

  /** The account's whole block list, strongly consistent (a copy read at L holds every change written before L). */
  private async loadList(accountId: string): Promise<ReadonlyMap<string, BlockHistory>> {
    const list = new Map<string, BlockHistory>();
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client().send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': { S: blockKeys.pk(accountId) }, ':prefix': { S: blockKeys.prefix } },
          ProjectionExpression: 'sk, blockId, history',
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) {
        const { sk, blockId, history } = unmarshall(item) as { sk: string; blockId: string; history: unknown };
        list.set(sk.slice(blockKeys.prefix.length), { blockId, history: historyOf(history, blockId) });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return list;
  }

  // Management API: uncached, strongly consistent reads and conditional writes.

  async readBlock(accountId: string, callerHash: string): Promise<BlockEntry | null> {
    const item = await getItem(this.client(), {
      TableName: this.table,
      Key: marshall({ pk: blockKeys.pk(accountId), sk: blockKeys.sk(callerHash) }),
      ConsistentRead: true,
    });
    return item ? toEntry(item) : null;
  }

  /** Writes the entry if the stored `rev` is still `expectedRev` (null: it must not exist); else ConfigWriteConflict. */
  async putBlock(callerHash: string, entry: BlockEntry, expectedRev: number | null): Promise<void> {
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: blockKeys.pk(entry.accountId), sk: blockKeys.sk(callerHash), ...entry }, { removeUndefinedValues: true }),
          ...(expectedRev === null
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': { N: String(expectedRev) } } }),
        }),
      );
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException' || errorName(err) === 'TransactionConflictException') {
        throw new ConfigWriteConflict(`blocked caller ${entry.blockId}`);
      }
      throw err;
    }
    this.lists.delete(entry.accountId);
  }

  /** The account's entries in key order (i.e. by hash: no order a caller could infer anything from), paginated. */
  async listBlocks(query: BlockListQuery): Promise<Page<BlockEntry>> {
    const pk = blockKeys.pk(query.accountId);
    let startKey = query.cursor === undefined ? undefined : decodeCursor(query.cursor, ['pk', 'sk'], { name: 'pk', value: pk });
    const entries: BlockEntry[] = [];
    for (;;) {
      const out = await this.client().send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': { S: pk }, ':prefix': { S: blockKeys.prefix } },
          ExclusiveStartKey: startKey,
          Limit: query.limit,
        }),
      );
      const items = out.Items ?? [];
      for (const [i, item] of items.entries()) {
        entries.push(toEntry(item));
        if (entries.length === query.limit) {
          const more = out.LastEvaluatedKey !== undefined || i < items.length - 1;
          const { sk } = unmarshall(item) as { sk: string };
          return { items: entries, cursor: more ? encodeCursor({ pk, sk }) : null };
        }
      }
      if (out.LastEvaluatedKey === undefined) return { items: entries, cursor: null };
      startKey = out.LastEvaluatedKey;
    }
  }
}
