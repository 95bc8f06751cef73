/**
 * Campaign contracts: what a call must clear to bill and what it costs, versioned and effective-dated.
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
 * terms. The zod schemas live in terms-schema.ts, so that the ledger writer (which only rates) does not bundle full zod.
 */
import { Unprocessable } from '../kernel/problems';
import type { Weekday } from '../kernel/zoned-time';

// ---------------------------------------------------------------- types

export type DurationBasis = 'talk' | 'total';
export type DuplicateScope = 'campaign' | 'account';
/** Whether a call whose caller id is withheld can bill (rating rule `caller_id_withheld`). */
export type WithheldCallerTerm = 'non_billable' | 'billable';
/** What a terms change that does not say gets: a withheld caller cannot be told apart from any other, so no charge. */
export const DEFAULT_WITHHELD_CALLER_TERM: WithheldCallerTerm = 'non_billable';
/**
 * What a stored version written before the term existed means: withheld callers billed then (at most once per
 * duplicate window since every caller has an identity, caller.ts), and a version never changes meaning. A buyer who
 * wants the default appends a version (any PUT of the terms that leaves the term out does).
 */
export const STORED_WITHHELD_CALLER_TERM: WithheldCallerTerm = 'billable';

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
  /** `non_billable`: a call whose caller id is withheld is rated `caller_id_withheld`; `billable`: it may bill (flagged). */
  readonly withheldCallerId: WithheldCallerTerm;
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

/** `"08:30"` → 510. */
export function minuteOfDay(hhmmText: string): number {
  const [h, m] = hhmmText.split(':');
  return Number(h) * 60 + Number(m);
}

/**
 * Stored terms with the defaults of the fields they predate filled in, each meaning what the version meant when it
 * was written: whole-call duration, no qualification, campaign-scoped duplicates, flat price (the same defaults
 * TermsChangeSchema applies), and withheld callers billable (STORED_WITHHELD_CALLER_TERM; a NEW change defaults to
 * non_billable). For terms validated when they were written, so nothing is re-validated here.
 */
export function withTermsDefaults(
  terms: Pick<ContractTerms, 'priceCents' | 'bufferSec' | 'duplicateWindowHours'> & Partial<ContractTerms>,
): ContractTerms {
  return {
    priceCents: terms.priceCents,
    bufferSec: terms.bufferSec,
    durationBasis: terms.durationBasis ?? 'total',
    qualification: terms.qualification ?? null,
    duplicateWindowHours: terms.duplicateWindowHours,
    duplicateScope: terms.duplicateScope ?? 'campaign',
    priceBands: terms.priceBands ?? [],
    overrides: terms.overrides ?? [],
    withheldCallerId: terms.withheldCallerId ?? STORED_WITHHELD_CALLER_TERM,
  };
}

/** A stored version with the terms it predates defaulted (withTermsDefaults); the same object when it has them all. */
export function storedTermsVersion(v: TermsVersion): TermsVersion {
  return v.withheldCallerId !== undefined ? v : { ...v, withheldCallerId: STORED_WITHHELD_CALLER_TERM };
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

/**
 * One flat set of terms: a price, whole-call duration, campaign-scoped duplicates. What a seed file writes as a
 * campaign's first terms (with the optional fields of `ContractTerms`) and what campaign items stored before terms
 * were versioned hold; a `Campaign` holds `TermsVersion`s.
 */
export interface FlatTerms {
  /** Terms version; ledger entries name it. */
  readonly version: number;
  readonly priceCents: number;
  /** Minimum billable connected seconds. */
  readonly bufferSec: number;
  readonly duplicateWindowHours: number;
}

/** Flat terms (one price, whole-call duration, campaign-scoped duplicates) as a version of the full contract. */
export function fromFlatTerms(terms: FlatTerms, effectiveFrom: string, createdAt: string): TermsVersion {
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
    withheldCallerId: STORED_WITHHELD_CALLER_TERM,
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
