/**
 * The daily aggregates' store (shared/domain/reports/aggregates.ts), in the aggregates table (infra/resources.ts).
 *
 * Items:
 * - a cell item: pk = AGG#<accountId>#<campaignId>#card|tune, sk = <day>#<["publisherId", subSource]>[#<part>],
 *   holding `day`, `pub`, `sub` and one Number attribute per counter (scorecard counters on `card`; on `tune`, the
 *   per-cell counters in part `h` and the histogram by minute of billable seconds in parts `m<minute>`: see
 *   AggregateDelta.part). The source is JSON in the sort key so any publisher id or sub-source label (null
 *   included) keys exactly one cell, and the day leads the sort (a period is one Query per kind).
 * - per call, the contribution applied: pk = CONTRIB#<callId>, sk = C, with a version `v` and the contribution `c`
 *   (NULL once the call no longer contributes).
 *
 * `applyBatch` (and `apply`, a batch of one) is one TransactWriteItems: each call's new contribution (conditional on
 * the version read) and an `ADD` of the summed deltas to each cell once, so a cell never holds half of a change, and
 * a stale or repeated application is refused ('conflict': the caller re-reads and recomputes). Summing per cell is the
 * saving: the calls of one stream batch mostly share their day and sources. TransactionConflict (another transaction
 * on a cell at that moment) is retried here with jittered backoff. Cells are created by their first ADD; a counter
 * back at 0 stays as 0.
 */
import { GetItemCommand, QueryCommand, TransactWriteItemsCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AggregateDelta, AggregateKind, CallContribution } from '../../domain/reports/aggregates';
import type { AggregateCell } from '../../app/reports/report-engine';
import { MAX_BATCH_ITEMS, mergeDeltas, type AggregateStore, type AppliedContribution, type PendingApplication } from '../../app/reports/aggregates';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { cancellationReasons, isTransactionConflict } from '../platform/dynamodb/ddb-ops';

export const aggregateKeys = {
  cellPk: (accountId: string, campaignId: string, kind: AggregateKind) => `AGG#${accountId}#${campaignId}#${kind}`,
  cellSk: (day: string, publisherId: string, subSource: string | null, part: string) => `${day}#${JSON.stringify([publisherId, subSource])}${part === '' ? '' : `#${part}`}`,
  contribution: (callId: string) => ({ pk: `CONTRIB#${callId}`, sk: 'C' }),
};

/** Attributes of a cell item that are not counters. */
const CELL_FIELDS = new Set(['pk', 'sk', 'day', 'pub', 'sub']);

const MAX_CONFLICT_RETRIES = 6;

export class AggregateRepo implements AggregateStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: { aggregatesTable: string; client?: DynamoDBClient }) {
    this.table = options.aggregatesTable;
    const client = options.client;
    this.client = dynamodbClient(client);
  }

  async readApplied(callId: string): Promise<AppliedContribution | null> {
    const out = await this.client().send(
      new GetItemCommand({ TableName: this.table, Key: marshall(aggregateKeys.contribution(callId)), ConsistentRead: true }),
    );
    if (out.Item === undefined) return null;
    const raw = unmarshall(out.Item) as { v: number; c?: CallContribution | null };
    return { version: raw.v, contribution: raw.c ?? null };
  }

  async apply(callId: string, expected: AppliedContribution | null, target: CallContribution | null, deltas: readonly AggregateDelta[]): Promise<'applied' | 'conflict'> {
    return (await this.applyBatch([{ callId, expected, target, deltas }]))[0]!;
  }

  /**
   * One TransactWriteItems: each call's contribution (conditional on its version) and each cell once, its deltas
   * summed. A cancellation naming some contributions' conditions takes those calls out ('conflict') and writes the
   * rest again; TransactionConflict (another writer on a cell) is retried with jittered backoff.
   */
  async applyBatch(pending: readonly PendingApplication[]): Promise<readonly ('applied' | 'conflict')[]> {
    const results: ('applied' | 'conflict')[] = pending.map(() => 'applied');
    let live = pending.map((p, i) => ({ p, i }));
    for (let attempt = 0; live.length > 0; ) {
      const puts = live.map(({ p }) => ({ Put: this.contributionPut(p) }));
      const updates = mergeDeltas(live.map(({ p }) => p)).map((d) => ({ Update: this.cellUpdate(d) }));
      if (puts.length + updates.length > MAX_BATCH_ITEMS) throw new Error(`an aggregates write of ${puts.length + updates.length} items is over ${MAX_BATCH_ITEMS}`);
      try {
        await this.client().send(new TransactWriteItemsCommand({ TransactItems: [...puts, ...updates] }));
        return results;
      } catch (err) {
        const reasons = cancellationReasons(err);
        const stale = new Set(live.filter((_, k) => reasons[k]?.Code === 'ConditionalCheckFailed').map(({ i }) => i));
        if (stale.size > 0) {
          for (const i of stale) results[i] = 'conflict';
          live = live.filter(({ i }) => !stale.has(i));
          continue;
        }
        if (!isTransactionConflict(err) || attempt >= MAX_CONFLICT_RETRIES) throw err;
        attempt += 1;
        await new Promise((r) => setTimeout(r, 10 * 2 ** attempt * (0.5 + Math.random())));
      }
    }
    return results;
  }

  private contributionPut(p: PendingApplication) {
    return {
      TableName: this.table,
      Item: marshall({ ...aggregateKeys.contribution(p.callId), v: (p.expected?.version ?? 0) + 1, c: p.target }, { removeUndefinedValues: true }),
      ...(p.expected === null
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': 'v' }, ExpressionAttributeValues: { ':v': { N: String(p.expected.version) } } }),
    };
  }

  private cellUpdate(d: AggregateDelta) {
    const names: Record<string, string> = { '#day': 'day', '#pub': 'pub', '#sub': 'sub' };
    const values: Record<string, AttributeValue> = {
      ':day': { S: d.day },
      ':pub': { S: d.publisherId },
      ':sub': d.subSource === null ? { NULL: true } : { S: d.subSource },
    };
    const adds: string[] = [];
    Object.entries(d.add).forEach(([name, v], i) => {
      names[`#a${i}`] = name;
      values[`:a${i}`] = { N: String(v) };
      adds.push(`#a${i} :a${i}`);
    });
    return {
      TableName: this.table,
      Key: marshall({ pk: aggregateKeys.cellPk(d.accountId, d.campaignId, d.kind), sk: aggregateKeys.cellSk(d.day, d.publisherId, d.subSource, d.part) }),
      UpdateExpression: `SET #day = :day, #pub = :pub, #sub = :sub ADD ${adds.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }

  /** The campaign's cells of one kind for local days firstDay..lastDay inclusive, in day order, page by page. */
  async *readCells(accountId: string, campaignId: string, kind: AggregateKind, firstDay: string, lastDay: string): AsyncGenerator<AggregateCell> {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client().send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
          // `<day>#[` … : the JSON source always starts with `[`, which sorts below `\uffff`.
          ExpressionAttributeValues: { ':pk': { S: aggregateKeys.cellPk(accountId, campaignId, kind) }, ':from': { S: `${firstDay}#` }, ':to': { S: `${lastDay}#\uffff` } },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) {
        const raw = unmarshall(item) as Record<string, unknown>;
        const counts: Record<string, number> = {};
        for (const [name, v] of Object.entries(raw)) if (!CELL_FIELDS.has(name) && typeof v === 'number') counts[name] = v;
        yield { day: raw.day as string, publisherId: raw.pub as string, subSource: (raw.sub as string | null) ?? null, counts };
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
  }
}
