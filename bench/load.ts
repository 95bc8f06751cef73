/**
 * Main-thread side of the load generator (the sending happens in load-worker.ts, on its own thread).
 */
import { Worker } from 'node:worker_threads';
import type { WebhookRequest } from '../events/traffic';

export type LoadMode = { readonly kind: 'open'; readonly ratePerSec: number } | { readonly kind: 'closed'; readonly concurrency: number };

/** What crosses to the worker: only the parts of a request that go on the wire. */
export interface WireRequest {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface LoadJob {
  readonly baseUrl: string;
  readonly mode: LoadMode;
  readonly requests: readonly WireRequest[];
  /** Keep each answer's body in its sample (the voice phase reads the TwiML); off: bodies are discarded unread. */
  readonly keepBodies?: boolean;
}

/** Epoch milliseconds (fractional). In closed mode dueAt = sentAt. */
export interface LoadSample {
  readonly dueAt: number;
  readonly sentAt: number;
  readonly doneAt: number;
  /** HTTP status, 0 when no response came (connection error or 15 s timeout). */
  readonly status: number;
  /** The answer's body, when the job asked for it. */
  readonly body?: string;
}

export interface LoadResult {
  readonly samples: readonly LoadSample[];
}

export function runLoad(
  baseUrl: string,
  requests: readonly (WebhookRequest | WireRequest)[],
  mode: LoadMode,
  options: { readonly keepBodies?: boolean } = {},
): Promise<readonly LoadSample[]> {
  const job: LoadJob = {
    baseUrl,
    mode,
    requests: requests.map((r) => ({ path: r.path, headers: { ...r.headers }, body: r.body })),
    ...(options.keepBodies ? { keepBodies: true } : {}),
  };
  return new Promise((resolve, reject) => {
    // Workers inherit execArgv, so tsx's loader (and with it the .ts entry) works in the worker too.
    const worker = new Worker(new URL('./load-worker.ts', import.meta.url), { workerData: job });
    let result: LoadResult | undefined;
    worker.once('message', (m: LoadResult) => (result = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (result ? resolve(result.samples) : reject(new Error(`load worker exited with ${code} before reporting`))));
  });
}
