/**
 * Daily aggregates: the reports' figures summed per (campaign, local day, source), so a scorecard
 * or a threshold sweep over a long period reads a few items per day and source instead of every call.
 *
 * What is summed is each call's CONTRIBUTION: its scorecard counters (scorecard.ts `scorecardCountsOf`) and its
 * tuner histogram entries (threshold-tuner.ts `tunerCountsOf`), keyed by the call's local day in the account's zone
 * and its source (publisherId, sub-source). The aggregate of a cell is the sum of the contributions of its calls,
 * so folding the cells gives exactly what folding the calls gives (the property test proves it).
 *
 * Exactness under change and redelivery. A call's contribution changes whenever its item does in a way the reports
 * see (rated, re-rated, an outcome, a QA verdict, a credit, a later quality signal). The aggregator remembers, per
 * call, the contribution it has applied; on any news of the call it recomputes the contribution from the CURRENT
 * item and applies only the difference (`contributionDelta`), storing the new applied contribution in the same
 * transaction, conditional on the one it read. So applying the same news twice, or old news after new, or news
 * out of order, always converges on "aggregate = Σ current contributions": the delta of a call already up to date
 * is empty. A call that moves cell (another day: the account's zone changed; another source) leaves its old cell
 * whole and enters its new one.
 *
 * Pure: no I/O, no clock.
 */
import type { ReportCall } from './analytics';
import { scorecardCountsOf } from './source-counters';
import { tunerCountsOf } from './threshold-tuner';
import { utcMs, wallTime, zonedToUtcMs } from '../kernel/zoned-time';

/** One call's applied contribution: its cell and its two sets of counters (only the non-zero ones). */
export interface CallContribution {
  readonly accountId: string;
  readonly campaignId: string;
  /** The call's local day in the account's zone, `YYYY-MM-DD`. */
  readonly day: string;
  readonly publisherId: string;
  readonly subSource: string | null;
  /** Scorecard counters (scorecard.ts `scorecardCountsOf`). */
  readonly card: Readonly<Record<string, number>>;
  /** Tuner histogram entries (threshold-tuner.ts `tunerCountsOf`). */
  readonly tune: Readonly<Record<string, number>>;
}

export type AggregateKind = 'card' | 'tune';

/** Numbers to ADD to one aggregate item (negative to take a contribution out). */
export interface AggregateDelta {
  readonly kind: AggregateKind;
  readonly accountId: string;
  readonly campaignId: string;
  readonly day: string;
  readonly publisherId: string;
  readonly subSource: string | null;
  /**
   * Which item of the cell: '' for the scorecard's one item; for the tuner, `h` (its per-cell counters n, bj, bn) or
   * `m<minute>` (the histogram's entries for billable seconds in that minute). Splitting the histogram by minute
   * keeps each item small (at most 60 seconds × 4 counters), and an item's write costs by its size: a call's
   * refresh rewrites two small tuner items instead of one that grows with every distinct duration of the cell.
   */
  readonly part: string;
  readonly add: Readonly<Record<string, number>>;
}

/** `YYYY-MM-DD` of an instant in a zone. */
export function localDay(atMs: number, timeZone: string): string {
  const w = wallTime(atMs, timeZone);
  return dayOf(w.year, w.month, w.day);
}

/**
 * `YYYY-MM-DD`; a year before 0000 (a local day west of UTC on 0000-01-01, the first instant the API takes) is
 * written `-YYYY`, so that every local day of the instant range has a name that reads back.
 */
function dayOf(year: number, month: number, day: number): string {
  return `${year < 0 ? '-' : ''}${String(Math.abs(year)).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

function dayParts(day: string): [number, number, number] {
  const m = /^(-?\d{4,})-(\d{2})-(\d{2})$/.exec(day);
  if (m === null) throw new Error(`not a day: ${day}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** A call's contribution in an account's zone. */
export function contributionOf(accountId: string, call: ReportCall, timeZone: string): CallContribution {
  return {
    accountId,
    campaignId: call.campaignId,
    day: localDay(call.startedAtMs, timeZone),
    publisherId: call.publisherId,
    subSource: call.subSource,
    card: scorecardCountsOf(call),
    tune: tunerCountsOf(call),
  };
}

/** The tuner item a counter belongs to (see AggregateDelta.part). */
export function tunerPartOf(name: string): string {
  const sec = Number(name.slice(1));
  return name.length > 1 && Number.isInteger(sec) && 'csbx'.includes(name[0]!) ? `m${Math.floor(sec / 60)}` : 'h';
}

type ItemKey = string;

/** A contribution as the items it adds to, each with its counters. */
function itemsOf(c: CallContribution): Map<ItemKey, { delta: Omit<AggregateDelta, 'add'>; counts: Record<string, number> }> {
  const items = new Map<ItemKey, { delta: Omit<AggregateDelta, 'add'>; counts: Record<string, number> }>();
  const add = (kind: AggregateKind, part: string, name: string, v: number) => {
    const key = JSON.stringify([c.accountId, c.campaignId, kind, c.day, c.publisherId, c.subSource, part]);
    let item = items.get(key);
    if (item === undefined) {
      item = { delta: { kind, accountId: c.accountId, campaignId: c.campaignId, day: c.day, publisherId: c.publisherId, subSource: c.subSource, part }, counts: {} };
      items.set(key, item);
    }
    item.counts[name] = v;
  };
  for (const [name, v] of Object.entries(c.card)) add('card', '', name, v);
  for (const [name, v] of Object.entries(c.tune)) add('tune', tunerPartOf(name), name, v);
  return items;
}

/**
 * What to add to the aggregates to go from the applied contribution to the target (either may be null: none).
 * Empty when they are equal, so a repeated application writes nothing. Items with no number to add are left out;
 * a call that moved cell takes its counters out of the old items and puts them into the new ones.
 */
export function contributionDelta(applied: CallContribution | null, target: CallContribution | null): AggregateDelta[] {
  const before = applied === null ? new Map() : itemsOf(applied);
  const after = target === null ? new Map() : itemsOf(target);
  const out: AggregateDelta[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const was = before.get(key)?.counts ?? {};
    const now = after.get(key)?.counts ?? {};
    const add: Record<string, number> = {};
    for (const name of new Set([...Object.keys(was), ...Object.keys(now)])) {
      const d = (now[name] ?? 0) - (was[name] ?? 0);
      if (d !== 0) add[name] = d;
    }
    if (Object.keys(add).length > 0) out.push({ ...(after.get(key) ?? before.get(key))!.delta, add });
  }
  return out;
}

export function sameContribution(a: CallContribution | null, b: CallContribution | null): boolean {
  return contributionDelta(a, b).length === 0;
}

// ---------------------------------------------------------------- periods

/** The next local day after `YYYY-MM-DD` (calendar arithmetic, zone-free). */
export function nextDay(day: string): string {
  const [y, m, d] = dayParts(day);
  const next = new Date(utcMs(y, m - 1, d + 1));
  return dayOf(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate());
}

/** The instant a local day starts in a zone. */
export function dayStartMs(day: string, timeZone: string): number {
  const [year, month, d] = dayParts(day);
  return zonedToUtcMs({ year, month, day: d }, timeZone);
}

/** The day number the tuner's co-movement uses for a local day (days since 1970-01-01, zone-free). */
export function dayNumber(day: string): number {
  const [year, month, d] = dayParts(day);
  return Math.round(utcMs(year, month - 1, d) / 86_400_000);
}

/**
 * How [fromMs, toMs) splits into whole local days (answered from the aggregates) and the rest (read call by call):
 * `days` is [firstDay, lastDay] inclusive, or null when no whole day fits; `edges` are the instants before the
 * first and after the last whole day, [start, end) each, left out when empty.
 */
export function splitPeriod(
  fromMs: number,
  toMs: number,
  timeZone: string,
): { readonly days: { readonly first: string; readonly last: string; readonly count: number } | null; readonly edges: readonly (readonly [number, number])[] } {
  let first = localDay(fromMs, timeZone);
  if (dayStartMs(first, timeZone) < fromMs) first = nextDay(first);
  let count = 0;
  let last: string | null = null;
  for (let d = first; dayStartMs(nextDay(d), timeZone) <= toMs; d = nextDay(d)) {
    last = d;
    count += 1;
  }
  if (last === null) return { days: null, edges: fromMs < toMs ? [[fromMs, toMs]] : [] };
  const start = dayStartMs(first, timeZone);
  const end = dayStartMs(nextDay(last), timeZone);
  const edges: (readonly [number, number])[] = [];
  if (fromMs < start) edges.push([fromMs, start]);
  if (end < toMs) edges.push([end, toMs]);
  return { days: { first, last, count }, edges };
}
