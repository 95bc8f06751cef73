/**
 * Local AWS emulators: the official DynamoDB Local (a JVM child process) and fauxqs (SQS + S3, in-process).
 *
 * No AWS account and no Docker: DynamoDB Local's jar is taken from the npm package that ships it
 * (`amplify-dynamodb-simulator`, fetched once into `.cache/`, without its 300 MB of dependencies), and
 * fauxqs runs as a Fastify app inside this process, bound to loopback.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
// fauxqs's own persistence wiring (what its `startFauxqs` does with `dataDir`), done here because `startFauxqs` binds
// every interface and takes no hook before it listens (see `startFauxqs` below). These modules are not in its
// package exports; the restart test (test/int/local/persistence.int.test.ts) catches a fauxqs upgrade that moves them.
import { PersistenceManager } from '../../node_modules/fauxqs/dist/persistence.js';
import { S3Store } from '../../node_modules/fauxqs/dist/s3/s3Store.js';
import { SnsStore } from '../../node_modules/fauxqs/dist/sns/snsStore.js';
import { SqsStore } from '../../node_modules/fauxqs/dist/sqs/sqsStore.js';
import { installS3Tagging } from './s3-tagging';

const execFileAsync = promisify(execFile);

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Version pinned in LOCAL-STACK.md (ships DynamoDB Local 1.25.1). */
const SIMULATOR_PACKAGE = 'amplify-dynamodb-simulator@2.9.30';
const JAR_DIR = join(REPO_ROOT, '.cache', 'dynamodb-local');
/** A fetch lock older than this is treated as left behind by a killed process. */
const STALE_LOCK_MS = 3 * 60_000;
const DYNAMO_READY_TIMEOUT_MS = 30_000;

export const LOCAL_REGION = 'us-east-1';
/** Dummy credentials: the emulators accept any, the SDK insists on some. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface EmulatorEndpoints {
  readonly dynamodb: string;
  readonly sqs: string;
  readonly s3: string;
}

export interface Emulators {
  readonly endpoints: EmulatorEndpoints;
  readonly region: string;
  /** What an AWS SDK v3 client needs to reach these emulators (endpoints, region, dummy credentials). */
  readonly env: Record<string, string>;
  /** Stops both emulators; idempotent. */
  stop(): Promise<void>;
}

export interface StartEmulatorsOptions {
  /** 0 or absent: a free port. */
  readonly dynamoPort?: number;
  readonly fauxqsPort?: number;
  /** Progress lines (the one-time jar fetch, start-up). Silent by default. */
  readonly log?: (line: string) => void;
  /**
   * Where state survives a restart (absent: everything in memory): DynamoDB Local's SQLite file in `<dir>/dynamodb`,
   * fauxqs's queues, messages, buckets and objects in `<dir>/fauxqs`, object tags in `<dir>/fauxqs/s3-tags.json`.
   */
  readonly dataDir?: string;
}

type Log = (line: string) => void;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface JarCacheOptions {
  /** Where the emulator folder lives (default `.cache/dynamodb-local`). */
  readonly dir?: string;
  /** Downloads and unpacks the emulator folder inside `workDir`, returning its path (default: npm pack). */
  readonly fetch?: (workDir: string, log: Log) => Promise<string>;
}

/**
 * Makes sure `.cache/dynamodb-local/DynamoDBLocal.jar` exists, fetching it once with `npm pack`.
 * Safe under concurrency (several test workers on a fresh clone): a `mkdir` lock lets one process fetch;
 * the others wait for it. The fetch unpacks into a temporary sibling and renames it into place, so a
 * half-extracted directory is never visible under the final name.
 * @returns the directory holding DynamoDBLocal.jar and DynamoDBLocal_lib/.
 */
export async function ensureDynamoDbLocalJar(log: Log = () => {}, opts: JarCacheOptions = {}): Promise<string> {
  const dir = opts.dir ?? JAR_DIR;
  const lock = `${dir}.lock`;
  const jar = join(dir, 'DynamoDBLocal.jar');
  if (existsSync(jar)) return dir;
  await mkdir(dirname(dir), { recursive: true });
  for (;;) {
    if (existsSync(jar)) return dir;
    try {
      await mkdir(lock);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
      else await sleep(250);
      continue;
    }
    try {
      if (!existsSync(jar)) await installJar(dir, opts.fetch ?? packEmulator, log);
      return dir;
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

async function installJar(dir: string, fetch: NonNullable<JarCacheOptions['fetch']>, log: Log): Promise<void> {
  log('fetching DynamoDB Local (one time, ~64 MB)…');
  const started = Date.now();
  const work = await mkdtemp(`${dir}.tmp-`);
  try {
    const extracted = await fetch(work, log);
    if (!existsSync(join(extracted, 'DynamoDBLocal.jar'))) {
      throw new Error(`${SIMULATOR_PACKAGE} has no emulator/DynamoDBLocal.jar; found ${(await readdir(extracted)).join(', ')}`);
    }
    // A jar-less leftover (a folder emptied by hand) would block the rename.
    if (!existsSync(join(dir, 'DynamoDBLocal.jar'))) await rm(dir, { recursive: true, force: true });
    try {
      await rename(extracted, dir);
    } catch (err) {
      // Someone else won (only possible when the lock was judged stale): theirs is complete, keep it.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
    log(`DynamoDB Local cached in ${relative(REPO_ROOT, dir) || dir} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** `npm pack` the simulator package and extract only its `emulator/` folder (its dependencies are never installed). */
async function packEmulator(work: string): Promise<string> {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const { stdout } = await execFileAsync(npm, ['pack', SIMULATOR_PACKAGE, '--silent', '--pack-destination', work], {
    cwd: work,
    maxBuffer: 1 << 20,
  }).catch((err: Error) => {
    throw new Error(`could not fetch ${SIMULATOR_PACKAGE} with npm pack (is the npm registry reachable?): ${err.message}`);
  });
  const tgz = stdout.trim().split('\n').pop()!.trim();
  await execFileAsync('tar', ['-xzf', join(work, tgz), '-C', work, 'package/emulator']);
  return join(work, 'package', 'emulator');
}

/** A port the OS considers free right now (the listener is closed before the caller binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Freezes a running emulator for dependency-outage tests: it keeps its port, connections and state but answers
 * nothing until thawed, as a process stopped with SIGSTOP does (DynamoDB Local is exactly that; fauxqs, in this
 * process, holds every request). Requests that arrived while frozen are served on thaw, as after SIGCONT.
 */
export interface EmulatorControl {
  freeze(): void;
  thaw(): void;
  readonly frozen: boolean;
}

/** The controls of the running emulators, by endpoint (LocalStack.endpoints / Emulators.endpoints). */
const controls = new Map<string, EmulatorControl>();

/** The freeze control of the emulator serving `endpoint` in this process. */
export function emulatorControl(endpoint: string): EmulatorControl {
  const control = controls.get(endpoint);
  if (control === undefined) throw new Error(`no emulator of this process serves ${endpoint}`);
  return control;
}

interface DynamoProcess {
  readonly endpoint: string;
  readonly control: EmulatorControl;
  stop(): Promise<void>;
}

function xmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The Jetty XML that runs DynamoDB Local bound to loopback. DynamoDB Local has no host option: its own main
 * (`-jar DynamoDBLocal.jar`) builds `new Server(port)`, which listens on every interface, and it checks no
 * credentials, so anyone who can reach the port could write the main table (one PutItem of an `APIKEY#` item mints an
 * admin key). Jetty's XmlConfiguration (jetty-xml ships in DynamoDBLocal_lib) builds the same server from the same
 * classes — the request handler DynamoDB Local's main would build, arguments in its order — behind a connector on
 * 127.0.0.1. CORS is off (an empty allow-list): no browser page may read its answers.
 * `dbPath` null: in memory (`-inMemory`); else one shared SQLite file in that directory (`-dbPath DIR -sharedDb`).
 */
export function dynamoDbLocalJettyXml(dbPath: string | null): string {
  const db = dbPath === null ? '<Arg type="boolean">true</Arg><Arg><Property name="no.db.path"/></Arg>' : `<Arg type="boolean">false</Arg><Arg>${xmlText(dbPath)}</Arg>`;
  return `<?xml version="1.0"?>
<!DOCTYPE Configure PUBLIC "-//Jetty//Configure//EN" "http://www.eclipse.org/jetty/configure_9_3.dtd">
<Configure id="Server" class="org.eclipse.jetty.server.Server">
  <Call name="addConnector">
    <Arg>
      <New class="org.eclipse.jetty.server.ServerConnector">
        <Arg><Ref refid="Server"/></Arg>
        <Set name="host">127.0.0.1</Set>
        <Set name="port"><Property name="port"/></Set>
      </New>
    </Arg>
  </Call>
  <Set name="handler">
    <New class="org.eclipse.jetty.server.handler.ContextHandler">
      <Set name="handler">
        <New class="com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBServerHandler">
          <Arg>
            <New class="com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBRequestHandler">
              <Arg type="int">0</Arg>
              ${db}
              <Arg type="boolean">true</Arg>
              <Arg type="boolean">false</Arg>
            </New>
          </Arg>
          <Arg></Arg>
        </New>
      </Set>
    </New>
  </Set>
</Configure>
`;
}

/** The last argument of a DynamoDB Local JVM's command line: its port (tests and bench/instrument.ts find the JVM by it). */
export const dynamoDbLocalPortArg = (port: number | string) => `port=${port}`;

/**
 * Starts DynamoDB Local on 127.0.0.1 (see `dynamoDbLocalJettyXml`) and waits until it answers ListTables.
 *
 * Supervision: the JVM is killed by `stop()`, on this process's `exit`, on SIGINT/SIGTERM, and by a
 * detached shell watchdog that polls this process's pid, so a SIGKILLed parent (a killed test worker)
 * does not leave an orphaned JVM behind.
 */
async function startDynamoDbLocal(port: number, log: Log, dbPath: string | null): Promise<DynamoProcess> {
  const dir = await ensureDynamoDbLocalJar(log);
  // DynamoDB Local writes dynamodb-local-metadata.json into its cwd: keep it out of the repository.
  const cwd = await mkdtemp(join(tmpdir(), 'callledger-ddb-'));
  const config = join(cwd, 'dynamodb-local.xml');
  await writeFile(config, dynamoDbLocalJettyXml(dbPath));
  const args = [
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    // C1 only and the serial GC: the JVM is ready about a second sooner, and a small in-memory table does not need C2.
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    // Jetty's own start-up INFO lines.
    '-Dorg.eclipse.jetty.LEVEL=WARN',
    '-cp',
    `${join(dir, 'DynamoDBLocal.jar')}${process.platform === 'win32' ? ';' : ':'}${join(dir, 'DynamoDBLocal_lib', '*')}`,
    'org.eclipse.jetty.xml.XmlConfiguration',
    config,
    dynamoDbLocalPortArg(port),
  ];
  // DDB_LOCAL_TELEMETRY=0: what -disableTelemetry sets for DynamoDB Local's own main.
  const child = spawn('java', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' } });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);

  const exited = new Promise<Error>((resolveExit) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      resolveExit(
        err.code === 'ENOENT'
          ? new Error('Java 17 is required to run DynamoDB Local: apt-get install openjdk-17-jre-headless')
          : err,
      ),
    );
    child.once('exit', (code, signal) =>
      resolveExit(new Error(`DynamoDB Local exited (code ${code}, signal ${signal}) before it was ready:\n${output}`)),
    );
  });

  const watchdog = child.pid ? spawnWatchdog(process.pid, child.pid) : undefined;
  const killNow = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const onSignal = (signal: NodeJS.Signals) => {
    killNow();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    // Nobody else handles it: keep the default behaviour (terminate) rather than swallow the signal.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.on('exit', killNow);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let frozen = false;
  const running = () => child.pid !== undefined && child.exitCode === null && child.signalCode === null;
  const control: EmulatorControl = {
    freeze: () => {
      if (!frozen && running()) {
        process.kill(child.pid!, 'SIGSTOP');
        frozen = true;
      }
    },
    thaw: () => {
      if (frozen && running()) process.kill(child.pid!, 'SIGCONT');
      frozen = false;
    },
    get frozen() {
      return frozen;
    },
  };

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // A stopped JVM would hold SIGTERM pending until the 3 s SIGKILL below.
      control.thaw();
      process.removeListener('exit', killNow);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      // No pid: the spawn itself failed (no java), there is no process to wait for.
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await gone;
        clearTimeout(timer);
      }
      watchdog?.kill('SIGKILL');
      await rm(cwd, { recursive: true, force: true });
    })());

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    const deadline = Date.now() + DYNAMO_READY_TIMEOUT_MS;
    let lastError: unknown;
    let ready = false;
    while (!ready) {
      const attempt = client.send(new ListTablesCommand({ Limit: 1 })).then(
        () => true,
        (err: unknown) => {
          lastError = err;
          return false;
        },
      );
      const result = await Promise.race([attempt, exited]);
      if (result instanceof Error) throw result;
      ready = result;
      if (!ready) {
        if (Date.now() > deadline) {
          throw new Error(`DynamoDB Local did not answer within ${DYNAMO_READY_TIMEOUT_MS} ms: ${String(lastError)}\n${output}`);
        }
        await sleep(100);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    client.destroy();
  }
  return { endpoint, control, stop };
}

/**
 * A detached `sh` loop that SIGKILLs `childPid` once `parentPid` is gone; it exits by itself when the
 * child exits first. It checks the child before killing so a recycled pid is never hit after a normal stop.
 */
function spawnWatchdog(parentPid: number, childPid: number): ChildProcess {
  const script =
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 0.5; done; ' +
    'if ! kill -0 "$1" 2>/dev/null; then kill -9 "$2" 2>/dev/null; fi';
  const watchdog = spawn('sh', ['-c', script, 'watchdog', String(parentPid), String(childPid)], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.on('error', () => {}); // no sh: the exit/signal hooks still cover ordinary exits
  watchdog.unref();
  return watchdog;
}

interface FauxqsProcess {
  readonly endpoint: string;
  readonly control: EmulatorControl;
  stop(): Promise<void>;
}

/**
 * fauxqs in library mode. `startFauxqs` listens on 0.0.0.0 unconditionally, so the app is built with
 * `buildApp` and bound to loopback here. With `dataDir`, its stores are loaded from and written through to fauxqs's
 * SQLite file there (every mutation at once), as `startFauxqs({ dataDir })` wires them.
 */
async function startFauxqs(port: number, region: string, dataDir: string | null): Promise<FauxqsProcess> {
  let persistence: PersistenceManager | undefined;
  let stores: { sqsStore: SqsStore; snsStore: SnsStore; s3Store: S3Store } | undefined;
  if (dataDir !== null) {
    stores = { sqsStore: new SqsStore(), snsStore: new SnsStore(), s3Store: new S3Store() };
    persistence = new PersistenceManager(dataDir);
    // Loaded before the stores are given the manager: restoring must not write back (fauxqs's order).
    persistence.load(stores.sqsStore, stores.snsStore, stores.s3Store);
    stores.sqsStore.persistence = persistence;
    stores.snsStore.persistence = persistence;
    for (const queue of stores.sqsStore.allQueues()) queue.persistence = persistence;
    stores.s3Store.persistence = persistence;
  }
  const app = buildApp({ logger: false, defaultRegion: region, ...(stores ? { stores } : {}) });
  if (persistence) {
    const manager = persistence;
    app.addHook('preClose', () => manager.close());
  }
  // Frozen (EmulatorControl): every request waits here, before fauxqs sees it, until thawed.
  let gate: { readonly held: Promise<void>; readonly open: () => void } | null = null;
  app.addHook('onRequest', async () => {
    if (gate !== null) await gate.held;
  });
  const control: EmulatorControl = {
    freeze: () => {
      if (gate !== null) return;
      let open!: () => void;
      const held = new Promise<void>((resolveHeld) => (open = resolveHeld));
      gate = { held, open };
    },
    thaw: () => {
      gate?.open();
      gate = null;
    },
    get frozen() {
      return gate !== null;
    },
  };
  // fauxqs has no object tagging (it overwrites the object instead): recordings' retention and hold tags need it.
  installS3Tagging(app, dataDir === null ? {} : { file: join(dataDir, 's3-tags.json') });
  await app.listen({ port, host: '127.0.0.1' });
  const { port: actual } = app.server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    control,
    // Held requests would keep close() waiting: they are released first.
    stop: () => (stopped ??= (control.thaw(), app.close().then(() => undefined))),
  };
}

/**
 * fauxqs names queues `http://sqs.<region>.localhost:<port>/000000000000/<name>`, and the SQS client sends
 * each request to its QueueUrl's host when that differs from the endpoint; `*.localhost` does not resolve on
 * every machine. fauxqs finds a queue by its name alone when the URL carries no `sqs.<region>.` host, so
 * the loopback form `http://127.0.0.1:<port>/000000000000/<name>` addresses the same queue with no DNS
 * patching (and no SDK warning).
 */
export function loopbackQueueUrl(queueUrl: string, sqsEndpoint: string): string {
  const url = new URL(queueUrl);
  return `${sqsEndpoint.replace(/\/$/, '')}${url.pathname}`;
}

/**
 * A free port can be taken by another process between the probe and the JVM's bind (parallel test
 * workers): with no fixed port, try again on a new one.
 */
async function startDynamoOnSomePort(fixedPort: number | undefined, log: Log, dbPath: string | null): Promise<DynamoProcess> {
  if (fixedPort) return startDynamoDbLocal(fixedPort, log, dbPath);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDynamoDbLocal(await freePort(), log, dbPath);
    } catch (err) {
      if (attempt >= 3 || !/Address already in use|BindException/.test(String(err))) throw err;
    }
  }
}

/** Starts DynamoDB Local and fauxqs in parallel. */
export async function startEmulators(opts: StartEmulatorsOptions = {}): Promise<Emulators> {
  const log = opts.log ?? (() => {});
  const region = LOCAL_REGION;
  const dynamoDir = opts.dataDir === undefined ? null : resolve(opts.dataDir, 'dynamodb');
  if (dynamoDir !== null) await mkdir(dynamoDir, { recursive: true, mode: 0o700 });
  const [dynamo, faux] = await Promise.allSettled([
    startDynamoOnSomePort(opts.dynamoPort, log, dynamoDir),
    startFauxqs(opts.fauxqsPort ?? 0, region, opts.dataDir === undefined ? null : resolve(opts.dataDir, 'fauxqs')),
  ]);
  if (dynamo.status === 'rejected' || faux.status === 'rejected') {
    if (dynamo.status === 'fulfilled') await dynamo.value.stop();
    if (faux.status === 'fulfilled') await faux.value.stop();
    throw dynamo.status === 'rejected' ? dynamo.reason : (faux as PromiseRejectedResult).reason;
  }
  const endpoints: EmulatorEndpoints = {
    dynamodb: dynamo.value.endpoint,
    sqs: faux.value.endpoint,
    s3: faux.value.endpoint,
  };
  const env: Record<string, string> = {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
  };
  controls.set(endpoints.dynamodb, dynamo.value.control);
  controls.set(faux.value.endpoint, faux.value.control);
  let stopped: Promise<void> | undefined;
  return {
    endpoints,
    region,
    env,
    stop: () =>
      (stopped ??= (() => {
        controls.delete(endpoints.dynamodb);
        controls.delete(faux.value.endpoint);
        return Promise.all([dynamo.value.stop(), faux.value.stop()]).then(() => undefined);
      })()),
  };
}

export interface LocalClients {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
}

/** SDK clients pointed at the emulators (explicit endpoints: they do not depend on process.env). */
export function localClients(endpoints: EmulatorEndpoints, region: string = LOCAL_REGION): LocalClients {
  const common = { region, credentials: LOCAL_CREDENTIALS };
  return {
    dynamodb: new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb }),
    sqs: new SQSClient({ ...common, endpoint: endpoints.sqs }),
    s3: new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true }),
  };
}
