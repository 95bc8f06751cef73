/**
 * The grammar every request value must fit before anything reads or stores it. Each rule bounds what the layers
 * below can take, so that bad input is a precise 400 and never reaches a place that fails with a 500:
 *
 * - Instants: ISO-8601 strings sort as time, and the keys and range conditions are written in them, only for years
 *   0000–9999 in UTC (`toISOString()` writes `+010000-…` and `-000001-…` outside, which sort wrongly and which
 *   DynamoDB key conditions refuse). Any instant the API takes, after applying its offset, is in that range.
 * - Path ids: one grammar for every path parameter, checked when the route is matched: 1–128 visible ASCII
 *   characters. Every id the API issues or accepts fits it (the longest are CRM externalIds, 128), and it keeps
 *   keys far below DynamoDB's limits (partition key 2,048 bytes, sort key 1,024 bytes).
 * - Free text (names, notes, labels): no control characters, no bidirectional overrides (they make a name read
 *   differently from what it is on a statement or a report), no unpaired surrogates (not encodable as UTF-8); only
 *   multi-line text (notes) keeps tab and line breaks.
 *
 * Pure: the zod forms of these rules are in input-schema.ts, the query-string forms in shared/app/kernel/query.ts.
 */

/** 0000-01-01T00:00:00.000Z */
export const MIN_INSTANT_MS = -62_167_219_200_000;
/** 9999-12-31T23:59:59.999Z */
export const MAX_INSTANT_MS = 253_402_300_799_999;

export const INSTANT_RANGE_MESSAGE = 'must be from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z once its offset is applied';

/** Whether `ms` is an instant the API can store and query (years 0000–9999 in UTC). */
export function inInstantRange(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS;
}

/** A derived bound (e.g. "30 days before `to`") kept inside the range rather than refused: it was not sent. */
export function clampInstant(ms: number): number {
  return Math.min(MAX_INSTANT_MS, Math.max(MIN_INSTANT_MS, ms));
}

/** ISO-8601 date-time with seconds and a zone (`Z` or `±hh:mm`), as zod's `iso.datetime({ offset: true })`. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** Days in a month of the proleptic Gregorian calendar (year 0 is a leap year). */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * An ISO-8601 instant with a zone, normalised to the `toISOString()` form the keys are written in: `malformed`
 * unless the text is one (a real calendar date, a real time, an offset under 24 h), `out_of_range` unless it lies
 * in the instant range.
 */
export function readInstant(raw: string): { readonly ok: true; readonly value: string } | { readonly ok: false; readonly reason: 'malformed' | 'out_of_range' } {
  const m = DATE_TIME.exec(raw);
  if (m === null) return { ok: false, reason: 'malformed' };
  const [year, month, day, hour, minute, second, , offH, offM] = m.slice(1).map(Number) as number[];
  const valid =
    month! >= 1 && month! <= 12 && day! >= 1 && day! <= daysInMonth(year!, month!) &&
    hour! < 24 && minute! < 60 && second! < 60 &&
    (m[7] === undefined || (offH! < 24 && offM! < 60));
  if (!valid) return { ok: false, reason: 'malformed' };
  const ms = Date.parse(raw);
  return inInstantRange(ms) ? { ok: true, value: new Date(ms).toISOString() } : { ok: false, reason: 'out_of_range' };
}

/** Whether an ISO-8601 text (already known to be well-formed) denotes an instant in range. */
export function isInstantInRange(iso: string): boolean {
  return inInstantRange(Date.parse(iso));
}

// ---------------------------------------------------------------- months

/**
 * The months a statement or reconciliation may cover: their first and last instants in ANY time zone (offsets
 * are under 15 h) stay in the instant range. 0000-01 and 9999-12 would start or end outside it in some zones.
 */
export const MIN_PERIOD = '0001-01';
export const MAX_PERIOD = '9999-11';
export const PERIOD_MESSAGE = `must be YYYY-MM from ${MIN_PERIOD} to ${MAX_PERIOD}`;

export function isPeriod(raw: string): boolean {
  return /^\d{4}-(0[1-9]|1[0-2])$/.test(raw) && raw >= MIN_PERIOD && raw <= MAX_PERIOD;
}

// ---------------------------------------------------------------- path ids

export const MAX_PATH_ID_LENGTH = 128;
export const PATH_ID = /^[\x21-\x7e]{1,128}$/;
export const PATH_ID_MESSAGE = `must be 1 to ${MAX_PATH_ID_LENGTH} visible ASCII characters (percent-encoded in the URL)`;

export function isPathId(value: string): boolean {
  return PATH_ID.test(value);
}

// ---------------------------------------------------------------- free text

/** Characters no free text may hold: C0/C1 controls and DEL, line/paragraph separators, bidi embeddings, overrides and isolates, lone surrogates. */
const FORBIDDEN = String.raw`\p{Cc}\p{Cs}\u2028\u2029\u202A-\u202E\u2066-\u2069`;
/** Single-line text: none of FORBIDDEN. */
export const SINGLE_LINE_TEXT = new RegExp(`^[^${FORBIDDEN}]*$`, 'u');
/** Multi-line text: none of FORBIDDEN except tab, line feed and carriage return. */
export const MULTI_LINE_TEXT = new RegExp(`^(?:[\\t\\n\\r]|[^${FORBIDDEN}])*$`, 'u');

export const SINGLE_LINE_MESSAGE = 'must not contain control characters, line breaks or bidirectional overrides';
export const MULTI_LINE_MESSAGE = 'must not contain control characters (other than tab and line breaks) or bidirectional overrides';

export function isPlainText(value: string, options: { readonly multiline?: boolean } = {}): boolean {
  return (options.multiline === true ? MULTI_LINE_TEXT : SINGLE_LINE_TEXT).test(value);
}
