/**
 * A running pilot against its caps: its progress, whether the cap counts as reached, what the monitor and the
 * enforcer do next, and how the counter is squared with the ledger. Read from snapshots of the counter, which
 * DynamoDB alone enforces (pilots.ts).
 */
import { pilotDay } from './caps';
import { contractPrices, termsInForce } from '../terms/terms';
import type { Campaign } from '../catalog/types';
import type { LedgerEntry } from '../ledger/entries';
import type { CounterSnapshot, PilotRecord } from './pilots';

export interface PilotProgress {
  readonly spentCents: number;
  readonly remainingCents: number;
  /** Whole percent of the spend cap spent (floor). */
  readonly percentOfCap: number;
  readonly billableCalls: number;
  readonly remainingCalls: number | null;
  /** `before` the window, `open`, or `after` it. */
  readonly window: 'before' | 'open' | 'after';
  /** Seconds until the window closes (0 after it). */
  readonly timeLeftSec: number;
  readonly secondsToStart: number;
}

export function pilotProgress(p: Pick<PilotRecord, 'startsAt' | 'endsAt' | 'spendCapCents' | 'maxBillableCalls'>, counter: Pick<CounterSnapshot, 'spentCents' | 'billableCalls'>, nowMs: number): PilotProgress {
  const startsMs = Date.parse(p.startsAt);
  const endsMs = Date.parse(p.endsAt);
  return {
    spentCents: counter.spentCents,
    remainingCents: Math.max(0, p.spendCapCents - counter.spentCents),
    percentOfCap: Math.floor((counter.spentCents * 100) / p.spendCapCents),
    billableCalls: counter.billableCalls,
    remainingCalls: p.maxBillableCalls === null ? null : Math.max(0, p.maxBillableCalls - counter.billableCalls),
    window: nowMs < startsMs ? 'before' : nowMs < endsMs ? 'open' : 'after',
    timeLeftSec: Math.max(0, Math.ceil((endsMs - Math.max(nowMs, startsMs)) / 1000)),
    secondsToStart: Math.max(0, Math.ceil((startsMs - nowMs) / 1000)),
  };
}

/**
 * The cheapest charge the campaign's terms in force can produce (null when none are in force). The cap counts as
 * reached when the remainder cannot pay for it: no call can be charged any more, so waiting for the window's end
 * would only delay the report.
 */
export function minimumPriceCents(campaign: Pick<Campaign, 'termsVersions'>, atMs: number): number | null {
  const terms = termsInForce(campaign.termsVersions, atMs);
  if (terms === null) return null;
  const prices = [...contractPrices(terms)].filter((p) => p > 0);
  return prices.length === 0 ? null : Math.min(...prices);
}

export function capReached(p: Pick<PilotRecord, 'spendCapCents' | 'maxBillableCalls'>, counter: Pick<CounterSnapshot, 'spentCents' | 'billableCalls'>, minPriceCents: number | null): boolean {
  if (p.maxBillableCalls !== null && counter.billableCalls >= p.maxBillableCalls) return true;
  const remaining = p.spendCapCents - counter.spentCents;
  return remaining <= 0 || (minPriceCents !== null && remaining < minPriceCents);
}

/** The monitor's verdict: keep watching, close for the cap, close for the window (after settling), or already closed. */
export type MonitorDecision = 'continue' | 'cap' | 'window' | 'closed';

export function monitorDecision(
  p: Pick<PilotRecord, 'startsAt' | 'endsAt' | 'spendCapCents' | 'maxBillableCalls'>,
  counter: Pick<CounterSnapshot, 'open' | 'spentCents' | 'billableCalls'>,
  nowMs: number,
  minPriceCents: number | null,
): MonitorDecision {
  if (!counter.open) return 'closed';
  if (capReached(p, counter, minPriceCents)) return 'cap';
  if (nowMs >= Date.parse(p.endsAt)) return 'window';
  return 'continue';
}

/** Whether the enforcer closes now: cap reached, or the window is over by more than the settle time. */
export function enforcementDecision(
  p: Pick<PilotRecord, 'startsAt' | 'endsAt' | 'spendCapCents' | 'maxBillableCalls' | 'settleSeconds'>,
  counter: Pick<CounterSnapshot, 'open' | 'spentCents' | 'billableCalls'>,
  nowMs: number,
  minPriceCents: number | null,
): 'keep' | 'close_cap' | 'close_window' | 'closed' {
  if (!counter.open) return 'closed';
  if (capReached(p, counter, minPriceCents)) return 'close_cap';
  if (nowMs >= Date.parse(p.endsAt) + p.settleSeconds * 1000) return 'close_window';
  return 'keep';
}

/**
 * Counter against ledger: the charges of the pilot in the ledger should sum to the counter (the rating transaction
 * writes both). If the ledger holds more, the counter is raised to it (never lowered: a lower counter would let a
 * charge past the cap); if the counter holds more, it is reported as drift and left alone.
 */
export function reconcileCounter(counter: Pick<CounterSnapshot, 'spentCents' | 'billableCalls'>, ledger: { spentCents: number; billableCalls: number }):
  | { readonly action: 'none' }
  | { readonly action: 'raise'; readonly spentCents: number; readonly billableCalls: number }
  | { readonly action: 'drift'; readonly counterAheadCents: number } {
  if (ledger.spentCents > counter.spentCents || ledger.billableCalls > counter.billableCalls) {
    return {
      action: 'raise',
      spentCents: Math.max(ledger.spentCents, counter.spentCents),
      billableCalls: Math.max(ledger.billableCalls, counter.billableCalls),
    };
  }
  if (ledger.spentCents < counter.spentCents) return { action: 'drift', counterAheadCents: counter.spentCents - ledger.spentCents };
  return { action: 'none' };
}

/**
 * The pilot's live charges in a ledger range: entries with its pilotId, less the charges a reversal took back (the
 * rating transaction that reverses a charge gives its amount and its call back to the counter, so the counter counts
 * live charges only). Credits are not given back: the cap is on what was charged.
 */
export function pilotChargeTotals(entries: readonly LedgerEntry[], pilotId: string): { spentCents: number; billableCalls: number } {
  const reversed = new Set(entries.flatMap((e) => (e.type === 'reversal' && e.pilotId === pilotId ? [e.correctsEntryId] : [])));
  let spentCents = 0;
  let billableCalls = 0;
  for (const e of entries) {
    if (e.type === 'charge' && e.pilotId === pilotId && !reversed.has(e.entryId)) {
      spentCents += e.amountCents;
      billableCalls += 1;
    }
  }
  return { spentCents, billableCalls };
}

/** The day (in the pilot's zone) whose daily counter applies now. */
export function currentPilotDay(p: Pick<PilotRecord, 'timeZone'>, nowMs: number): string {
  return pilotDay(p, nowMs);
}
