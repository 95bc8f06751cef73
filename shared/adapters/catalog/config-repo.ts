/**
 * Configuration items of the main table (docs/CONTRACTS.md, "Main table items"): accounts, publishers, campaigns,
 * tracking numbers and API keys, read on the hot path through a per-container cache (platform/exact-cache.ts) and written by
 * the seed loader and the management API.
 */
import { BatchWriteItemCommand, PutItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { asCampaign, asTrackingNumber, campaignFromSeed, CONFIG_LEAD_MS, type NumberItem } from '../../domain/catalog/config';
import type { SeedCampaign } from '../../domain/catalog/config-schema';
import type { Account, FlatCampaign, Campaign, TrackingNumber, Publisher } from '../../domain/catalog/types';
import { ConfigWriteConflict, type ApiKeyRecord, type ConfigStore } from '../../app/kernel/ports';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { errorName, getItem } from '../platform/dynamodb/ddb-ops';
import { mainKeys, type Key } from '../calls/keys';
import { ExactCache } from '../platform/exact-cache';

const N = (n: number): AttributeValue => ({ N: String(n) });

/**
 * One item per publisher, campaign and tracking number (docs/CONTRACTS.md): a campaign's terms versions and a
 * number's assignment history are lists inside its item, so the writer reads each with one cached GetItem and a
 * change is one conditional PutItem on `rev`. Seed-file shapes are converted to the stored ones.
 */
export const configItems = {
  account: (a: Account) => ({ ...mainKeys.account(a.accountId), ...a }),
  /** Validated by the caller (seed file or management API schemas; config-schema.ts), defaults filled. */
  publisher: (p: Publisher) => ({ ...mainKeys.publisher(p.accountId, p.publisherId), ...p }),
  campaign: (c: SeedCampaign | FlatCampaign | Campaign) => {
    const stored = 'termsVersions' in c ? c : campaignFromSeed(c);
    return { ...mainKeys.campaign(stored.accountId, stored.campaignId), ...stored };
  },
  trackingNumber: (t: NumberItem) => {
    const stored = asTrackingNumber(t);
    return { ...mainKeys.trackingNumber(stored.number), ...stored };
  },
  /** The key itself is never stored, only its sha256. */
  apiKey: (keySha256: string, r: ApiKeyRecord) => ({ ...mainKeys.apiKey(keySha256), ...r }),
};

function stripKeys<T>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as T;
}

export interface ConfigRepoOptions {
  mainTable: string;
  client?: DynamoDBClient;
  /** Config cache lifetime (default and at most CONFIG_LEAD_MS = 60 s; misses 5 s). */
  cacheTtlMs?: number;
  negativeCacheTtlMs?: number;
  now?: () => number;
}

/**
 * Configuration items of the main table. The hot-path getters read through a per-container TTL cache (≤ 60 s);
 * campaign and number reads are strongly consistent, so that a copy read at L holds every change written before
 * L (what makes the lead-time argument of config.ts hold). The `read*` methods (management API) bypass the cache.
 */
export class ConfigRepo implements ConfigStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;
  private readonly accounts: ExactCache<Account | null>;
  private readonly campaigns: ExactCache<Campaign | null>;
  private readonly numbers: ExactCache<TrackingNumber | null>;
  private readonly apiKeys: ExactCache<ApiKeyRecord | null>;
  private readonly publishers: ExactCache<Publisher | null>;

  constructor(options: ConfigRepoOptions) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
    const now = options.now ?? Date.now;
    const ttl = Math.min(options.cacheTtlMs ?? CONFIG_LEAD_MS, CONFIG_LEAD_MS);
    const negative = options.negativeCacheTtlMs ?? 5_000;
    this.accounts = new ExactCache(ttl, now, negative);
    this.campaigns = new ExactCache(ttl, now, negative);
    this.numbers = new ExactCache(ttl, now, negative);
    this.apiKeys = new ExactCache(ttl, now, negative);
    this.publishers = new ExactCache(ttl, now, negative);
  }

  /** A publisher (cached: the writer asks for its declared traffic methods, which decide whether consent is needed). */
  getPublisher(accountId: string, publisherId: string): Promise<Publisher | null> {
    return this.publishers.get(`${accountId}/${publisherId}`, () => this.getConfig<Publisher>(mainKeys.publisher(accountId, publisherId)));
  }

  getAccount(accountId: string): Promise<Account | null> {
    return this.accounts.get(accountId, () => this.getConfig<Account>(mainKeys.account(accountId)));
  }

  getCampaign(accountId: string, campaignId: string, forInstantMs?: number): Promise<Campaign | null> {
    return this.campaigns.get(`${accountId}/${campaignId}`, () => this.readCampaign(accountId, campaignId), forInstantMs);
  }

  getTrackingNumber(e164: string, forInstantMs?: number): Promise<TrackingNumber | null> {
    return this.numbers.get(e164, () => this.readTrackingNumber(e164), forInstantMs);
  }

  getApiKey(keySha256: string): Promise<ApiKeyRecord | null> {
    return this.apiKeys.get(keySha256, () => this.getConfig<ApiKeyRecord>(mainKeys.apiKey(keySha256)));
  }

  // Uncached, strongly consistent reads (management API; cache loads).

  readPublisher(accountId: string, publisherId: string): Promise<Publisher | null> {
    return this.getConfig<Publisher>(mainKeys.publisher(accountId, publisherId), true);
  }

  async readCampaign(accountId: string, campaignId: string): Promise<Campaign | null> {
    const item = await this.getConfig<Campaign | FlatCampaign>(mainKeys.campaign(accountId, campaignId), true);
    return item === null ? null : asCampaign(item);
  }

  async readTrackingNumber(e164: string): Promise<TrackingNumber | null> {
    const item = await this.getConfig<NumberItem>(mainKeys.trackingNumber(e164), true);
    return item === null ? null : asTrackingNumber(item);
  }

  /** Creates or replaces a publisher; true when it was created. */
  async putPublisher(p: Publisher): Promise<boolean> {
    const out = await this.client().send(
      new PutItemCommand({
        TableName: this.table,
        Item: marshall({ ...mainKeys.publisher(p.accountId, p.publisherId), ...p }, { removeUndefinedValues: true }),
        ReturnValues: 'ALL_OLD',
      }),
    );
    return out.Attributes === undefined;
  }

  /** Writes a campaign if its stored `rev` is still `expectedRev` (null: it must not exist yet). */
  async putCampaign(c: Campaign, expectedRev: number | null): Promise<void> {
    await this.putConditional(configItems.campaign(c), expectedRev, `campaign ${c.campaignId}`);
    this.campaigns.delete(`${c.accountId}/${c.campaignId}`);
  }

  /** Writes a tracking number if its stored `rev` is still `expectedRev` (null: it must not exist yet). */
  async putTrackingNumber(n: TrackingNumber, expectedRev: number | null): Promise<void> {
    await this.putConditional(configItems.trackingNumber(n), expectedRev, `tracking number ${n.number}`);
    this.numbers.delete(n.number);
  }

  private async putConditional(item: Record<string, unknown>, expectedRev: number | null, what: string): Promise<void> {
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall(item, { removeUndefinedValues: true }),
          ...(expectedRev === null
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': N(expectedRev) } }),
        }),
      );
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException' || errorName(err) === 'TransactionConflictException') throw new ConfigWriteConflict(what);
      throw err;
    }
  }

  /** Writes configuration items (see `configItems`), 25 per BatchWriteItem, retrying unprocessed ones. */
  async putConfigItems(items: readonly Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < items.length; i += 25) {
      let requests = items.slice(i, i + 25).map((item) => ({ PutRequest: { Item: marshall(item, { removeUndefinedValues: true }) } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 8) throw new Error('putConfigItems: unprocessed items after retries');
        const out = await this.client().send(
          new BatchWriteItemCommand({ RequestItems: { [this.table]: requests } }),
        );
        requests = (out.UnprocessedItems?.[this.table] ?? []) as typeof requests;
        if (requests.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }

  private async getConfig<T>(key: Key, consistent = false): Promise<T | null> {
    const item = await getItem(this.client(), { TableName: this.table, Key: marshall(key), ConsistentRead: consistent });
    return item ? stripKeys<T>(unmarshall(item)) : null;
  }
}
