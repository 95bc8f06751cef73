/**
 * Property (fast-check) against DynamoDB Local, through the real writer use case and the real dispute routes: a few
 * callers each make calls over four days (24 h duplicate window) to two publishers' numbers; their webhooks arrive in
 * any order, duplicated, cut into batches that several writers process at once (with SQS-like redelivery), and some
 * billed calls are fully credited while later calls still arrive. Whatever happened:
 * - the billed set (calls with a live charge) equals the one obtained by rating each caller's candidates in start
 *   order (duplicate-window.ts `billedInStartOrder`), the fully credited calls left out;
 * - each call nets one price when it bills and 0 otherwise; a duplicate names the start-order prior;
 * - per caller, the calls that started within a window after a billed call net exactly one price;
 * - credits never exceed charges, per call; the ledger's totals are the sum of its entries; verify is ok.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemResponse } from '../../../shared/adapters/http/problems';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { processIngestBatch, type QueueRecord } from '../../../shared/app/rating/process-ingest-batch';
import { billedInStartOrder } from '../../../shared/domain/rating/duplicate-window';
import { mulberry32 } from '../../../events/prng';
import { createTenant, freshNumber, ledgerItemsOf, lifecycle, records, startCoreEnv, type CoreEnv } from '../../support/writer-fixtures';
import { request, routeDeps } from '../../support/ledger-fixtures';

let env: CoreEnv;
beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

const HOUR = 3_600_000;
const WINDOW = 24 * HOUR;
const PRICE = 4500;
const BUFFER_SEC = 60;

const callArb = fc.record({
  minute: fc.integer({ min: 0, max: 96 * 60 }),
  publisher: fc.constantFrom<'a' | 'b'>('a', 'b'),
  eligible: fc.constantFrom(true, true, true, false),
  /** Delivered in the first wave (then some billed calls are credited while the second wave arrives). */
  early: fc.boolean(),
});

const scenarioArb = fc.record({
  callers: fc.array(fc.array(callArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
  /** Which first-wave billed calls get a full credit (by index, modulo). */
  credit: fc.array(fc.nat(), { maxLength: 2 }),
  seed: fc.integer(),
  consumers: fc.integer({ min: 2, max: 5 }),
});

/** Processes batches on `consumers` concurrent writers, redelivering failed messages as SQS does. */
async function deliver(batches: QueueRecord[][], consumers: number): Promise<void> {
  let pending = batches;
  for (let round = 0; pending.length > 0; round++) {
    if (round > 10) throw new Error('messages still failing after 10 redeliveries');
    const queue = [...pending];
    const failed: QueueRecord[] = [];
    await Promise.all(
      Array.from({ length: consumers }, async () => {
        for (let batch = queue.shift(); batch !== undefined; batch = queue.shift()) {
          const { failedMessageIds } = await processIngestBatch(batch, env.writerDeps);
          failed.push(...batch.filter((r) => failedMessageIds.includes(r.messageId)));
        }
      }),
    );
    pending = failed.length > 0 ? [failed] : [];
  }
}

/** Every event 1-2 times, shuffled, in batches of 1-4. */
function batchesOf(events: readonly Parameters<typeof records>[0][number][], random: () => number): QueueRecord[][] {
  const all = events.flatMap((e) => (random() < 0.3 ? [e, e] : [e]));
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  const out: QueueRecord[][] = [];
  for (let i = 0; i < all.length; ) {
    const size = 1 + Math.floor(random() * 4);
    out.push(records(all.slice(i, i + size)));
    i += size;
  }
  return out;
}

async function answered(res: Promise<{ status: number }>): Promise<number> {
  try {
    return (await res).status;
  } catch (err) {
    return problemResponse(err).statusCode ?? 500;
  }
}

describe('the first call bills, whatever the arrival order and concurrency', () => {
  it('billed set = start-order model; one net price per caller window; credits ≤ charges; totals = Σ entries; verify ok', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const t = await createTenant(env.config, { priceCents: PRICE, bufferSec: BUFFER_SEC, duplicateWindowHours: 24 });
        const acct = t.account.accountId;
        const admin: ApiKeyRecord = { accountId: acct, role: 'admin', label: 'property' };
        const t0 = Date.now() - 100 * HOUR;
        const callers = scenario.callers.map((calls) => {
          const from = freshNumber();
          // One call per minute per caller: distinct starts (ties are decided by call id, checked by the unit tests).
          const unique = [...new Map(calls.map((c) => [c.minute, c])).values()];
          return unique.map((c) => {
            const startMs = t0 + c.minute * 60_000;
            const to = c.publisher === 'a' ? t.numbers.billable.number : t.numbers.second.number;
            const call = lifecycle({ accountId: acct, from, to, startMs, durationSec: c.eligible ? BUFFER_SEC + 30 : BUFFER_SEC - 1 });
            return { ...c, startMs, call };
          });
        });
        const all = callers.flat();
        const random = mulberry32(scenario.seed);

        await deliver(batchesOf(all.filter((c) => c.early).flatMap((c) => c.call.events), random), scenario.consumers);
        // Full credits of some billed first-wave calls, while the second wave arrives.
        const billedEarly: (typeof all)[number][] = [];
        for (const c of all.filter((x) => x.early && x.eligible)) {
          if ((await env.calls.getCall(c.call.callId, { consistent: true }))?.rating?.billable === true) billedEarly.push(c);
        }
        const toCredit = [...new Set(scenario.credit.map((i) => (billedEarly.length === 0 ? null : billedEarly[i % billedEarly.length]!)).filter((c) => c !== null))];
        const deps = routeDeps(env, new Date());
        const credits = toCredit.map(async (c) => {
          const opened = await answered(request(deps, admin, 'POST', '/v1/calls/{callId}/disputes', { pathParameters: { callId: c.call.callId }, body: { reason: 'fraud', note: 'p' } }));
          if (opened !== 201) return;
          const resolved = await answered(request(deps, admin, 'POST', '/v1/disputes/{disputeId}/resolve', { pathParameters: { disputeId: `dispute:${c.call.callId}` }, body: { outcome: 'accepted', note: 'p' } }));
          expect([200, 409]).toContain(resolved);
        });
        await Promise.all([...credits, deliver(batchesOf(all.filter((c) => !c.early).flatMap((c) => c.call.events), random), scenario.consumers)]);

        const entries = await ledgerItemsOf(env, acct);
        const sum = (callId: string, type?: string) =>
          entries.filter((e) => e.callId === callId && (type === undefined || e.type === type)).reduce((s, e) => s + Number(e.amountCents), 0);
        const credited = new Set(entries.filter((e) => e.type === 'credit').map((e) => String(e.callId)));

        for (const calls of callers) {
          const candidates = calls.filter((c) => c.eligible && !credited.has(c.call.callId));
          const model = billedInStartOrder(candidates.map((c) => ({ callId: c.call.callId, startMs: c.startMs, windowMs: WINDOW })));
          for (const c of calls) {
            const stored = (await env.calls.getCall(c.call.callId, { consistent: true }))!;
            expect(stored.rating).not.toBeNull();
            const net = sum(c.call.callId);
            expect(-sum(c.call.callId, 'credit')).toBeLessThanOrEqual(sum(c.call.callId, 'charge'));
            if (credited.has(c.call.callId)) {
              expect(net).toBe(0);
              continue;
            }
            const prior = model.get(c.call.callId);
            const bills = c.eligible && prior === null;
            expect(net).toBe(bills ? PRICE : 0);
            expect(stored.rating!.billable).toBe(bills);
            if (c.eligible && !bills) {
              expect(stored.rating!.reasons).toEqual(['duplicate_caller']);
              expect(stored.rating!.recorded.priorBilled?.callId).toBe(prior!.callId);
            }
          }
          // The caller's calls started within a window after a billed one net exactly that one price.
          for (const [callId, prior] of model) {
            if (prior !== null) continue;
            const start = candidates.find((c) => c.call.callId === callId)!.startMs;
            const inWindow = calls.filter((c) => c.startMs >= start && c.startMs < start + WINDOW && !credited.has(c.call.callId));
            expect(inWindow.reduce((s, c) => s + sum(c.call.callId), 0)).toBe(PRICE);
          }
        }

        // Never two entries with one id; the ledger's totals are the sum of its entries; the tamper evidence holds.
        expect(new Set(entries.map((e) => String(e.entryId))).size).toBe(entries.length);
        const totals = await env.ledger.totals({ accountId: acct });
        const of = (type: string) => entries.filter((e) => e.type === type).reduce((s, e) => s + Number(e.amountCents), 0);
        expect(totals).toEqual({
          chargesCents: of('charge'),
          creditsCents: of('credit'),
          reversalsCents: of('reversal'),
          netCents: entries.reduce((s, e) => s + Number(e.amountCents), 0),
          count: entries.length,
        });
        const verified = await request(routeDeps(env, new Date()), admin, 'GET', '/v1/ledger/verify');
        expect(verified.body).toMatchObject({ ok: true, brokenLink: null });
      }),
      { numRuns: 40 },
    );
    // ~15 s alone on DynamoDB Local; the margin is for a machine shared with the rest of the suite.
  }, 180_000);
});
