/**
 * Pilot items of the main table (docs/CONTRACTS.md, "Pilots"):
 *
 * | item | pk | sk |
 * |---|---|---|
 * | pilot record | `ACCT#<accountId>` | `PILOT#<pilotId>` | the request, terms, state, execution, notifications claimed, report |
 * | counter | `PILOT#<accountId>#<pilotId>` | `COUNTER` | `open`, `spentCents`, `billableCalls` (+ caps): the rating transaction's condition |
 * | day counter | `PILOT#<accountId>#<pilotId>` | `DAY#<YYYY-MM-DD>` | the daily cap's spend (written by rating; pre-created at 0 by the enforcer) |
 * | registry | `PILOTS` | `<accountId>#<pilotId>` | the pilots the enforcer watches; `retiredAt` + TTL once reported |
 *
 * The counter and day keys are main-repo.ts's (`mainKeys.pilotCounter`, `pilotDay`), the rating transaction's own.
 * Every write is conditional (see shared/app/pilots/tasks.ts for why that makes concurrent runs safe). The registry
 * is one partition: pilots are few (tens per account at most) and the enforcer reads it once a minute.
 */
import {
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type CancellationReason,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { statesLeadingTo } from '../../domain/pilots/lifecycle';
import { type CloseReason, type CounterSnapshot, type PilotRecord, type PilotReportRef, type PilotState } from '../../domain/pilots/pilots';
import { type PilotCall } from '../../domain/pilots/report';
import type { LedgerEntry } from '../../domain/ledger/entries';
import type { Campaign } from '../../domain/catalog/types';
import type { CreateOutcome, PilotActivity, PilotStore } from '../../app/pilots/ports';
import type { CallStore } from '../../app/kernel/ports';
import { dynamodbClient } from '../platform/clients/dynamodb';
import type { LedgerRepo } from '../ledger/ledger-repo';
import { configItems } from '../catalog/config-repo';
import { mainKeys } from '../calls/keys';
import { errorName, getItem } from '../platform/dynamodb/ddb-ops';

type Key = { pk: string; sk: string };

export const pilotKeys = {
  record: (accountId: string, pilotId: string): Key => ({ pk: `ACCT#${accountId}`, sk: `PILOT#${pilotId}` }),
  counter: (accountId: string, pilotId: string): Key => mainKeys.pilotCounter(accountId, pilotId),
  day: (accountId: string, pilotId: string, date: string): Key => mainKeys.pilotDay(accountId, pilotId, date),
  registry: (accountId: string, pilotId: string): Key => ({ pk: 'PILOTS', sk: `${accountId}#${pilotId}` }),
};

/** A retired registry entry is deleted by TTL this long after (it is filtered out at once). */
const RETIRED_TTL_SEC = 7 * 86_400;

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

export interface PilotRepoOptions {
  mainTable: string;
  client?: DynamoDBClient;
}

export class PilotRepo implements PilotStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: PilotRepoOptions) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
  }

  async createPilot(args: { record: PilotRecord; campaign: Campaign; expectedRev: number }): Promise<CreateOutcome> {
    const { record: r } = args;
    const counter = {
      ...pilotKeys.counter(r.accountId, r.pilotId),
      accountId: r.accountId,
      pilotId: r.pilotId,
      open: true,
      spentCents: 0,
      billableCalls: 0,
      // Spent + reserved (routing/reservation-condition.ts): what admission's reservations are conditioned on.
      heldCents: 0,
      heldCalls: 0,
      reservations: {},
      spendCapCents: r.spendCapCents,
      maxBillableCalls: r.maxBillableCalls,
    };
    const registry = { ...pilotKeys.registry(r.accountId, r.pilotId), accountId: r.accountId, pilotId: r.pilotId, endsAt: r.endsAt };
    const absent = 'attribute_not_exists(pk)';
    try {
      await this.client().send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: marshall({ ...pilotKeys.record(r.accountId, r.pilotId), ...r }, { removeUndefinedValues: true }), ConditionExpression: absent } },
            { Put: { TableName: this.table, Item: marshall(counter), ConditionExpression: absent } },
            { Put: { TableName: this.table, Item: marshall(registry), ConditionExpression: absent } },
            {
              Put: {
                TableName: this.table,
                Item: marshall(configItems.campaign(args.campaign), { removeUndefinedValues: true }),
                ConditionExpression: '#rev = :rev',
                ExpressionAttributeNames: { '#rev': 'rev' },
                ExpressionAttributeValues: { ':rev': N(args.expectedRev) },
              },
            },
          ],
        }),
      );
      return 'created';
    } catch (err) {
      if (errorName(err) === 'TransactionConflictException') return 'campaign_changed';
      if (errorName(err) !== 'TransactionCanceledException') throw err;
      const reasons = (err as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
      if (reasons[0]?.Code === 'ConditionalCheckFailed') return 'exists';
      if (reasons[3]?.Code === 'ConditionalCheckFailed' || reasons.some((x) => x.Code === 'TransactionConflict')) return 'campaign_changed';
      // Counter or registry present without the record: impossible when every writer uses this transaction.
      throw new Error(`pilot ${r.pilotId}: create cancelled (${reasons.map((x) => x.Code ?? 'None').join(',')})`);
    }
  }

  async getPilot(accountId: string, pilotId: string): Promise<PilotRecord | null> {
    const item = await this.get(pilotKeys.record(accountId, pilotId));
    if (item === null) return null;
    const { pk: _pk, sk: _sk, ...rest } = item;
    return rest as unknown as PilotRecord;
  }

  async getCounter(accountId: string, pilotId: string): Promise<CounterSnapshot | null> {
    const item = await this.get(pilotKeys.counter(accountId, pilotId));
    if (item === null) return null;
    return {
      open: item.open === true,
      spentCents: Number(item.spentCents ?? 0),
      billableCalls: Number(item.billableCalls ?? 0),
      closedAt: typeof item.closedAt === 'string' ? item.closedAt : null,
      closedReason: (item.closedReason as CloseReason | undefined) ?? null,
    };
  }

  async getDaySpent(accountId: string, pilotId: string, date: string): Promise<number | null> {
    const item = await this.get(pilotKeys.day(accountId, pilotId, date));
    return item === null || item.spentCents === undefined ? null : Number(item.spentCents);
  }

  async ensureDay(accountId: string, pilotId: string, date: string): Promise<void> {
    await this.conditional(
      new PutItemCommand({
        TableName: this.table,
        Item: marshall({ ...pilotKeys.day(accountId, pilotId, date), spentCents: 0, billableCalls: 0 }),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  closeCounter(accountId: string, pilotId: string, reason: CloseReason, at: string): Promise<boolean> {
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(pilotKeys.counter(accountId, pilotId)),
        UpdateExpression: 'SET #open = :false, closedAt = :at, closedReason = :reason',
        ConditionExpression: '#open = :true',
        ExpressionAttributeNames: { '#open': 'open' },
        ExpressionAttributeValues: { ':false': { BOOL: false }, ':true': { BOOL: true }, ':at': S(at), ':reason': S(reason) },
      }),
    );
  }

  raiseCounter(
    accountId: string,
    pilotId: string,
    from: Pick<CounterSnapshot, 'spentCents' | 'billableCalls'>,
    to: Pick<CounterSnapshot, 'spentCents' | 'billableCalls'>,
  ): Promise<boolean> {
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(pilotKeys.counter(accountId, pilotId)),
        UpdateExpression: 'SET spentCents = :toSpent, billableCalls = :toCalls',
        // Unchanged since it was read: a charge committed meanwhile makes the comparison stale, so skip.
        ConditionExpression: 'spentCents = :fromSpent AND billableCalls = :fromCalls',
        ExpressionAttributeValues: {
          ':toSpent': N(to.spentCents),
          ':toCalls': N(to.billableCalls),
          ':fromSpent': N(from.spentCents),
          ':fromCalls': N(from.billableCalls),
        },
      }),
    );
  }

  transition(accountId: string, pilotId: string, to: PilotState, at: string, extra: { failure?: string } = {}): Promise<boolean> {
    const from = statesLeadingTo(to);
    if (from.length === 0) return Promise.resolve(false);
    const values: Record<string, AttributeValue> = { ':to': S(to), ':at': S(at) };
    from.forEach((s, i) => (values[`:s${i}`] = S(s)));
    let update = 'SET #state = :to, updatedAt = :at';
    if (extra.failure !== undefined) {
      update += ', failure = :failure';
      values[':failure'] = S(extra.failure);
    }
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(pilotKeys.record(accountId, pilotId)),
        UpdateExpression: update,
        ConditionExpression: `#state IN (${from.map((_, i) => `:s${i}`).join(', ')})`,
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: values,
      }),
    );
  }

  async setExecutionArn(accountId: string, pilotId: string, executionArn: string, at: string): Promise<void> {
    await this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(pilotKeys.record(accountId, pilotId)),
        UpdateExpression: 'SET executionArn = :arn, updatedAt = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':arn': S(executionArn), ':at': S(at) },
      }),
    );
  }

  claimNotification(accountId: string, pilotId: string, key: string): Promise<boolean> {
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(pilotKeys.record(accountId, pilotId)),
        UpdateExpression: 'SET notified = list_append(if_not_exists(notified, :empty), :keys)',
        ConditionExpression: 'attribute_exists(pk) AND NOT contains(notified, :key)',
        ExpressionAttributeValues: { ':empty': { L: [] }, ':keys': { L: [S(key)] }, ':key': S(key) },
      }),
    );
  }

  setReport(accountId: string, pilotId: string, report: PilotReportRef, state: PilotState, at: string): Promise<boolean> {
    const from = [...new Set([...statesLeadingTo(state), state])];
    const values: Record<string, AttributeValue> = { ':report': { M: marshall(report) }, ':to': S(state), ':at': S(at), ':null': { NULL: true } };
    from.forEach((s, i) => (values[`:s${i}`] = S(s)));
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(pilotKeys.record(accountId, pilotId)),
        UpdateExpression: 'SET report = :report, #state = :to, updatedAt = :at',
        ConditionExpression: `(attribute_not_exists(report) OR report = :null) AND #state IN (${from.map((_, i) => `:s${i}`).join(', ')})`,
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: values,
      }),
    );
  }

  async listLivePilots(): Promise<{ accountId: string; pilotId: string }[]> {
    const out: { accountId: string; pilotId: string }[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client().send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          FilterExpression: 'attribute_not_exists(retiredAt)',
          ExpressionAttributeValues: { ':pk': S('PILOTS') },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) {
        const { accountId, pilotId } = unmarshall(item) as { accountId: string; pilotId: string };
        out.push({ accountId, pilotId });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return out;
  }

  async retire(accountId: string, pilotId: string, at: string): Promise<void> {
    await this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(pilotKeys.registry(accountId, pilotId)),
        UpdateExpression: 'SET retiredAt = :at, #ttl = :ttl',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(retiredAt)',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':at': S(at), ':ttl': N(Math.ceil(Date.parse(at) / 1000) + RETIRED_TTL_SEC) },
      }),
    );
  }

  private async get(key: Key): Promise<Record<string, unknown> | null> {
    const item = await getItem(this.client(), { TableName: this.table, Key: marshall(key), ConsistentRead: true });
    return item ? (unmarshall(item) as Record<string, unknown>) : null;
  }

  /** A conditional write: true when written, false when its condition failed. */
  private async conditional(command: PutItemCommand | UpdateItemCommand): Promise<boolean> {
    try {
      await this.client().send(command as UpdateItemCommand);
      return true;
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }
}

/** Calls (gsi1, by start time) and ledger entries of a pilot's campaign, for its report and its view. */
export class DynamoPilotActivity implements PilotActivity {
  constructor(
    private readonly calls: Pick<CallStore, 'listCalls'>,
    private readonly ledger: Pick<LedgerRepo, 'entriesInRange'>,
  ) {}

  async callsInRange(args: { accountId: string; campaignId: string; from: string; to: string }): Promise<PilotCall[]> {
    const out: PilotCall[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.calls.listCalls({ accountId: args.accountId, campaignId: args.campaignId, from: args.from, to: args.to, limit: 500, cursor });
      for (const c of page.items) {
        if (c.rating === null) continue;
        out.push({
          callId: c.callId,
          campaignId: c.rating.campaignId,
          publisherId: c.rating.publisherId,
          subSource: c.rating.subSource,
          startedAt: c.startedAt,
          billable: c.rating.billable,
          reasons: c.rating.reasons,
          ...(c.rating.recorded?.signals === undefined ? {} : { signals: c.rating.recorded.signals }),
        });
      }
      cursor = page.cursor ?? undefined;
    } while (cursor !== undefined);
    return out;
  }

  entriesInRange(args: { accountId: string; campaignId: string; from: string; to: string }): Promise<readonly LedgerEntry[]> {
    return this.ledger.entriesInRange(args);
  }
}
