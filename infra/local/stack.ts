/**
 * The whole of CallLedger on one machine: emulators, resources from infra/resources.ts, the seed, the HTTP
 * adapter in front of the real handlers, SQS pollers feeding the real consumers, and a fake Twilio media host.
 *
 * The handlers read their configuration from process.env at module load, exactly as in Lambda, so this sets
 * process.env and only then imports them. One local stack per process.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { ENV, FUNCTIONS, QUEUES, STREAMS, type FunctionId } from '../resources';
import { ROUTES } from '../routes';
import { parseSeed, type Seed } from '../../shared/domain/catalog/seed';
import { ConfigRepo, configItems } from '../../shared/adapters/calls/main-repo';
import { envNameForSecret } from '../../shared/adapters/platform/secrets';
import { LOCAL_CREDENTIALS, REPO_ROOT, localClients, startEmulators, type EmulatorEndpoints, type Emulators, type LocalClients } from './emulators';
import { startFakeMedia, type FakeMedia } from './fake-media';
import { fakeCarrierCredentials, generateCarrierSecrets, type LocalCarrierSecrets } from './carrier-secrets';
import { componentChecks } from './health';
import { startHttpAdapter, type ComponentHealth, type HttpHandler } from './http-adapter';
import { LOCAL_INVOKE_ENV } from './invoke';
import { openPersistedState } from './persist';
import { createResources, type ResourceNames } from './resources';
import { localPilotEnv, resolvePilotTimeScale, startLocalPilotWorkflow, type LocalPilotWorkflow } from './stepfunctions';
import { registerPilotWorkflow } from '../../shared/adapters/pilots/workflow';
import { startPollers, type Pollers, type QueueStats, type SqsHandler } from './sqs-poller';
import { startStreamPollers, type StreamHandler, type StreamPollers, type StreamStats } from './stream-poller';
import { resolveScheduleEveryMs, startLocalSchedule, type LocalSchedule, type ScheduledHandler } from './scheduler';
import { accountRegistryKeys } from '../../shared/adapters/catalog/account-registry';

export const DEFAULT_SEED_FILE = join(REPO_ROOT, 'events', 'seed', 'demo.json');
/** Physical-name prefix of the local resources (`callledger-local-main`, …). */
export const LOCAL_PREFIX = 'callledger-local';
const HEALTH_COMPONENTS = ['dynamodb', 'sqs', 's3', 'pollers'] as const;

/** Handlers of different event types (HTTP, SQS) share one table. */
type AnyHandler = (event: any, context: Context) => Promise<any>;

export interface LocalStackOptions {
  /** 0: a free port. Default: the PORT env var, else 3000. */
  readonly port?: number;
  /** Default events/seed/demo.json. */
  readonly seedFile?: string;
  /** Concurrent pollers per queue (default 2). */
  readonly pollersPerQueue?: number;
  /** No progress lines, and handler logs at WARN unless POWERTOOLS_LOG_LEVEL is set. */
  readonly quiet?: boolean;
  /** Progress lines (default console.log unless quiet). */
  readonly log?: (line: string) => void;
  /** Replace functions' handlers (tests with fixtures); the rest are imported from FUNCTIONS[fn].entry. */
  readonly handlers?: Partial<Record<FunctionId, AnyHandler>>;
  /**
   * How often functions with a `schedule` (e.g. the ledger sealer) run, in ms: default LOCAL_SCHEDULE_EVERY_MS, else
   * 60 000; 0 turns them off. The sealer's own settings come from the environment as in Lambda (SEAL_INTERVAL_MS,
   * SEAL_GRACE_MS).
   */
  readonly scheduleEveryMs?: number;
  /** Pilot workflow waits last 1/pilotTimeScale of their time (default LOCAL_PILOT_TIME_SCALE, else 1). */
  readonly pilotTimeScale?: number;
  /**
   * Keep the state in this directory across restarts (infra/local/persist.ts): DynamoDB, queues and buckets, the
   * generated keys and tokens. The seed is loaded when the directory is created, and its own seed is used after.
   * Absent: everything in memory, discarded by stop().
   */
  readonly persistDir?: string;
}

export interface LocalApiKey {
  readonly accountId: string;
  readonly role: 'admin' | 'analyst';
  readonly label: string;
  /** The bearer token; only its sha256 is stored in the table. */
  readonly key: string;
}

export interface LocalSecrets {
  /** accountId → the Twilio auth token generated for it. */
  readonly twilioAuthTokens: Record<string, string>;
  readonly callerHashKey: string;
  /** The key caller numbers are sealed with (PII_KEY_REF=env:PII_KEY; KMS data keys in AWS). */
  readonly piiKey: string;
  readonly apiKeys: readonly LocalApiKey[];
  /** Telnyx, Vonage and Plivo credentials of the seed's accounts, generated like the Twilio tokens (carrier-secrets.ts). */
  readonly carriers: LocalCarrierSecrets;
}

export interface LocalStack {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  /** The fake Twilio media host (`recordingUrl(accountSid, recordingSid)` builds RecordingUrl values). */
  readonly mediaBaseUrl: string;
  readonly media: FakeMedia;
  readonly endpoints: EmulatorEndpoints;
  /** Every variable the handlers were given (resource names, endpoints, secrets): for child processes. */
  readonly env: Record<string, string>;
  readonly names: ResourceNames;
  readonly seed: Seed;
  readonly secrets: LocalSecrets;
  readonly clients: LocalClients;
  /** The pilot state machine, run locally (infra/local/stepfunctions.ts); the API starts executions on it. */
  readonly pilots: LocalPilotWorkflow;
  /** Where the state persists (null: in memory only); `restored` when this start found it there. */
  readonly persistence: { readonly dir: string; readonly restored: boolean; readonly createdAt: string; readonly seedFile: string } | null;
  pollerStats(): Record<string, QueueStats>;
  /** The table streams' readers (the daily aggregates). */
  streamStats(): Record<string, StreamStats>;
  /**
   * Resolves when every queue is drained and no handler is running (see Pollers.waitForIdle), and then every table
   * stream has been read to its end (the aggregates are up to date with what the queues' consumers wrote).
   */
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** Stops everything and restores process.env; idempotent. */
  stop(): Promise<void>;
}

/** The port option, else PORT, else 3000. */
export function resolvePort(port: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  if (port !== undefined) return port;
  const fromEnv = env.PORT;
  if (fromEnv === undefined || fromEnv === '') return 3000;
  const parsed = Number(fromEnv);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new Error(`PORT must be a port number, got ${JSON.stringify(fromEnv)}`);
  return parsed;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Generated at every start, never read from the seed. */
export function generateSecrets(seed: Seed): LocalSecrets {
  return {
    // Twilio auth tokens are 32 hex digits.
    twilioAuthTokens: Object.fromEntries(seed.accounts.map((a) => [a.accountId, randomBytes(16).toString('hex')])),
    callerHashKey: randomBytes(32).toString('base64url'),
    piiKey: randomBytes(32).toString('base64url'),
    apiKeys: seed.apiKeys.map((k) => ({ ...k, key: `cl_local_${randomBytes(24).toString('base64url')}` })),
    carriers: generateCarrierSecrets(seed),
  };
}

/** The main-table items of a seed, in the layout of docs/CONTRACTS.md (via the repository's own item builders). */
export function seedItems(seed: Seed, secrets: LocalSecrets): Record<string, unknown>[] {
  return [
    // Registered (main gsi1, partition ACCOUNTS) so that jobs over every account, the ledger sealer, find them.
    ...seed.accounts.map((a) => ({ ...configItems.account(a), ...accountRegistryKeys(a.accountId) })),
    ...seed.publishers.map(configItems.publisher),
    ...seed.campaigns.map(configItems.campaign),
    ...seed.trackingNumbers.map(configItems.trackingNumber),
    ...secrets.apiKeys.map((k) => configItems.apiKey(sha256Hex(k.key), { accountId: k.accountId, role: k.role, label: k.label })),
  ];
}

export async function loadSeedFile(file: string): Promise<Seed> {
  const path = isAbsolute(file) ? file : resolve(process.cwd(), file);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read seed ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseSeed(json);
}

/** The handlers' environment: the contract of docs/CONTRACTS.md ("Functions and env"). */
export function handlerEnv(args: {
  emulators: Pick<Emulators, 'env'>;
  names: ResourceNames;
  publicBaseUrl: string;
  seed: Seed;
  secrets: LocalSecrets;
  quiet: boolean;
  current?: NodeJS.ProcessEnv;
}): Record<string, string> {
  const current = args.current ?? process.env;
  const env: Record<string, string> = {
    ...args.emulators.env,
    [ENV.mainTable]: args.names.mainTable,
    [ENV.ledgerTable]: args.names.ledgerTable,
    [ENV.aggregatesTable]: args.names.aggregatesTable,
    [ENV.ingestQueueUrl]: args.names.ingestQueueUrl,
    [ENV.recordingsQueueUrl]: args.names.recordingsQueueUrl,
    [ENV.archiveBucket]: args.names.archiveBucket,
    [ENV.recordingsBucket]: args.names.recordingsBucket,
    [ENV.publicBaseUrl]: args.publicBaseUrl,
    [ENV.secretsRef]: 'env:',
    [ENV.callerHashKeyRef]: 'env:CALLER_HASH_KEY',
    CALLER_HASH_KEY: args.secrets.callerHashKey,
    [ENV.piiKeyRef]: 'env:PII_KEY',
    PII_KEY: args.secrets.piiKey,
    [ENV.recordingUrlAllowedHosts]: '127.0.0.1,localhost',
    // Every carrier's media is the fake media host on loopback.
    [ENV.carrierRecordingHosts]: JSON.stringify({ telnyx: ['127.0.0.1', 'localhost'], vonage: ['127.0.0.1', 'localhost'], plivo: ['127.0.0.1', 'localhost'] }),
    [ENV.anchorsBucket]: args.names.anchorsBucket,
    // Every function shares this process: Powertools keeps each invocation's context apart (infra/local/invoke.ts).
    ...LOCAL_INVOKE_ENV,
    POWERTOOLS_DEV: current.POWERTOOLS_DEV ?? 'true',
    POWERTOOLS_SERVICE_NAME: current.POWERTOOLS_SERVICE_NAME ?? 'callledger-local',
  };
  if (args.quiet && current.POWERTOOLS_LOG_LEVEL === undefined) env.POWERTOOLS_LOG_LEVEL = 'WARN';
  for (const account of args.seed.accounts) {
    if (account.twilio !== undefined) env[envNameForSecret(account.twilio.authTokenSecret)] = args.secrets.twilioAuthTokens[account.accountId]!;
  }
  for (const [name, value] of Object.entries(args.secrets.carriers.values)) env[envNameForSecret(name)] = value;
  return env;
}

async function importHandler(fn: FunctionId): Promise<AnyHandler> {
  const file = join(REPO_ROOT, FUNCTIONS[fn].entry);
  const module = (await import(pathToFileURL(file).href)) as { handler?: unknown };
  if (typeof module.handler !== 'function') throw new Error(`${FUNCTIONS[fn].entry} does not export a handler function`);
  return module.handler as AnyHandler;
}

function deferred<T>() {
  let resolveIt!: (value: T) => void;
  let rejectIt!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolveIt = res;
    rejectIt = rej;
  });
  promise.catch(() => {}); // observed through the adapter; never an unhandled rejection
  return { promise, resolve: resolveIt, reject: rejectIt };
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const quiet = opts.quiet ?? false;
  const log = opts.log ?? (quiet ? () => {} : (line: string) => console.log(line));
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

  const persisted =
    opts.persistDir === undefined
      ? null
      : openPersistedState({ dir: opts.persistDir, seedFile: resolve(opts.seedFile ?? DEFAULT_SEED_FILE), generate: generateSecrets });
  const seed = persisted?.seed ?? (await loadSeedFile(opts.seedFile ?? DEFAULT_SEED_FILE));
  const secrets = persisted?.secrets ?? generateSecrets(seed);
  const twilioTokenBySid = new Map(seed.accounts.flatMap((a) => (a.twilio === undefined ? [] : [[a.twilio.accountSid, secrets.twilioAuthTokens[a.accountId]!]])));

  // Everything that must be torn down if start-up fails half-way.
  const cleanups: (() => Promise<void>)[] = [];
  const savedEnv = new Map<string, string | undefined>();
  const restoreEnv = () => {
    for (const [name, value] of savedEnv) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    savedEnv.clear();
  };
  let pollers: Pollers | undefined;
  let streams: StreamPollers | undefined;
  const schedules: LocalSchedule[] = [];
  const handlersReady = deferred<Record<FunctionId, AnyHandler>>();
  let clients: LocalClients | undefined;
  let checks: Record<string, () => Promise<ComponentHealth>> | undefined;

  const stopAll = async () => {
    handlersReady.reject(new Error('local stack stopped'));
    for (const schedule of schedules.splice(0)) await schedule.stop();
    await pollers?.stop();
    await streams?.stop();
    // Pollers first (they finish their batches against live emulators), then in start order: the HTTP adapter
    // stops taking requests before the emulators go.
    for (const cleanup of cleanups) await cleanup().catch(() => {});
    cleanups.length = 0;
    if (clients) for (const client of Object.values(clients)) client.destroy();
    restoreEnv();
    persisted?.release();
  };

  try {
    // The adapter binds first: it fails fast on a busy port, and the public URL (with port 0, the port) must be
    // known before the handlers load. Requests that arrive early wait for the handlers.
    const adapter = await startHttpAdapter({
      port: resolvePort(opts.port),
      routes: ROUTES,
      functions: FUNCTIONS,
      loadHandler: async (fn) => (await handlersReady.promise)[fn] as HttpHandler,
      // Until the emulators are up and the resources exist, every component but the pollers reports 'starting'.
      health: Object.fromEntries(
        HEALTH_COMPONENTS.map((name) => [name, () => checks?.[name]?.() ?? Promise.resolve<ComponentHealth>({ down: 'starting' })]),
      ),
      log: (line) => console.error(line),
    });
    cleanups.push(() => adapter.stop());

    log('starting DynamoDB Local, fauxqs and the fake media host…');
    // allSettled, not all: whatever did start must be registered for cleanup before a failure is rethrown.
    const [emulatorsResult, mediaResult] = await Promise.allSettled([
      startEmulators({ log, ...(persisted ? { dataDir: persisted.dir } : {}) }),
      startFakeMedia({ credentials: twilioTokenBySid, carriers: fakeCarrierCredentials(seed, secrets.carriers) }),
    ]);
    if (emulatorsResult.status === 'fulfilled') cleanups.push(() => emulatorsResult.value.stop());
    if (mediaResult.status === 'fulfilled') cleanups.push(() => mediaResult.value.stop());
    if (emulatorsResult.status === 'rejected') throw emulatorsResult.reason;
    if (mediaResult.status === 'rejected') throw mediaResult.reason;
    const emulators = emulatorsResult.value;
    const media = mediaResult.value;
    log(`emulators up (${elapsed()})`);
    clients = localClients(emulators.endpoints, emulators.region);
    const names = await createResources(emulators.endpoints, LOCAL_PREFIX);
    checks = componentChecks(clients, names, () => pollers);

    const publicBaseUrl = process.env.PUBLIC_BASE_URL || `http://127.0.0.1:${adapter.port}`;
    const env = { ...handlerEnv({ emulators, names, publicBaseUrl, seed, secrets, quiet }), ...localPilotEnv() };
    for (const [name, value] of Object.entries(env)) {
      if (!savedEnv.has(name)) savedEnv.set(name, process.env[name]);
      process.env[name] = value;
    }

    if (persisted?.restored) {
      // Reloading the seed would overwrite what the API changed since; its keys' items are already in the table.
      log(`state restored from ${persisted.dir} (created ${persisted.createdAt} from ${persisted.seedFile}) (${elapsed()})`);
    } else {
      const repo = new ConfigRepo({ mainTable: names.mainTable, client: clients.dynamodb });
      await repo.putConfigItems(seedItems(seed, secrets));
      persisted?.markSeeded();
      log(`resources created and seed loaded: ${seed.accounts.length} account(s), ${seed.trackingNumbers.length} tracking number(s) (${elapsed()})`);
    }

    // Imported only now: handlers parse process.env at module load.
    const ids = Object.keys(FUNCTIONS) as FunctionId[];
    const handlers = Object.fromEntries(
      await Promise.all(ids.map(async (fn) => [fn, opts.handlers?.[fn] ?? (await importHandler(fn))] as const)),
    ) as Record<FunctionId, AnyHandler>;
    // The pilot state machine on aws-local-stepfunctions, with its tasks bound to the pilot-workflow handler; the
    // API's use case finds it through the workflow registry (no Step Functions endpoint locally).
    const pilots = startLocalPilotWorkflow({ handler: handlers.pilotWorkflow, timeScale: resolvePilotTimeScale(opts.pilotTimeScale), log: (line) => console.error(line) });
    registerPilotWorkflow(pilots);
    cleanups.unshift(async () => {
      await pilots.stopAll();
      registerPilotWorkflow(undefined);
    });
    handlersReady.resolve(handlers);
    log(`handlers loaded (${elapsed()})`);

    const queueUrls = { ingest: names.ingestQueueUrl, recordings: names.recordingsQueueUrl } as const;
    pollers = await startPollers({
      sqs: clients.sqs,
      region: emulators.region,
      pollersPerQueue: opts.pollersPerQueue,
      log: (line) => console.error(line),
      queues: (Object.keys(QUEUES) as (keyof typeof QUEUES)[]).map((key) => {
        const def = QUEUES[key];
        return {
          name: key,
          queueUrl: queueUrls[key],
          batchSize: def.batchSize,
          maxBatchingWindowSec: def.maxBatchingWindowSec,
          fn: FUNCTIONS[def.consumer],
          handler: handlers[def.consumer] as SqsHandler,
        };
      }),
    });

    // Table streams feeding their consumers (Lambda event source mappings in AWS): the daily aggregates.
    const tableNames = { main: names.mainTable, ledger: names.ledgerTable, aggregates: names.aggregatesTable } as const;
    streams = await startStreamPollers({
      dynamodb: clients.dynamodb,
      endpoint: emulators.endpoints.dynamodb,
      region: emulators.region,
      credentials: LOCAL_CREDENTIALS,
      log: (line) => console.error(line),
      streams: (Object.keys(STREAMS) as (keyof typeof STREAMS)[]).map((key) => {
        const def = STREAMS[key];
        return { name: key, tableName: tableNames[def.table], def, fn: FUNCTIONS[def.consumer], handler: handlers[def.consumer] as StreamHandler };
      }),
    });

    // Scheduled functions (EventBridge Scheduler in AWS) on a local timer, calling the real handlers.
    const everyMs = resolveScheduleEveryMs(opts.scheduleEveryMs);
    for (const def of Object.values(FUNCTIONS)) {
      if (!('schedule' in def) || everyMs === 0) continue;
      schedules.push(startLocalSchedule({ fn: def, handler: handlers[def.id] as ScheduledHandler, everyMs, log: (line) => console.error(line) }));
    }

    let stopped: Promise<void> | undefined;
    const stack: LocalStack = {
      baseUrl: adapter.url,
      mediaBaseUrl: media.baseUrl,
      media,
      endpoints: emulators.endpoints,
      env,
      names,
      seed,
      secrets,
      clients,
      pilots,
      persistence: persisted && { dir: persisted.dir, restored: persisted.restored, createdAt: persisted.createdAt, seedFile: persisted.seedFile },
      pollerStats: () => pollers!.stats(),
      streamStats: () => streams!.stats(),
      waitForIdle: async (timeoutMs) => {
        await pollers!.waitForIdle(timeoutMs);
        await streams!.waitForIdle(timeoutMs);
      },
      stop: () => (stopped ??= stopAll()),
    };
    return stack;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
