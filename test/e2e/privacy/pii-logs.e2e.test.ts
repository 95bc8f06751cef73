/**
 * caller numbers never reach a log line, are stored sealed, and are masked for analyst keys.
 *
 * A local stack (not quiet, handler logs at DEBUG) takes demo-sized traffic as signed webhooks and the read API
 * is walked with both keys; everything the process writes meanwhile (stdout, stderr and the console, which is
 * where Powertools' Logger prints, see shared/adapters/platform/log.ts) is captured and searched for every caller number
 * of the traffic, in E.164 and in the national forms (`5125550123`, `(512) 555-0123`, `512-555-0123`, …).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../../infra/resources';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { generateTraffic, send, type Traffic } from '../../../events/traffic';
import { maskNumber } from '../../../shared/domain/calls/caller';
import { ACME, allCalls, apiGet, apiKey, scan } from '../../support/e2e-harness';

const DAY_MS = 86_400_000;

/** Every line written to stdout/stderr or through the console while `capture` is on. */
const captured: string[] = [];
const restore: (() => void)[] = [];

function startCapture(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write;
    stream.write = function (chunk: unknown, ...rest: unknown[]) {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      // Kept, not echoed (thousands of lines); a write callback still fires.
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    } as typeof stream.write;
    restore.push(() => void (stream.write = write));
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      captured.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    };
    restore.push(() => void (console[method] = original));
  }
}

/** A number in any separator style: each digit may be followed by up to two of space . - ( ). */
function numberPattern(digits: string): RegExp {
  return new RegExp(`(?<!\\d)${[...digits].join('[\\s().-]{0,2}')}(?!\\d)`);
}

/** The forms of a caller number to look for: E.164, its digits, and the national number with any separators. */
function forms(e164: string): RegExp[] {
  const national = e164.startsWith('+1') ? e164.slice(2) : e164.slice(1);
  return [new RegExp(e164.replace('+', '\\+')), numberPattern(e164.slice(1)), numberPattern(national)];
}

/**
 * Every leaf of a stored item as [path, text]: strings, numbers, set members, binary values (as UTF-8 and as hex),
 * except the sealed number itself (top-level `callerEnc`, when it is an envelope).
 */
function leaves(value: unknown, path: string, out: [string, string][] = []): [string, string][] {
  if (path === 'callerEnc' && typeof value === 'string' && /^v1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/.test(value)) return out;
  if (value instanceof Uint8Array) out.push([path, Buffer.from(value).toString('utf8')], [path, Buffer.from(value).toString('hex')]);
  else if (value instanceof Set) for (const v of value) leaves(v, `${path}[]`, out);
  else if (Array.isArray(value)) value.forEach((v, i) => leaves(v, `${path}[${i}]`, out));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) leaves(v, path === '' ? k : `${path}.${k}`, out);
  else if (value !== null && value !== undefined) out.push([path, String(value)]);
  // Attribute names are stored bytes too.
  if (path !== '') out.push([`${path}#name`, path.split('.').at(-1)!]);
  return out;
}

/** `<pk> <attribute path>` of every place in `items` that holds one of `callers` in any form (never the number). */
function numbersAtRest(items: readonly Record<string, unknown>[], callers: readonly string[]): string[] {
  const patterns = callers.map((c) => forms(c));
  const hits: string[] = [];
  for (const item of items) {
    for (const [path, text] of leaves(item, '')) {
      if (patterns.some((p) => p.some((re) => re.test(text)))) hits.push(`${String(item.pk)} ${path}`);
    }
  }
  return hits;
}

let stack: LocalStack;
let traffic: Traffic;
const savedLevel = process.env.POWERTOOLS_LOG_LEVEL;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  startCapture();
  stack = await startLocalStack({ port: 0, quiet: false, log: (line) => captured.push(line) });
  const start = new Date(Date.now() - 3 * DAY_MS);
  start.setUTCHours(13, 0, 0, 0);
  traffic = generateTraffic({
    seed: stack.seed,
    authTokens: stack.secrets.twilioAuthTokens,
    publicBaseUrl: stack.env[ENV.publicBaseUrl] ?? stack.baseUrl,
    mediaBaseUrl: stack.mediaBaseUrl,
    calls: 200,
    rngSeed: 20261127,
    startAt: start.toISOString(),
    spanHours: 36,
    delivery: { duplicateRate: 0.1, outOfOrderRate: 0.2 },
  });
});

afterAll(async () => {
  await stack?.stop();
  for (const r of restore.splice(0).reverse()) r();
  if (savedLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
  else process.env.POWERTOOLS_LOG_LEVEL = savedLevel;
});

describe('caller numbers (PII)', () => {
  let adminCalls: any[] = [];
  let analystCalls: any[] = [];

  it('a demo run: webhooks, ledger writer, recordings and the read API with both keys', async () => {
    const sent = await send(traffic.requests, { baseUrl: stack.baseUrl, concurrency: 8 });
    expect(sent.unexpected).toEqual([]);
    await stack.waitForIdle(90_000);
    adminCalls = await allCalls(stack, apiKey(stack, ACME.accountId, 'admin'));
    analystCalls = await allCalls(stack, apiKey(stack, ACME.accountId, 'analyst'));
    const acme = traffic.calls.filter((c) => c.accountId === ACME.accountId);
    expect(adminCalls).toHaveLength(acme.length);
    for (const c of acme.slice(0, 20)) {
      for (const role of ['admin', 'analyst'] as const) {
        expect((await apiGet(stack, `/v1/calls/${c.callId}`, apiKey(stack, ACME.accountId, role))).status).toBe(200);
        expect((await apiGet(stack, `/v1/calls/${c.callId}/rating`, apiKey(stack, ACME.accountId, role))).status).toBe(200);
      }
    }
    // Refused requests log too.
    expect((await apiGet(stack, '/v1/calls', 'not-a-key')).status).toBe(401);
  }, 180_000);

  it('the call items hold the number sealed only (callerEnc), never the clear callerE164 attribute', async () => {
    const items = (await scan(stack, stack.names.mainTable)).filter((i) => String(i.pk).startsWith('CALL#') && i.rating !== undefined);
    expect(items.length).toBeGreaterThan(0);
    for (const item of items) {
      expect(item.callerE164, item.pk).toBeUndefined();
      expect(item.callerEnc, item.pk).toMatch(/^v1:L[A-Za-z0-9_-]{8}:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/);
    }
  });

  it('no caller number, in any form, in any attribute of any main-table item, except inside the sealed callerEnc', async () => {
    const items = await scan(stack, stack.names.mainTable);
    const callers = [...new Set(traffic.calls.map((c) => c.from))];
    const rated = items.filter((i) => String(i.pk).startsWith('CALL#') && i.rating !== undefined);
    // Not vacuous: rated call items with their event slots, markers and configuration were all scanned.
    expect(rated.length).toBeGreaterThan(100);
    expect(rated.every((i) => Object.keys(i).some((k) => k.startsWith('s_')))).toBe(true);
    expect(items.some((i) => String(i.pk).startsWith('DUP#'))).toBe(true);
    expect(numbersAtRest(items, callers)).toEqual([]);
    // The detector sees a number stored the way slots stored it before caller numbers were sealed (`f`), E.164 or national, and a
    // sealed envelope moved to another attribute is not exempt (it is checked like any other value there).
    const item = rated.find((i) => i.s_completed !== undefined)!;
    const caller = traffic.calls.find((c) => `CALL#${c.callId}` === item.pk)!.from;
    expect(numbersAtRest([{ ...item, s_completed: { ...item.s_completed, f: caller } }], callers)).toEqual([`${item.pk} s_completed.f`]);
    expect(numbersAtRest([{ ...item, s_ringing: { ...item.s_ringing, n: `(${caller.slice(2, 5)}) ${caller.slice(5, 8)}-${caller.slice(8)}` } }], callers)).toEqual([
      `${item.pk} s_ringing.n`,
    ]);
    expect(numbersAtRest([{ ...item, note: caller.slice(1) }], callers)).toEqual([`${item.pk} note`]);
  });

  it('admin keys see the caller in full, analyst keys only a mask', () => {
    const truth = new Map(traffic.calls.map((c) => [c.callId, c.from]));
    const byId = new Map(analystCalls.map((c) => [c.callId, c]));
    for (const call of adminCalls) {
      expect(call.caller, call.callId).toBe(truth.get(call.callId));
      expect(byId.get(call.callId)?.caller, call.callId).toBe(maskNumber(truth.get(call.callId)!));
    }
  });

  it('no caller number of the traffic, in any format, appears in any captured log output', () => {
    const text = captured.join('\n');
    // The capture saw the handlers' own log lines, so a pass is not vacuous (booleans: a diff would print the logs).
    for (const fn of ['ingestTwilio', 'ledgerWriter', 'recordingFetcher']) expect(text.includes(`"function_name": "local-${fn}"`), fn).toBe(true);
    expect(captured.length).toBeGreaterThan(traffic.calls.length);
    const callers = [...new Set(traffic.calls.map((c) => c.from))];
    expect(callers.length).toBeGreaterThan(50);
    const hits = callers.filter((e164) => forms(e164).some((re) => re.test(text)));
    // Only a count and masks: the failure message itself must not print a number.
    expect(hits.map(maskNumber), `${hits.length} caller numbers found in the logs`).toEqual([]);
  });
});
