/**
 * `npm run demo`: plays a few hundred realistic, signed Twilio call lifecycles from the seed's publishers into
 * CallLedger, waits until the ledger has processed them, prints a per-publisher summary read back from the API
 * and checks it against the generator's ground truth (exit 1 on any difference). Then, over the same API, it shows
 * the campaign's versioned terms and two rating explanations, disputes two of the junk publisher's charges
 * (one credited), prints that publisher's monthly statement and reconciles an invoice CSV against the ledger
 * (events/demo-ledger-ops.ts; exit 1 on any unexpected answer). Last, a network source beside the direct
 * publishers (events/demo-network.ts): a tracking platform's pixels against the buyer's own legs, the drift report
 * and the scorecard by the network's publishers and sub-sources.
 *
 * It uses the stack `npm start` is running (found through .local/run.json and GET /health), or starts one itself
 * on a free port and stops it at the end.
 *
 *   npm run demo -- [--calls 300] [--seed 1] [--start ISO] [--concurrency 8]
 *                   [--seed-file events/seed/demo.json] [--timeout 120] [--fresh] [--pilot] [--run-file FILE]
 *
 * --seed-file must name the seed the running stack was started with (npm start -- --seed FILE).
 * --run-file names the run file of the stack to use, as given to `npm start -- --run-file FILE` (default
 * .local/run.json); a named one that leads to no running, healthy stack is an error (exit 2), not a private stack.
 * --fresh starts a private stack even when one is running.
 * --pilot runs only the pilot demo instead (events/demo-pilot.ts): a pilot that hits its cap mid-stream, its report.
 * --start defaults to 13:00 UTC three days ago: recent enough for every publisher's dispute window, and fixed for
 * a whole UTC day, so that replaying the same --seed that day sends byte-identical webhooks (idempotent on a
 * running stack). On a stack kept running from an earlier day, pass that day's --start (printed by its run) or
 * restart it: the same --seed at a new start reuses the call ids.
 */
import { readFile } from 'node:fs/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RUN_FILE, readRunFile, type RunFile } from '../infra/local/run-file';
import { ENV } from '../infra/resources';
import { maskNumber } from '../shared/domain/calls/caller';
import { parseSeed, type Seed } from '../shared/domain/catalog/seed';
import { runLedgerOperations, StepError } from './demo-ledger-ops';
import { revenueReport } from './demo-outcomes';
import { runPilotDemo } from './demo-pilot';
import { runNetworkDemo } from './demo-network';
import { runVoiceDemo } from './demo-voice';
import { ledgerRangeOf, reconcile, type ApiCall, type ApiLedgerEntry } from './reconcile';
import { generateTraffic, send, type CallTruth, type PublisherSummary } from './traffic';
import { twilioOf } from '../shared/domain/catalog/carriers';

const REPO_ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const DEFAULT_SEED_FILE = join(REPO_ROOT, 'events', 'seed', 'demo.json');
/** The default --start (see the header): 13:00 UTC, three days before today (UTC). */
function defaultStart(now = new Date()): string {
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(day - 3 * 86_400_000 + 13 * 3_600_000).toISOString();
}
/** The publisher and campaign the back-office half of the demo works on (the junk publisher of the demo seed). */
const OPS_PUBLISHER = 'pub-callfarm';
const OPS_CAMPAIGN = 'roofing-tx';
const SPAN_HOURS = 36;

interface Target {
  readonly baseUrl: string;
  /** The URL the ingest function verifies signatures against (PUBLIC_BASE_URL of the stack). */
  readonly publicBaseUrl: string;
  readonly mediaBaseUrl: string;
  readonly seed: Seed;
  readonly authTokens: Record<string, string>;
  /** accountId → admin API key. */
  readonly adminKeys: Record<string, string>;
  /** The main table and a DynamoDB client on the stack's emulator (the voice demo writes its routing setup there). */
  readonly db: () => Promise<{ readonly client: DynamoDBClient; readonly mainTable: string }>;
  /** Set when the demo started the stack itself. */
  readonly owned?: { waitForIdle(timeoutMs?: number): Promise<void>; stop(): Promise<void> };
}

class UsageError extends Error {}

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      calls: { type: 'string', default: '300' },
      seed: { type: 'string', default: '1' },
      start: { type: 'string', default: defaultStart() },
      concurrency: { type: 'string', default: '8' },
      'seed-file': { type: 'string' },
      timeout: { type: 'string', default: '120' },
      fresh: { type: 'boolean', default: false },
      pilot: { type: 'boolean', default: false },
      'run-file': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const int = (name: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
  if (Number.isNaN(Date.parse(values.start))) throw new UsageError('--start must be an ISO-8601 date');
  return {
    help: values.help,
    calls: int('calls', values.calls, 1, 100_000),
    rngSeed: int('seed', values.seed, 0, 2 ** 31 - 1),
    startAt: new Date(values.start).toISOString(),
    concurrency: int('concurrency', values.concurrency, 1, 256),
    seedFile: values['seed-file'],
    timeoutMs: int('timeout', values.timeout, 1, 3600) * 1000,
    fresh: values.fresh,
    pilot: values.pilot,
    runFile: values['run-file'],
  };
}

async function healthy(baseUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function readSeed(file: string): Promise<Seed> {
  return parseSeed(JSON.parse(await readFile(file, 'utf8')));
}

function adminKeysOf(keys: readonly { accountId: string; role: string; key: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (k.role === 'admin' && !out[k.accountId]) out[k.accountId] = k.key;
  return out;
}

/**
 * The running stack of the run file (`runFile`, else .local/run.json) when its process is alive and it answers
 * /health (unless `fresh`), else a stack of our own — except when `runFile` was named: then no stack is an error.
 */
async function connect(seedFile: string | undefined, fresh: boolean, runFile: string | undefined, pilotTimeScale?: number): Promise<Target> {
  if (fresh && runFile !== undefined) throw new UsageError('--fresh and --run-file exclude each other');
  const file = runFile ?? RUN_FILE;
  const run: RunFile | null = fresh ? null : readRunFile(file);
  const up = run !== null && (await healthy(run.baseUrl));
  if (runFile !== undefined && !up) {
    throw new UsageError(`--run-file ${runFile}: ${run === null ? 'no such file, or the stack that wrote it is gone' : `the stack at ${run.baseUrl} does not answer /health`}`);
  }
  if (run && up) {
    const shown = relative(process.cwd(), file);
    console.log(`using the running stack at ${run.baseUrl} (${shown.startsWith('..') ? file : shown})`);
    return {
      baseUrl: run.baseUrl,
      // The stack's own rule for the URL its ingest function verifies signatures against.
      publicBaseUrl: process.env.PUBLIC_BASE_URL || run.baseUrl,
      mediaBaseUrl: run.mediaBaseUrl,
      seed: await readSeed(seedFile ?? DEFAULT_SEED_FILE),
      authTokens: Object.fromEntries(Object.entries(run.twilio).map(([accountId, t]) => [accountId, t.authToken])),
      adminKeys: adminKeysOf(run.apiKeys),
      db: async () => {
        // Loaded only here: the clients module pulls in the AWS SDK.
        const { localClients } = await import('../infra/local/emulators');
        return { client: localClients(run.endpoints).dynamodb, mainTable: run.names.mainTable };
      },
    };
  }

  console.log(`${fresh ? '--fresh' : 'no running stack found'}: starting a stack (DynamoDB Local, fauxqs, handlers)…`);
  // Loaded only here: the stack module pulls in the AWS SDK and the emulators.
  const { startLocalStack } = await import('../infra/local/stack');
  const stack = await startLocalStack({ port: 0, quiet: true, ...(seedFile ? { seedFile } : {}), ...(pilotTimeScale ? { pilotTimeScale } : {}) });
  console.log(`stack up at ${stack.baseUrl}`);
  return {
    baseUrl: stack.baseUrl,
    publicBaseUrl: stack.env[ENV.publicBaseUrl] ?? stack.baseUrl,
    mediaBaseUrl: stack.mediaBaseUrl,
    seed: stack.seed,
    authTokens: stack.secrets.twilioAuthTokens,
    adminKeys: adminKeysOf(stack.secrets.apiKeys),
    db: async () => ({ client: stack.clients.dynamodb, mainTable: stack.names.mainTable }),
    owned: stack,
  };
}

// ------------------------------------------------------------------------------------------------ read API

async function apiGet<T>(target: Target, accountId: string, path: string, query: Record<string, string>): Promise<T> {
  const key = target.adminKeys[accountId];
  if (!key) throw new Error(`no admin API key for account ${accountId}`);
  const url = `${target.baseUrl}${path}?${new URLSearchParams(query)}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

async function paginate<T>(fetchPage: (cursor: string | null) => Promise<{ items: T[]; cursor: string | null }>): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const r = await fetchPage(cursor);
    all.push(...r.items);
    if (!r.cursor) return all;
    cursor = r.cursor;
  }
  throw new Error('pagination did not end');
}

interface Range {
  readonly from: string;
  readonly to: string;
}

async function listCalls(target: Target, accountId: string, range: Range): Promise<ApiCall[]> {
  return paginate(async (cursor) => {
    const r = await apiGet<{ calls: ApiCall[]; cursor: string | null }>(target, accountId, '/v1/calls', {
      ...range,
      limit: '100',
      ...(cursor ? { cursor } : {}),
    });
    return { items: r.calls, cursor: r.cursor };
  });
}

async function listLedger(target: Target, accountId: string, range: { readonly from: string; readonly to?: string }): Promise<ApiLedgerEntry[]> {
  return paginate(async (cursor) => {
    const r = await apiGet<{ entries: ApiLedgerEntry[]; cursor: string | null }>(target, accountId, '/v1/ledger', {
      ...range,
      limit: '100',
      ...(cursor ? { cursor } : {}),
    });
    return { items: r.entries, cursor: r.cursor };
  });
}

async function fetchAll(target: Target, truth: readonly CallTruth[], range: Range) {
  const accounts = [...new Set(truth.map((t) => t.accountId))];
  const calls: ApiCall[] = [];
  const entries: ApiLedgerEntry[] = [];
  for (const accountId of accounts) {
    calls.push(...(await listCalls(target, accountId, range)));
    // Reversals are booked when written, after the calls' range: the ledger is read from the range's start on.
    entries.push(...(await listLedger(target, accountId, ledgerRangeOf(range))));
  }
  return { calls, entries };
}

/**
 * Polls the API until every call is rated and every expected recording is stored, then until two readings of the
 * calls and ledger entries 2 s apart are identical: a replayed or late event still in the queue would change them.
 * Gives up (and lets the comparison report what is missing) when the deadline passes.
 */
async function waitForLedger(target: Target, truth: readonly CallTruth[], range: Range, timeoutMs: number): Promise<void> {
  const ids = new Set(truth.map((t) => t.callId));
  const recordingIds = new Set(truth.filter((t) => t.recording).map((t) => t.callId));
  const deadline = Date.now() + timeoutMs;
  let lastLine = '';
  let lastSnapshot = '';
  for (;;) {
    const { calls, entries } = await fetchAll(target, truth, range);
    const ours = calls.filter((c) => ids.has(c.callId));
    const rated = new Set(ours.map((c) => c.callId)).size;
    const recorded = ours.filter((c) => recordingIds.has(c.callId) && c.recording !== null).length;
    const line = `  rated ${rated}/${ids.size} calls, ${recorded}/${recordingIds.size} recordings stored`;
    if (line !== lastLine) console.log(line);
    lastLine = line;
    const snapshot = JSON.stringify([
      ours.map((c) => [c.callId, c.billable, c.recording !== null]).sort(),
      entries.filter((e) => ids.has(e.callId)).map((e) => [e.entryId, e.amountCents]).sort(),
    ]);
    if (rated === ids.size && recorded === recordingIds.size && snapshot === lastSnapshot) return;
    lastSnapshot = snapshot;
    if (Date.now() > deadline) {
      console.log(`  gave up waiting after ${Math.round(timeoutMs / 1000)} s`);
      return;
    }
    await new Promise((r) => setTimeout(r, rated === ids.size && recorded === recordingIds.size ? 2000 : 1000));
  }
}

// ------------------------------------------------------------------------------------------------ output

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

function table(rows: readonly PublisherSummary[], names: ReadonlyMap<string, string>): string {
  const header = ['publisher', 'calls', 'billable', 'duplicates', 'below buffer', 'not connected', 'recordings', 'spend'];
  const body = rows.map((r) => [
    names.get(r.publisherId) ? `${names.get(r.publisherId)} (${r.publisherId})` : r.publisherId,
    String(r.calls),
    String(r.billable),
    String(r.duplicates),
    String(r.belowBuffer),
    String(r.notConnected),
    String(r.recordings),
    usd.format(r.spendCents / 100),
  ]);
  const total = (k: keyof Omit<PublisherSummary, 'publisherId'>) => rows.reduce((s, r) => s + r[k], 0);
  body.push([
    'total',
    String(total('calls')),
    String(total('billable')),
    String(total('duplicates')),
    String(total('belowBuffer')),
    String(total('notConnected')),
    String(total('recordings')),
    usd.format(total('spendCents') / 100),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const fmt = (row: readonly string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [fmt(header), rule, ...body.slice(0, -1).map(fmt), rule, fmt(body[body.length - 1]!)].join('\n');
}

function progressPrinter(total: number): (done: number) => void {
  const tty = process.stdout.isTTY === true;
  let lastDecile = -1;
  return (done) => {
    if (tty) {
      process.stdout.write(`\r  sent ${done}/${total} webhooks`);
      if (done === total) process.stdout.write('\n');
      return;
    }
    const decile = Math.floor((done / total) * 10);
    if (decile !== lastDecile) {
      lastDecile = decile;
      console.log(`  sent ${done}/${total} webhooks`);
    }
  };
}

// ------------------------------------------------------------------------------------------------ back office

/** Terms, disputes, statement and invoice reconciliation (demo-ledger-ops.ts); 1 when a step got an unexpected answer. */
async function ledgerOperations(target: Target, truth: readonly CallTruth[], range: Range): Promise<number> {
  const publisher = target.seed.publishers.find((p) => p.publisherId === OPS_PUBLISHER);
  const account = target.seed.accounts.find((a) => a.accountId === publisher?.accountId);
  const adminKey = account ? target.adminKeys[account.accountId] : undefined;
  if (!publisher || !account || !adminKey) {
    console.log(`\nthe seed has no ${OPS_PUBLISHER} (or no admin key for its account): skipping terms, disputes, statement and invoice`);
    return 0;
  }
  try {
    await runLedgerOperations({
      baseUrl: target.baseUrl,
      adminKey,
      timeZone: account.timeZone,
      campaignId: OPS_CAMPAIGN,
      publisherId: OPS_PUBLISHER,
      playedCallIds: new Set(truth.filter((t) => t.accountId === account.accountId).map((t) => t.callId)),
      playedRange: range,
    });
  } catch (err) {
    if (!(err instanceof StepError)) throw err;
    console.log(`\nback-office step failed: ${err.message}`);
    return 1;
  }
  console.log('\nterms, disputes, statement and invoice reconciliation answered as expected');
  return 0;
}

/** Outcomes from the CRM, then the source scorecard and the HTML report (demo-outcomes.ts). */
async function revenueByPublisher(target: Target, truth: readonly CallTruth[], range: Range, seed: number): Promise<number> {
  const account = target.seed.accounts.find((a) => target.seed.campaigns.some((c) => c.accountId === a.accountId && c.campaignId === OPS_CAMPAIGN));
  const adminKey = account ? target.adminKeys[account.accountId] : undefined;
  if (!account || !adminKey) {
    console.log(`\nthe seed has no ${OPS_CAMPAIGN} (or no admin key for its account): skipping outcomes and the scorecard`);
    return 0;
  }
  const calls = truth.filter((t) => t.accountId === account.accountId && t.campaignId === OPS_CAMPAIGN);
  return revenueReport({ baseUrl: target.baseUrl, adminKey, campaignId: OPS_CAMPAIGN, calls, seed, range });
}

/** A network source beside the direct publishers (demo-network.ts), on the account of the back-office campaign. */
async function networkSource(target: Target, seed: number, timeoutMs: number): Promise<number> {
  const account = target.seed.accounts.find((a) => target.seed.campaigns.some((c) => c.accountId === a.accountId && c.campaignId === OPS_CAMPAIGN));
  const adminKey = account ? target.adminKeys[account.accountId] : undefined;
  const authToken = account ? target.authTokens[account.accountId] : undefined;
  if (!account || !adminKey || !authToken) {
    console.log(`\nthe seed has no ${OPS_CAMPAIGN} (or no admin key for its account): skipping the network source`);
    return 0;
  }
  return runNetworkDemo(
    {
      baseUrl: target.baseUrl,
      publicBaseUrl: target.publicBaseUrl,
      adminKey,
      accountId: account.accountId,
      accountSid: twilioOf(account).accountSid,
      authToken,
      ...(target.owned ? { waitForIdle: (ms?: number) => target.owned!.waitForIdle(ms) } : {}),
    },
    seed,
    timeoutMs,
  );
}

/** Calls played through the Twilio call simulator on the voice URL (demo-voice.ts), on the back-office campaign's account. */
async function voiceCalls(target: Target, seed: number, timeoutMs: number): Promise<number> {
  const account = target.seed.accounts.find((a) => target.seed.campaigns.some((c) => c.accountId === a.accountId && c.campaignId === OPS_CAMPAIGN));
  const adminKey = account ? target.adminKeys[account.accountId] : undefined;
  const authToken = account ? target.authTokens[account.accountId] : undefined;
  if (!account || !adminKey || !authToken) {
    console.log(`\nthe seed has no ${OPS_CAMPAIGN} (or no admin key for its account): skipping the voice calls`);
    return 0;
  }
  const { client, mainTable } = await target.db();
  const { baseUrl, publicBaseUrl, mediaBaseUrl } = target;
  const waitForIdle = target.owned ? { waitForIdle: (ms?: number) => target.owned!.waitForIdle(ms) } : {};
  const auth = { accountId: account.accountId, accountSid: twilioOf(account).accountSid, authToken, adminKey, timeZone: account.timeZone };
  return runVoiceDemo({ baseUrl, publicBaseUrl, mediaBaseUrl, ...auth, dynamodb: client, mainTable, ...waitForIdle }, seed, timeoutMs);
}

// ------------------------------------------------------------------------------------------------ main

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.help) {
    console.log(
      'usage: npm run demo -- [--calls 300] [--seed 1] [--start ISO] [--concurrency 8] [--seed-file FILE] [--timeout SECONDS] [--fresh] [--pilot] [--run-file FILE]',
    );
    return 0;
  }

  // --pilot: a pilot campaign that hits its cap mid-stream (events/demo-pilot.ts); its own stack runs the pilot
  // workflow's waits 10× faster (long enough to count the calls still in flight when the cap closes it).
  const target = await connect(opts.seedFile, opts.fresh, opts.runFile, opts.pilot ? 10 : undefined);
  const onSignal = () => {
    void target.owned?.stop().finally(() => process.exit(130));
    if (!target.owned) process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (opts.pilot) return await runPilotDemo(target, opts.timeoutMs);
    const traffic = generateTraffic({
      seed: target.seed,
      authTokens: target.authTokens,
      publicBaseUrl: target.publicBaseUrl,
      mediaBaseUrl: target.mediaBaseUrl,
      calls: opts.calls,
      rngSeed: opts.rngSeed,
      startAt: opts.startAt,
      spanHours: SPAN_HOURS,
    });
    const redeliveries = traffic.requests.filter((r) => r.meta.redelivery).length;
    const reordered = traffic.calls.filter((c) => c.delivery.outOfOrder !== null).length;
    console.log(
      `playing ${traffic.calls.length} calls (seed ${opts.rngSeed}, from ${opts.startAt}) as ${traffic.requests.length} signed webhooks ` +
        `(${redeliveries} Twilio retries, ${reordered} calls delivered out of order), concurrency ${opts.concurrency}`,
    );

    const sent = await send(traffic.requests, {
      baseUrl: target.baseUrl,
      concurrency: opts.concurrency,
      onProgress: progressPrinter(traffic.requests.length),
    });
    const statuses = Object.entries(sent.statusCounts)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    console.log(
      `  done in ${(sent.elapsedMs / 1000).toFixed(1)} s (${statuses}); ack latency p50 ${sent.latencyMs.p50} ms, p99 ${sent.latencyMs.p99} ms`,
    );
    for (const u of sent.unexpected.slice(0, 5)) console.log(`  request #${u.index} answered ${u.status}: ${u.body}`);

    console.log('waiting for the ledger…');
    const starts = traffic.calls.map((c) => Date.parse(c.startedAt));
    const range = {
      from: new Date(Math.min(...starts) - 3_600_000).toISOString(),
      to: new Date(Math.max(...starts) + 3_600_000).toISOString(),
    };
    if (target.owned) await target.owned.waitForIdle(opts.timeoutMs).catch(() => undefined);
    await waitForLedger(target, traffic.calls, range, opts.timeoutMs);

    const { calls, entries } = await fetchAll(target, traffic.calls, range);
    // The ground truth is about charges and their reversals (a call charged before an earlier call of its caller was
    // rated is reversed); credits are the disputes' doing (an earlier run's, on a running stack).
    const result = reconcile(traffic.calls, calls, entries.filter((e) => e.type === 'charge' || e.type === 'reversal'));
    const names = new Map(target.seed.publishers.map((p) => [p.publisherId, p.name]));
    console.log('\nper publisher, from GET /v1/calls and GET /v1/ledger:\n');
    console.log(table(result.actual, names));

    const sample = calls.find((c) => c.billable && c.recording !== null && traffic.calls.some((t) => t.callId === c.callId));
    if (sample) {
      const detail = await apiGet<unknown>(target, sample.accountId, `/v1/calls/${encodeURIComponent(sample.callId)}`, {});
      // The call detail may carry the caller's number: mask anything that looks like one before printing.
      const masked = JSON.stringify(detail, (_k, v: unknown) => (typeof v === 'string' && /^\+\d{8,15}$/.test(v) ? maskNumber(v) : v), 2);
      console.log(`\none billable call, GET /v1/calls/${sample.callId}:\n${masked}`);
    }

    const rejected = sent.sent - (sent.statusCounts['204'] ?? 0);
    if (result.ok && rejected === 0) {
      console.log('\nledger matches ground truth');
      const ops = await ledgerOperations(target, traffic.calls, range);
      if (ops !== 0) return ops;
      const revenue = await revenueByPublisher(target, traffic.calls, range, opts.rngSeed);
      if (revenue !== 0) return revenue;
      const network = await networkSource(target, opts.rngSeed, opts.timeoutMs);
      if (network !== 0) return network;
      return await voiceCalls(target, opts.rngSeed, opts.timeoutMs);
    }
    console.log('\nledger does NOT match ground truth. Expected:\n');
    console.log(table(result.expected, names));
    console.log('\ndifferences:');
    if (rejected > 0) console.log(`  - ${rejected} webhook(s) were not accepted with 204`);
    for (const d of result.differences) console.log(`  - ${d}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (target.owned) {
      console.log('stopping the stack…');
      await target.owned.stop();
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`demo: ${err.message}`);
      process.exit(2);
    }
    // fetch wraps the reason (ECONNREFUSED, …) in `cause`.
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
    console.error(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}${cause}`);
    process.exit(2);
  },
);
