/**
 * Reads of the append-only ledger table (`pk = ACCT#<accountId>`, `sk = <effectiveAt>#<entryId>`).
 * Writes happen only inside the rating transaction (main-repo.ts); this adapter never updates or deletes.
 */
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { totals } from '../domain/ledger';
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
