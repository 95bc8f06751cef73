/**
 * zod schemas of the configuration (config.ts): management API request bodies and seed-file entries, one set so
 * that a seed file cannot hold anything the API would refuse. Kept apart from config.ts because top-level schema
 * construction is a side effect esbuild cannot drop, and the ledger writer (which imports config.ts) must not
 * bundle full zod.
 */
import * as z from 'zod';
import { DISPUTE_REASONS } from '../disputes/disputes';
import { CreditPolicySchema } from '../disputes/disputes-schema';
import { CampaignEconomicsSchema } from '../reports/economics-schema';
import { instantInput, singleLine } from '../kernel/input-schema';
import { BadRequest, fieldErrors } from '../kernel/problems';
import { ContractTermsSchema, GeographySchema, HoursOfOperationSchema } from '../terms/terms-schema';
import { TRAFFIC_METHODS } from './types';
import { E164Schema, IdSchema } from '../kernel/ids-schema';
import { CallFlowChangeSchema } from '../callflow/flow-schema';

// ---------------------------------------------------------------- field schemas

/** What a publisher gets when nothing is said: 30 days, every reason. */
export const defaultCreditPolicy = () => ({ disputeWindowDays: 30, allowedReasons: [...DISPUTE_REASONS] });

export { IdSchema, E164Schema };
const subSource = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, dots, dashes or underscores');
/** Free text (names, vertical): trimmed, never empty, no control characters (input-schema.ts). */
const text = (max: number) => singleLine(z.string().trim().min(1).max(max));

// ---------------------------------------------------------------- request bodies (also the seed's entries, minus ids)

export const PublisherBodySchema = z.strictObject({
  name: text(200),
  trafficMethods: z.array(z.enum(TRAFFIC_METHODS)).max(TRAFFIC_METHODS.length).default([]),
  subSources: z.array(subSource).max(200).default([]),
  contact: z
    .strictObject({
      name: text(200).nullable().default(null),
      email: z.email('must be an email address').max(254).nullable().default(null),
      phone: E164Schema.nullable().default(null),
    })
    .nullable()
    .default(null),
  creditPolicy: CreditPolicySchema.default(defaultCreditPolicy),
});
export type PublisherBody = z.infer<typeof PublisherBodySchema>;

/**
 * `PUT /v1/campaigns/{id}`. `terms` is required when the campaign is created; on an update, terms that differ from
 * the latest version append a new version effective from `effectiveFrom` (default: now + CONFIG_LEAD_MS), and
 * identical terms change nothing (so a retried PUT does not add a version).
 */
export const CampaignBodySchema = z.strictObject({
  name: text(200),
  vertical: text(64),
  geography: GeographySchema.nullable().default(null),
  hours: HoursOfOperationSchema.nullable().default(null),
  terms: ContractTermsSchema.optional(),
  effectiveFrom: instantInput().optional(),
  /** What a qualified call is worth (economics.ts); absent: kept as it is; null: cleared. */
  economics: CampaignEconomicsSchema.nullable().optional(),
  /** The call flow (callflow/flow.ts), versioned like terms: a flow that differs from the latest appends a version. */
  callFlow: CallFlowChangeSchema.optional(),
});
export type CampaignBody = z.infer<typeof CampaignBodySchema>;

/** `PUT /v1/tracking-numbers/{e164}`: the assignment from `effectiveFrom` (default: now + CONFIG_LEAD_MS). */
export const TrackingNumberBodySchema = z.strictObject({
  campaignId: IdSchema,
  publisherId: IdSchema,
  subSource: subSource.nullable().default(null),
  effectiveFrom: instantInput().optional(),
});
export type TrackingNumberBody = z.infer<typeof TrackingNumberBodySchema>;

// ---------------------------------------------------------------- seed entries

export const SeedPublisherSchema = z.strictObject({ accountId: IdSchema, publisherId: IdSchema, ...PublisherBodySchema.shape });

/** A seed campaign's terms: the contract with the version number issue-2 files wrote (always 1). */
export const SeedTermsSchema = ContractTermsSchema.safeExtend({ version: z.literal(1).default(1) });

export const SeedCampaignSchema = z.strictObject({
  accountId: IdSchema,
  campaignId: IdSchema,
  name: CampaignBodySchema.shape.name,
  vertical: CampaignBodySchema.shape.vertical,
  geography: CampaignBodySchema.shape.geography,
  hours: CampaignBodySchema.shape.hours,
  terms: SeedTermsSchema,
  economics: CampaignEconomicsSchema.optional(),
});
export type SeedCampaign = z.infer<typeof SeedCampaignSchema>;

export const SeedTrackingNumberSchema = z.strictObject({
  accountId: IdSchema,
  number: E164Schema,
  campaignId: IdSchema,
  publisherId: IdSchema,
  subSource: subSource.nullable(),
});

// ---------------------------------------------------------------- parsing

/** zod → 400 with every bad field named (values never echoed). */
export function parseBody<S extends z.ZodType>(schema: S, json: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error.issues);
    throw new BadRequest(`Invalid ${what}: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`, errors);
  }
  return parsed.data;
}
