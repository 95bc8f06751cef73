/**
 * Campaign contracts (issue 3): what a call must clear to bill and what it costs, versioned and effective-dated.
 *
 * - A change never rewrites a version: it appends version N+1 with an `effectiveFrom` that is not in the past.
 * - The version in force at an instant is the HIGHEST-NUMBERED version whose `effectiveFrom` is at or before it.
 *   So a later change may supersede a scheduled one (v3 effective tomorrow written after v2 effective next
 *   week means v2 never takes force), and because a new version only governs instants at or after "now", no
 *   append can change which version governed an instant already past. A call is rated under the version in
 *   force when it started, and its ledger entry names that version.
 * - Price: the first matching override (IVR answer or tag, in the order written) wins; else the band with the
 *   greatest `fromSec` at or below the billable duration; else the base `priceCents`.
 *
 * Targeting that is not money (hours of operation, geography) lives on the campaign, not in the versioned
 * terms; its schemas are here so the seed file and the management API share them.
 */
import * as z from 'zod';
import { BadRequest, Unprocessable, fieldErrors } from './problems';
import type { CampaignTerms } from './types';
import { WEEKDAYS, isTimeZone, type Weekday } from './zoned-time';

// ---------------------------------------------------------------- types

export type DurationBasis = 'talk' | 'total';
export type DuplicateScope = 'campaign' | 'account';

/** Applies from `fromSec` (inclusive) up to the next band's `fromSec`; the last band is open-ended. */
export interface PriceBand {
  readonly fromSec: number;
  readonly priceCents: number;
}

export type OverrideCondition =
  | { readonly kind: 'ivr'; readonly digits: string }
  | { readonly kind: 'tag'; readonly tag: string };

export interface PriceOverride {
  readonly when: OverrideCondition;
  readonly priceCents: number;
}

/** The caller's IVR answer (Twilio `Digits`) must be one of these. */
export interface Qualification {
  readonly acceptedDigits: readonly string[];
}

export interface ContractTerms {
  readonly priceCents: number;
  /** Minimum billable seconds, measured on `durationBasis`. */
  readonly bufferSec: number;
  /** `talk`: seconds after the buyer answered; `total`: the whole inbound call. */
  readonly durationBasis: DurationBasis;
  readonly qualification: Qualification | null;
  readonly duplicateWindowHours: number;
  /** Whether a caller's earlier billed call counts on this campaign only, or on any campaign of the account. */
  readonly duplicateScope: DuplicateScope;
  /** Ascending by `fromSec`; empty for a flat price. */
  readonly priceBands: readonly PriceBand[];
  readonly overrides: readonly PriceOverride[];
}

export interface TermsVersion extends ContractTerms {
  readonly version: number;
  /** ISO-8601 UTC instant from which this version governs calls that start then or later. */
  readonly effectiveFrom: string;
  readonly createdAt: string;
}

export interface TermsChange {
  /** Null: effective now. */
  readonly effectiveFrom: string | null;
  readonly terms: ContractTerms;
}

export interface Geography {
  /** USPS codes (`TX`). */
  readonly states: readonly string[];
  /** Leading digits of the caller's ZIP (`787`, `78701`). */
  readonly zipPrefixes: readonly string[];
  /** NANP area codes (`512`). */
  readonly areaCodes: readonly string[];
}

export interface HoursWindow {
  readonly day: Weekday;
  /** `HH:MM`, inclusive. */
  readonly open: string;
  /** `HH:MM` up to `24:00`, exclusive. */
  readonly close: string;
}

export interface HoursOfOperation {
  readonly timeZone: string;
  readonly windows: readonly HoursWindow[];
}

// ---------------------------------------------------------------- schemas

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
  effectiveFrom: z.iso.datetime({ offset: true }).nullable().default(null),
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

/** `"08:30"` → 510. */
export function minuteOfDay(hhmmText: string): number {
  const [h, m] = hhmmText.split(':');
  return Number(h) * 60 + Number(m);
}

// ---------------------------------------------------------------- versions

/** The version governing an instant, or null before the first version takes effect. */
export function termsInForce(versions: readonly TermsVersion[], atMs: number): TermsVersion | null {
  let best: TermsVersion | null = null;
  for (const v of versions) {
    if (Date.parse(v.effectiveFrom) <= atMs && (best === null || v.version > best.version)) best = v;
  }
  return best;
}

/**
 * Appends a change as the next version. `effectiveFrom` in the past is refused (422): it would re-price calls
 * already rated. Returns the new version and the whole list; the caller stores it with a condition on the
 * previous version count so that two concurrent changes cannot both become version N+1.
 */
export function appendVersion(
  versions: readonly TermsVersion[],
  change: TermsChange,
  nowMs: number,
): { version: TermsVersion; versions: readonly TermsVersion[] } {
  const effectiveFromMs = change.effectiveFrom === null ? nowMs : Date.parse(change.effectiveFrom);
  if (Number.isNaN(effectiveFromMs)) {
    throw new Unprocessable('effectiveFrom is not a valid instant.', [{ field: 'effectiveFrom', message: 'must be an ISO-8601 instant' }]);
  }
  if (effectiveFromMs < nowMs) {
    const now = new Date(nowMs).toISOString();
    throw new Unprocessable(`Terms cannot take effect in the past (effectiveFrom ${new Date(effectiveFromMs).toISOString()} is before ${now}).`, [
      { field: 'effectiveFrom', message: `must be at or after ${now}` },
    ]);
  }
  const version: TermsVersion = {
    ...change.terms,
    version: versions.reduce((max, v) => Math.max(max, v.version), 0) + 1,
    effectiveFrom: new Date(effectiveFromMs).toISOString(),
    createdAt: new Date(nowMs).toISOString(),
  };
  return { version, versions: [...versions, version] };
}

/** Issue-2 terms (one flat price, whole-call duration, campaign-scoped duplicates) as a version of the full contract. */
export function fromV1Terms(terms: CampaignTerms, effectiveFrom: string, createdAt: string): TermsVersion {
  return {
    version: terms.version,
    effectiveFrom,
    createdAt,
    priceCents: terms.priceCents,
    bufferSec: terms.bufferSec,
    durationBasis: 'total',
    qualification: null,
    duplicateWindowHours: terms.duplicateWindowHours,
    duplicateScope: 'campaign',
    priceBands: [],
    overrides: [],
  };
}

// ---------------------------------------------------------------- price

export type PriceSource =
  | { readonly kind: 'override'; readonly index: number; readonly when: OverrideCondition }
  | { readonly kind: 'band'; readonly fromSec: number }
  | { readonly kind: 'base' };

export interface PriceQuote {
  readonly priceCents: number;
  readonly source: PriceSource;
}

function overrideMatches(when: OverrideCondition, digitsPressed: string | null, tags: readonly string[]): boolean {
  switch (when.kind) {
    case 'ivr':
      return digitsPressed !== null && digitsPressed === when.digits;
    case 'tag':
      return tags.includes(when.tag);
    default: {
      const exhaustive: never = when;
      return exhaustive;
    }
  }
}

/** The price of a call that bills, for its billable duration (on the terms' basis), IVR answer and tags. */
export function priceFor(
  terms: ContractTerms,
  durationSec: number,
  digitsPressed: string | null,
  tags: readonly string[] = [],
): PriceQuote {
  const index = terms.overrides.findIndex((o) => overrideMatches(o.when, digitsPressed, tags));
  const override = terms.overrides[index];
  if (override) return { priceCents: override.priceCents, source: { kind: 'override', index, when: override.when } };
  let band: PriceBand | undefined;
  for (const b of terms.priceBands) if (b.fromSec <= durationSec && (!band || b.fromSec > band.fromSec)) band = b;
  if (band) return { priceCents: band.priceCents, source: { kind: 'band', fromSec: band.fromSec } };
  return { priceCents: terms.priceCents, source: { kind: 'base' } };
}

/** Every price these terms can produce. */
export function contractPrices(terms: ContractTerms): ReadonlySet<number> {
  return new Set([terms.priceCents, ...terms.priceBands.map((b) => b.priceCents), ...terms.overrides.map((o) => o.priceCents)]);
}
