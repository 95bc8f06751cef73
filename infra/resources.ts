/**
 * The one definition of CallLedger's stateful resources, functions and routes.
 *
 * Both the CDK stack (infra/stack.ts) and the local stack (infra/local/) build from this file, so the
 * table keys, indexes and queue attributes cannot drift between AWS and the laptop; the routes are in infra/routes.ts
 * (derived from the route declarations, which this file must not import: every function imports it).
 * Plain data only: no aws-cdk-lib and no AWS SDK imports here.
 */
import { recordingLifecycleRules } from '../shared/domain/recordings/retention';

export type KeyType = 'S' | 'N';

export interface KeyDef {
  readonly name: string;
  readonly type: KeyType;
}

export interface IndexDef {
  readonly indexName: string;
  readonly partitionKey: KeyDef;
  readonly sortKey: KeyDef;
  /** Which attributes the index copies: ALL (the default) or KEYS_ONLY (index and table keys). */
  readonly projection?: 'ALL' | 'KEYS_ONLY';
}

export interface TableDef {
  /** Logical id, also the suffix of the physical name. */
  readonly id: 'Main' | 'Ledger' | 'Aggregates';
  readonly partitionKey: KeyDef;
  readonly sortKey: KeyDef;
  readonly globalSecondaryIndexes: readonly IndexDef[];
  /** Attribute DynamoDB TTL deletes by (epoch seconds); deletes are late, so never rely on absence. */
  readonly timeToLiveAttribute?: string;
  /** Append-only tables: no function role may get UpdateItem or DeleteItem on them. */
  readonly appendOnly: boolean;
  /** DynamoDB Streams view, when the table has a stream (STREAMS says who consumes it). */
  readonly stream?: 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY';
}

export interface QueueDef {
  readonly id: 'Ingest' | 'Recordings';
  readonly visibilityTimeoutSec: number;
  readonly maxReceiveCount: number;
  readonly retentionPeriodSec: number;
  readonly dlqRetentionPeriodSec: number;
  /** Lambda event source batch size and batching window. */
  readonly batchSize: number;
  readonly maxBatchingWindowSec: number;
  /** Which function consumes it. */
  readonly consumer: FunctionId;
}

export interface BucketDef {
  readonly id: 'Archive' | 'Recordings' | 'Anchors';
  /**
   * Objects under this prefix expire after the given number of days (raw webhook archive); with `tags`, only the
   * objects carrying every one of those tags (recording retention classes, shared/domain/recordings/retention.ts).
   */
  readonly lifecycle: readonly {
    readonly prefix: string;
    readonly id?: string;
    readonly tags?: Readonly<Record<string, string>>;
    readonly transitionToIaDays?: number;
    readonly expireDays?: number;
  }[];
  /**
   * S3 Object Lock default retention (the bucket is then versioned, and retained whatever the stack's removal
   * policy: locked objects cannot be emptied out of it). Locally nothing enforces it.
   */
  readonly objectLock?: { readonly mode: 'GOVERNANCE' | 'COMPLIANCE'; readonly retentionDays: number };
}

export type FunctionId = 'ingestTwilio' | 'ingestCarrier' | 'ingestNetwork' | 'networkSettle' | 'voiceTwilio' | 'voiceCarrier' | 'ledgerWriter' | 'recordingFetcher' | 'api' | 'ledgerSealer' | 'pilotWorkflow' | 'enforceCaps' | 'sweepReservations' | 'aggregator' | 'qualityPass';

export interface FunctionDef {
  readonly id: FunctionId;
  /** Entry file, relative to the repository root. */
  readonly entry: string;
  readonly memoryMb: number;
  readonly timeoutSec: number;
  /** Invoked on a fixed rate (EventBridge Scheduler in AWS; the local stack runs it on its own timer). */
  readonly schedule?: { readonly rateMinutes: number };
}

/** A route of the catalog (infra/routes.ts, derived from the route declarations): where API Gateway sends it. */
export interface RouteDef {
  readonly method: 'GET' | 'POST' | 'PUT' | 'ANY';
  /** API Gateway HTTP API path template, e.g. `/v1/calls/{callId}`. */
  readonly path: string;
  readonly fn: FunctionId;
}

export const TABLES = {
  main: {
    id: 'Main',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    globalSecondaryIndexes: [
      // Calls of an account in start-time order: gsi1pk = ACCT#<accountId>, gsi1sk = <startedAt ISO>#<callId>.
      { indexName: 'gsi1', partitionKey: { name: 'gsi1pk', type: 'S' }, sortKey: { name: 'gsi1sk', type: 'S' } },
      // Outcomes and reports. Both are sparse (only rated calls that carry the partition attribute) and sort on
      // the SAME attribute as gsi1, `gsi1sk` = <startedAt>#<callId>: the value they need is identical, and a second and
      // third copy of it (~70 B each) would push a demo-shaped call item with its recording past 1 KB sooner (every
      // write of it, and of each ALL index, then costs double). docs/CONTRACTS.md, "The call item".
      //
      // gsi2, CONNECTED calls by caller: gsi2pk = CALLER#<accountId>#<callerHash>, written by the rating only for a
      // call that completed and whose caller number could be hashed. What outcome matching needs is exactly "this
      // caller's connected calls of this account, by start": the index holds only those, the sort key gives the start
      // and the table key the callId, so KEYS_ONLY suffices (no filter, no projected attribute). KEYS_ONLY also means
      // later writes of the call item (recording, outcome) never touch this index (ALL would cost 1 WCU each).
      { indexName: 'gsi2', partitionKey: { name: 'gsi2pk', type: 'S' }, sortKey: { name: 'gsi1sk', type: 'S' }, projection: 'KEYS_ONLY' },
      // gsi3, calls by campaign: gsi3pk = CAMP#<accountId>#<campaignId>, written by the rating when the call has a
      // campaign. ALL: reports stream every call of a campaign and period with its rating, slots and outcome
      // (shared/adapters/reports/campaign-calls.ts) without one GetItem per call.
      { indexName: 'gsi3', partitionKey: { name: 'gsi3pk', type: 'S' }, sortKey: { name: 'gsi1sk', type: 'S' } },
      // gsi4, EVERY rated call of a caller (deletion requests, shared/app/privacy/privacy.ts): keyed on the call item's
      // existing `callerHash`, so the item gains no byte; gsi2 holds connected calls only. The hash is keyed per
      // environment, not per account: a query returns the caller's calls of every account and the reader keeps its
      // account's. KEYS_ONLY: the call id is the table key; 1 WCU when a call is rated, nothing on later writes.
      { indexName: 'gsi4', partitionKey: { name: 'callerHash', type: 'S' }, sortKey: { name: 'gsi1sk', type: 'S' }, projection: 'KEYS_ONLY' },
    ],
    timeToLiveAttribute: 'ttl',
    appendOnly: false,
    // Feeds the daily aggregates (STREAMS.callChanges). Both images: the aggregator skips, without a read, a change
    // the reports cannot see (an event slot of a call not yet rated, a recording's key).
    stream: 'NEW_AND_OLD_IMAGES',
  },
  // Daily aggregates (shared/domain/reports/aggregates.ts): derived, rebuildable data, apart from the main table so
  // their own writes never come back on its stream. pk = AGG#<accountId>#<campaignId>#card|tune, sk = <day>#<source>;
  // and per call the contribution applied, pk = CONTRIB#<callId>, sk = C.
  aggregates: {
    id: 'Aggregates',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    globalSecondaryIndexes: [],
    appendOnly: false,
  },
  ledger: {
    id: 'Ledger',
    // pk = ACCT#<accountId>, sk = <effectiveAt ISO>#<entryId>; both derived deterministically from the call.
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    globalSecondaryIndexes: [
      // Entries of an account by write time, for the sealer (docs/ARCHITECTURE.md, "Tamper evidence"): keyed on
      // two fields every entry has always stored (ChargeEntry.accountId, .createdAt), so no writer changes and
      // entries written before the index existed are backfilled by DynamoDB. Seal items have no createdAt: not
      // indexed. KEYS_ONLY: an index write costs 1 WCU either way (entries are < 1 KB), but ALL would store every
      // entry twice (~570 B vs ~250 B per entry, for ever) to save the sealer reads it makes once per entry
      // (BatchGetItem, ~0.5 RRU each): at 10M entries a month the copy outgrows the reads within two months.
      {
        indexName: 'byCreatedAt',
        partitionKey: { name: 'accountId', type: 'S' },
        sortKey: { name: 'createdAt', type: 'S' },
        projection: 'KEYS_ONLY',
      },
    ],
    appendOnly: true,
  },
} as const satisfies Record<string, TableDef>;

/** A table's stream feeding a function (Lambda event source mapping in AWS; infra/local/stream-poller.ts locally). */
export interface StreamDef {
  readonly table: keyof typeof TABLES;
  readonly consumer: FunctionId;
  /** Records per invocation (GetRecords page locally). */
  readonly batchSize: number;
  readonly maxBatchingWindowSec: number;
  /** Only records whose partition key starts with this reach the consumer (event filtering in AWS). */
  readonly keyPrefix: string;
  /** Retries of a failing batch before its records go to the failure destination (a DLQ). */
  readonly retryAttempts: number;
}

export const STREAMS = {
  callChanges: { table: 'main', consumer: 'aggregator', batchSize: 100, maxBatchingWindowSec: 1, keyPrefix: 'CALL#', retryAttempts: 10 },
} as const satisfies Record<string, StreamDef>;

export const QUEUES = {
  ingest: {
    id: 'Ingest',
    // AWS advises a visibility timeout of at least 6x the consumer's timeout (FUNCTIONS.ledgerWriter: 20 s).
    visibilityTimeoutSec: 120,
    maxReceiveCount: 5,
    retentionPeriodSec: 4 * 24 * 3600,
    dlqRetentionPeriodSec: 14 * 24 * 3600,
    batchSize: 10,
    maxBatchingWindowSec: 1,
    consumer: 'ledgerWriter',
  },
  recordings: {
    id: 'Recordings',
    // 6x FUNCTIONS.recordingFetcher's timeout (60 s).
    visibilityTimeoutSec: 360,
    maxReceiveCount: 5,
    retentionPeriodSec: 4 * 24 * 3600,
    dlqRetentionPeriodSec: 14 * 24 * 3600,
    batchSize: 5,
    maxBatchingWindowSec: 0,
    consumer: 'recordingFetcher',
  },
} as const satisfies Record<string, QueueDef>;

export const BUCKETS = {
  archive: {
    id: 'Archive',
    lifecycle: [{ prefix: 'raw/', transitionToIaDays: 30, expireDays: 400 }],
  },
  // One expiry rule per retention class, selected by the recording's `expiry` tag; a recording under legal
  // hold is tagged `expiry=hold`, which no rule selects (shared/domain/recordings/retention.ts).
  recordings: {
    id: 'Recordings',
    lifecycle: recordingLifecycleRules('recordings/'),
  },
  // External anchors of the ledger's seal chain: `anchors/<accountId>/<seq, 12 digits>.json`, written once by the
  // sealer. GOVERNANCE, not COMPLIANCE: no function role may bypass it (s3:BypassGovernanceRetention is granted to
  // nobody), while an environment can still be torn down by an administrator; prod may move to COMPLIANCE.
  anchors: {
    id: 'Anchors',
    lifecycle: [],
    objectLock: { mode: 'GOVERNANCE', retentionDays: 400 },
  },
} as const satisfies Record<string, BucketDef>;

export const FUNCTIONS = {
  ingestTwilio: { id: 'ingestTwilio', entry: 'functions/ingest-twilio.ts', memoryMb: 512, timeoutSec: 10 },
  // Telnyx, Vonage and Plivo webhooks: one function, the carrier taken from the route (docs/ARCHITECTURE.md).
  ingestCarrier: { id: 'ingestCarrier', entry: 'functions/ingest-carrier.ts', memoryMb: 512, timeoutSec: 10 },
  // Network postbacks (Ringba pixels, Retreaver webhooks, TrackDrive posts): secret in the path, enqueued on the ingest queue.
  ingestNetwork: { id: 'ingestNetwork', entry: 'functions/ingest-network.ts', memoryMb: 512, timeoutSec: 10 },
  // Twilio's Voice URL: answers TwiML, decides admission and routing before the buyer's line rings (shared/app/routing/voice-answer.ts).
  voiceTwilio: { id: 'voiceTwilio', entry: 'functions/voice-twilio.ts', memoryMb: 1024, timeoutSec: 10 },
  // The carriers' voice URLs (Telnyx TeXML, Plivo XML): the same decision, one function for the carriers, their secrets only.
  voiceCarrier: { id: 'voiceCarrier', entry: 'functions/voice-carrier.ts', memoryMb: 1024, timeoutSec: 10 },
  ledgerWriter: { id: 'ledgerWriter', entry: 'functions/ledger-writer.ts', memoryMb: 1024, timeoutSec: 20 },
  recordingFetcher: { id: 'recordingFetcher', entry: 'functions/recording-fetcher.ts', memoryMb: 512, timeoutSec: 60 },
  api: { id: 'api', entry: 'functions/api.ts', memoryMb: 512, timeoutSec: 15 },
  // Seals every registered account's ledger hourly and anchors the newest seal in S3 (tamper evidence).
  ledgerSealer: { id: 'ledgerSealer', entry: 'functions/ledger-sealer.ts', memoryMb: 512, timeoutSec: 300, schedule: { rateMinutes: 60 } },
  // Pilots: the task states of the pilot state machine (infra/pilot-workflow.ts), and the enforcer that
  // reconciles, closes and reports live pilots every minute (shared/app/pilots/tasks.ts).
  pilotWorkflow: { id: 'pilotWorkflow', entry: 'functions/pilot-workflow.ts', memoryMb: 512, timeoutSec: 60 },
  enforceCaps: { id: 'enforceCaps', entry: 'functions/enforce-caps.ts', memoryMb: 512, timeoutSec: 50, schedule: { rateMinutes: 1 } },
  // Pilot reservations whose calls were never rated end once expired, so their money is admitted again (shared/app/routing/sweep-reservations.ts).
  sweepReservations: { id: 'sweepReservations', entry: 'functions/sweep-reservations.ts', memoryMb: 512, timeoutSec: 50, schedule: { rateMinutes: 1 } },
  // The cross-call quality pass (repeat_caller, velocity, coached_ivr flags on stored calls; flags only),
  // hourly over every registered account (shared/app/quality/quality-pass.ts).
  qualityPass: { id: 'qualityPass', entry: 'functions/quality-pass.ts', memoryMb: 1024, timeoutSec: 300, schedule: { rateMinutes: 60 } },
  // Networks: settles lone claims and calls (claimed_not_received, received_not_claimed) and opens their disputes.
  networkSettle: { id: 'networkSettle', entry: 'functions/network-settle.ts', memoryMb: 512, timeoutSec: 300, schedule: { rateMinutes: 15 } },
  // Daily aggregates: keeps the per-(campaign, day, source) sums from the main table's stream (STREAMS).
  aggregator: { id: 'aggregator', entry: 'functions/aggregator.ts', memoryMb: 512, timeoutSec: 60 },
} as const satisfies Record<FunctionId, FunctionDef>;

/**
 * Application metrics an alarm watches (infra/constructs/alarms.ts), written as EMF by shared/adapters/platform/metrics.ts with
 * exactly this namespace and `service` dimension (Powertools adds the dimension; an alarm must name it to match).
 */
export const ALARMED_METRICS = {
  namespace: 'CallLedger',
  service: 'callledger',
  /** Events refused because their call belongs to another account (process-ingest-batch.ts). */
  callAccountConflict: 'CallAccountConflict',
} as const;

/**
 * Where each carrier serves recordings: Telnyx's presigned storage (s3.amazonaws.com, and its API host), Vonage's
 * media API in every region, Plivo's media host.
 */
export const CARRIER_RECORDING_HOSTS_DEFAULT = {
  telnyx: ['s3.amazonaws.com', 'api.telnyx.com'],
  vonage: ['api.nexmo.com', 'api-us.nexmo.com', 'api-eu.nexmo.com', 'api-ap.nexmo.com'],
  plivo: ['media.plivo.com'],
} as const;

/** Environment variable names every function reads its resource names from (validated with zod at cold start). */
export const ENV = {
  mainTable: 'MAIN_TABLE',
  ledgerTable: 'LEDGER_TABLE',
  /** The daily aggregates: written by the aggregator, read by the reports. */
  aggregatesTable: 'AGGREGATES_TABLE',
  ingestQueueUrl: 'INGEST_QUEUE_URL',
  recordingsQueueUrl: 'RECORDINGS_QUEUE_URL',
  archiveBucket: 'ARCHIVE_BUCKET',
  recordingsBucket: 'RECORDINGS_BUCKET',
  publicBaseUrl: 'PUBLIC_BASE_URL',
  /** Where the caller-hash HMAC key comes from: `env:NAME` locally, `ssm:/param/name` in AWS. */
  callerHashKeyRef: 'CALLER_HASH_KEY_REF',
  /** The key caller numbers are sealed with (shared/adapters/privacy/pii-cipher.ts): `env:NAME` locally, `kms:<key arn>` in AWS. */
  piiKeyRef: 'PII_KEY_REF',
  /** Prefix for provider secrets (Twilio auth tokens): `env:` locally, `ssm:/callledger/<env>/` in AWS. */
  secretsRef: 'SECRETS_REF',
  /** Comma-separated hosts the recording fetcher may download from (SSRF guard): `api.twilio.com` in AWS. */
  recordingUrlAllowedHosts: 'RECORDING_URL_ALLOWED_HOSTS',
  /** The other carriers' media hosts, JSON `{"telnyx": [...], "vonage": [...], "plivo": [...]}` (SSRF guard, per carrier). */
  carrierRecordingHosts: 'CARRIER_RECORDING_HOSTS',
  /** The Object Lock bucket of seal anchors (sealer writes, the API's verify reads). */
  anchorsBucket: 'ANCHORS_BUCKET',
  /** Width of a sealed interval of `createdAt`, ms (default one hour). */
  sealIntervalMs: 'SEAL_INTERVAL_MS',
  /** How long after its end an interval may be sealed, ms (default 5 minutes; at least 30 s). */
  sealGraceMs: 'SEAL_GRACE_MS',
  /** The voice decision's budget, ms (default 1,500; at least 50): past it the call is answered by the fail-safe. */
  voiceDecisionBudgetMs: 'VOICE_DECISION_BUDGET_MS',
} as const;

/** The voice decision's budget when VOICE_DECISION_BUDGET_MS is unset: well inside the carriers' 15 s (a caller hears silence meanwhile). */
export const VOICE_DECISION_BUDGET_MS_DEFAULT = 1500;

/** Physical names: one prefix per environment, the same shape locally and in AWS. */
export function physicalName(prefix: string, id: string): string {
  return `${prefix}-${id.toLowerCase()}`;
}

/** Dead-letter queue physical name for a queue definition (`<prefix>-ingest-dlq`). */
export function dlqName(prefix: string, queue: Pick<QueueDef, 'id'>): string {
  return physicalName(prefix, `${queue.id}-dlq`);
}
