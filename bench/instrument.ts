/**
 * Measurement helpers: percentiles, AWS SDK call timing (a client middleware), CPU use of this process and of
 * the DynamoDB Local JVM, and a sampling CPU profile of the main thread summarised by component.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

// ------------------------------------------------------------------ statistics

/** Nearest-rank percentile of an ascending list (0 for an empty one). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export const round = (n: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

export interface Distribution {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50), 2),
    p90: round(percentile(sorted, 90), 2),
    p99: round(percentile(sorted, 99), 2),
    max: round(sorted.at(-1) ?? 0, 2),
    mean: round(sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length), 2),
  };
}

// ------------------------------------------------------------------ SDK call timing

/** Per-operation totals of one client since the last reset. */
export interface OpStats {
  count: number;
  errors: number;
  totalMs: number;
  maxMs: number;
}

interface MiddlewareStackLike {
  add(middleware: unknown, options: { step: 'initialize'; name: string }): void;
  remove(name: string): boolean;
}

/**
 * Times every command a client sends, end to end as the caller sees it (serialise, sign, HTTP, parse), and keeps
 * a time-weighted count of requests in flight, so the bench can say how much concurrency a component really used.
 */
export class SdkTimer {
  readonly ops = new Map<string, OpStats>();
  /** Epoch ms at which each successful command of `markCommand` completed (e.g. the commit times). */
  readonly marks: number[] = [];
  private inFlight = 0;
  private inFlightArea = 0;
  private since = performance.now();
  private lastChange = performance.now();

  constructor(private readonly markCommand?: string) {}

  attach(client: { middlewareStack: MiddlewareStackLike }, name: string): () => void {
    const middleware =
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: unknown): Promise<unknown> => {
        const op = context.commandName?.replace(/Command$/, '') ?? 'unknown';
        const started = performance.now();
        this.change(+1, started);
        let failed = false;
        try {
          return await next(args);
        } catch (err) {
          failed = true;
          throw err;
        } finally {
          const ended = performance.now();
          this.change(-1, ended);
          const s = this.ops.get(op) ?? { count: 0, errors: 0, totalMs: 0, maxMs: 0 };
          s.count += 1;
          if (failed) s.errors += 1;
          s.totalMs += ended - started;
          s.maxMs = Math.max(s.maxMs, ended - started);
          this.ops.set(op, s);
          if (!failed && op === this.markCommand) this.marks.push(performance.timeOrigin + ended);
        }
      };
    const mwName = `bench-timer-${name}`;
    client.middlewareStack.add(middleware, { step: 'initialize', name: mwName });
    return () => void client.middlewareStack.remove(mwName);
  }

  private change(delta: number, now: number): void {
    this.inFlightArea += this.inFlight * (now - this.lastChange);
    this.lastChange = now;
    this.inFlight += delta;
  }

  reset(): void {
    this.ops.clear();
    this.marks.length = 0;
    this.inFlightArea = 0;
    this.since = this.lastChange = performance.now();
  }

  /** Mean number of requests in flight since the last reset. */
  meanInFlight(): number {
    const now = performance.now();
    const area = this.inFlightArea + this.inFlight * (now - this.lastChange);
    return now > this.since ? area / (now - this.since) : 0;
  }

  summary(): Record<string, { count: number; errors: number; meanMs: number; maxMs: number; totalMs: number }> {
    return Object.fromEntries(
      [...this.ops].map(([op, s]) => [
        op,
        { count: s.count, errors: s.errors, meanMs: round(s.totalMs / Math.max(1, s.count), 2), maxMs: round(s.maxMs, 1), totalMs: Math.round(s.totalMs) },
      ]),
    );
  }
}

// ------------------------------------------------------------------ CPU

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on every mainstream Linux build). */
const USER_HZ = 100;

/** The DynamoDB Local JVM serving `port`, found in /proc (null when not on Linux or not found). */
export function findDynamoDbLocalPid(port: string): number | null {
  let dirs: string[];
  try {
    dirs = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  for (const d of dirs) {
    try {
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (args.some((a) => a.includes('DynamoDBLocal.jar')) && args.at(-1) === `port=${port}`) return Number(d); // infra/local/emulators.ts dynamoDbLocalPortArg
    } catch {
      // The process ended while we looked.
    }
  }
  return null;
}

function processCpuSec(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start at the last ')'; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

export interface CpuWindow {
  readonly wallSec: number;
  /** CPU seconds per wall second: 1.0 = one core busy. */
  readonly nodeCores: number;
  readonly jvmCores: number | null;
  /** Share of time the main thread's event loop was busy (1 = saturated). */
  readonly mainThreadBusy: number;
}

/** Starts measuring CPU use; call the returned function to end the window. */
export function cpuWindow(jvmPid: number | null): () => CpuWindow {
  const wall0 = performance.now();
  const node0 = process.cpuUsage();
  const jvm0 = jvmPid === null ? null : processCpuSec(jvmPid);
  const elu0: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const wallSec = (performance.now() - wall0) / 1000;
    const node = process.cpuUsage(node0);
    const jvm1 = jvmPid === null ? null : processCpuSec(jvmPid);
    return {
      wallSec: round(wallSec, 2),
      nodeCores: round((node.user + node.system) / 1e6 / wallSec, 2),
      jvmCores: jvm0 === null || jvm1 === null ? null : round((jvm1 - jvm0) / wallSec, 2),
      mainThreadBusy: round(performance.eventLoopUtilization(elu0).utilization, 2),
    };
  };
}

// ------------------------------------------------------------------ profile

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const NODE_INTERNALS = 'node internals (http, net, streams, crypto, zlib)';
const NATIVE = 'native/builtins';
/** Components that only ever run on behalf of some caller: byCaller charges their time to that caller. */
const ON_BEHALF = new Set([NODE_INTERNALS, NATIVE]);

/** Where a sample's self time goes, by file path (first match wins). */
const COMPONENTS: readonly (readonly [string, RegExp])[] = [
  [
    'fauxqs (SQS/S3 emulator, in-process)',
    /node_modules\/(fauxqs|fastify|@fastify|avvio|find-my-way|light-my-request|pino|sonic-boom|fast-json-stringify|ajv|valibot|toad-cache|fast-querystring|fast-uri|secure-json-parse|rfdc|fast-decode-uri-component|safe-regex2|process-warning|abstract-logging|json-schema-ref-resolver|safe-stable-stringify|proxy-addr|ipaddr\.js)\//,
  ],
  ['AWS SDK v3 (clients, smithy, XML/JSON)', /node_modules\/(@aws-sdk|@smithy|fast-xml-parser|strnum|tslib|uuid|bowser)/],
  ['zod', /node_modules\/zod\//],
  ['Powertools logger/metrics', /node_modules\/@aws-lambda-powertools/],
  ['middy', /node_modules\/@middy/],
  ['libphonenumber-js', /node_modules\/libphonenumber-js/],
  ['tsx loader', /node_modules\/(tsx|esbuild)/],
  ['other node_modules', /node_modules\//],
  ['app: shared/domain', /\/shared\/domain\//],
  ['app: shared/app', /\/shared\/app\//],
  ['app: shared/adapters', /\/shared\/adapters\//],
  ['app: functions', /\/functions\//],
  ['local stack (HTTP adapter, pollers)', /\/infra\/local\//],
  ['bench instrumentation', /\/bench\//],
  [NODE_INTERNALS, /^node:|^internal\//],
];

function componentOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'V8/native (program)';
    return NATIVE;
  }
  return COMPONENTS.find(([, re]) => re.test(url))?.[0] ?? 'other';
}

export interface ProfileSummary {
  readonly sampledMs: number;
  /** Share of busy (non-idle) samples per component of the frame on top of the stack, largest first. */
  readonly components: readonly { readonly component: string; readonly share: number }[];
  /**
   * The same samples charged to the nearest caller that is neither Node's own JavaScript nor native code: socket
   * writes, crypto and microtask work land on the library or app code that asked for them.
   */
  readonly byCaller: readonly { readonly component: string; readonly share: number }[];
  /** The functions with the most self time (busy share), for the curious. */
  readonly topFunctions: readonly { readonly fn: string; readonly share: number }[];
}

/** Samples the main thread's CPU while `work` runs. */
export async function profile<T>(work: () => Promise<T>): Promise<{ result: T; summary: ProfileSummary }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  const t0 = performance.now();
  let result: T;
  let stopped: { profile: { nodes: ProfileNode[]; samples?: number[] } };
  try {
    result = await work();
  } finally {
    stopped = (await session.post('Profiler.stop')) as typeof stopped;
    session.disconnect();
  }
  const sampledMs = performance.now() - t0;
  const { nodes, samples = [] } = stopped.profile;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const callerOf = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const c = componentOf(byId.get(at)!);
      if (!ON_BEHALF.has(c)) return c;
    }
    return 'node internals (no JS caller: timers, sockets, microtasks)';
  };
  const callers = new Map<string, number>();
  const hits = new Map<number, number>();
  for (const id of samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const components = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, count] of hits) {
    const node = byId.get(id)!;
    const component = componentOf(node);
    if (component === 'idle') continue;
    busy += count;
    components.set(component, (components.get(component) ?? 0) + count);
    const caller = callerOf(id);
    callers.set(caller, (callers.get(caller) ?? 0) + count);
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === '' ? '' : ` ${url.replace(/^file:\/\/.*?\/(node_modules|shared|functions|infra|bench)\//, '$1/')}:${lineNumber + 1}`;
    // Native and Node-internal frames are named with the component that called them (writev ← AWS SDK …).
    const from = ON_BEHALF.has(component) ? ` ← ${caller}` : '';
    const fn = `${functionName || '(anonymous)'}${where}${from}`;
    functions.set(fn, (functions.get(fn) ?? 0) + count);
  }
  const share = (n: number) => round(n / Math.max(1, busy), 3);
  return {
    result: result!,
    summary: {
      sampledMs: Math.round(sampledMs),
      components: [...components].sort((a, b) => b[1] - a[1]).map(([component, n]) => ({ component, share: share(n) })),
      byCaller: [...callers].sort((a, b) => b[1] - a[1]).map(([component, n]) => ({ component, share: share(n) })),
      topFunctions: [...functions]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 15)
        .map(([fn, n]) => ({ fn, share: share(n) })),
    },
  };
}
