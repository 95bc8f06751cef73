/**
 * Use cases and routes: which carriers an account takes webhooks from, and with which credentials (by secret name;
 * shared/domain/catalog/carriers.ts).
 *
 *   PUT /v1/account/carriers/{carrier}   (admin) the carrier's settings: secret names, Vonage api key and application
 *   GET /v1/account/carriers              (any key) every carrier's settings (null: no webhook for it) and webhook path
 *
 * Only names are written; the secrets themselves are created in SSM under SECRETS_REF (docs/DEPLOY.md). The ingest
 * function reads the account through its configuration cache, so a change applies within 60 s.
 */
import * as z from 'zod';
import { CARRIER_SETTINGS_SCHEMAS, PlivoConfigSchema, SETTINGS_CARRIERS, TelnyxConfigSchema, TwilioConfigSchema, VonageConfigSchema, isSettingsCarrier, type CarrierConfigs, type SettingsCarrier } from '../../domain/catalog/carriers';
import { parseBody } from '../../domain/catalog/config-schema';
import { notFound } from '../kernel/errors';
import type { ApiKeyRecord } from '../kernel/ports';
import { jsonBody } from '../kernel/query';
import { route, type Route } from '../kernel/route';
import { requireAdmin } from './management';

export interface CarrierConfigStore {
  /** Writes one carrier's settings onto the account item; false when the account does not exist. */
  putCarrierConfig(accountId: string, carrier: SettingsCarrier, config: NonNullable<CarrierConfigs[SettingsCarrier]>): Promise<boolean>;
  /** The account's carrier settings (strongly consistent); null when the account does not exist. */
  readCarrierConfigs(accountId: string): Promise<CarrierConfigs | null>;
}

export interface CarrierConfigDeps {
  readonly store: CarrierConfigStore;
}

const webhookPath = (carrier: SettingsCarrier, accountId: string) => `/webhooks/${carrier}/${accountId}`;

export const CarrierSettingsSchema = z
  .object({
    carrier: z.enum(SETTINGS_CARRIERS),
    webhookPath: z.string().describe('Where the carrier posts, under the public base URL: /webhooks/<carrier>/<accountId>'),
    settings: z.union([TwilioConfigSchema, TelnyxConfigSchema, VonageConfigSchema, PlivoConfigSchema]).nullable().describe('null: no webhook of this carrier is accepted (404)'),
  })
  .meta({ id: 'CarrierSettings' });
export const CarrierSettingsListSchema = z.object({ carriers: z.array(CarrierSettingsSchema) }).meta({ id: 'CarrierSettingsList' });
type CarrierSettings = z.infer<typeof CarrierSettingsSchema>;

function carrierOf(raw: string): SettingsCarrier {
  if (!isSettingsCarrier(raw)) throw notFound(`No such carrier: use one of ${SETTINGS_CARRIERS.join(', ')}.`);
  return raw;
}

export async function putCarrierConfig(principal: ApiKeyRecord, rawCarrier: string, json: unknown, deps: CarrierConfigDeps): Promise<CarrierSettings> {
  requireAdmin(principal);
  const carrier = carrierOf(rawCarrier);
  const settings = parseBody(CARRIER_SETTINGS_SCHEMAS[carrier], json, `${carrier} settings`);
  if (!(await deps.store.putCarrierConfig(principal.accountId, carrier, settings))) throw notFound('The account of this key does not exist.');
  return { carrier, webhookPath: webhookPath(carrier, principal.accountId), settings };
}

export async function getCarrierConfigs(principal: ApiKeyRecord, deps: CarrierConfigDeps): Promise<{ carriers: CarrierSettings[] }> {
  const configs = await deps.store.readCarrierConfigs(principal.accountId);
  if (configs === null) throw notFound('The account of this key does not exist.');
  return { carriers: SETTINGS_CARRIERS.map((carrier) => ({ carrier, webhookPath: webhookPath(carrier, principal.accountId), settings: configs[carrier] ?? null })) };
}

export const CARRIER_CONFIG_ROUTES: readonly Route<CarrierConfigDeps>[] = [
  route<CarrierConfigDeps>({
    method: 'PUT',
    path: '/v1/account/carriers/{carrier}',
    summary:
      "A carrier's webhook settings for this account (admin): twilio {accountSid, authTokenSecret}, telnyx {publicKeySecrets}, vonage {apiKey, applicationId, signatureSecretSecrets, privateKeySecret?}, plivo {authId, authTokenSecrets}. Secret NAMES under SECRETS_REF (1-3 each while rotating), never values; applies within 60 s",
    auth: 'admin',
    request: z.union([TwilioConfigSchema, TelnyxConfigSchema, VonageConfigSchema, PlivoConfigSchema]),
    responses: { 200: { description: 'The settings', schema: CarrierSettingsSchema } },
    problems: [400, 401, 403, 404, 415],
    async handle(principal, req, deps) {
      return { status: 200, body: await putCarrierConfig(principal, req.pathParameters.carrier ?? '', jsonBody(req), deps) };
    },
  }),
  route<CarrierConfigDeps>({
    method: 'GET',
    path: '/v1/account/carriers',
    summary: "The account's settings for every carrier (null: that carrier's webhooks answer 404) and each webhook path",
    auth: 'bearer',
    responses: { 200: { description: 'The settings', schema: CarrierSettingsListSchema } },
    problems: [400, 401, 404],
    async handle(principal, _req, deps) {
      return { status: 200, body: await getCarrierConfigs(principal, deps) };
    },
  }),
];
