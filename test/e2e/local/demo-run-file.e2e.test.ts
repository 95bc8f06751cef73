/**
 * `npm run demo -- --run-file FILE` plays its traffic against the stack that FILE describes (as `npm start --
 * --run-file FILE` writes it), not against .local/run.json and not against a private stack of its own; a named run
 * file that leads to no running stack is an error, not a silent private stack.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../infra/local/emulators';
import { runFileContents, writeRunFile } from '../../../infra/local/run-file';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';

let stack: LocalStack;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'callledger-demo-run-file-'));
  // The demo's pilot burst (10 calls at once) is answered by ONE process on a shared machine: the decision's budget
  // is widened so that the cap, not the machine's load, decides who connects. Latency is `npm run bench`'s.
  process.env.VOICE_DECISION_BUDGET_MS = '8000';
  stack = await startLocalStack({ port: 0, quiet: true, scheduleEveryMs: 0 });
});
afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** `npm run demo -- …args` (tsx events/demo.ts, as the npm script runs it). */
function demo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'events/demo.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo -- --run-file', () => {
  it('drives the stack the named run file describes, its ledger matches the traffic, and its voice calls the simulator', async () => {
    const file = join(dir, 'run.json');
    writeRunFile(runFileContents(stack), file);
    const run = await demo(['--run-file', file, '--calls', '30', '--timeout', '120']);
    expect(run.stdout).toContain(`using the running stack at ${stack.baseUrl} (${file})`);
    expect(run.stdout).not.toContain('starting a stack');
    expect(run.stdout).toContain('ledger matches ground truth');
    // On a failure, what the demo printed last says which of its checks failed.
    expect(run.code, `${run.stderr.slice(-2000)}\n${run.stdout.slice(-3000)}`).toBe(0);
    // The webhooks arrived here.
    expect(stack.pollerStats().ingest!.received).toBeGreaterThan(30);
    // Then voice calls through the simulator on that stack: the routing summary beside the ledger, equal to the simulator.
    expect(run.stdout).toContain('through the Twilio call simulator');
    expect(run.stdout).toMatch(/played in [\d.]+ s: 38 calls, 0 failed in the simulator/);
    // The pilot's cap (4 calls) reached at admission, the after-hours target refusing, the overflow target skipped.
    expect(run.stdout).toMatch(/refused \d+ \(no_target 4, over_cap 6\)/);
    expect(run.stdout).toMatch(/demo-voice-overflow: at_capacity \d+/);
    expect(run.stdout).toMatch(/demo-voice-night: closed 4/);
    expect(run.stdout).toContain('voice ledger matches the simulator’s ground truth');
  });

  it('a named run file with no stack behind it is an error (exit 2), and no stack is started', async () => {
    const run = await demo(['--run-file', join(dir, 'missing.json'), '--calls', '5']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--run-file ${join(dir, 'missing.json')}: no such file, or the stack that wrote it is gone`);
    expect(run.stdout).not.toContain('starting a stack');
  });
});
