/**
 * Configuration the management API writes and the seed file loads: publishers, campaigns (targeting + versioned
 * contract terms) and tracking numbers (effective-dated assignments). One set of zod schemas (config-schema.ts,
 * apart so that the ledger writer does not bundle full zod) serves both, so a seed file cannot hold anything the
 * API would refuse. Pure: no I/O.
 *
 * Effective dating and caches. Writers of the ledger cache configuration per container (ConfigRepo). A terms
 * version or a number assignment therefore takes effect no sooner than `CONFIG_LEAD_MS` after it is written
 * (the default is exactly that), and a cached copy loaded at instant L is used only for calls that started at or
 * before L + CONFIG_LEAD_MS: every change written after L takes effect later than that, so the cached copy is
 * exact for those calls, whatever the cache's age. A call that started later than that but no later than
 * now + CONFIG_LEAD_MS makes the writer re-read the item (then exact too). Result: every call that started
 * before it was processed (every real call, give or take clock skew) is rated under the version and the
 * assignment in force when it started, with config reads cached on the hot path. A call dated more than
 * CONFIG_LEAD_MS in the future of its processing cannot be rated exactly by any read (a change may still be
 * written that takes effect before it); it is rated with the cached copy.
 */
import type { SeedCampaign } from './config-schema';
import { Unprocessable } from '../kernel/problems';
import { storedTermsVersion, withTermsDefaults, type ContractTerms } from '../terms/terms';
import type { FlatCampaign, Campaign, NumberAssignment, TrackingNumber, AssignedNumber } from './types';

/** How long before it takes effect a configuration change must be written (and the config cache lifetime). */
export const CONFIG_LEAD_MS = 60_000;

/** `effectiveFrom` of seed-file terms and assignments: in force since before any call. */
export const SEED_EPOCH = '1970-01-01T00:00:00.000Z';

// ---------------------------------------------------------------- effective dating

/**
 * The instant a change takes effect: `requested` (any ISO offset) or, when absent, now + CONFIG_LEAD_MS.
 * Earlier than now + CONFIG_LEAD_MS is 422: in the past it would re-price calls already rated, and sooner than
 * the lead a cached copy could miss it (see the header).
 */
export function effectiveInstant(requested: string | undefined, nowMs: number): string {
  const earliestMs = nowMs + CONFIG_LEAD_MS;
  if (requested === undefined) return new Date(earliestMs).toISOString();
  const ms = Date.parse(requested);
  if (ms < earliestMs) {
    const earliest = new Date(earliestMs).toISOString();
    throw new Unprocessable(
      `effectiveFrom ${new Date(ms).toISOString()} is too early: changes take effect at least ${CONFIG_LEAD_MS / 1000} s after they are written (${earliest} or later).`,
      [{ field: 'effectiveFrom', message: `must be at or after ${earliest}` }],
    );
  }
  return new Date(ms).toISOString();
}

// ---------------------------------------------------------------- normalising stored shapes

/**
 * A campaign item as any store gives it, of any age: a `Campaign`, or an item written before terms were versioned
 * (one flat set of terms inline). `asCampaign` reads both; a tracking number item likewise (`asTrackingNumber`).
 */
export type CampaignItem = Campaign | FlatCampaign;
export type NumberItem = TrackingNumber | AssignedNumber;

/** Any stored campaign as the current config, every terms version with the defaults of the terms it predates. */
export function asCampaign(c: CampaignItem): Campaign {
  if (!('termsVersions' in c)) return campaignFromSeed(c);
  return c.termsVersions.every((v) => v.withheldCallerId !== undefined) ? c : { ...c, termsVersions: c.termsVersions.map(storedTermsVersion) };
}

export function asTrackingNumber(n: NumberItem): TrackingNumber {
  if ('assignments' in n) return n;
  const { accountId, number, campaignId, publisherId, subSource } = n;
  return {
    accountId,
    number,
    assignments: [{ campaignId, publisherId, subSource, effectiveFrom: SEED_EPOCH, createdAt: SEED_EPOCH }],
    rev: 1,
    updatedAt: SEED_EPOCH,
  };
}

/**
 * The assignment in force at `atMs`: the LAST-WRITTEN one whose `effectiveFrom` is at or before it (as with terms
 * versions, a later change supersedes a scheduled one; since a new assignment only takes effect in the future,
 * no write changes which assignment governed an instant already past).
 */
export function assignmentAt(n: TrackingNumber, atMs: number): AssignedNumber | null {
  let best: NumberAssignment | null = null;
  for (const a of n.assignments) if (Date.parse(a.effectiveFrom) <= atMs) best = a;
  return best === null
    ? null
    : { accountId: n.accountId, number: n.number, campaignId: best.campaignId, publisherId: best.publisherId, subSource: best.subSource };
}

/** A seed (or flat-terms) campaign → the campaign: its terms become its first version, in force since SEED_EPOCH. */
export function campaignFromSeed(c: SeedCampaign | FlatCampaign): Campaign {
  const { version, ...terms } = c.terms;
  // Flat terms lack the later fields; both shapes were validated when written, so only defaults are filled.
  const full = withTermsDefaults(terms);
  return {
    accountId: c.accountId,
    campaignId: c.campaignId,
    name: c.name,
    vertical: c.vertical,
    geography: 'geography' in c ? c.geography : null,
    hours: 'hours' in c ? c.hours : null,
    termsVersions: [{ ...full, version, effectiveFrom: SEED_EPOCH, createdAt: SEED_EPOCH }],
    ...('economics' in c && c.economics !== undefined ? { economics: c.economics } : {}),
    rev: 1,
    updatedAt: SEED_EPOCH,
  };
}

/** A publisher that declares sub-sources only takes assignments naming one of them (or none). */
export function undeclaredSubSource(publisher: { readonly subSources: readonly string[] }, subSource: string | null): boolean {
  return subSource !== null && publisher.subSources.length > 0 && !publisher.subSources.includes(subSource);
}

/** Whether two sets of contract terms are the same contract (a PUT with identical terms adds no version). */
export function sameTerms(a: ContractTerms, b: ContractTerms): boolean {
  const pick = (t: ContractTerms) => [
    t.priceCents,
    t.bufferSec,
    t.durationBasis,
    t.qualification,
    t.duplicateWindowHours,
    t.duplicateScope,
    t.priceBands,
    t.overrides,
    t.withheldCallerId,
  ];
  return JSON.stringify(pick(a)) === JSON.stringify(pick(b));
}

/** Terms that need the caller's IVR answer to rate (qualification or an IVR price override). */
export function termsUseDigits(t: ContractTerms): boolean {
  return t.qualification !== null || t.overrides.some((o) => o.when.kind === 'ivr');
}
