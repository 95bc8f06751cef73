/**
 * `npm run bench`: CallLedger's performance figures from ONE run of the local stack ("Benchmark").
 *
 *   npm run bench [-- --calls 2000] [-- --ack-rate 200] [-- --ack-seconds 10] [-- --no-profile] [-- --no-bundles]
 *                 [-- --voice-rate 50] [-- --voice-seconds 10] [-- --no-voice]
 *                 [-- --no-analytics] [-- --analytics-calls 1000000]
 *   npm run bench -- analytics [--analytics-calls 1000000]     (phase X alone: no stack, figures printed only)
 *
 * Phases, in order (progress lines on stdout, the table at the end, everything in bench/results.json):
 *  0. start the local stack (2 ingest pollers, i.e. two concurrent ledger-writer instances) and warm it up;
 *  A. webhook ack latency under a fixed OFFERED load (open loop, measured from each request's due time): with
 *     the whole stack running, then with the ledger writer held back (the ingest alone, as in Lambda where the
 *     writer does not share the ingest's CPU);
 *  B. end to end: the ringing webhooks of K billable calls (merged, drained), then their completed webhooks as
 *     fast as the ingest accepts them, timed from the first POST to the last committed charge; DynamoDB requests
 *     and consumed write units per billable call over both; then a few recordings, counted separately;
 *  R. the floor: the same rating transactions (built by the production adapter) straight into the same
 *     DynamoDB Local at the writer's nominal concurrency, in two halves bracketing the drain, then at a higher one;
 *  P. CPU profiles of the main thread: the ingest alone, then the writer alone draining what it queued;
 *  V. the voice URL answering new calls at a fixed offered rate (open loop), the voice function alone: p50/p95/p99
 *     and DynamoDB requests per admitted call (bench/voice.ts);
 *  S. each function's bundle size and module-load time;
 *  X. the issue-5 reports over 1,000,000 synthetic calls: threshold sweep and scorecard time against a plain pass
 *     over the same array, and the streamed passes' memory (bench/analytics.ts).
 * A script, not a test: it reports figures against targets and never fails on them.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, SQSEvent } from 'aws-lambda';
import { QUEUES } from '../infra/resources';
import { REPO_ROOT } from '../infra/local/emulators';
import { startLocalStack, type LocalStack } from '../infra/local/stack';
import { ddbStats, dynamodb, s3, sqs } from '../shared/adapters/platform/aws';
import { measureBundles, type BundleFigures } from './bundles';
import { cpuWindow, distribution, findDynamoDbLocalPid, percentile, profile, round, SdkTimer, type CpuWindow, type ProfileSummary } from './instrument';
import { runLoad, type LoadSample } from './load';
import { rawFloor, type RawFloorResult } from './raw-tx';
import { billableCallSet, type CallSet } from './workload';
import { voiceBench, voiceTargetRows, type VoiceRun } from './voice';
import { analyticsTargetRows, runAnalyticsBench, type AnalyticsFigures } from './analytics';
import { twilioOf } from '../shared/domain/catalog/carriers';

// ------------------------------------------------------------------ options and targets

const { values: flags, positionals } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    'ack-rate': { type: 'string', default: '200' },
    'ack-seconds': { type: 'string', default: '10' },
    'no-profile': { type: 'boolean', default: false },
    'no-bundles': { type: 'boolean', default: false },
    'no-analytics': { type: 'boolean', default: false },
    'voice-rate': { type: 'string', default: '50' },
    'voice-seconds': { type: 'string', default: '10' },
    'no-voice': { type: 'boolean', default: false },
    'analytics-calls': { type: 'string', default: '1000000' },
  },
  allowPositionals: true,
  strict: true,
});

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

const K = positiveInt('calls', flags.calls);
const ACK_RATE = positiveInt('ack-rate', flags['ack-rate']);
const ACK_SECONDS = positiveInt('ack-seconds', flags['ack-seconds']);
const VOICE_RATE = positiveInt('voice-rate', flags['voice-rate']);
const VOICE_SECONDS = positiveInt('voice-seconds', flags['voice-seconds']);
const ANALYTICS_CALLS = positiveInt('analytics-calls', flags['analytics-calls']);
/** Concurrent ledger-writer instances (pollers on the ingest queue). */
const POLLERS = 2;
/** Calls a writer rates at once inside one batch: processIngestBatch's default `concurrency` (not exported there). */
const WRITER_CALL_CONCURRENCY = 16;
/** The most rating transactions the writer can have in flight: pollers × calls per batch at once. */
const WRITER_CONCURRENCY = POLLERS * Math.min(QUEUES.ingest.batchSize, WRITER_CALL_CONCURRENCY);
const RAW_HIGH_CONCURRENCY = 64;
/** Senders feeding the drain (closed loop): enough to keep the ingest busy without a thundering herd. */
const FEED_CONCURRENCY = 16;
/** The ingest-alone variant of the ack measurement is shorter: it is a diagnosis of the headline figure. */
const ACK_ALONE_SECONDS = 5;
const RECORDINGS = 200;
const PROFILE_CALLS = 1000;
const IDLE_TIMEOUT_MS = 180_000;

const TARGETS = {
  ackP99Ms: 25,
  ratioMin: 0.6,
  ratioAim: 0.8,
  ddbRequestsPerCall: 2,
  wcuPerCall: 8,
  bundleKb: 250,
  moduleLoadMs: 50,
  voiceP99Ms: 50,
  voiceDdbRequestsPerAdmittedCall: 2,
  voiceBundleKb: 150,
  voiceModuleLoadMs: 100,
};

// ------------------------------------------------------------------ progress

const t0 = Date.now();
const progress = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}`);

// ------------------------------------------------------------------ helpers

/**
 * The ledger writer, wrapped to time each batch and to be held back on demand (to measure the ingest alone);
 * imported on first use, after the stack has set the environment it reads at module load.
 */
class TimedWriter {
  readonly batches: { startMs: number; endMs: number; records: number }[] = [];
  private real: ((event: SQSEvent, context: Context) => Promise<unknown>) | undefined;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  readonly handler = async (event: SQSEvent, context: Context): Promise<unknown> => {
    this.real ??= (await import('../functions/ledger-writer')).handler as unknown as (event: SQSEvent, context: Context) => Promise<unknown>;
    // A held batch stays in flight on the queue (well inside its visibility timeout), as if the writer were slow to start.
    await this.gate;
    const startMs = performance.now();
    try {
      return await this.real(event, context);
    } finally {
      this.batches.push({ startMs, endMs: performance.now(), records: event.Records.length });
    }
  };

  /** Holds every batch before the handler until resume(): each poller then holds one batch and receives no more. */
  pause(): void {
    this.gate ??= new Promise((resolve) => (this.openGate = resolve));
  }

  resume(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  /** Batches that started in [fromMs, toMs] (performance.now() times). */
  between(fromMs: number, toMs: number) {
    const list = this.batches.filter((b) => b.startMs >= fromMs && b.startMs <= toMs);
    const busyMs = list.reduce((s, b) => s + (b.endMs - b.startMs), 0);
    return {
      batches: list.length,
      meanRecords: round(list.reduce((s, b) => s + b.records, 0) / Math.max(1, list.length), 1),
      meanBatchMs: round(busyMs / Math.max(1, list.length), 1),
      busyMs: Math.round(busyMs),
    };
  }
}

/** Open-loop ack latency of `requests` at ACK_RATE, from each request's due time. */
async function ackPhase(baseUrl: string, requests: CallSet['lifecycle'], jvmPid: number | null) {
  const window = cpuWindow(jvmPid);
  const samples = await runLoad(baseUrl, requests, { kind: 'open', ratePerSec: ACK_RATE });
  const cpu = window();
  const start = Math.min(...samples.map((s) => s.dueAt));
  const spanSec = (Math.max(...samples.map((s) => s.doneAt)) - start) / 1000;
  // Per second of the schedule: a single stall (GC, a neighbour taking the CPU) shows as one bad second, steady
  // queueing as a rising series.
  const seconds: number[][] = [];
  for (const s of samples) (seconds[Math.floor((s.dueAt - start) / 1000)] ??= []).push(s.doneAt - s.dueAt);
  return {
    offeredPerSec: ACK_RATE,
    requests: samples.length,
    achievedPerSec: round(samples.length / spanSec, 1),
    statusCounts: statusCounts(samples),
    latencyFromDueMs: distribution(samples.map((s) => s.doneAt - s.dueAt)),
    /** How late the sender itself was (due → on the wire): large values would mean the generator, not the server, lagged. */
    senderLagMs: distribution(samples.map((s) => s.sentAt - s.dueAt)),
    p99BySecondMs: seconds.map((l) => distribution(l ?? []).p99),
    /** Main-thread time per webhook (HTTP adapter, handler, SDK, fauxqs, and the writer when it runs). */
    mainThreadMsPerWebhook: round((cpu.mainThreadBusy * cpu.wallSec * 1000) / samples.length, 2),
    cpu,
  };
}

type AckFigures = Awaited<ReturnType<typeof ackPhase>>;

function statusCounts(samples: readonly LoadSample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) out[String(s.status)] = (out[String(s.status)] ?? 0) + 1;
  return out;
}

function expectAll204(samples: readonly LoadSample[], what: string): void {
  const counts = statusCounts(samples);
  if ((counts['204'] ?? 0) !== samples.length) throw new Error(`${what}: not every webhook was accepted: ${JSON.stringify(counts)}`);
}

/** How many charges of one call set the ledger holds (the set's month of effectiveAt). */
async function ledgerCharges(client: DynamoDBClient, table: string, accountId: string, set: CallSet): Promise<number> {
  let count = 0;
  let startKey: Record<string, never> | undefined;
  do {
    const out = await client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': { S: `ACCT#${accountId}` }, ':from': { S: set.ledgerRange.from }, ':to': { S: set.ledgerRange.to } },
        Select: 'COUNT',
        ExclusiveStartKey: startKey,
      }),
    );
    count += out.Count ?? 0;
    startKey = out.LastEvaluatedKey as typeof startKey;
  } while (startKey !== undefined);
  return count;
}

function ddbSnapshot() {
  return { requests: ddbStats.requests, readUnits: ddbStats.readUnits, writeUnits: ddbStats.writeUnits, awsWriteUnits: ddbStats.awsWriteUnits };
}

function ddbDelta(before: ReturnType<typeof ddbSnapshot>): ReturnType<typeof ddbSnapshot> {
  const now = ddbSnapshot();
  return {
    requests: now.requests - before.requests,
    readUnits: now.readUnits - before.readUnits,
    writeUnits: now.writeUnits - before.writeUnits,
    awsWriteUnits: now.awsWriteUnits - before.awsWriteUnits,
  };
}

const perCall = (n: number, calls: number) => round(n / calls, 2);

const topShares = (p: ProfileSummary) =>
  p.byCaller
    .slice(0, 4)
    .map((c) => `${c.component} ${(c.share * 100).toFixed(0)}%`)
    .join(', ');

// ------------------------------------------------------------------ the run

interface Results {
  ratio: number;
  timestamp: string;
  machine: Record<string, unknown>;
  config: Record<string, unknown>;
  ackLatency?: { wholeStack: AckFigures; ingestAlone: AckFigures };
  endToEnd?: Record<string, unknown>;
  rawFloor?: { atWriterConcurrency: number; writerConcurrency: number; runs: RawRun[] };
  dynamodbPerBillableCall?: Record<string, unknown>;
  recordings?: Record<string, unknown>;
  profile?: {
    ingest: ProfileSummary & { cpu: CpuWindow; mainThreadMsPerWebhook: number };
    writer: ProfileSummary & { cpu: CpuWindow; mainThreadMsPerCall: number };
  };
  voice?: VoiceRun[];
  bundles?: BundleFigures[];
  analytics?: AnalyticsFigures;
  targets?: TargetRow[];
}

/** A floor run, with the CPU it used and the write units per call the adapter counted (merge + transaction). */
type RawRun = RawFloorResult & { label: string; cpu: CpuWindow; adapterWriteUnitsPerCall: number };

interface TargetRow {
  figure: string;
  measured: string;
  target: string;
  met: boolean | null;
}

async function main(): Promise<void> {
  const results: Results = {
    ratio: 0,
    timestamp: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      totalMemGb: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      loadAvgAtStart: loadavg().map((l) => round(l, 2)),
    },
    config: {
      calls: K,
      ackRatePerSec: ACK_RATE,
      ackSeconds: ACK_SECONDS,
      pollersPerQueue: POLLERS,
      writerConcurrency: WRITER_CONCURRENCY,
      rawHighConcurrency: RAW_HIGH_CONCURRENCY,
      feedConcurrency: FEED_CONCURRENCY,
      handlerLogLevel: 'WARN (quiet local stack)',
      voiceRatePerSec: VOICE_RATE,
      voiceSeconds: VOICE_SECONDS,
    },
  };
  progress(`CallLedger bench: ${cpus().length} CPUs, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  const writer = new TimedWriter();
  let stack: LocalStack | undefined;
  const stopStack = async () => {
    const s = stack;
    stack = undefined;
    await s?.stop();
  };
  process.once('SIGINT', () => void stopStack().finally(() => process.exit(130)));

  try {
    progress('starting the local stack…');
    stack = await startLocalStack({ port: 0, quiet: true, pollersPerQueue: POLLERS, handlers: { ledgerWriter: writer.handler } });
    const { seed, secrets, names } = stack;
    const accountId = seed.accounts[0]!.accountId;
    const publicBaseUrl = stack.env.PUBLIC_BASE_URL!;
    const dynamoEndpoint = stack.env.AWS_ENDPOINT_URL_DYNAMODB!;
    const jvmPid = findDynamoDbLocalPid(new URL(dynamoEndpoint).port);
    progress(`stack up at ${stack.baseUrl} (DynamoDB Local JVM pid ${jvmPid ?? 'not found'})`);

    // The handlers' own SDK clients (per-container singletons) and the pollers' SQS client, timed per operation.
    const ddbTimer = new SdkTimer('TransactWriteItems');
    const s3Timer = new SdkTimer();
    const sqsTimer = new SdkTimer();
    ddbTimer.attach(dynamodb(), 'handlers-ddb');
    s3Timer.attach(s3(), 'handlers-s3');
    sqsTimer.attach(sqs(), 'ingest-sqs');
    sqsTimer.attach(stack.clients.sqs, 'pollers-sqs');

    const set = (calls: number, month: number) =>
      billableCallSet({ seed, authTokens: secrets.twilioAuthTokens, publicBaseUrl, mediaBaseUrl: stack!.mediaBaseUrl, calls, month });
    // Two webhooks (ringing, completed) per call; every set in its own month (see workload.ts).
    const half = Math.ceil(K / 2);
    const sets = {
      warmup: set(100, 12),
      ack: set(Math.ceil((ACK_RATE * ACK_SECONDS) / 2), 1),
      ackAlone: set(Math.ceil((ACK_RATE * ACK_ALONE_SECONDS) / 2), 6),
      e2e: set(K, 2),
      rawBefore: set(half, 3),
      rawAfter: set(half, 7),
      rawHigh: set(K, 4),
      rawMeasured: set(half, 8),
      profile: set(PROFILE_CALLS, 5),
    };
    progress(`generated signed traffic: ${Object.values(sets).reduce((s, c) => s + c.traffic.requests.length, 0)} webhooks`);

    // ---- warm-up: JIT, sockets, caches (config, secrets), DynamoDB Local's JVM
    expectAll204(await runLoad(stack.baseUrl, sets.warmup.lifecycle, { kind: 'closed', concurrency: 4 }), 'warm-up');
    await stack.waitForIdle(IDLE_TIMEOUT_MS);
    progress('warmed up');

    // ---- A. ack latency, open loop: the whole stack, then the ingest alone (writer held back)
    const ackRequests = sets.ack.lifecycle.slice(0, ACK_RATE * ACK_SECONDS);
    progress(`A. ack latency, whole stack: ${ackRequests.length} webhooks at ${ACK_RATE}/s offered (open loop)…`);
    const wholeStack = await ackPhase(stack.baseUrl, ackRequests, jvmPid);
    progress(`   p50 ${wholeStack.latencyFromDueMs.p50} ms, p99 ${wholeStack.latencyFromDueMs.p99} ms, max ${wholeStack.latencyFromDueMs.max} ms (main thread ${Math.round(wholeStack.cpu.mainThreadBusy * 100)}% busy)`);
    await stack.waitForIdle(IDLE_TIMEOUT_MS);
    const aloneRequests = sets.ackAlone.lifecycle.slice(0, ACK_RATE * ACK_ALONE_SECONDS);
    progress(`   ingest alone (ledger writer held back): ${aloneRequests.length} webhooks at ${ACK_RATE}/s…`);
    writer.pause();
    let ingestAlone: AckFigures;
    try {
      ingestAlone = await ackPhase(stack.baseUrl, aloneRequests, jvmPid);
    } finally {
      writer.resume();
    }
    progress(`   p50 ${ingestAlone.latencyFromDueMs.p50} ms, p99 ${ingestAlone.latencyFromDueMs.p99} ms, max ${ingestAlone.latencyFromDueMs.max} ms (main thread ${Math.round(ingestAlone.cpu.mainThreadBusy * 100)}% busy)`);
    results.ackLatency = { wholeStack, ingestAlone };
    await stack.waitForIdle(IDLE_TIMEOUT_MS);

    // ---- B1. ringing of K calls: one slot merge each
    progress(`B. end to end with ${K} billable calls: ringing webhooks first…`);
    const ddbBeforeRinging = ddbSnapshot();
    ddbTimer.reset();
    expectAll204(await runLoad(stack.baseUrl, sets.e2e.ringing, { kind: 'closed', concurrency: FEED_CONCURRENCY }), 'ringing');
    await stack.waitForIdle(IDLE_TIMEOUT_MS);
    const ringingDdb = ddbDelta(ddbBeforeRinging);
    const ringingOps = ddbTimer.summary();

    // ---- R. the floor: the same transactions straight into the same DynamoDB Local. At the writer's concurrency
    // it runs in two halves that bracket the drain, so both see the same database size and machine load.
    const rawSetup = { endpoint: dynamoEndpoint, region: stack.env.AWS_REGION!, mainTable: names.mainTable, ledgerTable: names.ledgerTable, seed, hashKey: secrets.callerHashKey };
    const raw: RawRun[] = [];
    const runRaw = async (callSet: CallSet, concurrency: number, label: string): Promise<RawRun> => {
      progress(`R. raw TransactWriteItems at ${concurrency} in flight, ${label} (${callSet.completed.length} transactions)…`);
      const ddbBeforeRaw = ddbSnapshot();
      const window = cpuWindow(jvmPid);
      const r = await rawFloor(rawSetup, callSet.ringing, callSet.completed, concurrency);
      // Counted by the same adapter (merge + transaction): must equal the end-to-end figure, or the items differ.
      const d = ddbDelta(ddbBeforeRaw);
      progress(`   ${r.txPerSec} tx/s (mean ${r.meanInFlight} in flight, ${r.latencyMeanMs} ms each)`);
      return { ...r, label, cpu: window(), adapterWriteUnitsPerCall: perCall(d.writeUnits, callSet.completed.length) };
    };
    raw.push(await runRaw(sets.rawBefore, WRITER_CONCURRENCY, 'before the drain'));

    // ---- B2. completed of K calls, fed as fast as the ingest accepts them; timed to the last commit
    progress(`   completed webhooks, as fast as the ingest accepts them (${FEED_CONCURRENCY} senders)…`);
    const ddbBeforeCompleted = ddbSnapshot();
    ddbTimer.reset();
    s3Timer.reset();
    sqsTimer.reset();
    const drainStartPerf = performance.now();
    const drainCpu = cpuWindow(jvmPid);
    const feed = await runLoad(stack.baseUrl, sets.e2e.completed, { kind: 'closed', concurrency: FEED_CONCURRENCY });
    expectAll204(feed, 'completed');
    const feedEnd = Math.max(...feed.map((s) => s.doneAt));
    await stack.waitForIdle(IDLE_TIMEOUT_MS);
    const drainCpuUse = drainCpu();
    const drainEndPerf = performance.now();
    const completedDdb = ddbDelta(ddbBeforeCompleted);
    const commits = [...ddbTimer.marks].sort((a, b) => a - b);
    const ddbInFlightDuringDrain = ddbTimer.meanInFlight();
    const charges = await ledgerCharges(stack.clients.dynamodb, names.ledgerTable, accountId, sets.e2e);
    if (charges !== K) throw new Error(`end to end: ${charges} charges in the ledger for ${K} billable calls`);
    const firstPost = Math.min(...feed.map((s) => s.sentAt));
    const lastCommit = commits.at(-1) ?? firstPost;
    const e2eSec = (lastCommit - firstPost) / 1000;
    const e2ePerSec = K / e2eSec;
    // The middle 80% of commits: the rate once the pipeline is full, without the start-up and tail.
    const c10 = percentile(commits, 10);
    const c90 = percentile(commits, 90);
    const steadyPerSec = c90 > c10 ? (0.8 * commits.length) / ((c90 - c10) / 1000) : e2ePerSec;
    const writerBatches = writer.between(drainStartPerf, drainEndPerf);
    results.endToEnd = {
      calls: K,
      chargesInLedger: charges,
      callsPerSec: round(e2ePerSec, 1),
      steadyCallsPerSec: round(steadyPerSec, 1),
      firstPostToLastCommitSec: round(e2eSec, 2),
      ingestAcceptedPerSec: round(K / ((feedEnd - firstPost) / 1000), 1),
      ingestAckLatencyMs: distribution(feed.map((s) => s.doneAt - s.sentAt)),
      writer: {
        ...writerBatches,
        // Share of the drain the writer instances spent inside the handler (1 = always busy).
        utilisation: round(writerBatches.busyMs / (POLLERS * (drainEndPerf - drainStartPerf)), 2),
        meanTransactionsInFlight: round(ddbInFlightDuringDrain, 1),
        nominalConcurrency: WRITER_CONCURRENCY,
      },
      sdkCalls: { dynamodb: ddbTimer.summary(), s3: s3Timer.summary(), sqs: sqsTimer.summary() },
      cpu: drainCpuUse,
    };
    progress(`   ${K} charges committed in ${e2eSec.toFixed(2)} s: ${e2ePerSec.toFixed(0)} calls/s (steady ${steadyPerSec.toFixed(0)}/s)`);

    const perPhase = (d: ReturnType<typeof ddbDelta>) => ({
      requests: perCall(d.requests, K),
      writeUnits: perCall(d.writeUnits, K),
      awsWriteUnits: perCall(d.awsWriteUnits, K),
      readUnits: perCall(d.readUnits, K),
    });
    results.dynamodbPerBillableCall = {
      requests: perCall(ringingDdb.requests + completedDdb.requests, K),
      /** As DynamoDB Local reported them (ReturnConsumedCapacity). */
      writeUnits: perCall(ringingDdb.writeUnits + completedDdb.writeUnits, K),
      /** The same writes priced by AWS's rules from the items written (shared/adapters/platform/dynamodb/capacity.ts). */
      awsWriteUnits: perCall(ringingDdb.awsWriteUnits + completedDdb.awsWriteUnits, K),
      readUnits: perCall(ringingDdb.readUnits + completedDdb.readUnits, K),
      ringingMerge: { ...perPhase(ringingDdb), ops: ringingOps },
      completedRating: { ...perPhase(completedDdb), ops: ddbTimer.summary() },
      source:
        'ddbStats (shared/adapters/platform/aws.ts): every repository request with ReturnConsumedCapacity=TOTAL and its AWS-rule price; requests cross-checked per operation by an SDK middleware (ops)',
    };

    // ---- B3. recordings (fetched from the fake media host, stored in S3, recorded on the call)
    const recordingRequests = sets.e2e.recordings.slice(0, RECORDINGS);
    progress(`   ${recordingRequests.length} recordings…`);
    const ddbBeforeRecordings = ddbSnapshot();
    ddbTimer.reset();
    expectAll204(await runLoad(stack.baseUrl, recordingRequests, { kind: 'closed', concurrency: FEED_CONCURRENCY }), 'recordings');
    await stack.waitForIdle(IDLE_TIMEOUT_MS);
    const recDdb = ddbDelta(ddbBeforeRecordings);
    results.recordings = {
      recordings: recordingRequests.length,
      requestsPerRecording: perCall(recDdb.requests, recordingRequests.length),
      writeUnitsPerRecording: perCall(recDdb.writeUnits, recordingRequests.length),
      awsWriteUnitsPerRecording: perCall(recDdb.awsWriteUnits, recordingRequests.length),
      ops: ddbTimer.summary(),
    };

    // ---- R. the floor, second half at the writer's concurrency, then a higher concurrency
    raw.push(await runRaw(sets.rawAfter, WRITER_CONCURRENCY, 'after the drain'));
    raw.push(await runRaw(sets.rawHigh, RAW_HIGH_CONCURRENCY, 'higher concurrency'));
    // And at the concurrency the writer actually reached: tells a concurrency shortfall from a per-call overhead.
    const reached = Math.max(1, Math.round(ddbInFlightDuringDrain));
    raw.push(await runRaw(sets.rawMeasured, reached, `the writer's measured mean in flight`));
    const [before, after] = raw;
    // Both halves together: transactions over the time they took, so a drift of the machine's load during the run
    // (this is a shared 2-core box) weighs on the floor as it did on the drain between them.
    const rawPerSec = (before!.transactions + after!.transactions) / ((before!.elapsedMs + after!.elapsedMs) / 1000);
    results.rawFloor = { atWriterConcurrency: round(rawPerSec, 1), writerConcurrency: WRITER_CONCURRENCY, runs: raw };
    results.ratio = round(e2ePerSec / rawPerSec, 3);
    results.dynamodbPerBillableCall!.itemBytes = before!.sampleItemBytes;
    progress(`   floor at ${WRITER_CONCURRENCY} in flight ${rawPerSec.toFixed(0)} tx/s; ratio end-to-end ÷ raw = ${results.ratio}`);

    // ---- P. where the main thread's time goes: the ingest alone (writer held back), then the writer alone
    // draining what the ingest queued.
    if (!flags['no-profile']) {
      const n = sets.profile.completed.length;
      progress(`P. profile, ingest alone: ${n} completed webhooks with the ledger writer held back…`);
      writer.pause();
      let ingest: { summary: ProfileSummary; cpu: CpuWindow };
      try {
        const window = cpuWindow(jvmPid);
        const { summary } = await profile(async () =>
          expectAll204(await runLoad(stack!.baseUrl, sets.profile.completed, { kind: 'closed', concurrency: FEED_CONCURRENCY }), 'profile'),
        );
        ingest = { summary, cpu: window() };
      } finally {
        writer.resume();
      }
      progress(`   by calling component: ${topShares(ingest.summary)}`);
      progress(`P. profile, ledger writer alone: draining those ${n} calls…`);
      const window = cpuWindow(jvmPid);
      const { summary } = await profile(() => stack!.waitForIdle(IDLE_TIMEOUT_MS));
      const writerOnly = { summary, cpu: window() };
      progress(`   by calling component: ${topShares(writerOnly.summary)}`);
      const msPer = (w: CpuWindow) => round((w.mainThreadBusy * w.wallSec * 1000) / n, 2);
      results.profile = {
        ingest: { ...ingest.summary, cpu: ingest.cpu, mainThreadMsPerWebhook: msPer(ingest.cpu) },
        writer: { ...writerOnly.summary, cpu: writerOnly.cpu, mainThreadMsPerCall: msPer(writerOnly.cpu) },
      };
    }

    // ---- V. the voice URL alone (no callbacks, the ledger writer held back): new calls at a fixed offered rate
    if (!flags['no-voice']) {
      await stack.waitForIdle(IDLE_TIMEOUT_MS);
      const account = seed.accounts[0]!;
      writer.pause();
      try {
        results.voice = await voiceBench(
          {
            baseUrl: stack.baseUrl,
            publicBaseUrl,
            accountId,
            accountSid: twilioOf(account).accountSid,
            authToken: secrets.twilioAuthTokens[accountId]!,
            timeZone: account.timeZone,
            dynamodb: stack.clients.dynamodb,
            mainTable: names.mainTable,
          },
          VOICE_RATE,
          VOICE_SECONDS,
          progress,
        );
      } finally {
        writer.resume();
      }
    }

    const handlerEnv = { ...stack.env };
    await stopStack();

    // ---- S. bundles and module load
    if (!flags['no-bundles']) {
      progress('S. bundling each function (NodejsFunction options) and timing module load (median of 5 fresh processes)…');
      results.bundles = await measureBundles(handlerEnv, 5, progress);
    }

    // ---- X. the issue-5 reports (pure computation, with the stack stopped)
    if (!flags['no-analytics']) results.analytics = runAnalyticsBench(ANALYTICS_CALLS, progress);
  } finally {
    await stopStack();
  }

  results.machine.loadAvgAtEnd = loadavg().map((l) => round(l, 2));
  results.targets = targetRows(results);
  await writeFile(join(REPO_ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  printTable(results.targets);
  progress(`done; figures in bench/results.json`);
}

// ------------------------------------------------------------------ report

function targetRows(r: Results): TargetRow[] {
  const rows: TargetRow[] = [];
  if (r.ackLatency) {
    for (const [label, a] of [
      ['whole stack', r.ackLatency.wholeStack],
      ['ingest alone', r.ackLatency.ingestAlone],
    ] as const) {
      const l = a.latencyFromDueMs;
      rows.push({
        figure: `webhook ack p50 / p99 / max @ ${ACK_RATE}/s, ${label}`,
        measured: `${l.p50} / ${l.p99} / ${l.max} ms`,
        target: `p99 ≤ ${TARGETS.ackP99Ms} ms`,
        met: l.p99 <= TARGETS.ackP99Ms,
      });
    }
  }
  const e2e = r.endToEnd as { callsPerSec: number; steadyCallsPerSec: number } | undefined;
  if (e2e && r.rawFloor) {
    rows.push({ figure: 'end to end (webhook → charge committed)', measured: `${e2e.callsPerSec} calls/s`, target: '', met: null });
    rows.push({ figure: `raw TransactWriteItems @ ${WRITER_CONCURRENCY} in flight (both halves)`, measured: `${r.rawFloor.atWriterConcurrency} tx/s`, target: '', met: null });
    for (const run of r.rawFloor.runs.slice(2)) {
      rows.push({ figure: `raw TransactWriteItems @ ${run.concurrency} in flight (${run.label})`, measured: `${run.txPerSec} tx/s`, target: '', met: null });
    }
    rows.push({
      figure: `ratio end-to-end ÷ raw @ ${WRITER_CONCURRENCY}`,
      measured: `${r.ratio}`,
      target: `≥ ${TARGETS.ratioMin} (aim ${TARGETS.ratioAim})`,
      met: r.ratio >= TARGETS.ratioMin,
    });
  }
  const ddb = r.dynamodbPerBillableCall as { requests: number; writeUnits: number } | undefined;
  if (ddb) {
    rows.push({ figure: 'DynamoDB requests per billable call', measured: `${ddb.requests}`, target: `≤ ${TARGETS.ddbRequestsPerCall}`, met: ddb.requests <= TARGETS.ddbRequestsPerCall });
    rows.push({ figure: 'DynamoDB WCU per billable call, as DynamoDB Local counts', measured: `${ddb.writeUnits}`, target: `≤ ${TARGETS.wcuPerCall}`, met: ddb.writeUnits <= TARGETS.wcuPerCall });
    const aws = r.dynamodbPerBillableCall?.awsWriteUnits as number;
    rows.push({ figure: "DynamoDB WCU per billable call, by AWS's rules", measured: `${aws}`, target: `≤ ${TARGETS.wcuPerCall}`, met: aws <= TARGETS.wcuPerCall });
  }
  const rec = r.recordings as { requestsPerRecording: number; writeUnitsPerRecording: number; awsWriteUnitsPerRecording: number } | undefined;
  if (rec) {
    rows.push({
      figure: 'per recording: DynamoDB requests / WCU (Local / AWS rules)',
      measured: `${rec.requestsPerRecording} / ${rec.writeUnitsPerRecording} / ${rec.awsWriteUnitsPerRecording}`,
      target: '',
      met: null,
    });
  }
  rows.push(...voiceTargetRows(r.voice ?? [], TARGETS.voiceP99Ms, TARGETS.voiceDdbRequestsPerAdmittedCall));
  for (const b of r.bundles ?? []) {
    const kb = round(b.bytes / 1024, 1);
    // The voice URL answers while the caller hears ringing: its own, tighter budget for a cold start.
    const voice = b.fn === 'voiceTwilio';
    const bundleKb = voice ? TARGETS.voiceBundleKb : TARGETS.bundleKb;
    const loadMs = voice ? TARGETS.voiceModuleLoadMs : TARGETS.moduleLoadMs;
    rows.push({ figure: `${b.fn}: bundle (minified)`, measured: `${kb} KB`, target: `≤ ${bundleKb} KB`, met: kb <= bundleKb });
    rows.push({
      figure: `${b.fn}: module load (median of 5)`,
      measured: b.externalImports.length > 0 ? `${b.loadMs} ms (external SDK alone ${b.externalLoadMs})` : `${b.loadMs} ms`,
      target: `≤ ${loadMs} ms`,
      met: b.loadMs <= loadMs,
    });
  }
  if (r.analytics) rows.push(...analyticsTargetRows(r.analytics));
  return rows;
}

function printTable(rows: readonly TargetRow[]): void {
  const header = ['figure', 'measured', 'target', 'met'];
  const cells = rows.map((r) => [r.figure, r.measured, r.target, r.met === null ? '' : r.met ? 'met' : 'NOT MET']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ');
  console.log('');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
  console.log('');
}

/** `npm run bench -- analytics`: phase X alone, printed (bench/results.json is left as the last full run wrote it). */
async function analyticsAlone(): Promise<void> {
  progress(`CallLedger analytics bench: ${cpus().length} CPUs, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  printTable(analyticsTargetRows(runAnalyticsBench(ANALYTICS_CALLS, progress)));
}

if (positionals.length > 1 || (positionals.length === 1 && positionals[0] !== 'analytics')) {
  throw new Error(`unknown arguments ${JSON.stringify(positionals)}: the only phase that runs alone is 'analytics'`);
}

(positionals[0] === 'analytics' ? analyticsAlone() : main())
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  });
