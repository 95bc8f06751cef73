/**
 * Postback secrets. Ringba, Retreaver and TrackDrive sign nothing they send, so the postback URL itself carries the
 * credential: `/webhooks/networks/{accountId}/{networkId}/{secret}`.
 *
 * - A secret is at least 32 random bytes (256 bits), base64url without padding (43+ characters, URL-safe as a path
 *   segment). The generator takes the bytes as an argument (the adapter passes `randomBytes(32)`), so it stays pure.
 * - Rotation keeps the previous secret valid until a stated instant (the overlap: the time the buyer needs to paste
 *   the new URL into every pixel of the network), then only the current one. Rotating again drops the older one.
 * - Comparison is constant-time in the secret's content and length: both sides are hashed (SHA-256) and compared
 *   with timingSafeEqual, and every live secret is compared, so neither timing nor which secret matched leaks.
 *   An unknown secret is a 404 with nothing written (the route's answer); the domain only says `null`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { CLAIM_FIELDS, type FieldMapping } from './registration';

export const SECRET_MIN_BYTES = 32;
/** Default overlap of a rotation: a week to update every pixel on the network's side. */
export const DEFAULT_ROTATION_OVERLAP_SEC = 7 * 86_400;
export const MAX_ROTATION_OVERLAP_SEC = 90 * 86_400;

const BASE64URL_SECRET = /^[A-Za-z0-9_-]{43,}$/;

/** A fresh secret from `random` (at least 32 bytes of a CSPRNG). */
export function generateSecret(random: Uint8Array): string {
  if (random.length < SECRET_MIN_BYTES) throw new RangeError(`a postback secret needs at least ${SECRET_MIN_BYTES} random bytes`);
  return Buffer.from(random).toString('base64url');
}

/** Whether `text` has the shape of a secret this module generates (a path segment that cannot be one is a 404 at once). */
export function isSecretShape(text: string): boolean {
  return BASE64URL_SECRET.test(text);
}

export interface PostbackSecrets {
  readonly current: string;
  /** The secret rotated out, valid until `validUntil` (exclusive); null when none is. */
  readonly previous: { readonly secret: string; readonly validUntil: string } | null;
  readonly rotatedAt: string | null;
}

export function initialSecrets(secret: string): PostbackSecrets {
  return { current: secret, previous: null, rotatedAt: null };
}

/** The secrets after rotating to `next` at `nowMs`: the current one stays valid for `overlapSec` more seconds. */
export function rotateSecrets(state: PostbackSecrets, next: string, nowMs: number, overlapSec = DEFAULT_ROTATION_OVERLAP_SEC): PostbackSecrets {
  if (!Number.isInteger(overlapSec) || overlapSec < 0 || overlapSec > MAX_ROTATION_OVERLAP_SEC) {
    throw new RangeError(`the overlap must be whole seconds from 0 to ${MAX_ROTATION_OVERLAP_SEC}`);
  }
  return {
    current: next,
    previous: overlapSec === 0 ? null : { secret: state.current, validUntil: new Date(nowMs + overlapSec * 1000).toISOString() },
    rotatedAt: new Date(nowMs).toISOString(),
  };
}

/**
 * What is stored of a secret: its SHA-256, hex. A 256-bit random secret needs neither salt nor stretching, and a
 * copy of the table then holds nothing that opens a postback URL. `matchSecret` over stored digests takes the
 * digest of the presented secret.
 */
export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Which live secret `presented` is at `nowMs` (`current`, `previous` during the overlap), or null. */
export function matchSecret(state: PostbackSecrets, presented: string, nowMs: number): 'current' | 'previous' | null {
  const given = digest(presented);
  const isCurrent = timingSafeEqual(given, digest(state.current));
  // Compared even when the current one matched, so the time taken does not say which one did.
  const isPrevious = state.previous !== null && timingSafeEqual(given, digest(state.previous.secret));
  if (isCurrent) return 'current';
  if (isPrevious && state.previous !== null && nowMs < Date.parse(state.previous.validUntil)) return 'previous';
  return null;
}

/** The postback path for a network (no origin): account and network ids percent-encoded, the secret as it is. */
export function postbackPath(accountId: string, networkId: string, secret: string): string {
  return `/webhooks/networks/${encodeURIComponent(accountId)}/${encodeURIComponent(networkId)}/${secret}`;
}

/** The postback URL on the deployment's public origin (`https://api.example.com`, no trailing slash needed). */
export function postbackUrl(publicBaseUrl: string, accountId: string, networkId: string, secret: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}${postbackPath(accountId, networkId, secret)}`;
}

/**
 * The URL to paste into the network: the postback URL with one `param=token` pair per mapped field that has a
 * token, in CLAIM_FIELDS order, and `event=<name>` when the pixel is for one event (a Ringba pixel per trigger).
 * Tokens stay as written (brackets unencoded): the platform replaces them in the text before it sends.
 */
export function postbackUrlTemplate(
  publicBaseUrl: string,
  ids: { readonly accountId: string; readonly networkId: string; readonly secret: string },
  mapping: FieldMapping,
  event?: string,
): string {
  const pairs: string[] = [];
  for (const field of CLAIM_FIELDS) {
    const source = mapping[field];
    if (source === undefined) continue;
    if (field === 'event') {
      if (event !== undefined) pairs.push(`${source.param}=${encodeURIComponent(event)}`);
    } else if (source.token !== null) {
      pairs.push(`${source.param}=${source.token}`);
    }
  }
  const url = postbackUrl(publicBaseUrl, ids.accountId, ids.networkId, ids.secret);
  return pairs.length === 0 ? url : `${url}?${pairs.join('&')}`;
}
