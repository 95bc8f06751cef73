/**
 * DNC lists in the main table (docs/CONTRACTS.md, "Compliance"):
 *
 *   pk = ACCT#<accountId>   sk = DNCLIST#<listId>          the list (dnc.ts DncList: name, source, count…)
 *   pk = DNC#<accountId>    sk = <callerHash>#<listId>     one entry per (caller, list) (dnc.ts DncEntry: periods)
 *
 * keyed by the caller's keyed hash: the number is never stored. All entries of one caller sit next to each other, so
 * the ledger writer's question — which lists name this caller? — is ONE strongly consistent Query
 * (`begins_with(sk, '<hash>#')`, a few hundred bytes: 1 RCU), never a read of the list (millions of numbers).
 *
 * The reader caches each (account, caller) answer, listed or not, per container for at most CONFIG_LEAD_MS, with
 * the configuration's cache (platform/exact-cache.ts): a copy whose read was issued at L serves calls that started at or before
 * L + CONFIG_LEAD_MS, because every change written after L takes effect later than that (dnc.ts); a later call
 * re-reads. The cache is bounded (MAX_CACHED_CALLERS; past it, it starts again empty).
 *
 * Uploads: the entries of the upload's numbers are read with BatchGetItem (100 keys, strongly consistent), decided
 * (dnc.ts applyDncOp) and the changed ones written with BatchWriteItem (25 puts), UnprocessedKeys / UnprocessedItems
 * retried with backoff. Concurrent uploads to ONE list may interleave (last write wins per entry); uploads to
 * different lists never touch the same item. The list's `count` moves by ADD, so it never loses an update.
 */
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { CONFIG_LEAD_MS } from '../../domain/catalog/config';
import { listsAt, type DncEntry, type DncList, type DncPeriod, type DncSource } from '../../domain/compliance/dnc';
import type { ComplianceReader } from '../../app/rating/ports';
import type { DncStore } from '../../app/compliance/compliance';
import { ExactCache } from '../platform/exact-cache';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { getItem } from '../platform/dynamodb/ddb-ops';

export const dncKeys = {
  listPk: (accountId: string) => `ACCT#${accountId}`,
  listSk: (listId: string) => `DNCLIST#${listId}`,
  listPrefix: 'DNCLIST#',
  entryPk: (accountId: string) => `DNC#${accountId}`,
  entrySk: (callerHash: string, listId: string) => `${callerHash}#${listId}`,
  callerPrefix: (callerHash: string) => `${callerHash}#`,
};

/** Cached (account, caller) answers per container before the cache starts again (~200 B each). */
export const MAX_CACHED_CALLERS = 50_000;
const BATCH_GET = 100;
const BATCH_WRITE = 25;
/** BatchGetItem / BatchWriteItem calls in flight per upload. */
const UPLOAD_CONCURRENCY = 32;
const MAX_ATTEMPTS = 10;

type Item = Record<string, AttributeValue>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stored entry's periods, checked enough that a damaged item fails the call (retried, then alarms). */
function periodsOf(value: unknown): readonly DncPeriod[] {
  const ok = Array.isArray(value) && value.every((p) => typeof p === 'object' && p !== null && !Number.isNaN(Date.parse(p.from)) && (p.until === null || !Number.isNaN(Date.parse(p.until))));
  if (!ok) throw new Error('DNC entry has no valid periods');
  return value as readonly DncPeriod[];
}

function toList(item: Item): DncList {
  const r = unmarshall(item) as Record<string, unknown>;
  return {
    accountId: String(r.accountId),
    listId: String(r.listId),
    name: String(r.name),
    source: r.source as DncSource,
    count: Number(r.count ?? 0),
    createdAt: String(r.createdAt),
    createdBy: String(r.createdBy),
    updatedAt: String(r.updatedAt),
    lastUploadAt: typeof r.lastUploadAt === 'string' ? r.lastUploadAt : null,
  };
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects on the first failure. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface DncRepoOptions {
  mainTable: string;
  client?: DynamoDBClient;
  /** Lifetime of a cached answer (default and at most CONFIG_LEAD_MS = 60 s). */
  cacheTtlMs?: number;
  now?: () => number;
}

export class DncRepo implements ComplianceReader, DncStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private cache: ExactCache<readonly Pick<DncEntry, 'listId' | 'periods'>[]>;
  /**
   * Whether the account has any DNC list, per account under the same exactness rule: an entry can only be in
   * force for a call once its list exists, so "no list" read at L is exact for every call started by L + lead.
   * Accounts without lists (most) then cost one Query per minute per container instead of one per call.
   */
  private readonly hasLists: ExactCache<boolean>;
  private cached = 0;
  /** Reads issued by the writer's reader (for tests and metrics). */
  reads = 0;

  constructor(options: DncRepoOptions) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
    this.ttlMs = Math.min(options.cacheTtlMs ?? CONFIG_LEAD_MS, CONFIG_LEAD_MS);
    this.now = options.now ?? Date.now;
    this.cache = new ExactCache(this.ttlMs, this.now);
    this.hasLists = new ExactCache(this.ttlMs, this.now);
  }

  /** The writer's question (ports.ts ComplianceReader): the lists naming this caller for a call that started then. */
  async dncListed(accountId: string, callerHash: string, forInstantMs: number): Promise<{ readonly listIds: readonly string[] } | null> {
    if (this.cached >= MAX_CACHED_CALLERS) {
      this.cache = new ExactCache(this.ttlMs, this.now);
      this.cached = 0;
    }
    if (!(await this.hasLists.get(accountId, () => this.loadHasLists(accountId), forInstantMs))) return null;
    const entries = await this.cache.get(`${accountId}/${callerHash}`, () => this.loadCaller(accountId, callerHash), forInstantMs);
    const listIds = listsAt(entries, forInstantMs);
    return listIds.length === 0 ? null : { listIds };
  }

  private async loadHasLists(accountId: string): Promise<boolean> {
    this.reads += 1;
    const out = await this.client().send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': { S: dncKeys.listPk(accountId) }, ':prefix': { S: dncKeys.listPrefix } },
        ProjectionExpression: 'sk',
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).length > 0;
  }

  private async loadCaller(accountId: string, callerHash: string): Promise<readonly Pick<DncEntry, 'listId' | 'periods'>[]> {
    this.reads += 1;
    this.cached += 1;
    const out = await this.client().send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': { S: dncKeys.entryPk(accountId) }, ':prefix': { S: dncKeys.callerPrefix(callerHash) } },
        ProjectionExpression: 'listId, periods',
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map((item) => {
      const r = unmarshall(item) as { listId: string; periods: unknown };
      return { listId: r.listId, periods: periodsOf(r.periods) };
    });
  }

  // ------------------------------------------------------------------ lists (management API, uncached)

  async readList(accountId: string, listId: string): Promise<DncList | null> {
    const item = await getItem(this.client(), {
      TableName: this.table,
      Key: marshall({ pk: dncKeys.listPk(accountId), sk: dncKeys.listSk(listId) }),
      ConsistentRead: true,
    });
    return item ? toList(item) : null;
  }

  /** Creates the list or renames it (name, source); count and creation are kept. */
  async putList(args: { accountId: string; listId: string; name: string; source: DncSource; at: string; by: string }): Promise<DncList> {
    const out = await this.client().send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall({ pk: dncKeys.listPk(args.accountId), sk: dncKeys.listSk(args.listId) }),
        UpdateExpression:
          'SET accountId = :a, listId = :l, #name = :n, #source = :s, updatedAt = :at, createdAt = if_not_exists(createdAt, :at), createdBy = if_not_exists(createdBy, :by), #count = if_not_exists(#count, :zero)',
        ExpressionAttributeNames: { '#name': 'name', '#source': 'source', '#count': 'count' },
        ExpressionAttributeValues: marshall({ ':a': args.accountId, ':l': args.listId, ':n': args.name, ':s': args.source, ':at': args.at, ':by': args.by, ':zero': 0 }),
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toList(out.Attributes ?? {});
  }

  async listLists(accountId: string): Promise<DncList[]> {
    const lists: DncList[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.client().send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': { S: dncKeys.listPk(accountId) }, ':prefix': { S: dncKeys.listPrefix } },
          ExclusiveStartKey: startKey,
        }),
      );
      lists.push(...(out.Items ?? []).map(toList));
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return lists;
  }

  /** Moves the list's count by `delta` (ADD: concurrent uploads never lose one) and stamps the upload. */
  async recordUpload(accountId: string, listId: string, delta: number, at: string): Promise<DncList> {
    const out = await this.client().send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall({ pk: dncKeys.listPk(accountId), sk: dncKeys.listSk(listId) }),
        UpdateExpression: 'ADD #count :d SET lastUploadAt = :at, updatedAt = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#count': 'count' },
        ExpressionAttributeValues: marshall({ ':d': delta, ':at': at }),
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toList(out.Attributes ?? {});
  }

  // ------------------------------------------------------------------ entries (uploads)

  /** The list's entries of these callers (strongly consistent BatchGetItem, 100 keys a call). */
  async readEntries(accountId: string, listId: string, callerHashes: readonly string[]): Promise<Map<string, DncEntry>> {
    const found = new Map<string, DncEntry>();
    const pk = dncKeys.entryPk(accountId);
    const suffix = `#${listId}`;
    await eachLimited(chunks(callerHashes, BATCH_GET), UPLOAD_CONCURRENCY, async (hashes) => {
      let keys: Item[] = hashes.map((h) => marshall({ pk, sk: dncKeys.entrySk(h, listId) }));
      for (let attempt = 1; keys.length > 0; attempt++) {
        if (attempt > MAX_ATTEMPTS) throw new Error('DNC readEntries: unprocessed keys after retries');
        if (attempt > 1) await sleep(Math.min(1000, 25 * 2 ** attempt));
        const out = await this.client().send(
          new BatchGetItemCommand({
            RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'sk, listId, periods, updatedAt, updatedBy' } },
          }),
        );
        for (const item of out.Responses?.[this.table] ?? []) {
          const r = unmarshall(item) as { sk: string; listId: string; periods: unknown; updatedAt: string; updatedBy: string };
          found.set(r.sk.slice(0, -suffix.length), { listId: r.listId, periods: periodsOf(r.periods), updatedAt: r.updatedAt, updatedBy: r.updatedBy });
        }
        keys = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
      }
    });
    return found;
  }

  /** Writes entries with BatchWriteItem (25 puts a call), retrying UnprocessedItems with backoff. */
  async writeEntries(accountId: string, entries: readonly { readonly callerHash: string; readonly entry: DncEntry }[]): Promise<void> {
    const pk = dncKeys.entryPk(accountId);
    await eachLimited(chunks(entries, BATCH_WRITE), UPLOAD_CONCURRENCY, async (batch) => {
      let requests: WriteRequest[] = batch.map(({ callerHash, entry }) => ({
        PutRequest: { Item: marshall({ pk, sk: dncKeys.entrySk(callerHash, entry.listId), ...entry }) },
      }));
      for (let attempt = 1; requests.length > 0; attempt++) {
        if (attempt > MAX_ATTEMPTS) throw new Error('DNC writeEntries: unprocessed items after retries');
        if (attempt > 1) await sleep(Math.min(1000, 25 * 2 ** attempt));
        const out = await this.client().send(new BatchWriteItemCommand({ RequestItems: { [this.table]: requests } }));
        requests = out.UnprocessedItems?.[this.table] ?? [];
      }
    });
  }
}
