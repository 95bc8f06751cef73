/**
 * The append-only ledger table (`pk = ACCT#<accountId>`, `sk = <effectiveAt>#<entryId>`): reads of entries, and
 * the seals of tamper evidence (docs/ARCHITECTURE.md, "Tamper evidence") under `pk = SEAL#<accountId>`,
 * `sk = <seq, 12 digits>`, so an account's seals are one Query in order and never mix with its entries.
 * Entries are written only inside transactions elsewhere (charges: the rating transaction in main-repo.ts; credits:
 * the dispute resolution in dispute-repo.ts). Nothing here updates or deletes; seals are conditional Puts.
 */
import { GetItemCommand, PutItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { totals } from '../domain/ledger';
import type { LedgerEntryV2 } from '../domain/ledger-v2';
import type { Seal } from '../domain/tamper';
import type { LedgerEntry } from '../domain/types';
import type { LedgerQuery, LedgerStore, LedgerTotals, Page } from '../app/ports';
import { dynamodb } from './clients/dynamodb';
import { recordDdb } from './ddb-stats';
import { decodeCursor, encodeCursor } from './cursor';

export interface LedgerRepoOptions {
  ledgerTable: string;
  client?: DynamoDBClient;
}

type RangeQuery = Omit<LedgerQuery, 'limit' | 'cursor'>;

/** A ledger item as stored: the entry, and its content hash when the writer computed one (tamper.ts). */
export type StoredLedgerItem = LedgerEntryV2 & { readonly contentHash?: string };

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

export class LedgerRepo implements LedgerStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: LedgerRepoOptions) {
    this.table = options.ledgerTable;
    const client = options.client;
    this.client = client ? () => client : dynamodb;
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
    const out = await this.client().send(
      new GetItemCommand({ TableName: this.table, Key: marshall({ pk: ledgerPk(accountId), sk }), ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
    );
    recordDdb('read', out.ConsumedCapacity);
    return out.Item ? toStoredItem(out.Item) : null;
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
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      recordDdb('read', out.ConsumedCapacity);
      for (const item of out.Items ?? []) seals.push(toStoredItem(item) as unknown as Seal);
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return seals;
  }

  /** Appends a seal; 'exists' when its sequence number is taken (another sealer won). */
  async putSeal(seal: Seal): Promise<'stored' | 'exists'> {
    try {
      const out = await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: sealPk(seal.accountId), sk: String(seal.seq).padStart(12, '0'), ...seal }),
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      recordDdb('write', out.ConsumedCapacity);
      return 'stored';
    } catch (err) {
      recordDdb('write', undefined);
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
    return totals(parts);
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
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    recordDdb('read', out.ConsumedCapacity);
    return out;
  }
}
