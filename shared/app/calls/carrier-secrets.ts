/**
 * The secrets a carrier's settings name, for every check that verifies a carrier's request (webhooks and voice URLs,
 * Twilio's included). A name the store lacks (not created yet, or deleted) is our misconfiguration, not the sender's
 * fault: a 503 with Retry-After, so the carrier retries and nothing is lost; never a 500, never a 403 that would read
 * as a forgery.
 */
import { ServiceUnavailable } from '../../domain/kernel/problems';
import type { SettingsCarrier } from '../../domain/catalog/carriers';
import type { SecretStore } from '../kernel/ports';

export async function carrierSecrets(carrier: SettingsCarrier, names: readonly string[], deps: { readonly secrets: Pick<SecretStore, 'getSecret'> }): Promise<string[]> {
  try {
    return await Promise.all(names.map((n) => deps.secrets.getSecret(n)));
  } catch (err) {
    if ((err as { name?: unknown } | null)?.name === 'SecretNotFound') throw new ServiceUnavailable(60, `The account's ${carrier} credentials are not configured; retry later.`);
    throw err;
  }
}
