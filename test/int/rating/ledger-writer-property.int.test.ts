/**
 * Property (fast-check) against DynamoDB Local: whatever the delivery order, duplication and batching, and with
 * batches processed concurrently (as several Lambda containers would), the ledger holds exactly one net charge per
 * cluster of same-caller calls that contains an eligible call, on its earliest-started eligible call, and none for
 * the rest (a later call charged first is reversed when the earlier one arrives).
 *
 * Call set: each caller makes a cluster of calls whose starts all lie inside one duplicate window, so exactly
 * one of its eligible calls nets a charge, whatever the order. Eligible =
 * completed, at or over the buffer, to an assigned number. Withheld callers (under terms that bill them) are one
 * caller like any other: their calls form one more cluster (shared/domain/calls/caller.ts).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processIngestBatch, type QueueRecord } from '../../../shared/app/rating/process-ingest-batch';
import { createTenant, freshNumber, ledgerItemsOf, lifecycle, records, startCoreEnv, type CoreEnv } from '../../support/writer-fixtures';
import { mulberry32 } from '../../../events/prng';

let env: CoreEnv;
beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

type Kind = 'eligible' | 'short' | 'busy' | 'unknown';
const BUFFER_SEC = 60;
const WINDOW_HOURS = 24;
const T0 = Date.parse('2026-11-01T08:00:00.000Z');


const callArb = fc.record({
  kind: fc.constantFrom<Kind>('eligible', 'eligible', 'short', 'busy', 'unknown'),
  // Starts within 10 hours of each other: every pair of a cluster is inside the 24-hour window.
  offsetMin: fc.integer({ min: 0, max: 600 }),
  secondNumber: fc.boolean(),
});

const scenarioArb = fc.record({
  clusters: fc.array(fc.array(callArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
  anonymous: fc.array(fc.constantFrom<Kind>('eligible', 'short'), { maxLength: 2 }),
  seed: fc.integer(),
  /** Writers in flight at once (Lambda containers). */
  consumers: fc.integer({ min: 2, max: 6 }),
});

/** Processes batches on `consumers` concurrent workers, redelivering failed messages like SQS does. */
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

describe('processIngestBatch under shuffled, duplicated, concurrent delivery', () => {
  it('charges exactly once per same-caller cluster with an eligible call, never otherwise', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const t = await createTenant(env.config, { bufferSec: BUFFER_SEC, duplicateWindowHours: WINDOW_HOURS });
        const acct = t.account.accountId;
        const make = (kind: Kind, from: string, offsetMin: number, secondNumber: boolean) =>
          lifecycle({
            accountId: acct,
            from,
            to: kind === 'unknown' ? freshNumber() : secondNumber ? t.numbers.second.number : t.numbers.billable.number,
            startMs: T0 + offsetMin * 60_000,
            durationSec: kind === 'short' ? BUFFER_SEC - 1 : BUFFER_SEC + offsetMin,
            final: kind === 'busy' ? 'busy' : 'completed',
          });

        const clusters = scenario.clusters.map((calls) => {
          const caller = freshNumber();
          return calls.map((c) => ({ kind: c.kind, call: make(c.kind, caller, c.offsetMin, c.secondNumber) }));
        });
        const anonymous = scenario.anonymous.map((kind, i) => ({ kind, call: make(kind, 'anonymous', i * 7, false) }));
        const everyCall = [...clusters.flat(), ...anonymous];

        // Every event 1-3 times, shuffled, cut into batches of 1-10.
        const random = mulberry32(scenario.seed);
        const events = everyCall.flatMap(({ call }) => call.events.flatMap((e) => Array.from({ length: 1 + Math.floor(random() * 3) }, () => e)));
        for (let i = events.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [events[i], events[j]] = [events[j]!, events[i]!];
        }
        const batches: QueueRecord[][] = [];
        for (let i = 0; i < events.length; ) {
          const size = 1 + Math.floor(random() * 10);
          batches.push(records(events.slice(i, i + size)));
          i += size;
        }
        await deliver(batches, scenario.consumers);

        // Net per call: a call charged and then reversed (an earlier call of its caller arrived later) nets to 0.
        const entries = await ledgerItemsOf(env, acct);
        const net = new Map<string, number>();
        for (const e of entries) net.set(String(e.callId), (net.get(String(e.callId)) ?? 0) + Number(e.amountCents));
        const charged = new Set([...net].filter(([, cents]) => cents > 0).map(([id]) => id));
        for (const cents of net.values()) expect([0, 4500]).toContain(cents);
        // Never two entries with one id (each charge and reversal of a call has its own).
        expect(new Set(entries.map((e) => String(e.entryId))).size).toBe(entries.length);

        for (const cluster of clusters) {
          const eligible = cluster.filter((c) => c.kind === 'eligible');
          const chargedHere = cluster.filter((c) => charged.has(c.call.callId));
          expect(chargedHere.length).toBe(eligible.length > 0 ? 1 : 0);
          expect(chargedHere.every((c) => c.kind === 'eligible')).toBe(true);
          // The one that bills is the earliest-started eligible call (ties: the smaller call id).
          const first = [...eligible].sort((a, b) => a.call.startMs - b.call.startMs || (a.call.callId < b.call.callId ? -1 : 1))[0];
          if (first !== undefined) expect(chargedHere[0]?.call.callId).toBe(first.call.callId);
        }
        const anonymousCharged = anonymous.filter((c) => charged.has(c.call.callId));
        expect(anonymousCharged.length).toBe(anonymous.some((c) => c.kind === 'eligible') ? 1 : 0);
        expect(anonymousCharged.every((c) => c.kind === 'eligible')).toBe(true);

        // Every call is rated; an eligible call that was not charged is a duplicate of the cluster's charge.
        for (const { kind, call } of everyCall) {
          const stored = await env.calls.getCall(call.callId, { consistent: true });
          expect(stored?.rating).not.toBeNull();
          expect(stored?.rating?.billable).toBe(charged.has(call.callId));
          if (kind === 'eligible' && !charged.has(call.callId)) expect(stored?.rating?.reasons).toEqual(['duplicate_caller']);
          expect(stored?.events.length).toBe(call.events.length);
        }
      }),
      { numRuns: 15 },
    );
  });
});
