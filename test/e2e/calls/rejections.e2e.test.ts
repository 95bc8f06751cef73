/**
 * End to end, over HTTP: webhooks the ingest endpoint must refuse. Each gets its precise problem+json answer and
 * leaves no trace anywhere: nothing in S3 (archive or recordings), nothing on the ingest queue or processed from
 * it, no call item in DynamoDB. The last test sends one good webhook through the same checks, to prove they see a
 * trace when there is one.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import {
  ACME,
  TwilioSender,
  bucketKeys,
  callItem,
  expectProblem,
  ledgerTable,
  newCallSid,
  newCaller,
  problemOf,
  queueDepth,
  scan,
  type CallSpec,
  type Form,
} from '../../support/e2e-harness';

let stack: LocalStack;
let acme: TwilioSender;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true });
  acme = new TwilioSender(stack, ACME.accountId);
});

afterAll(async () => {
  await stack?.stop();
});

const call = (): CallSpec => ({ callSid: newCallSid(), from: newCaller(), to: ACME.number });
const completed = (c: CallSpec): Form => acme.terminal(c, 'completed', Math.floor(Date.now() / 1000) * 1000, 240);

interface Trace {
  readonly archived: string[];
  readonly recordings: string[];
  readonly ingestDepth: number;
  readonly ingestDlqDepth: number;
  readonly ingestReceived: number;
  readonly callItem: Record<string, unknown> | null;
  readonly callItems: number;
  readonly ledgerItems: number;
}

/** Everything a webhook for `callSid` could have left behind, after the stack has finished whatever it was given. */
async function traceOf(callSid: string): Promise<Trace> {
  await stack.waitForIdle(10_000);
  return {
    archived: await bucketKeys(stack, stack.names.archiveBucket),
    recordings: await bucketKeys(stack, stack.names.recordingsBucket),
    ingestDepth: await queueDepth(stack, stack.names.ingestQueueUrl),
    ingestDlqDepth: await queueDepth(stack, stack.names.ingestDlqUrl),
    ingestReceived: stack.pollerStats().ingest!.received,
    callItem: await callItem(stack, `twilio:${callSid}`),
    callItems: (await scan(stack, stack.names.mainTable)).filter((i) => String(i.pk).startsWith('CALL#')).length,
    ledgerItems: (await ledgerTable(stack)).length,
  };
}

const NO_TRACE: Trace = { archived: [], recordings: [], ingestDepth: 0, ingestDlqDepth: 0, ingestReceived: 0, callItem: null, callItems: 0, ledgerItems: 0 };

describe('rejected webhooks leave no trace', () => {
  it('forged signature (signed with another auth token) → 403', async () => {
    const c = call();
    const form = completed(c);
    const res = await problemOf(await acme.post(form, { signature: acme.sign(form, randomBytes(16).toString('hex')) }));
    expectProblem(res, 403, 'bad-signature');
    expect(await traceOf(c.callSid)).toEqual(NO_TRACE);
  });

  it('missing signature → 403', async () => {
    const c = call();
    expectProblem(await problemOf(await acme.post(completed(c), { signature: null })), 403, 'bad-signature');
    expect(await traceOf(c.callSid)).toEqual(NO_TRACE);
  });

  it('tampered body (a valid signature for another body) → 403', async () => {
    const c = call();
    const signed = completed(c);
    const tampered = signed.map(([k, v]): [string, string] => [k, k === 'CallDuration' ? '3600' : v]);
    const res = await problemOf(await acme.post(signed, { body: new URLSearchParams(tampered).toString() }));
    expectProblem(res, 403, 'bad-signature');
    expect(await traceOf(c.callSid)).toEqual(NO_TRACE);
  });

  it('unknown account → 404', async () => {
    const c = call();
    const res = await problemOf(await acme.post(completed(c), { path: '/webhooks/twilio/no-such-account' }));
    expectProblem(res, 404, 'not-found');
    expect(await traceOf(c.callSid)).toEqual(NO_TRACE);
  });

  it('body over 64 KiB, correctly signed → 413', async () => {
    const c = call();
    const form: Form = [...completed(c), ['Padding', 'x'.repeat(64 * 1024)]];
    expect(new URLSearchParams(form).toString().length).toBeGreaterThan(64 * 1024);
    expectProblem(await problemOf(await acme.post(form)), 413, 'payload-too-large');
    expect(await traceOf(c.callSid)).toEqual(NO_TRACE);
  });

  it('wrong content type (application/json) → 415', async () => {
    const c = call();
    const form = completed(c);
    const res = await problemOf(await acme.post(form, { contentType: 'application/json', body: JSON.stringify(Object.fromEntries(form)) }));
    expectProblem(res, 415, 'unsupported-media-type');
    expect(await traceOf(c.callSid)).toEqual(NO_TRACE);
  });

  it('GET on the webhook → 405 with Allow: POST', async () => {
    const res = await acme.post([], { method: 'GET', signature: null });
    expect(res.headers.get('allow')).toBe('POST');
    expectProblem(await problemOf(res), 405, 'method-not-allowed');
    expect(await traceOf(newCallSid())).toEqual(NO_TRACE);
  });

  it('malformed parameters, correctly signed → 400 naming each bad field, never echoing values', async () => {
    const c = call();
    const form = completed(c).map(([k, v]): [string, string] => {
      if (k === 'CallStatus') return [k, 'exploded'];
      if (k === 'CallDuration') return [k, 'long'];
      return [k, v];
    });
    const res = await problemOf(await acme.post(form));
    expectProblem(res, 400, 'malformed-request');
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['CallDuration', 'CallStatus']);
    for (const e of res.body.errors) expect(typeof e.message).toBe('string');
    expect(res.body.detail).toContain('CallStatus');
    expect(JSON.stringify(res.body)).not.toContain('exploded');
    expect(JSON.stringify(res.body)).not.toContain(c.from.slice(2));
    expect(await traceOf(c.callSid)).toEqual(NO_TRACE);
  });

  it('control: the same checks see the trace of one accepted webhook', async () => {
    const c = call();
    await acme.deliver(completed(c));
    const trace = await traceOf(c.callSid);
    expect(trace.archived).toHaveLength(1);
    expect(trace.ingestReceived).toBe(1);
    expect(trace.callItem).toMatchObject({ pk: `CALL#twilio:${c.callSid}`, accountId: ACME.accountId });
    expect(trace.callItems).toBe(1);
    expect(trace.ledgerItems).toBe(1);
    expect({ ...trace, archived: [], ingestReceived: 0, callItem: null, callItems: 0, ledgerItems: 0 }).toEqual(NO_TRACE);
  });
});
