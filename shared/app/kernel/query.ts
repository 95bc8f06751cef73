/**
 * Query-string parsing for the API's GET/POST routes: each parameter has a rule; every bad, unknown or missing
 * parameter is named in one 400 (problem+json), values are never echoed. Hand-written rather than zod: these few
 * rules keep the api function's cold start small (zod's full build is ~450 KB; see docs/ARCHITECTURE.md).
 * Also the routes' JSON body (`jsonBody`), read the same way by every route table that takes one unvalidated.
 */
import { INSTANT_RANGE_MESSAGE, isPathId, isPeriod, PATH_ID_MESSAGE, readInstant, PERIOD_MESSAGE } from '../../domain/kernel/input';
import { type FieldError } from '../../domain/kernel/problems';
import { invalidInput, unsupportedMediaType } from './errors';

export type QueryParams = Readonly<Record<string, string | undefined>>;
export type Rule<T> = (raw: string) => { ok: true; value: T } | { ok: false; message: string };
export type QueryOf<R extends Record<string, Rule<unknown>>> = { [K in keyof R]?: R[K] extends Rule<infer T> ? T : never };

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Any ISO-8601 instant with a zone, normalised to the `toISOString()` form the keys are written in; it must lie in
 * years 0000–9999 once its offset is applied (shared/domain/kernel/input.ts: the only instants keys and ranges can hold).
 */
export const instant: Rule<string> = (raw) => {
  const read = readInstant(raw);
  if (read.ok) return { ok: true, value: read.value };
  return { ok: false, message: read.reason === 'out_of_range' ? `must be an ISO-8601 date-time with a zone, ${INSTANT_RANGE_MESSAGE}` : 'must be an ISO-8601 date-time with a zone' };
};
/** A calendar month `YYYY-MM` whose bounds stay in the instant range in every time zone. */
export const period: Rule<string> = (raw) => (isPeriod(raw) ? { ok: true, value: raw } : { ok: false, message: PERIOD_MESSAGE });

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
  if (errors.length > 0) throw invalidInput(`Invalid query parameters: ${errors.map((e) => e.field).join(', ')}.`, errors);
  return out as QueryOf<R>;
}

/**
 * A route's JSON body, validated by its use case: 415 unless JSON, 400 unless it parses; none is `{}`, so the use case
 * names the missing fields.
 */
export function jsonBody(req: { readonly body: string; readonly contentType: string | undefined }): unknown {
  if (req.body.trim() === '') return {};
  const type = req.contentType?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json' && !type?.endsWith('+json')) throw unsupportedMediaType(req.contentType, ['application/json']);
  try {
    return JSON.parse(req.body);
  } catch {
    throw invalidInput('The body is not valid JSON.', [{ field: '(root)', message: 'must be a JSON object' }]);
  }
}

/**
 * The path parameters of a matched route, each already percent-decoded (null: the segment was not valid
 * percent-encoded UTF-8): every one must fit the one id grammar (shared/domain/kernel/input.ts) before any handler runs,
 * so that no read is ever attempted with a key DynamoDB would refuse. A 400 names each bad parameter.
 */
export function checkPathParameters(params: Readonly<Record<string, string | null>>): Readonly<Record<string, string>> {
  const errors: FieldError[] = [];
  for (const [field, value] of Object.entries(params)) if (value === null || !isPathId(value)) errors.push({ field, message: PATH_ID_MESSAGE });
  if (errors.length > 0) throw invalidInput(`Invalid path parameters: ${errors.map((e) => e.field).join(', ')}.`, errors);
  return params as Readonly<Record<string, string>>;
}
