/**
 * The append-only ledger table (`pk = ACCT#<accountId>`, `sk = <effectiveAt>#<entryId>`): reads of entries, and
 * the seals of tamper evidence (docs/ARCHITECTURE.md, "Tamper evidence") under `pk = SEAL#<accountId>`,
 * `sk = <seq, 12 digits>`, so an account's seals are one Query in order and never mix with its entries.
 * Entries are written only inside transactions elsewhere (charges: the rating transaction in main-repo.ts; credits:
 * the dispute resolution in dispute-repo.ts). Nothing here updates or deletes; seals are conditional Puts.
 *
 * The sealer reads one interval of write time through the `byCreatedAt` index (infra/resources.ts): keyed on
 * `accountId` and `createdAt`, which every entry has stored since the first ledger version, so no writer adds
 * anything for it and older entries are in it too (DynamoDB backfills an index added to a populated table; while
 * it does, reads of the index fail and the sealer defers: `SealIndexNotReady`). `createdAt` is always
 * `Date#toISOString()` (UTC, milliseconds), so string order is time order. The index is KEYS_ONLY; the entries
 * themselves come from the table by BatchGetItem (see the index's comment for the cost trade-off).
 */
import {
  BatchGetItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { TABLES } from '../../../infra/resources';
import { backoffMs, sleep } from '../../app/kernel/concurrency';
import { SealIndexNotReady } from '../../app/ledger/verify';
import { entryTotals } from '../../domain/ledger/entries';
import type { LedgerEntry, ChargeEntry, LedgerTotals } from '../../domain/ledger/entries';
import type { Seal } from '../../domain/ledger/tamper';
import type { LedgerQuery, LedgerStore } from '../../app/ledger/ports';
import type { Page } from '../../app/kernel/ports';
import type { IndexShape } from '../platform/dynamodb/capacity';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { decodeCursor, encodeCursor } from '../http/cursor';
import { getItem } from '../platform/dynamodb/ddb-ops';

const BY_CREATED_AT = TABLES.ledger.globalSecondaryIndexes.find((i) => i.indexName === 'byCreatedAt')!;
/** The ledger's write-time index as the capacity model sees it: 1 WCU per entry written (KEYS_ONLY, < 1 KB). */
export const LEDGER_BY_CREATED_AT: IndexShape = {
  partitionKey: BY_CREATED_AT.partitionKey.name,
  sortKey: BY_CREATED_AT.sortKey.name,
  projected: [],
  tableKeys: [TABLES.ledger.partitionKey.name, TABLES.ledger.sortKey.name],
};
/** BatchGetItem's limit per request. */
const BATCH_GET_MAX = 100;

export interface LedgerRepoOptions {
  ledgerTable: string;
  client?: DynamoDBClient;
}

type RangeQuery = Omit<LedgerQuery, 'limit' | 'cursor'>;

/** A ledger item as stored: the entry, and its content hash when the writer computed one (tamper.ts). */
export type StoredLedgerItem = LedgerEntry & { readonly contentHash?: string };

export function ledgerPk(accountId: string): string {
  return `ACCT#${accountId}`;
}

export function sealPk(accountId: string): string {
  return `SEAL#${accountId}`;
}

function toStoredItem(item: Record<string, AttributeValue>): StoredLedgerItem {
  const { pk: _pk, sk: _sk, ...entry } = unmarshall(item);
  return entry as StoredLedgerItem;
}

function sealSortKey(seq: number): string {
  return String(seq).padStart(12, '0');
}

/** DynamoDB refuses reads of an index it is still backfilling (ValidationException naming the backfill). */
function indexNotReady(err: unknown): SealIndexNotReady | null {
  const e = err as { name?: string; message?: string };
  return e.name === 'ValidationException' && /backfill/i.test(e.message ?? '')
    ? new SealIndexNotReady(`ledger index ${BY_CREATED_AT.indexName} is not readable yet: ${e.message}`)
    : null;
}

export class LedgerRepo implements LedgerStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: LedgerRepoOptions) {
    this.table = options.ledgerTable;
    const client = options.client;
    this.client = dynamodbClient(client);
  }

  async listEntries(query: LedgerQuery): Promise<Page<LedgerEntry>> {
    const pk = `ACCT#${query.accountId}`;
    let startKey = query.cursor === undefined ? undefined : decodeCursor(query.cursor, ['pk', 'sk'], { name: 'pk', value: pk });
    const entries: LedgerEntry[] = [];
    for (;;) {
      const out = await this.query(query, startKey, Math.max(query.limit, 25));
      const items = out.Items ?? [];
      for (const [i, item] of items.entries()) {
        const { pk: itemPk, sk, ...entry } = unmarshall(item) as LedgerEntry & { pk: string; sk: string };
        entries.push(entry);
        if (entries.length === query.limit) {
          const more = out.LastEvaluatedKey !== undefined || i < items.length - 1;
          return { items: entries, cursor: more ? encodeCursor({ pk: itemPk, sk }) : null };
        }
      }
      if (out.LastEvaluatedKey === undefined) return { items: entries, cursor: null };
      startKey = out.LastEvaluatedKey;
    }
  }

  /** One entry by its sort key (`<effectiveAt>#<entryId>`), strongly consistent; null when absent. */
  async getEntry(accountId: string, sk: string): Promise<StoredLedgerItem | null> {
    const item = await getItem(this.client(), { TableName: this.table, Key: marshall({ pk: ledgerPk(accountId), sk }), ConsistentRead: true });
    return item ? toStoredItem(item) : null;
  }

  /**
   * Every entry of the filtered range (all pages), in sort-key order, with its stored content hash. For statements,
   * reconciliations and verification, which need the whole range in memory anyway (digests sort by entryId).
   */
  async entriesInRange(query: RangeQuery): Promise<StoredLedgerItem[]> {
    const entries: StoredLedgerItem[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.query(query, startKey, undefined);
      for (const item of out.Items ?? []) entries.push(toStoredItem(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return entries;
  }

  /** The account's seals in sequence order (none until the sealer runs; see the header). */
  async listSeals(accountId: string): Promise<Seal[]> {
    const seals: Seal[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client().send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: sealPk(accountId) } },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      for (const item of out.Items ?? []) seals.push(toStoredItem(item) as unknown as Seal);
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return seals;
  }

  /** The seal with the highest sequence number (one strongly consistent Query of one item), or null. */
  async latestSeal(accountId: string): Promise<Seal | null> {
    const out = await this.client().send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: sealPk(accountId) } },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const item = out.Items?.[0];
    return item === undefined ? null : (toStoredItem(item) as unknown as Seal);
  }

  /** `createdAt` of the account's earliest entry (the first key of the write-time index), or null. */
  async firstCreatedAt(accountId: string): Promise<string | null> {
    const out = await this.queryByCreatedAt(accountId, '0000', '9999', undefined, 1);
    const item = out.Items?.[0];
    return item === undefined ? null : (unmarshall(item)[BY_CREATED_AT.sortKey.name] as string);
  }

  /**
   * Entries with `fromIso <= createdAt < toIso`: the index gives their keys (all pages), BatchGetItem their content
   * from the table (eventually consistent: entries are immutable and the sealer reads intervals closed minutes ago).
   */
  async entriesCreatedBetween(accountId: string, fromIso: string, toIso: string): Promise<StoredLedgerItem[]> {
    const keys: Record<string, AttributeValue>[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      // BETWEEN is inclusive: an entry created exactly at `toIso` belongs to the next interval and is dropped below.
      const out = await this.queryByCreatedAt(accountId, fromIso, toIso, startKey);
      for (const item of out.Items ?? []) {
        if ((unmarshall(item)[BY_CREATED_AT.sortKey.name] as string) < toIso) keys.push({ pk: item.pk!, sk: item.sk! });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    const entries: StoredLedgerItem[] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_MAX) entries.push(...(await this.batchGet(keys.slice(i, i + BATCH_GET_MAX))));
    return entries;
  }

  private async queryByCreatedAt(accountId: string, from: string, to: string, startKey: Record<string, AttributeValue> | undefined, limit?: number) {
    try {
      const out = await this.client().send(
        new QueryCommand({
          TableName: this.table,
          IndexName: BY_CREATED_AT.indexName,
          KeyConditionExpression: '#a = :a AND #c BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#a': BY_CREATED_AT.partitionKey.name, '#c': BY_CREATED_AT.sortKey.name },
          ExpressionAttributeValues: { ':a': { S: accountId }, ':from': { S: from }, ':to': { S: to } },
          ExclusiveStartKey: startKey,
          Limit: limit,
        }),
      );
      return out;
    } catch (err) {
      throw indexNotReady(err) ?? err;
    }
  }

  /** Up to 100 items by key; unprocessed keys are retried with backoff. Keys whose item is gone are skipped. */
  private async batchGet(keys: readonly Record<string, AttributeValue>[]): Promise<StoredLedgerItem[]> {
    const found: StoredLedgerItem[] = [];
    let pending = [...keys];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 8) throw new Error('entriesCreatedBetween: unprocessed keys after retries');
      if (attempt > 0) await sleep(backoffMs(attempt, 50, 2_000));
      const out = await this.client().send(
        new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: pending } } }),
      );
      for (const item of out.Responses?.[this.table] ?? []) found.push(toStoredItem(item));
      pending = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
    }
    return found;
  }

  /** Appends a seal; 'exists' when its sequence number is taken (another sealer won). */
  async putSeal(seal: Seal): Promise<'stored' | 'exists'> {
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: sealPk(seal.accountId), sk: sealSortKey(seal.seq), ...seal }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'stored';
    } catch (err) {
      if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return 'exists';
      throw err;
    }
  }

  /** Sums the whole filtered range, reading only the two attributes the sum needs. */
  async totals(query: RangeQuery): Promise<LedgerTotals> {
    const parts: Pick<LedgerEntry, 'type' | 'amountCents'>[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.query(query, startKey, undefined, '#type, amountCents');
      for (const item of out.Items ?? []) parts.push(unmarshall(item) as Pick<LedgerEntry, 'type' | 'amountCents'>);
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return entryTotals(parts);
  }

  private async query(query: RangeQuery, startKey: Record<string, AttributeValue> | undefined, limit: number | undefined, projection?: string) {
    const names: Record<string, string> = {};
    const values: Record<string, AttributeValue> = {
      ':pk': { S: `ACCT#${query.accountId}` },
      // sk = <effectiveAt>#<entryId>: BETWEEN from AND to keeps [from, to), since `to#…` sorts after `to`.
      ':from': { S: query.from ?? '0000' },
      ':to': { S: query.to ?? '9999' },
    };
    const filters: string[] = [];
    if (query.campaignId !== undefined) {
      filters.push('campaignId = :camp');
      values[':camp'] = { S: query.campaignId };
    }
    if (query.publisherId !== undefined) {
      filters.push('publisherId = :pub');
      values[':pub'] = { S: query.publisherId };
    }
    if (projection !== undefined) names['#type'] = 'type';
    const out = await this.client().send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
        ...(projection !== undefined ? { ProjectionExpression: projection } : {}),
        ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values,
        ExclusiveStartKey: startKey,
        Limit: limit,
      }),
    );
    return out;
  }
}
