/**
 * Call items of the main table (docs/CONTRACTS.md, "Main table items"), one slot per event: the event merges, the
 * rating (one transaction with the charge, the duplicate-window marker and the pilot counters:
 * ../rating/rating-transaction.ts), recordings and listings. Configuration items: ../catalog/config-repo.ts.
 *
 * Every request is counted by the client's accounting middleware (ddb-stats.ts); the call-item writes carry their
 * price under AWS's capacity rules (capacity.ts, `priceWrite`). How events and ratings are stored compactly: call-item.ts.
 */
import {
  QueryCommand,
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { PilotCharge, PilotMovement } from '../../domain/pilots/caps';
import type { CallEvent } from '../../domain/calls/events';
import type { ChargeEntry } from '../../domain/ledger/entries';
import type { CallerCipher } from '../../domain/privacy/pii';
import { CallAccountMismatch, WriteConflict, type CallRatingStore, type CommitOutcome, type RatedCall, type Rerating, type StoredWindow, type WindowKey, type WindowRerate, type WindowWrite } from '../../app/rating/ports';
import type { CallQuery, CallStore, Page, StoredCall, StoredRecording } from '../../app/kernel/ports';
import { backoffMs } from '../../app/kernel/concurrency';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { cancellationReasons, errorName, getItem } from '../platform/dynamodb/ddb-ops';
import { priceWrite } from '../platform/dynamodb/ddb-stats';
import { decodeCursor, encodeCursor } from '../http/cursor';
import { decodeWindow } from '../rating/duplicate-marker';
import { entryPart, ratingParts, readCancellation, type TxPart } from '../rating/rating-transaction';
import { CallImages } from './call-images';
import { parseCall } from './call-codec';
import { encodeRecording } from './call-item';
import { N, ratingCondition, S, sameAccountCondition, setRating, setSlotsAndAccount, UpdateBuilder } from './call-update';
import { callIndex, mainKeys } from './keys';

/** A refused call's record is kept as long as the raw webhooks it refers to (BUCKETS.archive expires them at 400 days). */
const CONFLICT_RETENTION_DAYS = 400;

export interface CallRepoOptions {
  mainTable: string;
  /** The ledger table, where the rating transaction puts the charge (only commitRating needs it). */
  ledgerTable?: string;
  client?: DynamoDBClient;
  /**
   * Seals the caller's number written with a rating (shared/adapters/privacy/pii-cipher.ts). Without it the number is not
   * stored at all (only its keyed hash): a repository never writes it in clear.
   */
  pii?: CallerCipher;
}


/** Call items, the rating transaction and the duplicate-window markers. */
export class CallRepo implements CallStore, CallRatingStore {
  private readonly table: string;
  private readonly ledgerTable: string | undefined;
  private readonly client: () => DynamoDBClient;
  /** What the capacity model prices the call-item writes against (call-images.ts). */
  private readonly images = new CallImages();
  private readonly pii: CallerCipher | undefined;

  constructor(options: CallRepoOptions) {
    this.table = options.mainTable;
    this.ledgerTable = options.ledgerTable;
    this.pii = options.pii;
    this.client = dynamodbClient(options.client);
  }

  /** The rated caller's number sealed for this call (null: anonymous, or no cipher configured). */
  private async sealCaller(callId: string, accountId: string, rated: RatedCall): Promise<string | null> {
    if (rated.callerE164 === null || this.pii === undefined) return null;
    return this.pii.encryptCaller(rated.callerE164, { accountId, callId });
  }

  /**
   * The one conditional UpdateItem of a call item, priced by AWS's rules (counted by the client's accounting, a
   * failed request too). Its error is the caller's to map: each caller's conditions mean different things.
   */
  private async updateCall(callId: string, b: UpdateBuilder, condition: string, returnOldOnFailure = false): Promise<void> {
    const command = new UpdateItemCommand({
      TableName: this.table,
      Key: marshall(mainKeys.call(callId)),
      UpdateExpression: b.expression(),
      ConditionExpression: condition,
      ExpressionAttributeNames: b.names,
      ExpressionAttributeValues: b.values,
      ReturnValues: 'ALL_OLD',
      ...(returnOldOnFailure ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
    });
    await this.client().send(priceWrite(command, (out: UpdateItemCommandOutput) => this.images.priceUpdate(callId, b, out.Attributes ?? null, false)));
  }

  async mergeEvents(callId: string, accountId: string, events: readonly CallEvent[]): Promise<void> {
    if (events.length === 0) return;
    const b = new UpdateBuilder();
    const acct = setSlotsAndAccount(b, accountId, events);
    try {
      await this.updateCall(callId, b, sameAccountCondition(b, acct));
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') throw new CallAccountMismatch(callId);
      if (errorName(err) === 'TransactionConflictException') throw new WriteConflict(callId);
      throw err;
    }
  }

  async commitRating(args: {
    callId: string;
    accountId: string;
    events: readonly CallEvent[];
    rated: RatedCall;
    entry: ChargeEntry | null;
    window: WindowWrite | null;
    pilot?: PilotCharge | null;
    rerates?: readonly WindowRerate[];
    rerate?: Rerating;
  }): Promise<CommitOutcome> {
    const { callId, accountId, rated, entry } = args;
    const b = new UpdateBuilder();
    const acct = setSlotsAndAccount(b, accountId, args.events);
    setRating(b, callId, accountId, rated, args.events, await this.sealCaller(callId, accountId, rated));
    const arriving: TxPart[] = [
      {
        tag: { kind: 'call', callId },
        item: {
          Update: {
            TableName: this.table,
            Key: marshall(mainKeys.call(callId)),
            UpdateExpression: b.expression(),
            ConditionExpression: ratingCondition(b, acct, args.rerate),
            ExpressionAttributeNames: b.names,
            ExpressionAttributeValues: b.values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        wcu: () => this.images.priceUpdate(callId, b, this.images.get(callId), true),
      },
    ];
    if (entry !== null) arriving.push(entryPart(this.ledgerTable, entry, null));
    const movements = args.pilot == null ? [] : [{ kind: 'charge' as const, charge: args.pilot }];
    return this.transact(accountId, arriving, args.window, args.rerates ?? [], movements);
  }

  async commitWindow(args: { accountId: string; window: WindowWrite; rerates: readonly WindowRerate[] }): Promise<Exclude<CommitOutcome, { outcome: 'already_rated' }>> {
    const out = await this.transact(args.accountId, [], args.window, args.rerates, []);
    if (out.outcome === 'already_rated') throw new Error('commitWindow: no arriving call to be rated');
    return out;
  }

  /** The rating transaction of `arriving` (the call's own parts) and what the plan adds (rating-transaction.ts). */
  private async transact(
    accountId: string,
    arriving: readonly TxPart[],
    window: WindowWrite | null,
    rerates: readonly WindowRerate[],
    movements: readonly PilotMovement[],
  ): Promise<CommitOutcome> {
    const parts = ratingParts(arriving, { table: this.table, ledgerTable: this.ledgerTable, images: this.images, accountId, window, rerates, movements });
    if (!Array.isArray(parts)) return parts;
    try {
      const command = new TransactWriteItemsCommand({ TransactItems: parts.map((p) => p.item) });
      await this.client().send(priceWrite(command, () => parts.reduce((sum, p) => sum + p.wcu(), 0)));
      return { outcome: 'committed' };
    } catch (err) {
      if (errorName(err) === 'TransactionConflictException') return { outcome: 'conflict' };
      if (errorName(err) !== 'TransactionCanceledException') throw err;
      return readCancellation(this.images, accountId, parts, cancellationReasons(err));
    }
  }

  async getWindow(accountId: string, key: WindowKey): Promise<StoredWindow> {
    const item = await getItem(this.client(), { TableName: this.table, Key: marshall(mainKeys.duplicate(accountId, key.scope, key.callerHash)), ConsistentRead: true });
    return decodeWindow(item ?? undefined);
  }

  async readWindowSnapshot(
    accountId: string,
    key: WindowKey,
    callIds: readonly string[],
  ): Promise<{ readonly window: StoredWindow; readonly calls: ReadonlyMap<string, StoredCall | null> }> {
    const ids = [...new Set(callIds)];
    const gets = [mainKeys.duplicate(accountId, key.scope, key.callerHash), ...ids.map((id) => mainKeys.call(id))].map((k) => ({ Get: { TableName: this.table, Key: marshall(k) } }));
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.client().send(new TransactGetItemsCommand({ TransactItems: gets }));
        const [marker, ...items] = out.Responses ?? [];
        const calls = new Map<string, StoredCall | null>();
        ids.forEach((id, i) => {
          const item = items[i]?.Item;
          if (item) this.images.remember(id, item);
          calls.set(id, item ? parseCall(item) : null);
        });
        return { window: decodeWindow(marker?.Item), calls };
      } catch (err) {
        // Cancelled by a write in flight on one of the items: read again after a pause.
        if ((errorName(err) !== 'TransactionCanceledException' && errorName(err) !== 'TransactionConflictException') || attempt >= 6) throw err;
        await new Promise((r) => setTimeout(r, backoffMs(attempt)));
      }
    }
  }

  async commitNonBillable(args: {
    callId: string;
    accountId: string;
    events: readonly CallEvent[];
    rated: RatedCall;
    rerate?: Rerating;
  }): Promise<Extract<CommitOutcome, { outcome: 'committed' | 'already_rated' | 'conflict' }>> {
    const { callId, accountId, rated } = args;
    const b = new UpdateBuilder();
    const acct = setSlotsAndAccount(b, accountId, args.events);
    setRating(b, callId, accountId, rated, args.events, await this.sealCaller(callId, accountId, rated));
    const condition = ratingCondition(b, acct, args.rerate);
    try {
      await this.updateCall(callId, b, condition, true);
      return { outcome: 'committed' };
    } catch (err) {
      if (errorName(err) === 'TransactionConflictException') return { outcome: 'conflict' };
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      const item = (err as { Item?: Record<string, AttributeValue> }).Item;
      if (item) this.images.remember(callId, item);
      const old = item ? unmarshall(item) : {};
      if (old.accountId !== undefined && old.accountId !== accountId) throw new CallAccountMismatch(callId);
      return { outcome: 'already_rated' };
    }
  }

  async setRecording(callId: string, recording: StoredRecording): Promise<void> {
    const b = new UpdateBuilder().set('recording', encodeRecording(recording));
    try {
      await this.updateCall(callId, b, `attribute_exists(${b.name('pk')})`);
    } catch (err) {
      if (errorName(err) === 'TransactionConflictException') throw new WriteConflict(callId);
      if (errorName(err) === 'ConditionalCheckFailedException') throw new Error(`setRecording: call ${callId} does not exist`);
      throw err;
    }
  }

  async getCall(callId: string, options: { consistent?: boolean } = {}): Promise<StoredCall | null> {
    const item = await getItem(this.client(), {
      TableName: this.table,
      Key: marshall(mainKeys.call(callId)),
      ConsistentRead: options.consistent ?? false,
    });
    if (!item) return null;
    this.images.remember(callId, item);
    return parseCall(item);
  }

  async recordAccountConflict(args: { accountId: string; callId: string; eventIds: readonly string[]; at: string }): Promise<void> {
    await this.client().send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(mainKeys.callConflict(args.accountId, args.callId)),
        // A string set: a redelivered event is already in it. Nothing here names the owning account or the caller.
        UpdateExpression: 'ADD eventIds :ids SET accountId = :acct, callId = :call, firstAt = if_not_exists(firstAt, :at), lastAt = :at, #ttl = :ttl',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: {
          ':ids': { SS: [...args.eventIds] },
          ':acct': S(args.accountId),
          ':call': S(args.callId),
          ':at': S(args.at),
          ':ttl': N(Math.ceil(Date.parse(args.at) / 1000) + CONFLICT_RETENTION_DAYS * 86_400),
        },
      }),
    );
  }

  async listCalls(query: CallQuery): Promise<Page<StoredCall>> {
    const gsi1pk = callIndex.pk(query.accountId);
    const filters: string[] = [];
    const names: Record<string, string> = { '#gpk': 'gsi1pk', '#gsk': 'gsi1sk' };
    const values: Record<string, AttributeValue> = {
      ':pk': S(gsi1pk),
      // gsi1sk = <startedAt>#<callId>: BETWEEN from AND to keeps [from, to), since `to#…` sorts after `to`.
      ':from': S(query.from ?? '0000'),
      ':to': S(query.to ?? '9999'),
    };
    if (query.campaignId !== undefined) {
      filters.push('#camp = :camp');
      names['#camp'] = 'campaignId';
      values[':camp'] = S(query.campaignId);
    }
    if (query.publisherId !== undefined) {
      filters.push('#pub = :pub');
      names['#pub'] = 'publisherId';
      values[':pub'] = S(query.publisherId);
    }
    if (query.billable !== undefined) {
      filters.push('#bill = :bill');
      names['#bill'] = 'billable';
      values[':bill'] = { BOOL: query.billable };
    }
    const keyNames = ['pk', 'sk', 'gsi1pk', 'gsi1sk'];
    let startKey = query.cursor === undefined ? undefined : decodeCursor(query.cursor, keyNames, { name: 'gsi1pk', value: gsi1pk });
    const items: StoredCall[] = [];
    let last: Record<string, unknown> | undefined;
    for (;;) {
      const out = await this.client().send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'gsi1',
          KeyConditionExpression: '#gpk = :pk AND #gsk BETWEEN :from AND :to',
          ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          ExclusiveStartKey: startKey,
          Limit: Math.max(query.limit, 25),
        }),
      );
      for (const item of out.Items ?? []) {
        items.push(parseCall(item));
        last = unmarshall(item);
        // A page ends exactly at the last item returned, so the cursor resumes right after it.
        if (items.length === query.limit) {
          const more = out.LastEvaluatedKey !== undefined || item !== out.Items?.at(-1);
          return { items, cursor: more ? encodeCursor(Object.fromEntries(keyNames.map((k) => [k, String(last![k])]))) : null };
        }
      }
      if (out.LastEvaluatedKey === undefined) return { items, cursor: null };
      startKey = out.LastEvaluatedKey;
    }
  }
}

// The main table's other names live in their own modules; importers of this module still find them here.
export { callerIndex, callIndex, campaignIndex, mainKeys } from './keys';
export { ConfigRepo, configItems, type ConfigRepoOptions } from '../catalog/config-repo';
export { parseCall } from './call-codec';
export { CALL_INDEXES } from './call-images';
