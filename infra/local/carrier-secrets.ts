/**
 * The local stack plays Telnyx, Vonage and Plivo: for every carrier secret an account of the seed names
 * (shared/domain/catalog/carriers.ts), it generates a value at start-up (never read from the seed), hands the
 * handlers the values through the environment as it does Twilio's auth tokens, and keeps what the carrier itself
 * holds (the Telnyx signing key, the Vonage application's public key) so tests and the fake media host can act
 * as the carrier.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Seed } from '../../shared/domain/catalog/seed';

export interface LocalCarrierSecrets {
  /** Secret name → its value, for every carrier secret the seed's accounts name. */
  readonly values: Record<string, string>;
  /** Telnyx public-key secret name → the Ed25519 private key (PKCS#8 PEM) that signs for it. */
  readonly telnyxSigningKeys: Record<string, string>;
  /** Vonage application id → the application's public key (SPKI PEM), which verifies the fetcher's media JWTs. */
  readonly vonagePublicKeys: Record<string, string>;
}

const token = (bytes: number) => randomBytes(bytes).toString('hex');

export function generateCarrierSecrets(seed: Seed): LocalCarrierSecrets {
  const values: Record<string, string> = {};
  const telnyxSigningKeys: Record<string, string> = {};
  const vonagePublicKeys: Record<string, string> = {};
  for (const account of seed.accounts) {
    for (const name of account.telnyx?.publicKeySecrets ?? []) {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      // Mission Control shows the base64 of the 32 raw key bytes: the SPKI DER without its 12-byte prefix.
      values[name] = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64');
      telnyxSigningKeys[name] = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    }
    for (const name of account.vonage?.signatureSecretSecrets ?? []) values[name] = token(24);
    if (account.vonage?.privateKeySecret !== undefined) {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      values[account.vonage.privateKeySecret] = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      vonagePublicKeys[account.vonage.applicationId] = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    }
    // Plivo auth tokens are 40 characters.
    for (const name of account.plivo?.authTokenSecrets ?? []) values[name] = token(20);
  }
  return { values, telnyxSigningKeys, vonagePublicKeys };
}

/** What the fake media host checks carriers' recording downloads against (infra/local/fake-media.ts). */
export interface FakeCarrierCredentials {
  /** Vonage application id → its public key (the fetcher's RS256 JWT names the application). */
  readonly vonagePublicKeys: Readonly<Record<string, string>>;
  /** Plivo Auth ID → its auth token (basic auth). */
  readonly plivo: ReadonlyMap<string, string>;
}

export function fakeCarrierCredentials(seed: Seed, secrets: LocalCarrierSecrets): FakeCarrierCredentials {
  const plivo = new Map<string, string>();
  for (const account of seed.accounts) {
    const firstToken = account.plivo?.authTokenSecrets[0];
    if (account.plivo !== undefined && firstToken !== undefined) plivo.set(account.plivo.authId, secrets.values[firstToken]!);
  }
  return { vonagePublicKeys: secrets.vonagePublicKeys, plivo };
}
