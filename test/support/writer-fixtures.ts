/**
 * Shared set-up for the core integration tests: real emulators (DynamoDB Local + fauxqs), resources created from
 * infra/resources.ts under a per-file prefix, the real adapters pointed at them, and builders for configuration
 * and Twilio events with per-test ids.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { localClients, startEmulators, type Emulators, type LocalClients } from '../../infra/local/emulators';
import { createResources, type ResourceNames } from '../../infra/local/resources';
import { S3Archive } from '../../shared/adapters/calls/archive';
import { BlockRepo } from '../../shared/adapters/blocklist/block-repo';
import { ConsentRepo } from '../../shared/adapters/compliance/consent-repo';
import { DncRepo } from '../../shared/adapters/compliance/dnc-repo';
import { LedgerRepo } from '../../shared/adapters/ledger/ledger-repo';
import { CallRepo, ConfigRepo, configItems } from '../../shared/adapters/calls/main-repo';
import { SeedPublisherSchema } from '../../shared/domain/catalog/config-schema';
import { SqsRecordingJobQueue } from '../../shared/adapters/calls/queue';
import { AesGcmCallerCipher, LocalKeyProvider } from '../../shared/adapters/privacy/pii-cipher';
import type { CallerCipher } from '../../shared/domain/privacy/pii';
import type { Log, Telemetry } from '../../shared/app/kernel/ports';
import type { ProcessIngestDeps, QueueRecord } from '../../shared/app/rating/process-ingest-batch';
import type { Account, FlatCampaign, AssignedNumber } from '../../shared/domain/catalog/types';
import type { CallStatus, CallStatusEvent, IngestMessage, RecordingStatusEvent } from '../../shared/domain/calls/events';
import type { RatingDecision } from '../../shared/domain/rating/decision';
import { checkedApiHandler } from '../contract/hooks';

export interface CoreEnv {
  readonly emulators: Emulators;
  readonly clients: LocalClients;
  readonly names: ResourceNames;
  readonly config: ConfigRepo;
  readonly calls: CallRepo;
  readonly ledger: LedgerRepo;
  readonly callerHashKey: string;
  /** Seals and opens caller numbers as the writer and the API do; `piiKey` is its key (for PII_KEY_REF=env:…). */
  readonly pii: CallerCipher;
  readonly piiKey: string;
  /** Dependencies of processIngestBatch wired to the emulators, with recording telemetry. */
  readonly writerDeps: ProcessIngestDeps & { rated: RatingDecision[] };
  stop(): Promise<void>;
}

export const silentLog: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export function recordingTelemetry(): Telemetry & { rated: RatingDecision[]; accepted: number; rejected: string[]; fetchFailures: number; accountConflicts: number } {
  const t = {
    rated: [] as RatingDecision[],
    accepted: 0,
    rejected: [] as string[],
    fetchFailures: 0,
    accountConflicts: 0,
    webhookAccepted: () => void (t.accepted += 1),
    webhookRejected: (reason: string) => void t.rejected.push(reason),
    callRated: (d: RatingDecision) => void t.rated.push(d),
    ingestBatchProcessed: () => {},
    callAccountConflict: () => void (t.accountConflicts += 1),
    recordingStored: () => {},
    recordingFetchFailed: () => void (t.fetchFailures += 1),
  };
  return t;
}

export async function startCoreEnv(): Promise<CoreEnv> {
  const emulators = await startEmulators();
  const clients = localClients(emulators.endpoints);
  const names = await createResources(emulators.endpoints, `core${randomUUID().slice(0, 6)}`);
  const config = new ConfigRepo({ mainTable: names.mainTable, client: clients.dynamodb });
  // As functions/ledger-writer.ts wires it: caller numbers sealed under a local key (PII_KEY_REF=env:…).
  const piiKey = randomBytes(32).toString('base64url');
  const pii = new AesGcmCallerCipher(new LocalKeyProvider(async () => piiKey));
  const calls = new CallRepo({ mainTable: names.mainTable, ledgerTable: names.ledgerTable, client: clients.dynamodb, pii });
  const ledger = new LedgerRepo({ ledgerTable: names.ledgerTable, client: clients.dynamodb });
  const callerHashKey = randomBytes(32).toString('hex');
  const telemetry = recordingTelemetry();
  const writerDeps = {
    calls,
    config,
    // As functions/ledger-writer.ts wires it: every rated call asks the account's (cached) block list.
    blocks: new BlockRepo({ mainTable: names.mainTable, client: clients.dynamodb }),
    dnc: new DncRepo({ mainTable: names.mainTable, client: clients.dynamodb }),
    consent: new ConsentRepo({ mainTable: names.mainTable, client: clients.dynamodb }),
    archive: new S3Archive(names.archiveBucket, clients.s3),
    recordingJobs: new SqsRecordingJobQueue(names.recordingsQueueUrl, clients.sqs),
    callerHashKey: async () => callerHashKey,
    now: () => new Date(),
    telemetry,
    log: silentLog,
    rated: telemetry.rated,
  };
  return {
    emulators,
    clients,
    names,
    config,
    calls,
    ledger,
    callerHashKey,
    pii,
    piiKey,
    writerDeps,
    stop: async () => {
      for (const c of Object.values(clients)) c.destroy();
      await emulators.stop();
    },
  };
}

// ------------------------------------------------------------------ configuration

export interface Tenant {
  readonly account: Account;
  readonly campaign: FlatCampaign;
  readonly numbers: { readonly billable: AssignedNumber; readonly second: AssignedNumber };
  readonly authToken: string;
}

/** A random, valid US number (Austin area code, exchange 200-999). */
export function freshNumber(): string {
  const exchange = 200 + Math.floor(Math.random() * 800);
  const line = Math.floor(Math.random() * 10_000);
  return `+1512${exchange}${String(line).padStart(4, '0')}`;
}

export function hex32(): string {
  return randomBytes(16).toString('hex');
}

/** Writes an account with one campaign (price, buffer, window) and two tracking numbers. */
export async function createTenant(
  config: ConfigRepo,
  terms: Partial<FlatCampaign['terms']> = {},
): Promise<Tenant> {
  const suffix = randomUUID().slice(0, 8);
  const accountId = `acct-${suffix}`;
  const account: Account = {
    accountId,
    name: `Account ${suffix}`,
    timeZone: 'America/Chicago',
    currency: 'USD',
    twilio: { accountSid: `AC${hex32()}`, authTokenSecret: `twilio/${accountId}/auth-token` },
  };
  const campaign: FlatCampaign = {
    accountId,
    campaignId: `camp-${suffix}`,
    name: 'Campaign',
    vertical: 'home_services',
    terms: { version: 1, priceCents: 4500, bufferSec: 90, duplicateWindowHours: 72, ...terms },
  };
  const number = (publisherId: string, subSource: string | null): AssignedNumber => ({
    accountId,
    number: freshNumber(),
    campaignId: campaign.campaignId,
    publisherId,
    subSource,
  });
  const numbers = { billable: number(`pub-a-${suffix}`, 'search'), second: number(`pub-b-${suffix}`, null) };
  await config.putConfigItems([
    configItems.account(account),
    configItems.campaign(campaign),
    configItems.publisher(SeedPublisherSchema.parse({ accountId, publisherId: numbers.billable.publisherId, name: 'A' })),
    configItems.publisher(SeedPublisherSchema.parse({ accountId, publisherId: numbers.second.publisherId, name: 'B' })),
    configItems.trackingNumber(numbers.billable),
    configItems.trackingNumber(numbers.second),
  ]);
  return { account, campaign, numbers, authToken: randomBytes(16).toString('hex') };
}

// ------------------------------------------------------------------ events

export function statusEvent(args: {
  accountId: string;
  callSid: string;
  status: CallStatus;
  from: string;
  to: string;
  durationSec?: number | null;
  occurredAt: string;
  sequenceNumber?: number | null;
}): CallStatusEvent {
  const callId = `twilio:${args.callSid}`;
  return {
    kind: 'call.status',
    eventId: `${callId}:status:${args.status}`,
    provider: 'twilio',
    accountId: args.accountId,
    callId,
    occurredAt: args.occurredAt,
    receivedAt: new Date().toISOString(),
    sequenceNumber: args.sequenceNumber ?? null,
    status: args.status,
    direction: 'inbound',
    from: args.from,
    to: args.to,
    durationSec: args.durationSec ?? null,
    answeredBy: null,
    stirVerstat: null,
    digits: null,
    fromState: 'TX',
    fromZip: '78701',
    fromCountry: 'US',
    parentCallId: null,
  };
}

export function recordingEvent(args: {
  accountId: string;
  callSid: string;
  recordingSid: string;
  recordingUrl: string;
  occurredAt: string;
  durationSec?: number;
}): RecordingStatusEvent {
  const callId = `twilio:${args.callSid}`;
  return {
    kind: 'recording.status',
    eventId: `${callId}:recording:${args.recordingSid}:completed`,
    provider: 'twilio',
    accountId: args.accountId,
    callId,
    occurredAt: args.occurredAt,
    receivedAt: new Date().toISOString(),
    sequenceNumber: null,
    recordingId: args.recordingSid,
    recordingStatus: 'completed',
    recordingUrl: args.recordingUrl,
    recordingDurationSec: args.durationSec ?? 30,
  };
}

/** A lifecycle: ringing → in-progress → completed (duration) starting at `startMs`. */
export function lifecycle(args: { accountId: string; callSid?: string; from: string; to: string; startMs: number; durationSec: number; final?: CallStatus }) {
  const callSid = args.callSid ?? `CA${hex32()}`;
  const at = (ms: number) => new Date(ms).toISOString();
  const final = args.final ?? 'completed';
  const base = { accountId: args.accountId, callSid, from: args.from, to: args.to };
  const events = [
    statusEvent({ ...base, status: 'ringing', occurredAt: at(args.startMs - 5000), sequenceNumber: 0 }),
    ...(final === 'completed' ? [statusEvent({ ...base, status: 'in-progress', occurredAt: at(args.startMs), sequenceNumber: 1 })] : []),
    statusEvent({
      ...base,
      status: final,
      durationSec: final === 'completed' ? args.durationSec : 0,
      occurredAt: at(args.startMs + (final === 'completed' ? args.durationSec * 1000 : 0)),
      sequenceNumber: 2,
    }),
  ];
  return { callSid, callId: `twilio:${callSid}`, events, startMs: args.startMs };
}

let messageCounter = 0;
/** SQS records carrying IngestMessages (a fresh messageId per record, like a real redelivery). */
export function records(events: readonly (CallStatusEvent | RecordingStatusEvent)[]): QueueRecord[] {
  return events.map((event) => {
    const message: IngestMessage = { v: 1, event, raw: { contentType: 'application/x-www-form-urlencoded', body: `CallSid=${event.callId.slice(7)}`, receivedAt: event.receivedAt } };
    messageCounter += 1;
    return { messageId: `m-${messageCounter}-${randomUUID().slice(0, 8)}`, body: JSON.stringify(message) };
  });
}

// ------------------------------------------------------------------ inspection

export async function scanTable(env: CoreEnv, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
  do {
    const out = await env.clients.dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true }));
    items.push(...(out.Items ?? []).map((i) => unmarshall(i)));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}

export async function ledgerItemsOf(env: CoreEnv, accountId: string): Promise<Record<string, unknown>[]> {
  return (await scanTable(env, env.names.ledgerTable)).filter((i) => i.pk === `ACCT#${accountId}`);
}

export async function queueDepth(env: CoreEnv, queueUrl: string): Promise<number> {
  const out = await env.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** Receives and deletes every visible message of a queue. */
export async function receiveAll(env: CoreEnv, queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const out = await env.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (!out.Messages || out.Messages.length === 0) return bodies;
    bodies.push(...out.Messages.map((m) => m.Body ?? ''));
    for (const m of out.Messages) await env.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
}

export async function listKeys(env: CoreEnv, bucket: string, prefix = ''): Promise<string[]> {
  const out = await env.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? '');
}

export async function readArchive(env: CoreEnv, key: string): Promise<IngestMessage[]> {
  const out = await env.clients.s3.send(new GetObjectCommand({ Bucket: env.names.archiveBucket, Key: key }));
  const bytes = Buffer.from(await out.Body!.transformToByteArray());
  return gunzipSync(bytes)
    .toString('utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as IngestMessage);
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

// ------------------------------------------------------------------ the api function in process

/**
 * The environment functions/api.ts reads at module load, pointed at this file's emulators and resources, with the
 * writer's caller-hash key and PII key (so what the writer stored, the api can match and open). `extra` adds or
 * overrides variables (e.g. a Twilio auth token, a recording host allow-list).
 */
export function apiFunctionEnv(env: CoreEnv, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...env.emulators.env,
    MAIN_TABLE: env.names.mainTable,
    LEDGER_TABLE: env.names.ledgerTable,
    AGGREGATES_TABLE: env.names.aggregatesTable,
    RECORDINGS_BUCKET: env.names.recordingsBucket,
    ARCHIVE_BUCKET: env.names.archiveBucket,
    // GET /health asks the ingest queue.
    INGEST_QUEUE_URL: env.names.ingestQueueUrl,
    // GET /v1/ledger/verify checks the newest seal anchor.
    ANCHORS_BUCKET: env.names.anchorsBucket,
    SECRETS_REF: 'env:',
    CALLER_HASH_KEY_REF: 'env:CALLLEDGER_TEST_CALLER_HASH_KEY',
    CALLLEDGER_TEST_CALLER_HASH_KEY: env.callerHashKey,
    // Caller numbers are sealed under a local key (shared/adapters/privacy/pii-cipher.ts).
    PII_KEY_REF: 'env:CALLLEDGER_TEST_PII_KEY',
    CALLLEDGER_TEST_PII_KEY: env.piiKey,
    ...extra,
  };
}

/** The api Lambda loaded in this process (apiFunctionEnv), with an account and its admin and analyst keys. */
export interface InProcessApi {
  readonly tenant: Tenant;
  readonly adminKey: string;
  readonly analystKey: string;
  /** Calls the handler; every response body is also kept in `texts` (to grep for what must never appear). */
  call(method: string, path: string, key: string, body?: string | object, contentType?: string): Promise<{ status: number; type: string | undefined; body: any }>;
  readonly texts: string[];
}

const LAMBDA_CONTEXT = { functionName: 'test', awsRequestId: 'test', getRemainingTimeInMillis: () => 15_000 } as unknown as Context;

export async function startInProcessApi(env: CoreEnv): Promise<InProcessApi> {
  const tenant = await createTenant(env.config);
  const accountId = tenant.account.accountId;
  const adminKey = randomBytes(24).toString('base64url');
  const analystKey = randomBytes(24).toString('base64url');
  await env.config.putConfigItems([
    configItems.apiKey(sha256(adminKey), { accountId, role: 'admin', label: 'ops' }),
    configItems.apiKey(sha256(analystKey), { accountId, role: 'analyst', label: 'viewer' }),
  ]);
  Object.assign(process.env, apiFunctionEnv(env));
  const { handler: raw } = (await import('../../functions/api')) as unknown as {
    handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
  };
  // Every exchange is checked against the OpenAPI document the handler serves (test/contract/hooks.ts).
  const handler = checkedApiHandler(raw);
  const texts: string[] = [];
  return {
    tenant,
    adminKey,
    analystKey,
    texts,
    async call(method, path, key, body, contentType = 'application/json') {
      const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const res = await handler(
        {
          version: '2.0',
          routeKey: '$default',
          rawPath: path,
          rawQueryString: '',
          headers: { authorization: `Bearer ${key}`, ...(text === undefined ? {} : { 'content-type': contentType }) },
          requestContext: { http: { method, path } } as APIGatewayProxyEventV2['requestContext'],
          ...(text === undefined ? {} : { body: text }),
          isBase64Encoded: false,
        },
        LAMBDA_CONTEXT,
      );
      texts.push(String(res.body));
      return { status: res.statusCode ?? 200, type: res.headers?.['content-type'] as string | undefined, body: JSON.parse(String(res.body)) };
    },
  };
}

