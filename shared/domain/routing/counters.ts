/**
 * Counted caps: the campaign's caps at admission (its flow's `caps`: concurrent, hourly and daily admitted calls) and a
 * target's hourly and daily caps when it is dialled. Pure: these functions decide which windows a call counts in, what
 * the write's condition is and what the counts were, as data; the adapter (adapters/routing/admission-counters.ts)
 * only spells them as one conditional write per counter.
 *
 * Rules, each with its reason:
 * - Windows are local: a campaign's hour and day are those of its hours' zone, a target's those of its hours' zone
 *   (UTC when either has no hours), both from targets.ts capWindows, so "100 a day" is the buyer's day everywhere.
 *   The hour a DST change repeats is one window for its two real hours (the safe side: fewer calls, never more).
 * - A window counts call ids, not calls: adding a call id already counted changes nothing, so a retried or duplicated
 *   request never counts twice, and the condition lets a call already counted through even at the cap (its retry
 *   must get the same answer). Condition of a count: for each capped window, the call is in it or it holds fewer
 *   than the cap (`countHolds`, the reference semantics the adapter's ConditionExpression spells).
 * - A campaign call is counted once, by the `connect` admission that admits it to dial; a target call by each answer
 *   that dials that target. A count that is then not used (the pilot's reservation refused, no target left, the
 *   target's lease lost) is given back (`uncount`); in between it may refuse another call, never admit one beyond a
 *   cap, and a lost give-back over-counts by one call (the safe side) until the window ends.
 * - A refused count is explained with the true counts: the failed write returns the window as it was, and admission
 *   (or routing) runs again with them, exactly like the pilot's reservation.
 * - The campaign's concurrency cap is a lease (leases.ts) under the campaign, held from admission until the call's
 *   Dial ends with nothing more to dial, and expiring by itself after the longest the call can last (every target's
 *   ring, the Dial time limit, a grace): a lost callback never blocks the campaign for longer than one call could.
 */
import type { LeaseWrite } from './leases';
import { capWindows, type Target } from './targets';

export type CounterOwner = { readonly kind: 'campaign'; readonly id: string } | { readonly kind: 'target'; readonly id: string };

/** Adds `callId` to the owner's hour and day windows if the condition holds (`countHolds`). */
export interface WindowCountWrite {
  readonly owner: CounterOwner;
  /** Local day `YYYY-MM-DD` and hour `YYYY-MM-DDTHH` of the count (capWindows). */
  readonly day: string;
  readonly hour: string;
  readonly callId: string;
  /** Caps of the windows (null: that window is not capped, and not counted). */
  readonly hourCap: number | null;
  readonly dayCap: number | null;
  /** When the window's storage may be deleted: a few days after the call, so late retries still find it. */
  readonly expiresAtMs: number;
}

/** The call ids a window holds as read (the hour's and the day's). */
export interface WindowSets {
  readonly thisHour: readonly string[];
  readonly today: readonly string[];
}

export const EMPTY_WINDOWS: WindowSets = { thisHour: [], today: [] };

/** How long a day's counters are kept after a call counted in it (DynamoDB TTL): past any retry of that call. */
export const WINDOW_RETENTION_MS = 3 * 86_400_000;

/** Seconds a campaign lease outlives the longest its call can last when no callback ends it. */
export const CAMPAIGN_LEASE_GRACE_SEC = 60;

function countOf(owner: CounterOwner, timeZone: string | null, caps: { readonly hourly: number | null; readonly daily: number | null }, callId: string, atMs: number): WindowCountWrite | null {
  if (caps.hourly === null && caps.daily === null) return null;
  const w = capWindows(timeZone, atMs);
  return { owner, day: w.day, hour: w.hour, callId, hourCap: caps.hourly, dayCap: caps.daily, expiresAtMs: atMs + WINDOW_RETENTION_MS };
}

/** The count of a campaign call admitted at `atMs`, in the campaign's hours zone; null: no hourly or daily cap. */
export function campaignCount(
  campaign: { readonly campaignId: string; readonly hours: { readonly timeZone: string } | null },
  caps: { readonly hourlyCalls: number | null; readonly dailyCalls: number | null } | null,
  callId: string,
  atMs: number,
): WindowCountWrite | null {
  if (caps === null) return null;
  return countOf({ kind: 'campaign', id: campaign.campaignId }, campaign.hours?.timeZone ?? null, { hourly: caps.hourlyCalls, daily: caps.dailyCalls }, callId, atMs);
}

/** The count of a call dialled to `target` at `atMs`, in the target's hours zone; null: no hourly or daily cap. */
export function targetCount(target: Pick<Target, 'targetId' | 'hours' | 'hourlyCap' | 'dailyCap'>, callId: string, atMs: number): WindowCountWrite | null {
  return countOf({ kind: 'target', id: target.targetId }, target.hours?.timeZone ?? null, { hourly: target.hourlyCap, daily: target.dailyCap }, callId, atMs);
}

/** The reference semantics of a count's condition against the windows as they are. */
export function countHolds(w: WindowCountWrite, sets: WindowSets): boolean {
  const fits = (set: readonly string[], cap: number | null) => cap === null || set.includes(w.callId) || set.length < cap;
  return fits(sets.thisHour, w.hourCap) && fits(sets.today, w.dayCap);
}

/** The windows after the count (set semantics: a call id already in a window is not added again). */
export function applyCount(w: WindowCountWrite, sets: WindowSets): WindowSets {
  const add = (set: readonly string[], cap: number | null) => (cap === null || set.includes(w.callId) ? set : [...set, w.callId]);
  return { thisHour: add(sets.thisHour, w.hourCap), today: add(sets.today, w.dayCap) };
}

/** The windows after a give-back (the call id removed; absent: unchanged). */
export function applyUncount(w: WindowCountWrite, sets: WindowSets): WindowSets {
  return { thisHour: sets.thisHour.filter((c) => c !== w.callId), today: sets.today.filter((c) => c !== w.callId) };
}

/** How long a campaign call can hold the line: every target of its route ringing in turn, then the Dial time limit. */
export interface CallSpan {
  readonly ringSec: number;
  readonly maxCallSec: number;
}

/** The campaign's concurrency lease for one call (a slot of leases.ts, under the campaign), expiring by itself. */
export function campaignHold(campaignId: string, slot: number, callId: string, atMs: number, span: CallSpan): LeaseWrite {
  return {
    targetId: campaignId,
    slot,
    condition: { kind: 'free_or_expired_or_mine', atMs, callId },
    holder: callId,
    expiresAtMs: atMs + (span.ringSec + span.maxCallSec + CAMPAIGN_LEASE_GRACE_SEC) * 1000,
  };
}
