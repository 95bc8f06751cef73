/**
 * Wall-clock arithmetic in IANA time zones with nothing but `Intl.DateTimeFormat` (no date library: the
 * runtime's ICU data is the tz database). Used for campaign hours, statement periods and invoice timestamps
 * that carry no offset.
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface WallTime {
  readonly year: number;
  /** 1-12. */
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly weekday: Weekday;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws RangeError for an unknown zone: callers validate zones with `isTimeZone` at the edge.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      // Instants near 0000-01-01 read as BC years in zones west of UTC; the era tells them apart.
      era: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall clock in `timeZone` at the instant `atMs`. */
export function wallTime(atMs: number, timeZone: string): WallTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(atMs))) parts[p.type] = p.value;
  const weekday = (parts.weekday ?? '').toLowerCase().slice(0, 3) as Weekday;
  // Astronomical years (1 BC is year 0), as Date and ISO-8601 count them.
  const year = parts.era === 'BC' || parts.era === 'B' ? 1 - Number(parts.year) : Number(parts.year);
  return {
    year,
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday,
  };
}

/**
 * `Date.UTC` for every year: `Date.UTC` itself reads years 0–99 as 1900–1999, which would move a wall time in the
 * first century (the API's instants start at 0000-01-01) by 1900 years.
 */
export function utcMs(year: number, monthIndex: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, monthIndex, day);
  d.setUTCHours(hour, minute, second, ms);
  return d.getTime();
}

/** Local minus UTC, in ms, at the instant `atMs` (whole seconds: no zone in use has sub-second offsets). */
export function zoneOffsetMs(atMs: number, timeZone: string): number {
  const floored = Math.floor(atMs / 1000) * 1000;
  const w = wallTime(floored, timeZone);
  return utcMs(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - floored;
}

/**
 * The instant at which the wall clock in `timeZone` first reads the given local time.
 * - Ambiguous local time (clocks went back): the earlier instant.
 * - Skipped local time (clocks went forward over it): read with the offset in force before the jump, like
 *   Temporal's `compatible` disambiguation (02:30 on a US spring-forward day → 03:30 daylight time). For a
 *   day whose midnight is skipped that is the transition itself, so the day still starts at its first
 *   instant: `2026-09-06 00:00` in America/Santiago → 04:00Z (local 01:00).
 * Assumes at most one offset change within ±1 day, true of every zone in the tz database.
 */
export function zonedToUtcMs(
  local: { year: number; month: number; day: number; hour?: number; minute?: number; second?: number },
  timeZone: string,
): number {
  const asUtc = utcMs(local.year, local.month - 1, local.day, local.hour ?? 0, local.minute ?? 0, local.second ?? 0);
  const before = zoneOffsetMs(asUtc - 86_400_000, timeZone);
  const after = zoneOffsetMs(asUtc + 86_400_000, timeZone);
  const candidates = [asUtc - before, asUtc - after]
    .filter((t) => zoneOffsetMs(t, timeZone) + t === asUtc)
    .sort((a, b) => a - b);
  // No candidate reads the wanted wall time: it was skipped; use the offset from before the jump.
  return candidates[0] ?? asUtc - before;
}
