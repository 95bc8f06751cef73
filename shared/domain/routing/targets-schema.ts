/**
 * zod schema of a destination (`PUT /v1/targets/{targetId}`), apart from targets.ts so that the voice function
 * does not bundle full zod. Shapes only, no transforms, so `z.toJSONSchema` documents it as the body it validates.
 * Limits and their reasons:
 * - ring timeout 5–60 s: Twilio's `<Dial timeout>` minimum is 5 s, and a caller rarely waits longer than a minute;
 * - a SIP URI under 255 characters (Twilio `<Sip>`), no whitespace or markup characters;
 * - priority 1–10 (1 first), weight 1–100 (its share of first tries within a priority);
 * - holidays are local dates in the hours' zone, at most 366.
 */
import * as z from 'zod';
import { E164Schema } from '../kernel/ids-schema';
import { singleLine } from '../kernel/input-schema';
import { GeographySchema, HoursOfOperationSchema } from '../terms/terms-schema';

const localDate = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])$/;

export const TargetDestinationSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('number'), e164: E164Schema }),
  z.strictObject({
    kind: z.literal('sip'),
    uri: z.string().max(254).regex(/^sips?:[^\s<>"'&]+@?[^\s<>"'&]*$/, 'must be a sip: or sips: URI without spaces, quotes, < > or &'),
  }),
]);

/** A target's hours: the campaign's hours of operation (terms-schema.ts), plus the local dates it is closed. */
export const TargetHoursSchema = HoursOfOperationSchema.safeExtend({
  holidays: z.array(z.string().regex(localDate, 'must be a local date YYYY-MM-DD')).max(366).default([]),
});

const cap = z.number().int('must be a whole number').min(1).max(100_000);

export const TargetBodySchema = z.strictObject({
  // Free text: no control characters (a name is shown in the audit and logs).
  name: singleLine(z.string().trim().min(1).max(200)),
  destination: TargetDestinationSchema,
  enabled: z.boolean().default(true),
  hours: TargetHoursSchema.nullable().default(null),
  concurrencyCap: cap.nullable().default(null),
  hourlyCap: cap.nullable().default(null),
  dailyCap: cap.nullable().default(null),
  geography: GeographySchema.nullable().default(null),
  priority: z.number().int().min(1).max(10).default(1),
  weight: z.number().int().min(1).max(100).default(1),
  ringTimeoutSec: z.number().int().min(5).max(60).nullable().default(null),
});
export type TargetBody = z.infer<typeof TargetBodySchema>;
