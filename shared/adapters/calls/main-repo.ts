/**
 * The main table (docs/CONTRACTS.md, "Main table items"): configuration lookups, call items with one slot per
 * event, the rating transaction and the duplicate-window markers.
 *
 * Every request is counted by the client's accounting middleware (ddb-stats.ts); the call-item writes carry their
 * price under AWS's capacity rules (capacity.ts, `priceWrite`). How events and ratings are stored compactly: call-item.ts.
 */
import {
  BatchWriteItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type UpdateItemCommandOutput,
  type AttributeValue,
  type CancellationReason,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { TABLES } from '../../../infra/resources';
import { foldCall, isChildLeg, slotName } from '../../domain/calls/fold';
import { ledgerSortKey } from '../../domain/ledger/charges';
import { withContentHash } from '../../domain/ledger/tamper';
import { asCampaignConfig, asNumberConfig, campaignFromSeed, CONFIG_LEAD_MS, type NumberRecord } from '../../domain/catalog/config';
import type { SeedCampaign } from '../../domain/catalog/config-schema';
import { moveRefusal, netPilotMovements, type CounterMove, type PilotCharge, type PilotMovement } from '../../domain/pilots/caps';
import type { LedgerEntryV2 } from '../../domain/ledger/entries';
import { decodeWindow, encodeWindow, windowCondition } from '../rating/duplicate-marker';
import { decodeCrossCallFlags } from '../../domain/quality/signals';
import type { Account, CallEvent, Campaign, CampaignConfig, LedgerEntry, NumberConfig, Publisher, RatingDecision } from '../../domain/kernel/types';
import {
  CallAccountMismatch,
  ConfigWriteConflict,
  WriteConflict,
  type ApiKeyRecord,
  type CallQuery,
  type CallStore,
  type CommitOutcome,
  type ConfigStore,
  type StoredWindow,
  type WindowKey,
  type WindowRerate,
  type WindowWrite,
  type Page,
  type RatedCall,
  type Rerating,
  type StoredCall,
  type StoredRecording,
} from '../../app/kernel/ports';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { backoffMs } from '../../app/kernel/concurrency';
import { LEDGER_BY_CREATED_AT } from '../ledger/ledger-repo';
import { priceWrite } from '../platform/dynamodb/ddb-stats';
import {
  decodeCallerTraits,
  decodeOutcome,
  decodeQa,
  decodeRating,
  decodeRecording,
  decodeSlot,
  encodeCallerTraits,
  encodeRating,
  encodeRecording,
  encodeSlot,
  isSlotAttribute,
} from './call-item';
import { estimateWcu, gsiWcu, updateWcu, type IndexShape, type Item } from '../platform/dynamodb/capacity';
import { decodeCursor, encodeCursor } from '../http/cursor';
import type { CallerCipher } from '../../domain/privacy/pii';
import { errorName, getItem } from '../platform/dynamodb/ddb-ops';

// ------------------------------------------------------------------ keys

type Key = { pk: string; sk: string };

export const mainKeys = {
  account: (accountId: string): Key => ({ pk: `ACCT#${accountId}`, sk: 'ACCOUNT' }),
  publisher: (accountId: string, publisherId: string): Key => ({ pk: `ACCT#${accountId}`, sk: `PUB#${publisherId}` }),
  campaign: (accountId: string, campaignId: string): Key => ({ pk: `ACCT#${accountId}`, sk: `CAMP#${campaignId}` }),
  trackingNumber: (e164: string): Key => ({ pk: `NUM#${e164}`, sk: 'NUM' }),
  apiKey: (keySha256: string): Key => ({ pk: `APIKEY#${keySha256}`, sk: 'APIKEY' }),
  call: (callId: string): Key => ({ pk: `CALL#${callId}`, sk: 'CALL' }),
  /** Campaign ids are unique per account only, so the account is part of the marker's key. */
  duplicate: (accountId: string, campaignId: string, callerHash: string): Key => ({ pk: `DUP#${accountId}#${campaignId}#${callerHash}`, sk: 'DUP' }),
  /** A pilot's spend counter (pilot-terms.ts): what the rating transaction conditions the cap on. */
  pilotCounter: (accountId: string, pilotId: string): Key => ({ pk: `PILOT#${accountId}#${pilotId}`, sk: 'COUNTER' }),
  /** A pilot's spend on one day of its zone (`YYYY-MM-DD`), for the daily cap; a new day is a new item. */
  pilotDay: (accountId: string, pilotId: string, date: string): Key => ({ pk: `PILOT#${accountId}#${pilotId}`, sk: `DAY#${date}` }),
  /** Events of `accountId` refused because the call belongs to another account (one item per claimed call). */
  callConflict: (accountId: string, callId: string): Key => ({ pk: `CONFLICT#${accountId}`, sk: `CALL#${callId}` }),
};

/** A refused call's record is kept as long as the raw webhooks it refers to (BUCKETS.archive expires them at 400 days). */
const CONFLICT_RETENTION_DAYS = 400;

/** Calls of an account by start time (gsi1). */
export const callIndex = {
  pk: (accountId: string) => `ACCT#${accountId}`,
  sk: (startedAt: string, callId: string) => `${startedAt}#${callId}`,
};

/**
 * Connected calls of a caller (gsi2, KEYS_ONLY) and calls of a campaign (gsi3, ALL), issue 5. Both sort on the gsi1sk
 * attribute (`callIndex.sk`; infra/resources.ts says why), so only the partition attribute is written for them.
 */
export const callerIndex = {
  name: 'gsi2',
  pk: (accountId: string, callerHash: string) => `CALLER#${accountId}#${callerHash}`,
};
export const campaignIndex = {
  name: 'gsi3',
  pk: (accountId: string, campaignId: string) => `CAMP#${accountId}#${campaignId}`,
};

// ------------------------------------------------------------------ configuration items (seed loader and management API)

/**
 * One item per publisher, campaign and tracking number (docs/CONTRACTS.md): a campaign's terms versions and a
 * number's assignment history are lists inside its item, so the writer reads each with one cached GetItem and a
 * change is one conditional PutItem on `rev`. Seed-file (and issue-2) shapes are converted to the stored ones.
 */
export const configItems = {
  account: (a: Account) => ({ ...mainKeys.account(a.accountId), ...a }),
  /** Validated by the caller (seed file or management API schemas; config-schema.ts), defaults filled. */
  publisher: (p: Publisher) => ({ ...mainKeys.publisher(p.accountId, p.publisherId), ...p }),
  campaign: (c: SeedCampaign | Campaign | CampaignConfig) => {
    const stored = 'termsVersions' in c ? c : campaignFromSeed(c);
    return { ...mainKeys.campaign(stored.accountId, stored.campaignId), ...stored };
  },
  trackingNumber: (t: NumberRecord) => {
    const stored = asNumberConfig(t);
    return { ...mainKeys.trackingNumber(stored.number), ...stored };
  },
  /** The key itself is never stored, only its sha256. */
  apiKey: (keySha256: string, r: ApiKeyRecord) => ({ ...mainKeys.apiKey(keySha256), ...r }),
};

function stripKeys<T>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as T;
}

// ------------------------------------------------------------------ event slots

/** One event per slot: two events for the same slot in one request would overlap (first eventId wins). */
function uniqueSlots(events: readonly CallEvent[]): Map<string, CallEvent> {
  const sorted = [...events].sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  const slots = new Map<string, CallEvent>();
  for (const e of sorted) if (!slots.has(slotName(e))) slots.set(slotName(e), e);
  return slots;
}

// ------------------------------------------------------------------ update expressions

class UpdateBuilder {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, AttributeValue> = {};
  private readonly sets: string[] = [];
  /** What the SET clauses assign, so the capacity model can compute the item after the update. */
  private readonly assigned: { attr: string; value: AttributeValue; ifNotExists: boolean }[] = [];
  private n = 0;
  private v = 0;

  name(attr: string): string {
    const k = `#a${this.n++}`;
    this.names[k] = attr;
    return k;
  }

  value(val: AttributeValue): string {
    const k = `:v${this.v++}`;
    this.values[k] = val;
    return k;
  }

  set(attr: string, val: AttributeValue): this {
    this.sets.push(`${this.name(attr)} = ${this.value(val)}`);
    this.assigned.push({ attr, value: val, ifNotExists: false });
    return this;
  }

  /** `attr = :existing` for a placeholder already made with value(). */
  setTo(attr: string, placeholder: string): this {
    this.sets.push(`${this.name(attr)} = ${placeholder}`);
    this.assigned.push({ attr, value: this.values[placeholder]!, ifNotExists: false });
    return this;
  }

  setIfNotExists(attr: string, val: AttributeValue): this {
    const n = this.name(attr);
    this.sets.push(`${n} = if_not_exists(${n}, ${this.value(val)})`);
    this.assigned.push({ attr, value: val, ifNotExists: true });
    return this;
  }

  expression(): string {
    return `SET ${this.sets.join(', ')}`;
  }

  /** The item after this update, given the item before it (null: the update creates it with `key`). */
  applyTo(before: Item | null, key: Item): Item {
    const after: Item = { ...(before ?? key) };
    for (const a of this.assigned) if (!a.ifNotExists || after[a.attr] === undefined) after[a.attr] = a.value;
    return after;
  }
}

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

/** Writes the event slots (first write wins) and the account; returns the `:acct` placeholder. */
function setSlotsAndAccount(b: UpdateBuilder, accountId: string, events: readonly CallEvent[]): string {
  for (const [slot, e] of uniqueSlots(events)) b.setIfNotExists(slot, encodeSlot(e));
  const acct = b.value(S(accountId));
  b.setTo('accountId', acct);
  return acct;
}

/**
 * Whether the rated call connected (terminal status `completed`), from the events the rating was made with: the
 * terminal event is always among them (process-ingest-batch.ts folds it from the same list). Falls back on the
 * decision's `not_connected` rule; unknown → false (the call then stays out of the caller index).
 */
function ratedConnected(events: readonly CallEvent[], d: RatingDecision): boolean {
  const own = events.filter((e) => !isChildLeg(e));
  const terminal = own.length > 0 ? foldCall(own).terminal : null;
  if (terminal !== null) return terminal.status === 'completed';
  return d.rules.find((r) => r.rule === 'not_connected')?.inputs.status === 'completed';
}

/** The rating fields, written once with the rating (absent optional fields are not written: bytes cost WCU). */
function setRating(b: UpdateBuilder, callId: string, accountId: string, rated: RatedCall, events: readonly CallEvent[], callerEnc: string | null): void {
  const d = rated.decision;
  b.set('rating', encodeRating(d))
    .set('ratedAt', S(rated.ratedAt))
    .set('startedAt', S(rated.startedAt))
    .set('endedAt', S(rated.endedAt))
    .set('durationSec', N(rated.durationSec))
    .set('billable', { BOOL: d.billable })
    .set('amountCents', N(d.amountCents))
    .set('gsi1pk', S(callIndex.pk(accountId)))
    .set('gsi1sk', S(callIndex.sk(rated.startedAt, callId)));
  if (d.campaignId !== null) b.set('campaignId', S(d.campaignId));
  if (d.publisherId !== null) b.set('publisherId', S(d.publisherId));
  if (d.subSource !== null) b.set('subSource', S(d.subSource));
  if (rated.callerHash !== null) b.set('callerHash', S(rated.callerHash));
  // The number itself only sealed (shared/domain/privacy/pii.ts); items written before issue 6 carry a clear `callerE164`.
  if (callerEnc !== null) b.set('callerEnc', S(callerEnc));
  // Issue 6: the slots carry no number; what re-rating and the quality pass need of the caller (call-item.ts).
  if (rated.callerTraits != null) b.set('ct', encodeCallerTraits(rated.callerTraits));
  // The issue-5 indexes (sparse; their sort key is gsi1sk): a campaign's calls, and a caller's connected calls.
  if (d.campaignId !== null) b.set('gsi3pk', S(campaignIndex.pk(accountId, d.campaignId)));
  if (rated.callerHash !== null && ratedConnected(events, d)) b.set('gsi2pk', S(callerIndex.pk(accountId, rated.callerHash)));
}

/** `attribute_not_exists(pk) OR accountId = :acct`: the call is new or already this account's. */
function sameAccountCondition(b: UpdateBuilder, acct: string): string {
  return `(attribute_not_exists(${b.name('pk')}) OR ${b.name('accountId')} = ${acct})`;
}

function notRatedCondition(b: UpdateBuilder, acct: string): string {
  return `attribute_not_exists(${b.name('rating')}) AND ${sameAccountCondition(b, acct)}`;
}

/**
 * The condition of a call's rating write: not rated yet, or, for a re-rating, still rated as it was read
 * (`ratedAt` is unique per rating write) and not billable, so a re-rating never touches a charged call.
 */
function ratingCondition(b: UpdateBuilder, acct: string, rerate: Rerating | undefined): string {
  if (rerate === undefined) return notRatedCondition(b, acct);
  return `${b.name('ratedAt')} = ${b.value(S(rerate.expectRatedAt))} AND ${b.name('billable')} = ${b.value({ BOOL: false })} AND ${b.name('accountId')} = ${acct}`;
}

/** A call item (table or gsi1/gsi3 image) as the StoredCall the use cases read. */
export function parseCall(item: Record<string, AttributeValue>): StoredCall {
  const raw = unmarshall(item) as Record<string, unknown>;
  const callId = (raw.pk as string).slice('CALL#'.length);
  const accountId = raw.accountId as string;
  const events: CallEvent[] = [];
  for (const [attr, value] of Object.entries(raw)) {
    if (isSlotAttribute(attr) && typeof value === 'object' && value !== null) {
      events.push(decodeSlot(attr, value as Record<string, unknown>, accountId, callId));
    }
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const startedAt = str(raw.startedAt);
  const rating: RatingDecision | null =
    typeof raw.rating === 'object' && raw.rating !== null
      ? decodeRating(
          raw.rating as Record<string, unknown>,
          {
            billable: raw.billable === true,
            amountCents: Number(raw.amountCents),
            campaignId: str(raw.campaignId),
            publisherId: str(raw.publisherId),
            subSource: str(raw.subSource),
          },
          events.length > 0 ? foldCall(events).terminal : null,
          startedAt,
        )
      : null;
  return {
    callId,
    accountId,
    events,
    rating,
    ratedAt: str(raw.ratedAt),
    startedAt,
    endedAt: str(raw.endedAt),
    durationSec: typeof raw.durationSec === 'number' ? raw.durationSec : null,
    recording: typeof raw.recording === 'object' && raw.recording !== null ? decodeRecording(raw.recording as Record<string, unknown>) : null,
    outcome: typeof raw.outcome === 'object' && raw.outcome !== null ? decodeOutcome(raw.outcome as Record<string, unknown>) : null,
    qa: typeof raw.qa === 'object' && raw.qa !== null ? decodeQa(raw.qa as Record<string, unknown>) : null,
    credits: typeof raw.creditCents === 'number' ? { cents: raw.creditCents, count: typeof raw.creditCount === 'number' ? raw.creditCount : 1 } : null,
    // Reversals of its charges (the duplicate window moved them to an earlier call), added by the rating transaction.
    ...(typeof raw.revCount === 'number'
      ? { reversals: { chargeCents: Number(raw.revChargeCents ?? 0), cents: Number(raw.revCents ?? 0), count: raw.revCount } }
      : {}),
    ...(typeof raw.callerEnc === 'string' ? { callerEnc: raw.callerEnc } : {}),
    ...(typeof raw.callerHash === 'string' ? { callerHash: raw.callerHash } : {}),
    // Issue 6: what the scheduled quality pass flagged (attribute `xq`, shared/app/quality/quality-pass.ts); flags only.
    ...(raw.xq !== undefined ? { crossCall: decodeCrossCallFlags(raw.xq) } : {}),
    // Migration: items rated before issue 6 kept the number in clear; still read (and masked for analysts).
    ...(typeof raw.callerE164 === 'string' ? { callerE164: raw.callerE164 } : {}),
    // Issue 6: what the rating recorded of the caller instead of the number (the slots no longer carry `from`).
    ...callerTraitsOf(raw.ct),
    // Issue 6 (shared/adapters/privacy/privacy-repo.ts): the legal hold of an open dispute, the erasure of a deletion request.
    ...holdAndErasure(raw),
  };
}

function callerTraitsOf(value: unknown): Pick<StoredCall, 'callerTraits'> {
  const traits = decodeCallerTraits(value);
  return traits === null ? {} : { callerTraits: traits };
}

/** The `hold` and `erasure` Maps of a call item (privacy-repo.ts writes them), as StoredCall fields. */
function holdAndErasure(raw: Record<string, unknown>): Pick<StoredCall, 'legalHold' | 'erasure'> {
  const map = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null);
  const iso = (v: unknown) => (typeof v === 'number' ? new Date(v).toISOString() : String(v));
  const hold = map(raw.hold);
  const erasure = map(raw.erasure);
  return {
    ...(hold !== null ? { legalHold: { disputeId: String(hold.d), at: iso(hold.a) } } : {}),
    ...(erasure !== null ? { erasure: { deletionId: String(erasure.d), at: iso(erasure.a), recordingPending: erasure.p === true } } : {}),
  };
}

// ------------------------------------------------------------------ cache

/**
 * A small per-container TTL cache for configuration, which changes rarely and is read on every event. Each entry
 * remembers when its read was issued (`loadedAtMs`), so a caller can ask for a copy that is exact at an instant
 * (see `get`).
 */
class TtlCache<T> {
  private readonly entries = new Map<string, { value: T | null; loadedAtMs: number; expiresAtMs: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly negativeTtlMs: number,
    private readonly now: () => number,
  ) {}

  /**
   * `exactForMs`: a cached copy is used only if it was read no more than CONFIG_LEAD_MS before that instant:
   * every change written after the read takes effect later than that (config.ts), so the copy is exact for it.
   * An instant more than CONFIG_LEAD_MS ahead of now (a future-dated call) cannot be made exact by any read (a
   * change written later may still take effect before it), so none is made for it: the cached copy serves.
   */
  async get(key: string, load: () => Promise<T | null>, exactForMs?: number): Promise<T | null> {
    const hit = this.entries.get(key);
    const nowMs = this.now();
    const exact = exactForMs === undefined || (hit !== undefined && exactForMs <= hit.loadedAtMs + CONFIG_LEAD_MS) || exactForMs > nowMs + CONFIG_LEAD_MS;
    if (hit !== undefined && hit.expiresAtMs > nowMs && exact) return hit.value;
    const value = await load();
    // Misses are cached briefly too, so a flood of webhooks for an unknown account does not become reads.
    this.entries.set(key, { value, loadedAtMs: nowMs, expiresAtMs: nowMs + (value === null ? this.negativeTtlMs : this.ttlMs) });
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}

// ------------------------------------------------------------------ repository

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
  private readonly accounts: TtlCache<Account>;
  private readonly campaigns: TtlCache<CampaignConfig>;
  private readonly numbers: TtlCache<NumberConfig>;
  private readonly apiKeys: TtlCache<ApiKeyRecord>;
  private readonly publishers: TtlCache<Publisher>;

  constructor(options: ConfigRepoOptions) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
    const now = options.now ?? Date.now;
    const ttl = Math.min(options.cacheTtlMs ?? CONFIG_LEAD_MS, CONFIG_LEAD_MS);
    const negative = options.negativeCacheTtlMs ?? 5_000;
    this.accounts = new TtlCache(ttl, negative, now);
    this.campaigns = new TtlCache(ttl, negative, now);
    this.numbers = new TtlCache(ttl, negative, now);
    this.apiKeys = new TtlCache(ttl, negative, now);
    this.publishers = new TtlCache(ttl, negative, now);
  }

  /** A publisher (cached: the writer asks for its declared traffic methods, which decide whether consent is needed). */
  getPublisher(accountId: string, publisherId: string): Promise<Publisher | null> {
    return this.publishers.get(`${accountId}/${publisherId}`, () => this.getConfig<Publisher>(mainKeys.publisher(accountId, publisherId)));
  }

  getAccount(accountId: string): Promise<Account | null> {
    return this.accounts.get(accountId, () => this.getConfig<Account>(mainKeys.account(accountId)));
  }

  getCampaign(accountId: string, campaignId: string, forInstantMs?: number): Promise<CampaignConfig | null> {
    return this.campaigns.get(`${accountId}/${campaignId}`, () => this.readCampaign(accountId, campaignId), forInstantMs);
  }

  getTrackingNumber(e164: string, forInstantMs?: number): Promise<NumberConfig | null> {
    return this.numbers.get(e164, () => this.readTrackingNumber(e164), forInstantMs);
  }

  getApiKey(keySha256: string): Promise<ApiKeyRecord | null> {
    return this.apiKeys.get(keySha256, () => this.getConfig<ApiKeyRecord>(mainKeys.apiKey(keySha256)));
  }

  // Uncached, strongly consistent reads (management API; cache loads).

  readPublisher(accountId: string, publisherId: string): Promise<Publisher | null> {
    return this.getConfig<Publisher>(mainKeys.publisher(accountId, publisherId), true);
  }

  async readCampaign(accountId: string, campaignId: string): Promise<CampaignConfig | null> {
    const item = await this.getConfig<CampaignConfig | Campaign>(mainKeys.campaign(accountId, campaignId), true);
    return item === null ? null : asCampaignConfig(item);
  }

  async readTrackingNumber(e164: string): Promise<NumberConfig | null> {
    const item = await this.getConfig<NumberRecord>(mainKeys.trackingNumber(e164), true);
    return item === null ? null : asNumberConfig(item);
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
  async putCampaign(c: CampaignConfig, expectedRev: number | null): Promise<void> {
    await this.putConditional(configItems.campaign(c), expectedRev, `campaign ${c.campaignId}`);
    this.campaigns.delete(`${c.accountId}/${c.campaignId}`);
  }

  /** Writes a tracking number if its stored `rev` is still `expectedRev` (null: it must not exist yet). */
  async putTrackingNumber(n: NumberConfig, expectedRev: number | null): Promise<void> {
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


/** A main-table index as the capacity model sees it (infra/resources.ts). */
function indexShape(def: (typeof TABLES.main.globalSecondaryIndexes)[number]): IndexShape {
  return {
    partitionKey: def.partitionKey.name,
    sortKey: def.sortKey.name,
    projected: 'projection' in def && def.projection === 'KEYS_ONLY' ? [] : 'ALL',
    tableKeys: [TABLES.main.partitionKey.name, TABLES.main.sortKey.name],
  };
}
/**
 * Every index of the main table a call item can enter: gsi1 (ALL), gsi2 (connected calls by caller, KEYS_ONLY: a
 * write costs 1 WCU when the call enters it and nothing afterwards) and gsi3 (calls by campaign, ALL: like gsi1,
 * every later write of a rated call item that changes it costs one more index write per KB).
 */
export const CALL_INDEXES: readonly IndexShape[] = TABLES.main.globalSecondaryIndexes.map(indexShape);

/**
 * The pilot counter updates of a rating transaction (pilot-terms.ts), one per counter item with the plan's movements
 * summed (netPilotMovements). DynamoDB conditions cannot add, so the limits are passed pre-subtracted:
 * `spentCents <= cap - delta` is `spent + delta <= cap`, only when the sum counts more. A counted charge needs the
 * counter open (a closed or stopped pilot charges nothing); a day item is created by its first charge, and one that
 * gives a charge back exists (it counted it).
 */
function pilotCounterUpdates(table: string, m: CounterMove): TransactItem[] {
  const conditions = ['attribute_exists(spentCents)'];
  const values: Record<string, AttributeValue> = { ':p': N(m.deltaCents), ':c': N(m.deltaCalls) };
  if (m.counts) {
    conditions.push('#open = :true');
    values[':true'] = { BOOL: true };
  }
  if (m.deltaCents > 0) {
    conditions.push('spentCents <= :maxBefore');
    values[':maxBefore'] = N(m.spendCapCents - m.deltaCents);
  }
  if (m.maxBillableCalls !== null && m.deltaCalls > 0) {
    conditions.push('billableCalls <= :maxCalls');
    values[':maxCalls'] = N(m.maxBillableCalls - m.deltaCalls);
  }
  const total: TransactItem = {
    Update: {
      TableName: table,
      Key: marshall(mainKeys.pilotCounter(m.accountId, m.pilotId)),
      UpdateExpression: 'SET spentCents = spentCents + :p, billableCalls = billableCalls + :c',
      ConditionExpression: conditions.join(' AND '),
      ...(m.counts ? { ExpressionAttributeNames: { '#open': 'open' } } : {}),
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
  const days = m.days.map(
    (d): TransactItem => ({
      Update: {
        TableName: table,
        Key: marshall(mainKeys.pilotDay(m.accountId, m.pilotId, d.date)),
        UpdateExpression: 'SET spentCents = if_not_exists(spentCents, :zero) + :p, billableCalls = if_not_exists(billableCalls, :zero) + :c',
        ConditionExpression: d.givesBack
          ? 'attribute_exists(spentCents)' + (d.deltaCents > 0 ? ' AND spentCents <= :maxBefore' : '')
          : 'attribute_not_exists(spentCents) OR spentCents <= :maxBefore',
        ExpressionAttributeValues: {
          ':p': N(d.deltaCents),
          ':c': N(d.deltaCalls),
          ':zero': N(0),
          ...(d.givesBack && d.deltaCents <= 0 ? {} : { ':maxBefore': N(d.dailyCapCents - d.deltaCents) }),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    }),
  );
  return [total, ...days];
}

type TransactItem = NonNullable<ConstructorParameters<typeof TransactWriteItemsCommand>[0]['TransactItems']>[number];

/** One item of the rating transaction, what it is (to read its cancellation reason) and its AWS-model price. */
interface TxPart {
  readonly tag:
    | { readonly kind: 'call'; readonly callId: string }
    | { readonly kind: 'entry'; readonly entryId: string; readonly rerateOf: string | null }
    | { readonly kind: 'marker' }
    | { readonly kind: 'rerate'; readonly callId: string }
    | { readonly kind: 'pilot'; readonly move: CounterMove; readonly which: string | null };
  readonly item: TransactItem;
  readonly wcu: () => number;
}

/** How many call items a CallRepo remembers the last image of (for the capacity model only). */
const KNOWN_IMAGES = 1000;

/** Call items, the rating transaction and the duplicate-window markers. */
export class CallRepo implements CallStore {
  private readonly table: string;
  private readonly ledgerTable: string | undefined;
  private readonly client: () => DynamoDBClient;
  /**
   * The last image of recently written or read call items. Single-item updates learn the image before them from
   * ReturnValues=ALL_OLD (free: no extra capacity); a transaction cannot return it, so the capacity model prices
   * the rating transaction's update against the image remembered here. Exact when this container wrote or read
   * the item last (always so for the benchmark and the local stack); otherwise the model sees only what the
   * transaction writes, a lower bound.
   */
  private readonly images = new Map<string, Item>();
  private readonly pii: CallerCipher | undefined;

  constructor(options: CallRepoOptions) {
    this.table = options.mainTable;
    this.ledgerTable = options.ledgerTable;
    this.pii = options.pii;
    const client = options.client;
    this.client = dynamodbClient(client);
  }

  /** The rated caller's number sealed for this call (null: anonymous, or no cipher configured). */
  private async sealCaller(callId: string, accountId: string, rated: RatedCall): Promise<string | null> {
    if (rated.callerE164 === null || this.pii === undefined) return null;
    return this.pii.encryptCaller(rated.callerE164, { accountId, callId });
  }

  private remember(callId: string, image: Item): void {
    this.images.delete(callId);
    this.images.set(callId, image);
    if (this.images.size > KNOWN_IMAGES) this.images.delete(this.images.keys().next().value!);
  }

  /** An UpdateItem of the call item; returns the AWS-model WCU (table + gsi1) and remembers the new image. */
  private priceUpdate(callId: string, b: UpdateBuilder, before: Item | null, transactional: boolean): number {
    const after = b.applyTo(before, marshall(mainKeys.call(callId)));
    this.remember(callId, after);
    return updateWcu(before, after, { transactional }) + CALL_INDEXES.reduce((sum, index) => sum + gsiWcu(before, after, index), 0);
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
    await this.client().send(priceWrite(command, (out: UpdateItemCommandOutput) => this.priceUpdate(callId, b, out.Attributes ?? null, false)));
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
    entry: LedgerEntry | null;
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
        wcu: () => this.priceUpdate(callId, b, this.images.get(callId) ?? null, true),
      },
    ];
    if (entry !== null) arriving.push(this.entryPart(entry, null));
    const movements = args.pilot == null ? [] : [{ kind: 'charge' as const, charge: args.pilot }];
    return this.transact(accountId, arriving, args.window, args.rerates ?? [], movements);
  }

  async commitWindow(args: { accountId: string; window: WindowWrite; rerates: readonly WindowRerate[] }): Promise<Exclude<CommitOutcome, { outcome: 'already_rated' }>> {
    const out = await this.transact(args.accountId, [], args.window, args.rerates, []);
    if (out.outcome === 'already_rated') throw new Error('commitWindow: no arriving call to be rated');
    return out;
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
          if (item) this.remember(id, item);
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

  /** A ledger entry Put (with its content hash, tamper.ts), conditional on its deterministic key being free. */
  private entryPart(entry: LedgerEntryV2, rerateOf: string | null): TxPart {
    if (this.ledgerTable === undefined) throw new Error('CallRepo: the rating transaction needs the ledger table');
    // The entry carries its content hash so `GET /v1/ledger/verify` detects an edit made behind the API.
    const item = marshall({ pk: `ACCT#${entry.accountId}`, sk: ledgerSortKey(entry), ...withContentHash(entry) }, { removeUndefinedValues: true });
    return {
      tag: { kind: 'entry', entryId: entry.entryId, rerateOf },
      item: { Put: { TableName: this.ledgerTable, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
      // The ledger's createdAt index (KEYS_ONLY) takes a copy of the entry's keys: index writes are not doubled.
      wcu: () => estimateWcu(item, { transactional: true }) + gsiWcu(null, item, LEDGER_BY_CREATED_AT),
    };
  }

  /**
   * The rating transaction (docs/CONTRACTS.md, "Rating a call"): the arriving call's parts, then the duplicate
   * marker's next state (conditional on the version the plan was made from), then each re-rated call of the window
   * with its entry, then the pilots' counters with the plan's movements summed per item.
   */
  private async transact(
    accountId: string,
    arriving: readonly TxPart[],
    window: WindowWrite | null,
    rerates: readonly WindowRerate[],
    arrivingMovements: readonly PilotMovement[],
  ): Promise<CommitOutcome> {
    const moves = netPilotMovements([...arrivingMovements, ...rerates.flatMap((r) => (r.pilot === null ? [] : [r.pilot]))]);
    // A day's first charge creates the day item, whose condition (`attribute_not_exists`) cannot also compare the
    // amount with the daily cap: an amount above the daily cap is refused here, before any write.
    for (const m of moves) for (const d of m.days) if (!d.givesBack && d.deltaCents > d.dailyCapCents) return { outcome: 'over_cap', pilotId: m.pilotId, refusal: 'daily_cap' };

    const parts: TxPart[] = [...arriving];
    if (window !== null) {
      const markerItem = marshall({ ...mainKeys.duplicate(accountId, window.key.scope, window.key.callerHash), ...unmarshall(encodeWindow(window.next)) });
      const cond = windowCondition(window.expect);
      parts.push({
        tag: { kind: 'marker' },
        item: {
          Put: {
            TableName: this.table,
            Item: markerItem,
            ConditionExpression: cond.expression,
            ExpressionAttributeNames: cond.names,
            ...(Object.keys(cond.values).length > 0 ? { ExpressionAttributeValues: cond.values } : {}),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        wcu: () => estimateWcu(markerItem, { transactional: true }),
      });
    }
    for (const r of rerates) {
      parts.push(this.reratePart(accountId, r));
      if (r.entry !== null) parts.push(this.entryPart(r.entry, r.callId));
    }
    for (const m of moves) {
      const [total, ...days] = pilotCounterUpdates(this.table, m);
      parts.push({ tag: { kind: 'pilot', move: m, which: null }, item: total!, wcu: () => 2 });
      m.days.forEach((d, i) => parts.push({ tag: { kind: 'pilot', move: m, which: d.date }, item: days[i]!, wcu: () => 2 }));
    }
    if (parts.length > 100) throw new Error(`rating transaction of ${parts.length} items (> 100) for ${accountId}`);

    try {
      const command = new TransactWriteItemsCommand({ TransactItems: parts.map((p) => p.item) });
      await this.client().send(priceWrite(command, () => parts.reduce((sum, p) => sum + p.wcu(), 0)));
      return { outcome: 'committed' };
    } catch (err) {
      if (errorName(err) === 'TransactionConflictException') return { outcome: 'conflict' };
      if (errorName(err) !== 'TransactionCanceledException') throw err;
      return this.cancelled(accountId, parts, (err as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? []);
    }
  }

  /**
   * The update of a call re-rated by a duplicate-window plan: only what the duplicate rule changes (its reasons,
   * prior, billable and amount, the rating's time) and, with a reversal, the call's reversal sums; conditional on the
   * item as read. The rest of the stored rating (terms figures, signals, block) stays as the first rating wrote it.
   */
  private reratePart(accountId: string, r: WindowRerate): TxPart {
    const names: Record<string, string> = {
      '#ra': 'ratedAt',
      '#bill': 'billable',
      '#amt': 'amountCents',
      '#acct': 'accountId',
      '#r': 'rating',
      '#x': 'x',
      '#pc': 'pc',
      '#ps': 'ps',
      '#cc': 'creditCents',
    };
    const values: Record<string, AttributeValue> = {
      ':ra': S(r.ratedAt),
      ':bill': { BOOL: r.billable },
      ':amt': N(r.amountCents),
      ':readRa': S(r.expectRatedAt),
      ':readBill': { BOOL: r.expectBillable },
      ':acct': S(accountId),
    };
    const sets = ['#ra = :ra', '#bill = :bill', '#amt = :amt'];
    const removes: string[] = [];
    if (r.reasons.length > 0) {
      sets.push('#r.#x = :x');
      values[':x'] = S(r.reasons.join(' '));
    } else removes.push('#r.#x');
    if (r.prior !== null) {
      sets.push('#r.#pc = :pc', '#r.#ps = :ps');
      values[':pc'] = S(r.prior.callId);
      values[':ps'] = N(r.prior.billedStartMs);
    } else removes.push('#r.#pc', '#r.#ps');
    if (r.capRefusal !== undefined) {
      names['#cr'] = 'cr';
      sets.push('#r.#cr = :cr');
      values[':cr'] = S(r.capRefusal);
    }
    const adds: string[] = [];
    if (r.entry?.type === 'reversal') {
      names['#rvc'] = 'revChargeCents';
      names['#rv'] = 'revCents';
      names['#rvn'] = 'revCount';
      values[':rvc'] = N(r.reversedChargeCents ?? 0);
      values[':rv'] = N(r.entry.amountCents);
      values[':one'] = N(1);
      adds.push('#rvc :rvc', '#rv :rv', '#rvn :one');
    }
    let condition = '#ra = :readRa AND #bill = :readBill AND #acct = :acct AND ';
    if (r.expectCreditCents === null) condition += 'attribute_not_exists(#cc)';
    else {
      condition += '#cc = :readCc';
      values[':readCc'] = N(r.expectCreditCents);
    }
    const expression = `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`;
    return {
      tag: { kind: 'rerate', callId: r.callId },
      item: {
        Update: {
          TableName: this.table,
          Key: marshall(mainKeys.call(r.callId)),
          UpdateExpression: expression,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      wcu: () => this.priceRerate(r),
    };
  }

  /** The capacity of a re-rate's update, from the call's remembered image (the app read it to plan). */
  private priceRerate(r: WindowRerate): number {
    const before = this.images.get(r.callId) ?? null;
    if (before === null) return 2;
    const rating = { ...(before.rating?.M ?? {}) };
    if (r.reasons.length > 0) rating.x = S(r.reasons.join(' '));
    else delete rating.x;
    if (r.prior !== null) {
      rating.pc = S(r.prior.callId);
      rating.ps = N(r.prior.billedStartMs);
    } else {
      delete rating.pc;
      delete rating.ps;
    }
    if (r.capRefusal !== undefined) rating.cr = S(r.capRefusal);
    const after: Item = { ...before, rating: { M: rating }, ratedAt: S(r.ratedAt), billable: { BOOL: r.billable }, amountCents: N(r.amountCents) };
    if (r.entry?.type === 'reversal') {
      const add = (attr: string, n: number) => (after[attr] = N(Number(before[attr]?.N ?? 0) + n));
      add('revChargeCents', r.reversedChargeCents ?? 0);
      add('revCents', r.entry.amountCents);
      add('revCount', 1);
    }
    this.remember(r.callId, after);
    return updateWcu(before, after, { transactional: true }) + CALL_INDEXES.reduce((sum, index) => sum + gsiWcu(before, after, index), 0);
  }

  /**
   * Turns a cancelled rating transaction's reasons into what the writer does next, judged in this order: the
   * arriving call is already rated; a conflict with a concurrent transaction; the marker is not the one the plan was
   * made from (plan again from the image it returned); a re-rated call changed since it was read; a pilot's counter
   * refused (a duplicate never consumes the cap: the marker is judged first).
   */
  private cancelled(accountId: string, parts: readonly TxPart[], reasons: readonly CancellationReason[]): CommitOutcome {
    const failed = (i: number) => reasons[i]?.Code === 'ConditionalCheckFailed';
    const callIndex = parts.findIndex((p) => p.tag.kind === 'call');
    if (callIndex >= 0 && failed(callIndex)) {
      const tag = parts[callIndex]!.tag as { kind: 'call'; callId: string };
      const item = reasons[callIndex]!.Item;
      if (item) this.remember(tag.callId, item);
      const old = item ? unmarshall(item) : {};
      if (old.accountId !== undefined && old.accountId !== accountId) throw new CallAccountMismatch(tag.callId);
      return { outcome: 'already_rated' };
    }
    if (reasons.some((r) => r.Code === 'TransactionConflict')) return { outcome: 'conflict' };
    const markerIndex = parts.findIndex((p) => p.tag.kind === 'marker');
    if (markerIndex >= 0 && failed(markerIndex)) return { outcome: 'window_changed', window: decodeWindow(reasons[markerIndex]!.Item) };
    for (const [i, p] of parts.entries()) {
      if (p.tag.kind !== 'rerate' || !failed(i)) continue;
      const item = reasons[i]!.Item;
      if (item) this.remember(p.tag.callId, item);
      return { outcome: 'rerate_stale', callId: p.tag.callId };
    }
    const pilotFailures = parts.flatMap((p, i) => (p.tag.kind === 'pilot' && failed(i) ? [{ tag: p.tag, item: reasons[i]!.Item }] : []));
    if (pilotFailures.length > 0) {
      const move = pilotFailures[0]!.tag.move;
      const totalFailure = pilotFailures.find((f) => f.tag.move === move && f.tag.which === null);
      const image = totalFailure?.item ? unmarshall(totalFailure.item) : null;
      // The counter's image comes back only when its own condition failed; a day item's failure alone means the
      // counter passed, so it is read as open with room.
      const total =
        totalFailure === undefined
          ? { open: true, spentCents: 0, billableCalls: 0 }
          : image === null
            ? null
            : { open: image.open === true, spentCents: Number(image.spentCents ?? 0), billableCalls: Number(image.billableCalls ?? 0) };
      const days = new Map<string, number>();
      for (const f of pilotFailures) if (f.tag.move === move && f.tag.which !== null) days.set(f.tag.which, f.item ? Number(unmarshall(f.item).spentCents ?? 0) : 0);
      // A condition failed but the images show room: the counter was closed or missing.
      const refusal = moveRefusal(move, total, days) ?? (totalFailure !== undefined ? 'closed' : 'daily_cap');
      return { outcome: 'over_cap', pilotId: move.pilotId, refusal };
    }
    const entry = parts.find((p, i) => p.tag.kind === 'entry' && failed(i));
    // An entry exists while its call is not rated for it: impossible if every writer uses this transaction.
    if (entry !== undefined) throw new Error(`ledger entry ${(entry.tag as { entryId: string }).entryId} exists but its call is not rated for it`);
    throw new Error(`rating transaction for ${accountId} cancelled: ${reasons.map((r) => r.Code ?? 'None').join(',')}`);
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
      if (item) this.remember(callId, item);
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
    this.remember(callId, item);
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
