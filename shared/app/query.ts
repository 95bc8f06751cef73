/**
 * Query-string parsing for the API's GET/POST routes: each parameter has a rule; every bad, unknown or missing
 * parameter is named in one 400 (problem+json), values are never echoed. Hand-written rather than zod: these few
 * rules keep the api function's cold start small (zod's full build is ~450 KB; see docs/ARCHITECTURE.md).
 * Also the routes' JSON body (`jsonBody`), read the same way by every route table that takes one unvalidated.
 */
import { BadRequest, UnsupportedMediaType, type FieldError } from '../domain/problems';

export type QueryParams = Readonly<Record<string, string | undefined>>;
export type Rule<T> = (raw: string) => { ok: true; value: T } | { ok: false; message: string };
export type QueryOf<R extends Record<string, Rule<unknown>>> = { [K in keyof R]?: R[K] extends Rule<infer T> ? T : never };

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** ISO-8601 date-time with seconds and a zone (`Z` or `±hh:mm`), as zod's `iso.datetime({ offset: true })`. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** Any ISO-8601 instant with a zone, normalised to the `toISOString()` form the keys are written in. */
export const instant: Rule<string> = (raw) => {
  const m = DATE_TIME.exec(raw);
  const [year, month, day, hour, minute, second, , offH, offM] = (m ?? []).slice(1).map(Number);
  const valid =
    m !== null &&
    hour! < 24 && minute! < 60 && second! < 60 &&
    (m[7] === undefined || (offH! < 24 && offM! < 60)) &&
    // The calendar date exists (no February 30th).
    new Date(Date.UTC(year!, month! - 1, day!)).getUTCDate() === day && month! >= 1 && month! <= 12;
  return valid ? { ok: true, value: new Date(raw).toISOString() } : { ok: false, message: 'must be an ISO-8601 date-time with a zone' };
};
export const id: Rule<string> = (raw) =>
  ID.test(raw) ? { ok: true, value: raw } : { ok: false, message: 'must be an id (lower-case letters, digits, dashes)' };
export const cursor: Rule<string> = (raw) =>
  raw.length >= 1 && raw.length <= 2048 ? { ok: true, value: raw } : { ok: false, message: 'must be a cursor from a previous page' };
export const flag: Rule<boolean> = (raw) =>
  raw === 'true' || raw === 'false' ? { ok: true, value: raw === 'true' } : { ok: false, message: 'must be true or false' };
export const wholeNumber =
  (min: number, max: number): Rule<number> =>
  (raw) =>
    /^\d{1,6}$/.test(raw) && Number(raw) >= min && Number(raw) <= max
      ? { ok: true, value: Number(raw) }
      : { ok: false, message: `must be a whole number from ${min} to ${max}` };

/** Applies the rules; every bad, unknown or missing-but-required parameter is named; `to` must be after `from`. */
export function parseQuery<R extends Record<string, Rule<unknown>>>(
  rules: R,
  params: QueryParams,
  required: readonly (keyof R & string)[] = [],
): QueryOf<R> {
  const out: Record<string, unknown> = {};
  const errors: FieldError[] = [];
  for (const [field, raw] of Object.entries(params)) {
    if (raw === undefined) continue;
    const rule = Object.hasOwn(rules, field) ? rules[field] : undefined;
    if (rule === undefined) {
      errors.push({ field, message: 'is not a known parameter' });
      continue;
    }
    const parsed = rule(raw);
    if (parsed.ok) out[field] = parsed.value;
    else errors.push({ field, message: parsed.message });
  }
  for (const field of required) if (params[field] === undefined) errors.push({ field, message: 'is required' });
  if (errors.length === 0 && typeof out.from === 'string' && typeof out.to === 'string' && out.from >= out.to) {
    errors.push({ field: 'to', message: 'must be after from' });
  }
  if (errors.length > 0) throw new BadRequest(`Invalid query parameters: ${errors.map((e) => e.field).join(', ')}.`, errors);
  return out as QueryOf<R>;
}

/**
 * A route's JSON body, validated by its use case: 415 unless JSON, 400 unless it parses; none is `{}`, so the use case
 * names the missing fields.
 */
export function jsonBody(req: { readonly body: string; readonly contentType: string | undefined }): unknown {
  if (req.body.trim() === '') return {};
  const type = req.contentType?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json' && !type?.endsWith('+json')) throw new UnsupportedMediaType(req.contentType, ['application/json']);
  try {
    return JSON.parse(req.body);
  } catch {
    throw new BadRequest('The body is not valid JSON.', [{ field: '(root)', message: 'must be a JSON object' }]);
  }
}
