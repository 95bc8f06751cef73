/**
 * `npm start -- --persist DIR` keeps the local stack's state across a restart: started as a user starts it (tsx
 * infra/local/main.ts, a child process), given a publisher and a rated call, stopped with SIGTERM and started again on
 * the same directory, it answers with the same API key, and the publisher, the call, its charge and the archived raw
 * bodies (S3) are still there; the restarted stack takes and rates new webhooks (queues restored, same Twilio token).
 * Without --persist it says that stopping discards the state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION, REPO_ROOT } from '../../../infra/local/emulators';
import type { RunFile } from '../../../infra/local/run-file';
import type { LocalStack } from '../../../infra/local/stack';
import { parseSeed } from '../../../shared/domain/catalog/seed';
import { GLOBEX, TwilioSender, newCallSid, newCaller, writeTwoAccountSeed, type TempSeed } from '../../support/e2e-harness';

interface Started {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  readonly stdout: () => string;
  readonly run: RunFile;
  stop(): Promise<number | null>;
}

async function startMain(args: string[], runFile: string): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', '--port', '0', '--run-file', runFile, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN', LOCAL_SCHEDULE_EVERY_MS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const baseUrl = await new Promise<string>((resolveUrl, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      const match = /^ready: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout);
      if (match) resolveUrl(match[1]!);
    });
    void exited.then((code) => reject(new Error(`exited ${code} before ready:\n${stdout}\n${stderr}`)));
  });
  const run = JSON.parse(await readFile(runFile, 'utf8')) as RunFile;
  return {
    child,
    baseUrl,
    stdout: () => stdout,
    run,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

const adminKey = (run: RunFile, accountId: string) => run.apiKeys.find((k) => k.accountId === accountId && k.role === 'admin')!.key;

async function api(s: Started, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey(s.run, GLOBEX.accountId)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Twilio as it calls GLOBEX's webhook on this stack (the token and URLs from its run file). */
function sender(s: Started, seed: ReturnType<typeof parseSeed>): TwilioSender {
  const stackView = {
    baseUrl: s.baseUrl,
    env: {},
    seed,
    secrets: { twilioAuthTokens: Object.fromEntries(Object.entries(s.run.twilio).map(([id, t]) => [id, t.authToken])) },
  } as unknown as LocalStack;
  return new TwilioSender(stackView, GLOBEX.accountId);
}

/**
 * A completed 120 s call to GLOBEX's number (price 3100, buffer 60 s) that ended two days ago (so that the reports
 * answer it from the daily aggregates, which hold whole past days), once it is rated.
 */
async function rateCall(s: Started, seed: ReturnType<typeof parseSeed>): Promise<string> {
  const twilio = sender(s, seed);
  const call = { callSid: newCallSid(), from: newCaller(), to: GLOBEX.number };
  const endMs = Math.floor(Date.now() / 1000) * 1000 - 2 * 86_400_000;
  await twilio.deliver(twilio.ringing(call));
  await twilio.deliver(twilio.terminal(call, 'completed', endMs, 120));
  const callId = `twilio:${call.callSid}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const detail = await api(s, 'GET', `/v1/calls/${encodeURIComponent(callId)}`);
    if (detail.status === 200 && detail.body.billable !== undefined && detail.body.amountCents > 0) return callId;
    if (Date.now() > deadline) throw new Error(`call ${callId} not rated: ${JSON.stringify(detail)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function archiveKeys(run: RunFile): Promise<string[]> {
  const s3 = new S3Client({ endpoint: run.endpoints.s3, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
  try {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: run.names.archiveBucket }));
    return (out.Contents ?? []).map((o) => o.Key!).sort();
  } finally {
    s3.destroy();
  }
}

/**
 * The calls the source scorecard counts for GLOBEX's campaign over the last 30 days (answered from the daily
 * aggregates, which the table stream feeds), once they reach `atLeast` (the stream is read asynchronously).
 */
async function aggregatedCalls(s: Started, atLeast: number): Promise<{ calls: number; callsRead: number }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const report = await api(s, 'GET', `/v1/reports/sources?campaignId=${GLOBEX.campaignId}`);
    expect(report.status).toBe(200);
    const calls = (report.body.rows as { calls: number }[]).reduce((n, r) => n + r.calls, 0);
    if (calls >= atLeast || Date.now() > deadline) return { calls, callsRead: report.body.basis.callsRead };
    await new Promise((r) => setTimeout(r, 250));
  }
}

let dir: string;
let seedFile: TempSeed;
const running: Started[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'callledger-persist-'));
  seedFile = await writeTwoAccountSeed();
});
afterAll(async () => {
  for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
  await seedFile?.cleanup();
});

describe('npm start -- --persist DIR', () => {
  it('a restart on the same directory keeps the API keys, the publisher, the rated call, its charge and the archive', async () => {
    const state = join(dir, 'state');
    const runFile = join(dir, 'run.json');
    const seed = parseSeed(JSON.parse(await readFile(seedFile.file, 'utf8')));

    const first = await startMain(['--persist', state, '--seed', seedFile.file], runFile);
    running.push(first);
    expect(first.stdout()).toContain(`state: persisted in ${state}`);
    expect(first.stdout()).toContain('resources created and seed loaded');
    expect(statSync(join(state, 'stack.json')).mode & 0o777).toBe(0o600);
    expect((await api(first, 'PUT', '/v1/publishers/pub-kept', { name: 'Kept Media' })).status).toBe(201);
    const callId = await rateCall(first, seed);
    const entries = async (s: Started) => (await api(s, 'GET', `/v1/ledger?campaignId=${GLOBEX.campaignId}`)).body.entries as { callId: string; amountCents: number }[];
    expect((await entries(first)).filter((e) => e.callId === callId).map((e) => e.amountCents)).toEqual([GLOBEX.priceCents]);
    expect(await aggregatedCalls(first, 1)).toEqual({ calls: 1, callsRead: 0 });
    const archived = await archiveKeys(first.run);
    expect(archived.length).toBeGreaterThan(0);
    expect(first.stdout()).not.toContain(adminKey(first.run, GLOBEX.accountId));
    expect(await first.stop()).toBe(0);
    expect(existsSync(join(state, 'lock'))).toBe(false);

    const second = await startMain(['--persist', state], runFile);
    running.push(second);
    expect(second.stdout()).toContain(`state restored from ${state}`);
    expect(second.stdout()).not.toContain('seed loaded');
    // The same keys and tokens, served by new emulator ports.
    expect(second.run.apiKeys).toEqual(first.run.apiKeys);
    expect(second.run.twilio).toEqual(first.run.twilio);
    expect(second.run.endpoints.dynamodb).not.toBe(first.run.endpoints.dynamodb);

    const publisher = await api(second, 'GET', '/v1/publishers/pub-kept');
    expect(publisher.status).toBe(200);
    expect(publisher.body.name).toBe('Kept Media');
    const detail = await api(second, 'GET', `/v1/calls/${encodeURIComponent(callId)}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ callId, billable: true, amountCents: GLOBEX.priceCents, durationSec: 120 });
    expect((await entries(second)).filter((e) => e.callId === callId).map((e) => e.amountCents)).toEqual([GLOBEX.priceCents]);
    expect(await archiveKeys(second.run)).toEqual(expect.arrayContaining(archived));

    // Queues and the Twilio token work after the restore: a new call is taken and rated.
    const later = await rateCall(second, seed);
    expect((await entries(second)).map((e) => e.callId)).toEqual(expect.arrayContaining([callId, later]));
    // The restarted stream reader starts again from the stream's oldest record: the first call is not counted twice.
    expect(await aggregatedCalls(second, 2)).toEqual({ calls: 2, callsRead: 0 });
    expect(await second.stop()).toBe(0);
  });

  it('a second stack on a directory in use is refused, naming the holder', async () => {
    const state = join(dir, 'busy');
    const first = await startMain(['--persist', state], join(dir, 'busy-run.json'));
    running.push(first);
    const second = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', '--port', '0', '--run-file', join(dir, 'busy-run2.json'), '--persist', state], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    second.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((r) => second.once('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(stderr).toContain(`is in use by another local stack (pid ${first.child.pid})`);
    expect(await first.stop()).toBe(0);
  });
});
