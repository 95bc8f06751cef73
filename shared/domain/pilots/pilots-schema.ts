/**
 * zod schemas of the pilot API (pilots.ts). Kept apart from pilots.ts because top-level schema construction is a
 * side effect esbuild cannot drop, and the workflow functions (which import pilots.ts) need not bundle full zod.
 *
 * The schema checks shapes (400 naming every bad field); the rules that need numbers compared, the clock or the
 * stored campaign (cap ≤ 0, window in the past, unknown campaign…) are `validatePilotRequest` (422), so that the
 * client learns which kind of mistake it made.
 */
import * as z from 'zod';
import { IdSchema } from '../catalog/config-schema';
import { instantInput, singleLine } from '../kernel/input-schema';
import { PILOT_STATES, type PilotRequest } from './pilots';
import { CALL_SIGNALS } from '../rating/rules';
import { REASON_CODES } from '../rating/decision';
import { GeographySchema } from '../terms/terms-schema';

/** Where notifications go: http(s) URLs without credentials (the senders refuse private hosts unless allowed). */
const NotifyUrlSchema = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048)
  .refine((u) => {
    const url = new URL(u);
    return url.username === '' && url.password === '';
  }, 'must not carry credentials');

const cents = z.number().int('must be whole cents');

export const CreatePilotSchema = z
  .strictObject({
    campaignId: IdSchema,
    publisherIds: z
      .array(IdSchema)
      .min(1)
      .max(50)
      .refine((ids) => new Set(ids).size === ids.length, 'must not repeat a publisher'),
    vertical: singleLine(z.string().trim().min(1).max(64)),
    geography: GeographySchema.nullable().default(null),
    spendCapCents: cents,
    dailyCapCents: cents.nullable().default(null),
    maxBillableCalls: z.number().int('must be a whole number').nullable().default(null),
    startsAt: instantInput(),
    endsAt: instantInput(),
    notify: z.array(NotifyUrlSchema).max(10).default([]),
  })
  .transform((b): PilotRequest => ({ ...b, startsAt: new Date(b.startsAt).toISOString(), endsAt: new Date(b.endsAt).toISOString() }));

/** The Idempotency-Key header: 1-255 visible ASCII characters. */
export const IdempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 visible ASCII characters');

// ---------------------------------------------------------------- response documentation (OpenAPI)

const count = z.number().int().min(0);

const Row = z.object({
  publisherId: z.string(),
  subSource: z.string().nullable().describe('null: calls without a sub-source; `*` on publisher and total rows'),
  calls: count,
  billableCalls: count,
  nonBillableCalls: count,
  reasons: z.partialRecord(z.enum(REASON_CODES), count).describe('Non-billable calls by primary reason (only reasons seen)'),
  signals: z.partialRecord(z.enum(CALL_SIGNALS), count).describe('Calls flagged with each signal at rating (only signals seen)'),
  duplicates: count,
  spendCents: z.number().int(),
  creditsCents: z.number().int(),
  reversalsCents: z.number().int().describe('Charges taken back because an earlier call of the caller bills instead (≤ 0)'),
  netCents: z.number().int(),
  costPerBillableCallCents: z.number().int().nullable(),
});

export const PilotReportDoc = z
  .object({
    pilotId: z.string(),
    accountId: z.string(),
    campaignId: z.string(),
    vertical: z.string(),
    geography: GeographySchema.nullable(),
    startsAt: z.iso.datetime(),
    endsAt: z.iso.datetime(),
    spendCapCents: z.number().int(),
    dailyCapCents: z.number().int().nullable(),
    maxBillableCalls: z.number().int().nullable(),
    state: z.enum(PILOT_STATES),
    closedAt: z.iso.datetime().nullable(),
    closedReason: z.enum(['cap', 'window', 'stopped']).nullable(),
    generatedAt: z.iso.datetime(),
    counter: z.object({ spentCents: z.number().int(), billableCalls: count }),
    ledgerMatchesCounter: z.boolean(),
    totals: Row,
    publishers: z.array(Row.extend({ subSources: z.array(Row) })),
  })
  .meta({ id: 'PilotReport' });

export const PilotViewDoc = z
  .object({
    pilotId: z.string(),
    accountId: z.string(),
    campaignId: z.string(),
    publisherIds: z.array(z.string()),
    vertical: z.string(),
    geography: GeographySchema.nullable(),
    state: z.enum(PILOT_STATES),
    startsAt: z.iso.datetime(),
    endsAt: z.iso.datetime(),
    timeZone: z.string(),
    spendCapCents: z.number().int(),
    dailyCapCents: z.number().int().nullable(),
    maxBillableCalls: z.number().int().nullable(),
    spentCents: z.number().int(),
    remainingCents: z.number().int(),
    percentOfCap: z.number().int(),
    todaySpentCents: z.number().int().nullable().describe('Spend of the current day in the pilot zone (daily cap only)'),
    billableCalls: z.number().int(),
    nonBillableCalls: z.number().int(),
    remainingCalls: z.number().int().nullable(),
    timeLeftSec: z.number().int().describe('Seconds until the window closes'),
    secondsToStart: z.number().int().describe('Seconds until the window opens (0 once open)'),
    closedAt: z.iso.datetime().nullable(),
    closedReason: z.enum(['cap', 'window', 'stopped']).nullable(),
    notifyHosts: z.array(z.string()).describe('Hosts told about the pilot (the URLs themselves may carry the receiver\'s tokens)'),
    report: z
      .object({ json: z.url(), csv: z.url(), builtAt: z.iso.datetime() })
      .nullable()
      .describe('Presigned links (15 min) once the report is built'),
    failure: z.string().nullable().describe('Why the pilot failed (state failed), else null'),
    createdAt: z.iso.datetime(),
    createdBy: z.string(),
  })
  .meta({ id: 'Pilot' });
