/**
 * The carriers' official libraries as oracles for our verifiers (devDependencies, never bundled). Each answers
 * only accept / refuse, the way an application using the library would:
 * - Telnyx: `telnyx` `TelnyxWebhook#verify(body, headers)`, the check `client.webhooks.unwrap` runs before it parses
 *   the JSON (Ed25519, 300 s both ways, Date.now()).
 * - Vonage: `@vonage/jwt` `verifySignature(token, secret)`, which checks only the JWT signature, plus the two checks
 *   Vonage's signed-webhooks guide asks of every application and the library leaves out: `payload_hash` equals the
 *   SHA-256 of the body, and `iat` is fresh (300 s, the window CallLedger uses for Telnyx's SDK-enforced one); and,
 *   when the account's API key is known, the guide's "pick the secret by the api_key claim".
 * - Plivo: `plivo` `validateV3Signature(method, url, nonce, token, header, params)`, for each of the account's tokens.
 * The clock for Telnyx and for jsonwebtoken is Date.now(): tests fake it (vi.setSystemTime) to the signing instant.
 */
import { createHash } from 'node:crypto';
import { verifySignature } from '@vonage/jwt';
import plivo from 'plivo';
import { TelnyxWebhook } from 'telnyx/lib/webhooks';
import type { FormParams } from '../../shared/domain/calls/providers/plivo';

type Headers = Readonly<Record<string, string | undefined>>;

function defined(headers: Headers): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
}

function header(headers: Headers, name: string): string | undefined {
  return Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
}

export async function telnyxOracle(publicKeys: readonly string[], headers: Headers, body: string): Promise<boolean> {
  for (const publicKey of publicKeys) {
    try {
      await new TelnyxWebhook(publicKey).verify(body, defined(headers));
      return true;
    } catch {
      // try the next key
    }
  }
  return false;
}

export function vonageOracle(
  secrets: readonly string[],
  headers: Headers,
  body: Uint8Array,
  expectedApiKey?: string,
): boolean {
  const token = /^Bearer (.+)$/.exec(header(headers, 'authorization') ?? '')?.[1];
  if (token === undefined) return false;
  if (!secrets.some((s) => verifySignature(token, s))) return false;
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return false;
  }
  const hash = createHash('sha256').update(body).digest('hex');
  const nowSec = Math.floor(Date.now() / 1000);
  return (
    claims.payload_hash === hash &&
    typeof claims.iat === 'number' &&
    Math.abs(nowSec - claims.iat) <= 300 &&
    (expectedApiKey === undefined || claims.api_key === expectedApiKey)
  );
}

export function plivoOracle(tokens: readonly string[], url: string, params: FormParams, headers: Headers): boolean {
  const signature = header(headers, 'x-plivo-signature-v3');
  const nonce = header(headers, 'x-plivo-signature-v3-nonce');
  if (!signature || !nonce) return false;
  return tokens.some((t) => plivo.validateV3Signature('POST', url, nonce, t, signature, params as Record<string, string>));
}
