/**
 * The request shapes of `POST /v1/outcomes` (outcomes.ts): one JSON object, `{outcomes: [...]}`, or a CSV upload with
 * a header row, each line validated on its own so that a bad line is refused with its line number and precise field
 * errors while the others are applied. Plus the response schemas the OpenAPI document describes. Apart from
 * outcomes.ts so the rules stay free of zod (docs/ARCHITECTURE.md: schemas live in *-schema.ts modules).
 *
 * Field errors never repeat a value (the caller number is personal data): zod issues are reduced to path + message.
 */
import * as z from 'zod';
import { parseCsv } from '../reconciliation/invoice-csv';
import { instantInput } from '../kernel/input-schema';
import { DomainError, fieldErrors, type FieldError } from '../kernel/errors';
import { MAX_LOOK_BACK_DAYS, MAX_OUTCOME_LINES, OUTCOME_STATUSES } from './outcomes';

/** Cents up to 10^12 (ten billion dollars): safe integers, and any real deal. */
const MAX_CENTS = 1_000_000_000_000;
const CALL_ID = /^[a-z]+:[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$/;
/** A Twilio CallSid on its own is taken as a Twilio call id. */
const TWILIO_SID = /^CA[0-9a-fA-F]{32}$/;
export const EXTERNAL_ID = /^[\x21-\x7e]{1,128}$/;

export const OutcomeStatusSchema = z.enum(OUTCOME_STATUSES);

/** One outcome line (JSON object or CSV row). */
export const OutcomeInputSchema = z
  .strictObject({
    externalId: z
      .string()
      .regex(EXTERNAL_ID, 'must be 1–128 printable ASCII characters without spaces')
      .describe("The CRM's id of the deal/lead: idempotency key within the account"),
    callId: z
      .string()
      .transform((s) => (TWILIO_SID.test(s) ? `twilio:${s}` : s))
      .pipe(z.string().regex(CALL_ID, 'must be a call id such as twilio:CA…'))
      .optional()
      .describe('The call it came from, when the CRM knows it (twilio:CA… or a bare CallSid)'),
    callerNumber: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('The caller number (any common format; normalised to E.164, then only its keyed hash is kept)'),
    occurredAt: instantInput().describe('When the status happened in the CRM'),
    status: OutcomeStatusSchema,
    revenueCents: z.number().int('must be whole cents').min(0).max(MAX_CENTS).default(0),
    marginCents: z.number().int('must be whole cents').min(-MAX_CENTS).max(MAX_CENTS).default(0),
  })
  .refine((o) => o.callId !== undefined || o.callerNumber !== undefined, {
    path: ['callerNumber'],
    message: 'callId, or callerNumber (with occurredAt), is required',
  });
export type OutcomeInput = z.output<typeof OutcomeInputSchema>;

/** The JSON body: one outcome, or `{outcomes: [...]}` (OpenAPI; lines are validated one by one, see below). */
export const PostOutcomesBodySchema = z.union([
  OutcomeInputSchema,
  z.strictObject({ outcomes: z.array(OutcomeInputSchema).min(1).max(MAX_OUTCOME_LINES) }),
]);

/** A line before validation: its number and its raw value. */
export interface RawOutcomeLine {
  readonly line: number;
  readonly value: unknown;
}

export type ValidatedLine = { readonly ok: true; readonly value: OutcomeInput } | { readonly ok: false; readonly errors: readonly FieldError[] };

export function validateOutcomeLine(value: unknown): ValidatedLine {
  const parsed = OutcomeInputSchema.safeParse(value);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, errors: fieldErrors(parsed.error.issues) };
}

function tooMany(count: number, field: string): DomainError {
  return new DomainError('invalid_input', 'malformed-request', 'Malformed request', `At most ${MAX_OUTCOME_LINES} outcomes per request; this one has ${count}.`, [
    { field, message: `must have at most ${MAX_OUTCOME_LINES} outcomes` },
  ]);
}

/** The lines of a parsed JSON body: an object with `outcomes` (1-based array positions), or one object (line 1). */
export function outcomeLinesFromJson(body: unknown): RawOutcomeLine[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new DomainError('invalid_input', 'malformed-request', 'Malformed request', 'The body must be an outcome object or {"outcomes": [...]}.', [{ field: '(root)', message: 'must be a JSON object' }]);
  }
  if (!('outcomes' in body)) return [{ line: 1, value: body }];
  const { outcomes, ...rest } = body as { outcomes: unknown };
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new DomainError('invalid_input', 'malformed-request', 'Malformed request', 'Unknown fields next to outcomes.', extra.map((field) => ({ field, message: 'is not a known field' })));
  if (!Array.isArray(outcomes) || outcomes.length === 0) {
    throw new DomainError('invalid_input', 'malformed-request', 'Malformed request', 'outcomes must be a non-empty array.', [{ field: 'outcomes', message: 'must be a non-empty array of outcome objects' }]);
  }
  if (outcomes.length > MAX_OUTCOME_LINES) throw tooMany(outcomes.length, 'outcomes');
  return outcomes.map((value, i) => ({ line: i + 1, value }));
}

// ---------------------------------------------------------------- CSV

const COLUMNS = ['externalId', 'callId', 'callerNumber', 'occurredAt', 'status', 'revenueCents', 'marginCents'] as const;
type Column = (typeof COLUMNS)[number];
const INTEGER_COLUMNS: ReadonlySet<Column> = new Set(['revenueCents', 'marginCents']);
const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
const BY_NAME: ReadonlyMap<string, Column> = new Map(COLUMNS.map((c) => [squash(c), c]));

/**
 * The lines of a CSV upload (RFC 4180; the first non-blank record is the header). Header names are the JSON field
 * names, matched ignoring case, spaces, `_` and `-` (`external_id`, `Revenue Cents`). An unknown or repeated column,
 * or a header without externalId, occurredAt, status and one of callId/callerNumber, refuses the whole upload (422):
 * a misspelt column silently ignored would lose data. Empty cells are absent fields; integer cells become numbers
 * (anything else stays text, so the line is refused with the field named). Line numbers are record numbers in the
 * file (the header's is 1 when it is the first record); blank records are skipped.
 */
export function outcomeLinesFromCsv(text: string): RawOutcomeLine[] {
  const records = parseCsv(text);
  const headerAt = records.findIndex((r) => r.some((c) => c.trim() !== ''));
  if (headerAt < 0) throw new DomainError('refused', 'unprocessable', 'Unprocessable request', 'The CSV is empty: a header row and at least one outcome are required.', [{ field: 'csv', message: 'is empty' }]);
  const header = records[headerAt]!.map((c) => c.trim());
  const columns: Column[] = [];
  const errors: FieldError[] = [];
  for (const [i, name] of header.entries()) {
    const column = BY_NAME.get(squash(name));
    if (column === undefined) errors.push({ field: `header.${i + 1}`, message: `"${name.slice(0, 40)}" is not a known column (${COLUMNS.join(', ')})` });
    else if (columns.includes(column)) errors.push({ field: `header.${i + 1}`, message: `repeats column ${column}` });
    else columns[i] = column;
  }
  for (const required of ['externalId', 'occurredAt', 'status'] as const) {
    if (!columns.includes(required)) errors.push({ field: 'header', message: `needs a ${required} column` });
  }
  if (!columns.includes('callId') && !columns.includes('callerNumber')) errors.push({ field: 'header', message: 'needs a callId or a callerNumber column' });
  if (errors.length > 0) throw new DomainError('refused', 'unprocessable', 'Unprocessable request', 'The CSV header is not valid.', errors);

  const lines: RawOutcomeLine[] = [];
  for (let i = headerAt + 1; i < records.length; i++) {
    const record = records[i]!;
    if (record.every((c) => c.trim() === '')) continue;
    const value: Record<string, unknown> = {};
    for (const [j, cell] of record.entries()) {
      const column = columns[j];
      const text = cell.trim();
      if (column === undefined) {
        // More cells than header columns: refused as a field of its own, so the line is named.
        if (text !== '') value[`column${j + 1}`] = text;
        continue;
      }
      if (text === '') continue;
      value[column] = INTEGER_COLUMNS.has(column) && /^-?\d{1,15}$/.test(text) ? Number(text) : text;
    }
    lines.push({ line: i + 1, value });
  }
  if (lines.length === 0) throw new DomainError('refused', 'unprocessable', 'Unprocessable request', 'The CSV has a header but no outcome rows.', [{ field: 'csv', message: 'has no rows' }]);
  if (lines.length > MAX_OUTCOME_LINES) throw tooMany(lines.length, 'csv');
  return lines;
}

// ---------------------------------------------------------------- responses (OpenAPI)

export const OutcomeMatchSchema = z.enum(['call_id', 'caller_time']);

const OutcomeReportSchema = z
  .object({
    status: OutcomeStatusSchema,
    revenueCents: z.number().int(),
    marginCents: z.number().int(),
    occurredAt: z.iso.datetime(),
    receivedAt: z.iso.datetime(),
    by: z.string().describe('The API key label and role that posted it'),
  })
  .meta({ id: 'OutcomeReport' });

export const OutcomeViewSchema = z
  .object({
    externalId: z.string(),
    status: OutcomeStatusSchema.describe('In force: the report with the latest occurredAt'),
    revenueCents: z.number().int(),
    marginCents: z.number().int(),
    occurredAt: z.iso.datetime(),
    matchedCallId: z.string().nullable().describe('null: unmatched (kept, listed, retried on every later POST of this externalId)'),
    match: OutcomeMatchSchema.nullable(),
    matchedAt: z.iso.datetime().nullable(),
    history: z.array(OutcomeReportSchema).describe('Every report, in the order received'),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Outcome' });

export const OutcomeLineResultSchema = z
  .object({
    line: z.number().int().describe('JSON: 1-based position in outcomes; CSV: record number in the file (header = 1)'),
    externalId: z.string().nullable(),
    result: z.enum(['created', 'updated', 'unchanged', 'refused']),
    matchedCallId: z.string().nullable(),
    match: OutcomeMatchSchema.nullable(),
    error: z
      .object({ status: z.number().int(), detail: z.string(), errors: z.array(z.object({ field: z.string(), message: z.string() })).optional() })
      .optional()
      .describe('Why the line was refused (400 invalid, 422 a call of another account or an invalid number, 409 changed concurrently)'),
  })
  .meta({ id: 'OutcomeLineResult' });

export const PostOutcomesResponseSchema = z.object({
  results: z.array(OutcomeLineResultSchema),
  summary: z.object({
    created: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    refused: z.number().int(),
    matched: z.number().int(),
    unmatched: z.number().int(),
  }),
  lookBackDays: z.number().int().min(1).max(MAX_LOOK_BACK_DAYS),
});

export const OutcomesPageSchema = z.object({ outcomes: z.array(OutcomeViewSchema), cursor: z.string().nullable() });
