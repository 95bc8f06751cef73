/**
 * zod schemas for configuration: the seed file (events/seed/*.json) and, later, the management API share them.
 */
import * as z from 'zod';
import { BadRequest, fieldErrors } from './problems';

const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 lower-case letters, digits or dashes');

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number like +15125550101');

const timeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone');

export const AccountSchema = z.strictObject({
  accountId: id,
  name: z.string().min(1).max(200),
  timeZone,
  currency: z.literal('USD'),
  twilio: z.strictObject({
    accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits'),
    authTokenSecret: z.string().regex(/^[A-Za-z0-9/_.-]{1,200}$/, 'must be a secret name'),
  }),
});

export const PublisherSchema = z.strictObject({
  accountId: id,
  publisherId: id,
  name: z.string().min(1).max(200),
});

export const CampaignTermsSchema = z.strictObject({
  version: z.number().int().min(1),
  priceCents: z.number().int().min(1).max(10_000_000),
  bufferSec: z.number().int().min(0).max(86_400),
  duplicateWindowHours: z.number().int().min(0).max(24 * 366),
});

export const CampaignSchema = z.strictObject({
  accountId: id,
  campaignId: id,
  name: z.string().min(1).max(200),
  vertical: z.string().min(1).max(64),
  terms: CampaignTermsSchema,
});

export const TrackingNumberSchema = z.strictObject({
  accountId: id,
  number: e164,
  campaignId: id,
  publisherId: id,
  subSource: z.string().min(1).max(128).nullable(),
});

export const ApiKeySeedSchema = z.strictObject({
  accountId: id,
  role: z.enum(['admin', 'analyst']),
  label: z.string().min(1).max(64),
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
    const publishers = new Set(seed.publishers.map((p) => `${p.accountId}/${p.publisherId}`));
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
      if (!publishers.has(`${t.accountId}/${t.publisherId}`))
        ctx.addIssue({ code: 'custom', path: ['trackingNumbers', i, 'publisherId'], message: 'names no publisher of this account' });
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
