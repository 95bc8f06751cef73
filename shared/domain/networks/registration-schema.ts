/**
 * zod schema of the `PUT /v1/networks/{networkId}` body (registration.ts), with `.meta({ id })` for the OpenAPI
 * document. Kept apart from registration.ts so that code that only reads registrations does not bundle full zod.
 *
 * Rules beyond the shapes: destinations are distinct E.164 numbers (1–100); a `generic` network must map the call
 * id; two fields may not read the same parameter; parameter names are 1–64 characters of `[A-Za-z0-9_.-]`
 * (what a query string or a flattened JSON key carries without encoding); tokens are single-line text up to 128;
 * the forwarded call id's SIP header is one our legs keep (forwarded.ts: `X-…`, not named as a credential).
 */
import * as z from 'zod';
import { E164Schema } from '../catalog/config-schema';
import { singleLine } from '../kernel/input-schema';
import { SIP_HEADER_NAME, isCredentialHeader } from '../calls/forwarded';
import { parseCidr } from './ip-allow';
import { DEFAULT_ROTATION_OVERLAP_SEC, MAX_ROTATION_OVERLAP_SEC } from './secrets';
import {
  CLAIM_FIELDS,
  CREDIT_MODES,
  DEFAULT_CREDIT_WINDOW_DAYS,
  DEFAULT_DURATION_GAP_TOLERANCE_SEC,
  DEFAULT_START_TOLERANCE_SEC,
  MAX_CREDIT_WINDOW_DAYS,
  MAX_DURATION_GAP_TOLERANCE_SEC,
  MAX_START_TOLERANCE_SEC,
  NETWORK_KINDS,
  effectiveFields,
  sharedParams,
  type NetworkRegistrationRequest,
} from './registration';

const ParamName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1 to 64 characters of letters, digits, _ . -');

export const FieldSourceSchema = z.strictObject({
  param: ParamName.describe('The postback parameter (query, form field or flattened JSON key) that carries the field'),
  token: singleLine(z.string().min(1).max(128)).nullable().default(null).describe('The platform token that fills it, for the generated URL template'),
});

const FieldMappingSchema = z
  .strictObject(Object.fromEntries(CLAIM_FIELDS.map((f) => [f, FieldSourceSchema.optional()])) as Record<(typeof CLAIM_FIELDS)[number], z.ZodOptional<typeof FieldSourceSchema>>)
  .describe('Overrides of the kind’s default sources, field by field; for `generic` the whole mapping');

export const NetworkCreditPolicySchema = z.strictObject({
  mode: z.enum(CREDIT_MODES).default('propose').describe('auto_open: open a dispute for each disagreement; propose: list it for the buyer; off: neither'),
  windowDays: z.number().int().min(0).max(MAX_CREDIT_WINDOW_DAYS).default(DEFAULT_CREDIT_WINDOW_DAYS).describe('Days from the call’s start the network accepts disputes'),
});

export const MatchingTolerancesSchema = z.strictObject({
  startToleranceSec: z.number().int().min(0).max(MAX_START_TOLERANCE_SEC).default(DEFAULT_START_TOLERANCE_SEC),
  durationGapToleranceSec: z.number().int().min(0).max(MAX_DURATION_GAP_TOLERANCE_SEC).default(DEFAULT_DURATION_GAP_TOLERANCE_SEC),
});

export const ForwardedCallIdSchema = z
  .strictObject({
    sipHeader: z
      .string()
      .regex(SIP_HEADER_NAME, 'must be X- followed by 1 to 62 letters, digits, _ . -')
      .refine((h) => !isCredentialHeader(h), 'names a credential (…key, …secret, …auth, …signature): such a header is never kept')
      .describe('The custom SIP header of the INVITE that carries the network’s call id (the claim’s), e.g. X-PH-RetreaverUUID'),
  })
  .meta({ id: 'NetworkForwardedCallId' });

export const NetworkRegistrationSchema = z
  .strictObject({
    kind: z.enum(NETWORK_KINDS),
    name: singleLine(z.string().trim().min(1).max(128)),
    destinations: z
      .array(E164Schema)
      .min(1)
      .max(100)
      .refine((d) => new Set(d).size === d.length, 'must not repeat a number')
      .describe('The buyer’s numbers (E.164) the network forwards calls to'),
    fields: FieldMappingSchema.default({}),
    creditPolicy: NetworkCreditPolicySchema.default({ mode: 'propose', windowDays: DEFAULT_CREDIT_WINDOW_DAYS }),
    tolerances: MatchingTolerancesSchema.default({ startToleranceSec: DEFAULT_START_TOLERANCE_SEC, durationGapToleranceSec: DEFAULT_DURATION_GAP_TOLERANCE_SEC }),
    sourceIpAllowList: z
      .array(z.string().max(64))
      .max(100)
      .default([])
      .superRefine((list, ctx) => {
        list.forEach((cidr, i) => {
          const parsed = parseCidr(cidr);
          if ('error' in parsed) ctx.addIssue({ code: 'custom', path: [i], message: parsed.error });
        });
      })
      .describe('CIDRs (IPv4 or IPv6) postbacks may come from; empty: any'),
    forwardedCallId: ForwardedCallIdSchema.nullable()
      .optional()
      .describe('Where the forwarded call carries the network’s call id, so calls match their claims by id first; null: nowhere; absent: the kind’s default (retreaver: X-PH-RetreaverUUID; the others none)'),
  })
  .superRefine((body, ctx) => {
    const mapping = effectiveFields(body.kind, body.fields);
    if (mapping.callId === undefined) ctx.addIssue({ code: 'custom', path: ['fields', 'callId'], message: 'required for a generic network (the network call id keys every claim)' });
    for (const param of sharedParams(mapping)) {
      ctx.addIssue({ code: 'custom', path: ['fields'], message: `two fields read the parameter ${param}` });
    }
  })
  .meta({ id: 'NetworkRegistration' }) satisfies z.ZodType<NetworkRegistrationRequest>;

/** The body of a secret rotation: how long the secret in use stays valid beside the new one (secrets.ts rotateSecrets). */
export const RotateSecretSchema = z
  .strictObject({
    overlapSec: z
      .number()
      .int()
      .min(0)
      .max(MAX_ROTATION_OVERLAP_SEC)
      .default(DEFAULT_ROTATION_OVERLAP_SEC)
      .describe('Seconds the previous secret stays valid (time to update every pixel on the network); 0 revokes it at once'),
  })
  .meta({ id: 'NetworkSecretRotation' });
