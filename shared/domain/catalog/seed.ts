/**
 * The seed file (events/seed/*.json): accounts and API key labels (which have no management API yet), and
 * publishers, campaigns and tracking numbers validated with the management API's own schemas (config-schema.ts).
 * A seed campaign's `terms` become its version 1 and a seed number's assignment its first, both in force since
 * SEED_EPOCH (config.ts); later versions and re-assignments go through the API.
 */
import * as z from 'zod';
import { PlivoConfigSchema, TelnyxConfigSchema, TwilioConfigSchema, VonageConfigSchema } from './carriers';
import { undeclaredSubSource } from './config';
import { IdSchema, SeedCampaignSchema, SeedPublisherSchema, SeedTrackingNumberSchema } from './config-schema';
import { singleLine } from '../kernel/input-schema';
import { BadRequest, fieldErrors } from '../kernel/problems';
import { isTimeZone } from '../kernel/zoned-time';

const id = IdSchema;

const timeZone = z.string().refine(isTimeZone, 'must be an IANA time zone');

export const AccountSchema = z.strictObject({
  accountId: id,
  name: singleLine(z.string().min(1).max(200)),
  timeZone,
  currency: z.literal('USD'),
  twilio: TwilioConfigSchema.optional(),
  telnyx: TelnyxConfigSchema.optional(),
  vonage: VonageConfigSchema.optional(),
  plivo: PlivoConfigSchema.optional(),
});

/** Seed entries share the management API's schemas (config-schema.ts): a seed cannot hold what the API would refuse. */
export const PublisherSchema = SeedPublisherSchema;
export const CampaignSchema = SeedCampaignSchema;
export const TrackingNumberSchema = SeedTrackingNumberSchema;

export const ApiKeySeedSchema = z.strictObject({
  accountId: id,
  role: z.enum(['admin', 'analyst']),
  label: singleLine(z.string().min(1).max(64)),
});

export const SeedSchema = z
  .object({
    $comment: z.string().optional(),
    accounts: z.array(AccountSchema).min(1),
    apiKeys: z.array(ApiKeySeedSchema),
    publishers: z.array(PublisherSchema),
    campaigns: z.array(CampaignSchema),
    trackingNumbers: z.array(TrackingNumberSchema),
  })
  .strict()
  .superRefine((seed, ctx) => {
    const accounts = new Set(seed.accounts.map((a) => a.accountId));
    const publishers = new Map(seed.publishers.map((p) => [`${p.accountId}/${p.publisherId}`, p]));
    const campaigns = new Set(seed.campaigns.map((c) => `${c.accountId}/${c.campaignId}`));
    const refs: [keyof typeof seed, { accountId: string }[]][] = [
      ['apiKeys', seed.apiKeys],
      ['publishers', seed.publishers],
      ['campaigns', seed.campaigns],
      ['trackingNumbers', seed.trackingNumbers],
    ];
    for (const [list, items] of refs) {
      items.forEach((item, i) => {
        if (!accounts.has(item.accountId))
          ctx.addIssue({ code: 'custom', path: [list, i, 'accountId'], message: 'names no account in this seed' });
      });
    }
    const numbers = new Set<string>();
    seed.trackingNumbers.forEach((t, i) => {
      const publisher = publishers.get(`${t.accountId}/${t.publisherId}`);
      if (!publisher)
        ctx.addIssue({ code: 'custom', path: ['trackingNumbers', i, 'publisherId'], message: 'names no publisher of this account' });
      else if (undeclaredSubSource(publisher, t.subSource))
        ctx.addIssue({ code: 'custom', path: ['trackingNumbers', i, 'subSource'], message: 'is not one of the publisher\'s declared subSources' });
      if (!campaigns.has(`${t.accountId}/${t.campaignId}`))
        ctx.addIssue({ code: 'custom', path: ['trackingNumbers', i, 'campaignId'], message: 'names no campaign of this account' });
      if (numbers.has(t.number))
        ctx.addIssue({ code: 'custom', path: ['trackingNumbers', i, 'number'], message: 'is assigned twice' });
      numbers.add(t.number);
    });
  });

export type Seed = z.infer<typeof SeedSchema>;

export function parseSeed(json: unknown): Seed {
  const parsed = SeedSchema.safeParse(json);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error.issues);
    throw new BadRequest(`Invalid seed: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`, errors);
  }
  return parsed.data;
}
