/**
 * Signing Telnyx, Vonage and Plivo webhooks the way the carriers do, for fixtures, tests and generated traffic.
 * Test tooling only: production code verifies (shared/domain/calls/providers/*), it never signs.
 */
import { createPrivateKey, sign as ed25519Sign } from 'node:crypto';
import { plivoSignature, type FormParams } from '../shared/domain/calls/providers/plivo';
import { telnyxSignedBytes } from '../shared/domain/calls/providers/telnyx';
import { sha256Hex, vonageJwtSignature } from '../shared/domain/calls/providers/vonage';

/** The two Telnyx headers for a body signed at `timestampSec` with an Ed25519 private key (PKCS#8 PEM). */
export type TelnyxHeaders = {
  readonly 'telnyx-signature-ed25519': string;
  readonly 'telnyx-timestamp': string;
};

export function signTelnyx(privateKeyPem: string, body: string | Uint8Array, timestampSec: number): TelnyxHeaders {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const timestamp = String(timestampSec);
  const signature = ed25519Sign(null, telnyxSignedBytes(timestamp, bytes), createPrivateKey(privateKeyPem));
  return { 'telnyx-signature-ed25519': signature.toString('base64'), 'telnyx-timestamp': timestamp };
}

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

export interface VonageClaims {
  readonly iat: number;
  readonly jti: string;
  readonly api_key: string;
  readonly application_id: string;
  readonly [claim: string]: unknown;
}

/**
 * A Vonage signed-callback JWT for a body: HS256 with the signature secret over header and claims, the claims
 * carrying `payload_hash` = hex SHA-256 of the body. `header` and `payloadHash` override what Vonage would send,
 * to build refused cases.
 */
export function vonageJwt(
  secret: string,
  body: string | Uint8Array,
  claims: VonageClaims,
  options: { readonly header?: Record<string, unknown>; readonly payloadHash?: string | null } = {},
): string {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const hash = options.payloadHash === undefined ? sha256Hex(bytes) : options.payloadHash;
  const fullClaims = { iss: 'Vonage', ...claims, ...(hash === null ? {} : { payload_hash: hash }) };
  const signingInput = `${b64url(options.header ?? { alg: 'HS256', typ: 'JWT' })}.${b64url(fullClaims)}`;
  return `${signingInput}.${vonageJwtSignature(secret, signingInput)}`;
}

/** The two Plivo V3 headers for a POST of `params` to `url`, one signature per token (several during rotation). */
export type PlivoHeaders = {
  readonly 'x-plivo-signature-v3': string;
  readonly 'x-plivo-signature-v3-nonce': string;
};

export function signPlivo(tokens: readonly string[], url: string, params: FormParams, nonce: string): PlivoHeaders {
  return {
    'x-plivo-signature-v3': tokens.map((t) => plivoSignature(t, 'POST', url, params, nonce)).join(','),
    'x-plivo-signature-v3-nonce': nonce,
  };
}
