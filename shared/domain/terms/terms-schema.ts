/**
 * zod schemas of campaign contracts (terms.ts) and campaign targeting, shared by the seed file and the management
 * API. Kept apart from terms.ts because top-level schema construction is a side effect esbuild cannot drop: the
 * ledger writer imports terms.ts and must not bundle full zod.
 */
import * as z from 'zod';
import { instantInput } from '../kernel/input-schema';
import { BadRequest, fieldErrors } from '../kernel/problems';
import { DEFAULT_WITHHELD_CALLER_TERM, minuteOfDay, type TermsChange } from './terms';
import { WEEKDAYS, isTimeZone } from '../kernel/zoned-time';

const cents = z.number().int('must be whole cents').min(1).max(10_000_000);
const digits = z.string().regex(/^[0-9*#]{1,32}$/, 'must be 1-32 keypad characters (0-9, *, #)');
const tag = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1-64 lower-case letters, digits, - or _');

export const PriceBandSchema = z.strictObject({ fromSec: z.number().int().min(0).max(86_400), priceCents: cents });

export const PriceOverrideSchema = z.strictObject({
  when: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('ivr'), digits }),
    z.strictObject({ kind: z.literal('tag'), tag }),
  ]),
  priceCents: cents,
});

export const ContractTermsSchema = z
  .strictObject({
    priceCents: cents,
    bufferSec: z.number().int().min(0).max(86_400),
    durationBasis: z.enum(['talk', 'total']).default('total'),
    qualification: z.strictObject({ acceptedDigits: z.array(digits).min(1).max(100) }).nullable().default(null),
    duplicateWindowHours: z.number().int().min(0).max(24 * 366),
    duplicateScope: z.enum(['campaign', 'account']).default('campaign'),
    priceBands: z.array(PriceBandSchema).max(20).default([]),
    overrides: z.array(PriceOverrideSchema).max(50).default([]),
    withheldCallerId: z
      .enum(['non_billable', 'billable'])
      .default(DEFAULT_WITHHELD_CALLER_TERM)
      .describe(
        'Whether a call whose caller id is withheld (anonymous, restricted, unknown, empty) can bill. non_billable (default): rated caller_id_withheld. billable: it may bill, flagged caller_id_withheld; every withheld caller shares one identity, so at most one withheld call bills per duplicate window. Versions stored before this term existed read as billable.',
      ),
  })
  .superRefine((t, ctx) => {
    t.priceBands.forEach((b, i) => {
      const prev = t.priceBands[i - 1];
      if (prev && b.fromSec <= prev.fromSec)
        ctx.addIssue({ code: 'custom', path: ['priceBands', i, 'fromSec'], message: 'must be greater than the previous band' });
      if (b.fromSec < t.bufferSec)
        ctx.addIssue({ code: 'custom', path: ['priceBands', i, 'fromSec'], message: 'is below bufferSec, so the band could never apply' });
    });
    const seen = new Set<string>();
    t.overrides.forEach((o, i) => {
      const key = o.when.kind === 'ivr' ? `ivr:${o.when.digits}` : `tag:${o.when.tag}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['overrides', i, 'when'], message: 'repeats an earlier override' });
      seen.add(key);
    });
  });

/** Body of a terms change on the management API (and a campaign's terms in the seed file). */
export const TermsChangeSchema = z.strictObject({
  effectiveFrom: instantInput().nullable().default(null),
  terms: ContractTermsSchema,
});

const US_STATES = new Set(
  'AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP'.split(
    ' ',
  ),
);

export const GeographySchema = z
  .strictObject({
    states: z.array(z.string().refine((s) => US_STATES.has(s), 'must be a USPS state code like TX')).default([]),
    zipPrefixes: z.array(z.string().regex(/^\d{1,5}$/, 'must be 1-5 digits')).default([]),
    areaCodes: z.array(z.string().regex(/^[2-9]\d{2}$/, 'must be a 3-digit NANP area code')).default([]),
  })
  // An empty geography would match nobody; "anywhere" is written as `geography: null`.
  .refine((g) => g.states.length + g.zipPrefixes.length + g.areaCodes.length > 0, 'must name at least one state, ZIP prefix or area code');

const hhmm = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;

export const HoursOfOperationSchema = z.strictObject({
  timeZone: z.string().refine(isTimeZone, 'must be an IANA time zone'),
  windows: z
    .array(
      z
        .strictObject({
          day: z.enum(WEEKDAYS),
          open: z.string().regex(hhmm, 'must be HH:MM'),
          close: z.string().regex(hhmm, 'must be HH:MM (24:00 for midnight)'),
        })
        // An overnight shift is written as two windows, one per day.
        .refine((w) => minuteOfDay(w.open) < minuteOfDay(w.close), { message: 'must close after it opens', path: ['close'] }),
    )
    .min(1)
    .max(70),
});

export function parseTermsChange(json: unknown): TermsChange {
  const parsed = TermsChangeSchema.safeParse(json);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error.issues);
    throw new BadRequest(`Invalid terms: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`, errors);
  }
  return parsed.data;
}
