/**
 * `.local/run.json`: written by `npm start` while the local stack runs (mode 0600, removed on exit), read by
 * tools that drive a running stack (`npm run demo`, `npm run bench`).
 */
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EmulatorEndpoints } from './emulators';
import type { ResourceNames } from './resources';
import type { LocalStack } from './stack';

// Types only from the stack's modules: tools that merely read the file (the demo) do not load the AWS SDK for it.
export const RUN_FILE = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), '.local', 'run.json');

export interface RunFile {
  readonly baseUrl: string;
  readonly mediaBaseUrl: string;
  readonly pid: number;
  /** The emulators and resource names, for tools that talk to them directly (the benchmark's raw baseline). */
  readonly endpoints: EmulatorEndpoints;
  readonly names: ResourceNames;
  readonly apiKeys: LocalStack['secrets']['apiKeys'];
  /** accountId → the Twilio credentials the stack generated for it. */
  readonly twilio: Record<string, { readonly accountSid: string; readonly authToken: string }>;
  /** The Telnyx, Vonage and Plivo credentials the stack generated for the seed's carrier settings (carrier-secrets.ts). */
  readonly carriers: LocalStack['secrets']['carriers'];
}

export function runFileContents(
  stack: Pick<LocalStack, 'baseUrl' | 'mediaBaseUrl' | 'endpoints' | 'names' | 'secrets' | 'seed'>,
  pid: number = process.pid,
): RunFile {
  return {
    baseUrl: stack.baseUrl,
    mediaBaseUrl: stack.mediaBaseUrl,
    pid,
    endpoints: stack.endpoints,
    names: stack.names,
    apiKeys: stack.secrets.apiKeys,
    twilio: Object.fromEntries(
      stack.seed.accounts.flatMap((a) => (a.twilio === undefined ? [] : [[a.accountId, { accountSid: a.twilio.accountSid, authToken: stack.secrets.twilioAuthTokens[a.accountId]! }]])),
    ),
    carriers: stack.secrets.carriers,
  };
}

export function writeRunFile(contents: RunFile, file: string = RUN_FILE): void {
  mkdirSync(dirname(file), { recursive: true });
  // Removed first: `mode` applies only when the file is created.
  rmSync(file, { force: true });
  writeFileSync(file, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600 });
}

export function removeRunFile(file: string = RUN_FILE): void {
  rmSync(file, { force: true });
}

/** The running stack's run file, or null when there is none or its process is gone (a stale file). */
export function readRunFile(file: string = RUN_FILE): RunFile | null {
  let contents: RunFile;
  try {
    contents = JSON.parse(readFileSync(file, 'utf8')) as RunFile;
  } catch {
    return null;
  }
  try {
    process.kill(contents.pid, 0);
  } catch (err) {
    // EPERM: alive but not ours to signal; anything else: gone.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return contents;
}
