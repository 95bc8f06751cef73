/**
 * Per-account credentials of every carrier (Twilio, Telnyx, Vonage, Plivo), as the account item stores them and
 * `PUT /v1/account/carriers/{carrier}` writes them. Every credential is a secret NAME resolved under SECRETS_REF (`telnyx/<accountId>/public-key` → SSM `/callledger/<env>/telnyx/…`),
 * never its value: the value never enters the main table, a seed file or an API answer.
 *
 * A carrier that verifies with a secret lists one to three of them: normally one, two or three while one is
 * replaced (Telnyx public key, Vonage signature secret, Plivo auth token), and a request verifies when any of them
 * matches. An account without a carrier's entry has no webhook for that carrier (404, as an unknown account).
 */
import * as z from 'zod';

/** A secret name (resolved under SECRETS_REF). */
export const SecretNameSchema = z.string().regex(/^[A-Za-z0-9/_.-]{1,200}$/, 'must be a secret name (letters, digits, / _ . -)');
const rotation = (what: string) =>
  z
    .array(SecretNameSchema)
    .min(1, `must name at least one ${what}`)
    .max(3, `at most 3 ${what}s (the current one and those being replaced)`)
    .refine((names) => new Set(names).size === names.length, 'must not repeat a secret name');
const providerKey = (what: string) => z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, `must be the ${what}`);

export const TwilioConfigSchema = z.strictObject({
  /** Every callback's AccountSid must be this: a request signed for another Twilio account is refused. */
  accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits'),
  /** The primary auth token X-Twilio-Signature is made with; it also fetches recordings (basic auth). */
  authTokenSecret: SecretNameSchema,
});

export const TelnyxConfigSchema = z.strictObject({
  /** The account's Ed25519 public key (Mission Control → Keys & Credentials), base64 of the 32 raw bytes. */
  // No recording credential: Telnyx's recording_urls are presigned storage URLs (valid 10 minutes), their own authority.
  publicKeySecrets: rotation('public key secret'),
});

export const VonageConfigSchema = z.strictObject({
  /** The JWT's `api_key` claim must be this: a token signed for another Vonage account is refused. */
  apiKey: providerKey('Vonage API key'),
  /** The JWT's `application_id` claim must be this. */
  applicationId: providerKey('Vonage application id'),
  /** The signature secret(s) (Dashboard → API settings), not the API secret. */
  signatureSecretSecrets: rotation('signature secret'),
  /** The application's private key (PEM): the recording fetcher signs its RS256 JWT with it; absent: no recordings. */
  privateKeySecret: SecretNameSchema.optional(),
});

export const PlivoConfigSchema = z.strictObject({
  /** The Auth ID: the user name of the recording fetcher's basic auth. */
  authId: providerKey('Plivo Auth ID'),
  /** The auth token(s) X-Plivo-Signature-V3 is made with; the first one also fetches recordings. */
  authTokenSecrets: rotation('auth token secret'),
});

export type TwilioConfig = z.infer<typeof TwilioConfigSchema>;
export type TelnyxConfig = z.infer<typeof TelnyxConfigSchema>;
export type VonageConfig = z.infer<typeof VonageConfigSchema>;
export type PlivoConfig = z.infer<typeof PlivoConfigSchema>;

/** The carriers besides Twilio, whose webhooks one function takes (carrier-ingest.ts). */
export const CARRIERS = ['telnyx', 'vonage', 'plivo'] as const;
export type Carrier = (typeof CARRIERS)[number];

/** Every carrier an account can hold settings for (`/v1/account/carriers/{carrier}`). */
export const SETTINGS_CARRIERS = ['twilio', ...CARRIERS] as const;
export type SettingsCarrier = (typeof SETTINGS_CARRIERS)[number];

/** An account without a carrier's entry takes no webhook of that carrier (404), Twilio's included. */
export interface CarrierConfigs {
  readonly twilio?: TwilioConfig;
  readonly telnyx?: TelnyxConfig;
  readonly vonage?: VonageConfig;
  readonly plivo?: PlivoConfig;
}

export const CARRIER_CONFIG_SCHEMAS = {
  telnyx: TelnyxConfigSchema,
  vonage: VonageConfigSchema,
  plivo: PlivoConfigSchema,
} as const satisfies Record<Carrier, z.ZodType>;

export const CARRIER_SETTINGS_SCHEMAS = { twilio: TwilioConfigSchema, ...CARRIER_CONFIG_SCHEMAS } as const satisfies Record<SettingsCarrier, z.ZodType>;

/**
 * The account's Twilio settings where a caller requires them (a Twilio traffic generator, a seed's demo account):
 * thrown when absent, naming the account, rather than a TypeError later.
 */
export function twilioOf(account: CarrierConfigs & { readonly accountId: string }): TwilioConfig {
  if (account.twilio === undefined) throw new Error(`account ${account.accountId} has no Twilio settings`);
  return account.twilio;
}

export function isSettingsCarrier(v: string): v is SettingsCarrier {
  return (SETTINGS_CARRIERS as readonly string[]).includes(v);
}

export function isCarrier(v: string): v is Carrier {
  return (CARRIERS as readonly string[]).includes(v);
}
