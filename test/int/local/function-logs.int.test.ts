/**
 * Each local invocation logs under its own function's name, even while invocations of other functions overlap in the
 * one process the local stack runs them all in (one Powertools logger, shared/adapters/platform/log.ts). The handlers here are
 * wired like the real ones (middy + injectLambdaContext on the shared logger) and interleave on gates: the first
 * invocation logs again after a second one, of another function, has started and logged.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../../infra/resources';
import { LOCAL_INVOKE_ENV, invokeHandler } from '../../../infra/local/invoke';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { logger } from '../../../shared/adapters/platform/log';
import { withoutContractCheck } from '../../contract/hooks';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

/** A handler wired like functions/*.ts: it logs `fixture:<label>:…` lines around `during`. */
function fixture(label: string, during: () => Promise<void>, result: unknown) {
  return middy<unknown, unknown>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .handler(async () => {
      logger.warn(`fixture:${label}:start`);
      await during();
      logger.warn(`fixture:${label}:end`);
      return result;
    }) as unknown as (event: unknown, context: Context) => Promise<never>;
}

/** What the process writes to stdout, stderr or the console (where Powertools' Logger prints) during each test. */
let captured: string[] = [];
const restore: (() => void)[] = [];
beforeEach(() => {
  captured = [];
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write;
    stream.write = function (chunk: unknown, ...rest: unknown[]) {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (write as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
    } as typeof stream.write;
    restore.push(() => void (stream.write = write));
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => void captured.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    restore.push(() => void (console[method] = original));
  }
});
afterEach(() => {
  for (const undo of restore.splice(0)) undo();
});

/** label → the function_name and request id of each fixture line logged. */
function fixtureLines(): { message: string; function_name: string; function_request_id: string }[] {
  return captured
    .filter((c) => c.includes('"fixture:'))
    .map((c) => JSON.parse(c) as { message: string; function_name: string; function_request_id: string })
    .sort((a, b) => a.message.localeCompare(b.message));
}

describe('function names in local logs', () => {
  let stack: LocalStack;
  const apiInside = gate();
  const ingestDone = gate();

  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      quiet: true,
      scheduleEveryMs: 0,
      handlers: {
        // The API call logs, waits for the webhook to be handled meanwhile, logs again.
        api: fixture('api', async () => (apiInside.open(), await ingestDone.opened), { statusCode: 200, body: '{}' }),
        ingestTwilio: fixture('ingest', async () => (await apiInside.opened, ingestDone.open()), { statusCode: 204 }),
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('two overlapping HTTP invocations of two functions each log their own function_name and request id', async () => {
    // Fixture handlers, not the API: no contract, and the test counts the invocations.
    const [api, webhook] = await withoutContractCheck(() =>
      Promise.all([
        fetch(`${stack.baseUrl}/v1/ledger`),
        fetch(`${stack.baseUrl}/webhooks/twilio/acme-roofing`, { method: 'POST', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      ]),
    );
    expect([api.status, webhook.status]).toEqual([200, 204]);
    const lines = fixtureLines();
    expect(lines.map((l) => [l.message, l.function_name])).toEqual([
      ['fixture:api:end', 'local-api'],
      ['fixture:api:start', 'local-api'],
      ['fixture:ingest:end', 'local-ingestTwilio'],
      ['fixture:ingest:start', 'local-ingestTwilio'],
    ]);
    expect(lines[0]!.function_request_id).toBe(lines[1]!.function_request_id);
    expect(lines[2]!.function_request_id).not.toBe(lines[0]!.function_request_id);
  });
});

describe('invokeHandler', () => {
  it('keeps each of several interleaved invocations (HTTP, queue, schedule, workflow) under its own function', async () => {
    const saved = Object.keys(LOCAL_INVOKE_ENV).map((k) => [k, process.env[k]] as const);
    Object.assign(process.env, LOCAL_INVOKE_ENV);
    try {
      const defs = [FUNCTIONS.api, FUNCTIONS.ledgerWriter, FUNCTIONS.ledgerSealer, FUNCTIONS.pilotWorkflow];
      const gates = defs.map(() => gate());
      // Each starts, then waits for the next one to have started; the last releases them in reverse order.
      const runs = defs.map((def, i) =>
        invokeHandler(
          def,
          fixture(def.id, async () => {
            if (i < defs.length - 1) await gates[i]!.opened;
            gates[i - 1]?.open();
          }, null),
          {},
        ),
      );
      await Promise.all(runs);
      const lines = fixtureLines();
      expect(lines).toHaveLength(2 * defs.length);
      for (const l of lines) expect(l.function_name, l.message).toBe(`local-${l.message.split(':')[1]}`);
    } finally {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
