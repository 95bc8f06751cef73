/**
 * The load generator's thread. It runs in a worker so that building and sending requests does not share an
 * event loop with the stack under test (the HTTP adapter, the handlers and fauxqs all run on the main thread).
 *
 * Two modes:
 * - `open`: request i is due at start + i / ratePerSec and is sent then, whether or not earlier requests have
 *   been answered (an open loop, like Twilio: callers do not wait for our previous answer). Latency is measured
 *   from the DUE time, so any queueing — in the server or in this sender — shows up in the figure.
 * - `closed`: `concurrency` senders post back to back, as fast as the server answers (used to feed the drain).
 *
 * Plain node:http with a keep-alive agent: cheaper per request than fetch, so the sender is not the bottleneck.
 */
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import type { LoadJob, LoadResult, LoadSample } from './load';

const job = workerData as LoadJob;
const url = new URL(job.baseUrl);
const agent = new Agent({ keepAlive: true, maxSockets: job.mode.kind === 'open' ? 256 : job.mode.concurrency });

/** performance.now() in this worker → epoch ms (the stack stamps commits with Date.now()). */
const toEpoch = (t: number) => performance.timeOrigin + t;

function post(i: number): Promise<{ status: number; doneAt: number; body?: string }> {
  const r = job.requests[i]!;
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: r.path,
        headers: { ...r.headers, 'content-length': Buffer.byteLength(r.body) },
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        if (job.keepBodies) res.on('data', (c: Buffer) => chunks.push(c));
        else res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, doneAt: performance.now(), ...(job.keepBodies ? { body: Buffer.concat(chunks).toString('utf8') } : {}) }));
        res.on('error', () => resolve({ status: 0, doneAt: performance.now() }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, doneAt: performance.now() }));
    req.end(r.body);
  });
}

async function runOpen(ratePerSec: number): Promise<LoadSample[]> {
  const n = job.requests.length;
  const samples: LoadSample[] = new Array(n);
  const pending: Promise<void>[] = [];
  // A short lead so the first due times are not already in the past when the loop starts.
  const t0 = performance.now() + 20;
  const due = (i: number) => t0 + (i * 1000) / ratePerSec;
  let i = 0;
  while (i < n) {
    const now = performance.now();
    while (i < n && due(i) <= now) {
      const index = i++;
      const dueAt = due(index);
      const sentAt = performance.now();
      pending.push(
        post(index).then(({ status, doneAt, body }) => {
          samples[index] = { dueAt: toEpoch(dueAt), sentAt: toEpoch(sentAt), doneAt: toEpoch(doneAt), status, ...(body === undefined ? {} : { body }) };
        }),
      );
    }
    if (i < n) await new Promise((r) => setTimeout(r, Math.max(0, due(i) - performance.now())));
  }
  await Promise.all(pending);
  return samples;
}

async function runClosed(concurrency: number): Promise<LoadSample[]> {
  const n = job.requests.length;
  const samples: LoadSample[] = new Array(n);
  let next = 0;
  const sender = async () => {
    for (;;) {
      const index = next++;
      if (index >= n) return;
      const sentAt = performance.now();
      const { status, doneAt } = await post(index);
      samples[index] = { dueAt: toEpoch(sentAt), sentAt: toEpoch(sentAt), doneAt: toEpoch(doneAt), status };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, sender));
  return samples;
}

const samples = job.mode.kind === 'open' ? await runOpen(job.mode.ratePerSec) : await runClosed(job.mode.concurrency);
agent.destroy();
parentPort!.postMessage({ samples } satisfies LoadResult);
