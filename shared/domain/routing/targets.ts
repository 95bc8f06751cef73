/**
 * Destinations ("targets"): the buyer's lines a call can be routed to, and the pure predicates routing asks of each
 * one. Pure: no I/O, no clock (the instant is passed in), no zod (the schemas live in targets-schema.ts, so that the
 * voice function, which decides on every call, bundles only what it runs).
 *
 * Rules, each with its reason:
 * - Hours are weekly windows `[open, close)` in the target's IANA zone, read exactly as the campaign's hours are read
 *   by rating (rule outside_hours), plus holidays: a local date listed as a holiday is closed all day, whatever its
 *   windows say (a buyer closes for a day without rewriting the week). No hours = always open.
 * - Geography is read exactly as the campaign's geography is by rating (rule out_of_geo): the caller matches a state,
 *   a ZIP prefix or an area code; what we do not know about the caller matches nothing. No geography = anywhere.
 *   A test holds both predicates to rating's own verdicts, so target and campaign cannot drift apart.
 * - Hourly and daily call caps count calls dialled to the target in the target's local hour and local day (its hours'
 *   zone; UTC when it has no hours), so "100 a day" means the buyer's day. The counts are facts the adapter reads;
 *   `capBuckets` names the counters.
 * - The concurrency cap counts live leases (leases.ts): a lease whose expiry has passed does not count, so a lost
 *   callback never blocks a target for longer than the lease.
 */
import { callerGeo, type CallerGeo } from '../rating/rules';
import { type CallFacts } from '../rating/decision';
import { minuteOfDay, type Geography, type HoursWindow } from '../terms/terms';
import { wallTime } from '../kernel/zoned-time';

/** Where a call is sent: a phone number (E.164) or a SIP URI. */
export type TargetDestination = { readonly kind: 'number'; readonly e164: string } | { readonly kind: 'sip'; readonly uri: string };

export interface TargetHours {
  readonly timeZone: string;
  readonly windows: readonly HoursWindow[];
  /** Local dates (`YYYY-MM-DD` in `timeZone`) closed all day. */
  readonly holidays: readonly string[];
}

/** A target as stored and served (`PUT /v1/targets/{targetId}`). */
export interface Target {
  readonly accountId: string;
  readonly targetId: string;
  readonly name: string;
  readonly destination: TargetDestination;
  /** False: paused by the buyer; skipped as `paused`, its configuration kept. */
  readonly enabled: boolean;
  readonly hours: TargetHours | null;
  /** Calls the target can take at once (live leases); null: no limit. */
  readonly concurrencyCap: number | null;
  /** Calls dialled to the target per local hour / local day; null: no limit. */
  readonly hourlyCap: number | null;
  readonly dailyCap: number | null;
  readonly geography: Geography | null;
  /** 1 is tried first. */
  readonly priority: number;
  /** Share of first tries within its priority (weights 3 and 1: about 75 % and 25 %). */
  readonly weight: number;
  /** Seconds to ring this target before trying the next; null: the call flow's ring timeout. */
  readonly ringTimeoutSec: number | null;
  readonly rev: number;
  readonly updatedAt: string;
}

/** What the adapter knows about a target at the instant of a decision. */
export interface TargetFacts {
  /** Leases whose expiry is after the decision's instant (leases.ts `liveLeaseCount`). */
  readonly liveLeases: number;
  /** Calls dialled to the target in the current local hour and local day (the `capBuckets` counters). */
  readonly callsThisHour: number;
  readonly callsToday: number;
}

export const NO_FACTS: TargetFacts = { liveLeases: 0, callsThisHour: 0, callsToday: 0 };

/** Why a target was not dialled. `paused`: disabled by the buyer, or no longer configured. */
export const SKIP_REASONS = ['paused', 'closed', 'geo', 'capped', 'at_capacity'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type TargetCheck =
  | { readonly eligible: true; readonly inputs: Record<string, unknown> }
  | { readonly eligible: false; readonly skip: SkipReason; readonly inputs: Record<string, unknown> };

/** Local wall clock, date and hour in `timeZone` (null: UTC). */
function zonedClock(timeZone: string | null, atMs: number) {
  const w = wallTime(atMs, timeZone ?? 'UTC');
  const date = `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
  return { w, date, hour: `${date}T${String(w.hour).padStart(2, '0')}` };
}

/** Local wall clock and date of a target (UTC when it has no hours). */
function localClock(target: Pick<Target, 'hours'>, atMs: number) {
  return zonedClock(target.hours?.timeZone ?? null, atMs);
}

/**
 * The hour and day windows of a cap counted in `timeZone` (null: UTC) at `atMs`: `YYYY-MM-DDTHH` and `YYYY-MM-DD`,
 * local. Both a target's and a campaign's hourly/daily caps are windows of this one function, so "an hour" and
 * "a day" mean the same thing everywhere a cap is counted.
 */
export function capWindows(timeZone: string | null, atMs: number): { readonly hour: string; readonly day: string } {
  const { date, hour } = zonedClock(timeZone, atMs);
  return { hour, day: date };
}

/** Whether the target is open at `atMs`, and what decided it (never the caller). */
export function targetOpenAt(hours: TargetHours | null, atMs: number): { readonly open: boolean; readonly inputs: Record<string, unknown> } {
  if (hours === null) return { open: true, inputs: { hours: null } };
  const { w, date } = localClock({ hours }, atMs);
  const minute = w.hour * 60 + w.minute;
  const local = `${String(w.hour).padStart(2, '0')}:${String(w.minute).padStart(2, '0')}`;
  const inputs = { timeZone: hours.timeZone, localDate: date, localDay: w.weekday, localTime: local };
  if (hours.holidays.includes(date)) return { open: false, inputs: { ...inputs, holiday: true } };
  const open = hours.windows.some((win) => win.day === w.weekday && minuteOfDay(win.open) <= minute && minute < minuteOfDay(win.close));
  return { open, inputs: { ...inputs, holiday: false } };
}

/** How a caller matched a geography (`null`: it did not), read as rating reads a campaign's geography. */
export function geoMatchedBy(geography: Geography | null, geo: CallerGeo): 'anywhere' | 'state' | 'zip' | 'area_code' | null {
  if (geography === null) return 'anywhere';
  if (geo.state !== null && geography.states.includes(geo.state)) return 'state';
  if (geo.zip !== null && geography.zipPrefixes.some((p) => geo.zip !== null && geo.zip.startsWith(p))) return 'zip';
  if (geo.areaCode !== null && geography.areaCodes.includes(geo.areaCode)) return 'area_code';
  return null;
}

/** Where the caller is, derived exactly as rating derives it (rating/rules.ts callerGeo). */
export function callerGeoOf(call: Pick<CallFacts, 'from' | 'fromState' | 'fromZip' | 'areaCode'>): CallerGeo {
  return callerGeo(call);
}

/** The counters of a target's caps for a call dialled at `atMs`: its local hour and local day. */
export function capBuckets(target: Pick<Target, 'hours'>, atMs: number): { readonly hour: string; readonly day: string } {
  return capWindows(target.hours?.timeZone ?? null, atMs);
}

/**
 * Whether a target can be dialled now, checked in this order (the first failing check is the skip reason):
 * paused → closed → geo → capped → at_capacity. Closed and out-of-geo come before the counts because they do not
 * change within the call, so the routing audit names the reason that will still hold on a retry.
 */
export function checkTarget(target: Target | undefined, facts: TargetFacts, geo: CallerGeo, atMs: number): TargetCheck {
  if (target === undefined) return { eligible: false, skip: 'paused', inputs: { configured: false } };
  if (!target.enabled) return { eligible: false, skip: 'paused', inputs: { configured: true, enabled: false } };
  const hours = targetOpenAt(target.hours, atMs);
  if (!hours.open) return { eligible: false, skip: 'closed', inputs: hours.inputs };
  const matchedBy = geoMatchedBy(target.geography, geo);
  if (matchedBy === null) {
    return { eligible: false, skip: 'geo', inputs: { callerState: geo.state, callerZip: geo.zip, callerAreaCode: geo.areaCode, matchedBy } };
  }
  const counts = { hourlyCap: target.hourlyCap, callsThisHour: facts.callsThisHour, dailyCap: target.dailyCap, callsToday: facts.callsToday };
  if ((target.hourlyCap !== null && facts.callsThisHour >= target.hourlyCap) || (target.dailyCap !== null && facts.callsToday >= target.dailyCap)) {
    return { eligible: false, skip: 'capped', inputs: counts };
  }
  if (target.concurrencyCap !== null && facts.liveLeases >= target.concurrencyCap) {
    return { eligible: false, skip: 'at_capacity', inputs: { concurrencyCap: target.concurrencyCap, liveLeases: facts.liveLeases } };
  }
  return { eligible: true, inputs: { matchedBy, ...counts, concurrencyCap: target.concurrencyCap, liveLeases: facts.liveLeases } };
}
