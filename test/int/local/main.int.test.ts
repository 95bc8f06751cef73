import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../infra/local/emulators';
import type { RunFile } from '../../../infra/local/run-file';

function jvmsOnPort(port: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', `DynamoDBLocal.jar.* port=${port}$`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** `npm start` as a user runs it (tsx infra/local/main.ts), on a free port and with its own run file. */
describe('npm start (infra/local/main.ts)', () => {
  it('says the state is in memory, prints `ready: <url>`, serves a healthy stack, writes a 0600 run file, and stops cleanly on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'callledger-main-'));
    const runFile = join(dir, 'run.json');
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', '--port', '0', '--run-file', runFile], {
      cwd: REPO_ROOT,
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'WARN' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const baseUrl = await new Promise<string>((resolveUrl, reject) => {
        child.stdout!.on('data', (c: Buffer) => {
          stdout += c.toString();
          const match = /^ready: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout);
          if (match) resolveUrl(match[1]!);
        });
        void exited.then((code) => reject(new Error(`exited ${code} before ready:\n${stdout}\n${stderr}`)));
      });
      // The ready line is the last line of start-up output, exactly; the first says the state is in memory only.
      expect(stdout.trimEnd().split('\n').at(-1)).toBe(`ready: ${baseUrl}`);
      expect(stdout.split('\n')[0]).toMatch(/^state: in memory only — stopping this stack discards every call, charge, key and token \(keep them with npm start -- --persist DIR\)$/);

      const health = await fetch(`${baseUrl}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', components: { dynamodb: 'up', sqs: 'up', s3: 'up', pollers: 'up' } });

      expect(statSync(runFile).mode & 0o777).toBe(0o600);
      const run = JSON.parse(await readFile(runFile, 'utf8')) as RunFile;
      expect(run).toMatchObject({ baseUrl, pid: child.pid });
      expect(run.apiKeys.map((k) => k.label)).toEqual(['demo-admin', 'demo-analyst']);
      expect(run.twilio['acme-roofing']!.authToken).toMatch(/^[0-9a-f]{32}$/);
      expect(stdout).not.toContain(run.apiKeys[0]!.key); // secrets only in the run file
      const ddbPort = new URL(run.endpoints.dynamodb).port;
      expect(jvmsOnPort(ddbPort)).toHaveLength(1);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(runFile)).toBe(false);
      await expect(fetch(`${baseUrl}/health`)).rejects.toThrow();
      expect(jvmsOnPort(ddbPort)).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
