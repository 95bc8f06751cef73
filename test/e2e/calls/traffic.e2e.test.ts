/**
 * End to end at demo scale: ~150 realistic calls from the traffic generator (two accounts, publishers of three
 * qualities, repeat callers, Twilio retries, completed-before-ringing and recording-before-completed), sent as
 * signed webhooks over HTTP; once the stack is idle, the read API's calls and ledger must match the generator's
 * ground truth exactly (events/reconcile.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../../infra/resources';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { reconcile, type ApiCall, type ApiLedgerEntry } from '../../../events/reconcile';
import { generateTraffic, send, type Traffic } from '../../../events/traffic';
import { GLOBEX, allCalls, allLedgerEntries, apiGet, apiKey, ledgerTable, writeTwoAccountSeed, type TempSeed } from '../../support/e2e-harness';

let stack: LocalStack;
let seedFile: TempSeed;
let traffic: Traffic;

beforeAll(async () => {
  seedFile = await writeTwoAccountSeed();
  stack = await startLocalStack({ port: 0, quiet: true, seedFile: seedFile.file });
  traffic = generateTraffic({
    seed: stack.seed,
    authTokens: stack.secrets.twilioAuthTokens,
    publicBaseUrl: stack.env[ENV.publicBaseUrl] ?? stack.baseUrl,
    mediaBaseUrl: stack.mediaBaseUrl,
    calls: 150,
    rngSeed: 20261124,
    startAt: '2026-11-02T13:00:00Z',
    spanHours: 36,
    // More retries and reordering than the demo default, so that 150 calls exercise every delivery fault.
    delivery: { duplicateRate: 0.1, outOfOrderRate: 0.2 },
  });
});

afterAll(async () => {
  await stack?.stop();
  await seedFile?.cleanup();
});

describe('demo-scale traffic', () => {
  it('the generated traffic exercises every fault the ledger must absorb', () => {
    const calls = traffic.calls;
    expect(calls).toHaveLength(150);
    const count = (p: (c: (typeof calls)[number]) => boolean) => calls.filter(p).length;
    expect(count((c) => c.delivery.redeliveries > 0)).toBeGreaterThan(0);
    expect(count((c) => c.delivery.outOfOrder === 'completed-before-ringing')).toBeGreaterThan(0);
    expect(count((c) => c.delivery.outOfOrder === 'recording-before-completed')).toBeGreaterThan(0);
    expect(count((c) => c.reason === 'duplicate_caller')).toBeGreaterThan(0);
    expect(count((c) => c.reason === 'below_buffer')).toBeGreaterThan(0);
    expect(count((c) => c.reason === 'not_connected')).toBeGreaterThan(0);
    expect(count((c) => c.billable)).toBeGreaterThan(0);
    expect(count((c) => c.recording !== null)).toBeGreaterThan(0);
    expect(new Set(calls.map((c) => c.accountId))).toEqual(new Set(['acme-roofing', GLOBEX.accountId]));
  });

  it('every webhook is accepted, and the API reconciles exactly with the ground truth', async () => {
    const sent = await send(traffic.requests, { baseUrl: stack.baseUrl, concurrency: 8 });
    expect(sent.unexpected).toEqual([]);
    expect(sent.statusCounts).toEqual({ '204': traffic.requests.length });
    await stack.waitForIdle(60_000);

    const calls: ApiCall[] = [];
    const entries: ApiLedgerEntry[] = [];
    const totals = new Map<string, unknown>();
    for (const accountId of new Set(traffic.calls.map((c) => c.accountId))) {
      const key = apiKey(stack, accountId, 'admin');
      calls.push(...(await allCalls(stack, key)));
      entries.push(...(await allLedgerEntries(stack, key)));
      totals.set(accountId, (await apiGet<any>(stack, '/v1/ledger', key)).body.totals);
    }
    // Nothing but the generated calls went in, so the API holds exactly them.
    expect(calls.map((c) => c.callId).sort()).toEqual(traffic.calls.map((c) => c.callId).sort());
    const result = reconcile(traffic.calls, calls, entries);
    expect(result.differences).toEqual([]);
    expect(result.ok).toBe(true);

    // The ledger table itself: one net charge per billed call (a call charged before an earlier call of its caller
    // arrived is reversed, netting 0), and the totals the API reports.
    const billed = calls.filter((c) => c.billable);
    const items = await ledgerTable(stack);
    const net = new Map<string, number>();
    for (const i of items) net.set(String(i.callId), (net.get(String(i.callId)) ?? 0) + (i.amountCents as number));
    expect([...net].filter(([, cents]) => cents !== 0).map(([id]) => id).sort()).toEqual(billed.map((c) => c.callId).sort());
    for (const [accountId, accountTotals] of totals) {
      const mine = items.filter((i) => i.accountId === accountId);
      const of = (type: string) => mine.filter((i) => i.type === type).reduce((s, i) => s + (i.amountCents as number), 0);
      expect(accountTotals).toEqual({ chargesCents: of('charge'), creditsCents: 0, reversalsCents: of('reversal'), netCents: of('charge') + of('reversal'), count: mine.length });
    }
    // The spend the ground truth expects, to the cent (billing may swap within a repeat-caller cluster, never add).
    expect(items.reduce((s, i) => s + (i.amountCents as number), 0)).toBe(traffic.calls.reduce((s, c) => s + c.amountCents, 0));
  }, 90_000);
});
