/**
 * A call's quality signals are on the call itself (`GET /v1/calls/{callId}`), over HTTP against the local stack:
 * the signals flagged when it was rated, and the flags the scheduled quality pass stored from the calls around it,
 * the same as `/rating` shows them. Flags only: the billing is unchanged by them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../../infra/local/http-adapter';
import { FUNCTIONS } from '../../../infra/resources';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { ACME, TwilioSender, apiGet, apiKey, callPath, newCallSid, newCaller, type CallSpec } from '../../support/e2e-harness';

let stack: LocalStack;
let acme: TwilioSender;
let admin: string;
let analyst: string;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true });
  acme = new TwilioSender(stack, ACME.accountId);
  admin = apiKey(stack, ACME.accountId, 'admin');
  analyst = apiKey(stack, ACME.accountId, 'analyst');
});

afterAll(async () => {
  await stack?.stop();
});

const nowMs = () => Math.floor(Date.now() / 1000) * 1000;

async function play(call: CallSpec, endMs: number, durationSec: number): Promise<void> {
  await acme.deliver(acme.ringing(call));
  await acme.deliver(acme.terminal(call, 'completed', endMs, durationSec));
}

/** The scheduled quality pass, once, as the scheduler invokes it. */
async function qualityPassOnce(): Promise<void> {
  const { handler } = (await import('../../../functions/quality-pass')) as { handler: (e: unknown, c: unknown) => Promise<unknown> };
  await handler({}, lambdaContext(FUNCTIONS.qualityPass));
}

describe('quality signals on GET /v1/calls/{callId}', () => {
  it('shows the rating-time signals and the quality pass flags, as /rating does, for either key', async () => {
    // The campaign's buffer is 90 s and the near-buffer margin 10 s: a 93 s call bills, and is flagged near_buffer_hangup.
    const caller = newCaller();
    const first: CallSpec = { callSid: newCallSid(), from: caller, to: ACME.number };
    const firstEnd = nowMs() - 20 * 60_000;
    await play(first, firstEnd, 93);
    // The same caller ten minutes later through another publisher: repeat_caller, found by the quality pass.
    const second: CallSpec = { callSid: newCallSid(), from: caller, to: ACME.otherNumber };
    await play(second, firstEnd + 10 * 60_000, 200);
    await stack.waitForIdle(20_000);

    const before = await apiGet<any>(stack, callPath(`twilio:${first.callSid}`), admin);
    expect(before.status, JSON.stringify(before.body)).toBe(200);
    expect(before.body).toMatchObject({ billable: true, amountCents: ACME.priceCents, signals: ['near_buffer_hangup'], crossCallSignals: null });

    await qualityPassOnce();

    for (const key of [admin, analyst]) {
      const detail = await apiGet<any>(stack, callPath(`twilio:${second.callSid}`), key);
      const rating = await apiGet<any>(stack, `${callPath(`twilio:${second.callSid}`)}/rating`, key);
      expect(detail.status, JSON.stringify(detail.body)).toBe(200);
      expect(rating.status, JSON.stringify(rating.body)).toBe(200);
      expect(detail.body.crossCallSignals).toMatchObject({ findings: [{ signal: 'repeat_caller', rules: ['other_source'] }], priorCallId: `twilio:${first.callSid}` });
      expect(detail.body.crossCallSignals).toEqual(rating.body.crossCallSignals);
      // Flags only: the second call's billing is what it was rated (a duplicate of the first).
      expect(detail.body).toMatchObject({ billable: false, reasons: ['duplicate_caller'], signals: [] });
    }
    // The list answers the same shape.
    const listed = await apiGet<any>(stack, '/v1/calls', admin, { limit: '100' });
    expect(listed.body.calls.find((c: any) => c.callId === `twilio:${first.callSid}`)).toMatchObject({ signals: ['near_buffer_hangup'] });
  });
});
