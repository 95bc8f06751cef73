/**
 * Query-string parsing for the API's GET/POST routes: each parameter has a rule; every bad, unknown or missing
 * parameter is named in one 400 (problem+json), values are never echoed. Hand-written rather than zod: these few
 * rules keep the api function's cold start small (zod's full build is ~450 KB; see docs/ARCHITECTURE.md).
 * Also the routes' JSON body (`jsonBody`), read the same way by every route table that takes one unvalidated.
 */
import { INSTANT_RANGE_MESSAGE, isPathId, isPeriod, MAX_PERIOD, MIN_PERIOD, PATH_ID_MESSAGE, readInstant, PERIOD_MESSAGE } from '../../domain/kernel/input';
import { type FieldError } from '../../domain/kernel/problems';
import { invalidInput, unsupportedMediaType } from './errors';

export type QueryParams = Readonly<Record<string, string | undefined>>;

/** The JSON Schema of the values a rule accepts: the OpenAPI document gives it as the parameter's schema. */
export type ParameterSchema = Readonly<Record<string, unknown>>;

/**
 * A query parameter's rule: it parses the raw value and carries the schema of what it accepts, so the route that
 * declares it documents exactly what it parses (shared/adapters/http/openapi.ts). `required`: a request without it is a
 * 400; `description`: what the parameter means on that route.
 */
export interface Rule<T> {
  (raw: string): { ok: true; value: T } | { ok: false; message: string };
  readonly schema: ParameterSchema;
  readonly required?: boolean;
  readonly description?: string;
  /** The same rule, required and/or described on one route. */
  with(options: { readonly required?: boolean; readonly description?: string }): Rule<T>;
}
export type QueryRules = Readonly<Record<string, Rule<unknown>>>;
export type QueryOf<R extends QueryRules> = { [K in keyof R]?: R[K] extends Rule<infer T> ? T : never };

type Parse<T> = (raw: string) => { ok: true; value: T } | { ok: false; message: string };

function withOptions<T>(parse: Parse<T>, schema: ParameterSchema, options: { readonly required?: boolean; readonly description?: string }): Rule<T> {
  const r: Rule<T> = Object.assign((raw: string) => parse(raw), {
    schema,
    ...options,
    with: (more: { readonly required?: boolean; readonly description?: string }) => withOptions(parse, schema, { ...options, ...more }),
  });
  return r;
}

/** A rule from its parser and the schema of the values it accepts. */
export function rule<T>(schema: ParameterSchema, parse: Parse<T>): Rule<T> {
  return withOptions(parse, schema, {});
}

/** One of a few words; the message lists them ("must be a, b or c" unless `message` says otherwise). */
export function oneOf<const V extends string>(values: readonly V[], message = `must be ${values.slice(0, -1).join(', ')} or ${values.at(-1)}`): Rule<V> {
  return rule({ type: 'string', enum: values }, (raw) => ((values as readonly string[]).includes(raw) ? { ok: true, value: raw as V } : { ok: false, message }));
}

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Any ISO-8601 instant with a zone, normalised to the `toISOString()` form the keys are written in; it must lie in
 * years 0000–9999 once its offset is applied (shared/domain/kernel/input.ts: the only instants keys and ranges can hold).
 */
export const instant: Rule<string> = rule(
  {
    type: 'string',
    format: 'date-time',
    description: 'ISO-8601 date-time with a zone (Z or ±hh:mm), from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z once its offset is applied',
  },
  (raw) => {
    const read = readInstant(raw);
    if (read.ok) return { ok: true, value: read.value };
    return { ok: false, message: read.reason === 'out_of_range' ? `must be an ISO-8601 date-time with a zone, ${INSTANT_RANGE_MESSAGE}` : 'must be an ISO-8601 date-time with a zone' };
  },
);
/** A calendar month `YYYY-MM` whose bounds stay in the instant range in every time zone. */
export const period: Rule<string> = rule(
  { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: `A calendar month YYYY-MM from ${MIN_PERIOD} to ${MAX_PERIOD}, in the account's time zone` },
  (raw) => (isPeriod(raw) ? { ok: true, value: raw } : { ok: false, message: PERIOD_MESSAGE }),
);

export const id: Rule<string> = rule({ type: 'string', pattern: ID.source }, (raw) =>
  ID.test(raw) ? { ok: true, value: raw } : { ok: false, message: 'must be an id (lower-case letters, digits, dashes)' },
);
export const cursor: Rule<string> = rule(
  {
    type: 'string',
    maxLength: 2048,
    description:
      'Opaque: the `cursor` of the previous page, sent with the same filters by a key of the same account (the page size may change). It is sealed and authenticated by the API; an edited, made-up or re-used cursor (other route, filters or account) is a 400 naming `cursor`',
  },
  (raw) => (raw.length >= 1 && raw.length <= 2048 ? { ok: true, value: raw } : { ok: false, message: 'must be a cursor from a previous page' }),
);
export const flag: Rule<boolean> = rule({ type: 'boolean' }, (raw) =>
  raw === 'true' || raw === 'false' ? { ok: true, value: raw === 'true' } : { ok: false, message: 'must be true or false' },
);
export const wholeNumber = (min: number, max: number, description?: string): Rule<number> =>
  rule({ type: 'integer', minimum: min, maximum: max, ...(description === undefined ? {} : { description }) }, (raw) =>
    /^\d{1,6}$/.test(raw) && Number(raw) >= min && Number(raw) <= max
      ? { ok: true, value: Number(raw) }
      : { ok: false, message: `must be a whole number from ${min} to ${max}` },
  );
/** The page size of every list route. */
export const pageSize: Rule<number> = wholeNumber(1, 100, 'Page size, a whole number from 1 to 100 (default 50)');

/** Applies the rules; every bad, unknown or missing required parameter is named; `to` must be after `from`. */
export function parseQuery<R extends QueryRules>(rules: R, params: QueryParams): QueryOf<R> {
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
  for (const [field, r] of Object.entries(rules)) if (r.required === true && params[field] === undefined) errors.push({ field, message: 'is required' });
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
