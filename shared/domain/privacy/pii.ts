/**
 * Caller numbers at rest and in answers. Three forms of a caller's number exist:
 *
 * - the keyed hash (caller.ts): what matching uses (duplicates, block lists, outcomes); never reversible;
 * - the sealed envelope, `v1:<keyId>:<iv>:<ciphertext+tag>` (base64url, AES-256-GCM), the only form stored on a
 *   call item: it is what an `admin` key's call detail shows once opened. The additional authenticated data is the
 *   account and the call, so an envelope copied onto another call (or account) does not open;
 * - the mask (`+1512•••0123`, caller.ts maskNumber), what `analyst` keys see.
 *
 * This module is the pure part: the envelope's text form, the AAD and the role rule. The cipher itself (node:crypto,
 * data keys from KMS or a local key) is shared/adapters/privacy/pii-cipher.ts.
 */
import { maskNumber } from '../calls/caller';
import type { ApiRole } from '../kernel/roles';

export const ENVELOPE_VERSION = 'v1';

/** Where an envelope belongs: part of its AAD. */
export interface CallerContext {
  readonly accountId: string;
  readonly callId: string;
}

/** Seals and opens caller numbers (implemented in shared/adapters/privacy/pii-cipher.ts). */
export interface CallerCipher {
  encryptCaller(e164: string, ctx: CallerContext): Promise<string>;
  /** Throws if the envelope is malformed, its key unknown, or it belongs to another call or account. */
  decryptCaller(envelope: string, ctx: CallerContext): Promise<string>;
}

/** The parts of an envelope, each base64url (no padding) except the key id. */
export interface EnvelopeParts {
  readonly keyId: string;
  readonly iv: string;
  readonly sealed: string;
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export function formatEnvelope(p: EnvelopeParts): string {
  if (!KEY_ID.test(p.keyId) || !B64URL.test(p.iv) || !B64URL.test(p.sealed)) throw new Error('formatEnvelope: malformed part');
  return `${ENVELOPE_VERSION}:${p.keyId}:${p.iv}:${p.sealed}`;
}

/** The parts of a `v1:` envelope, or null when the text is not one. */
export function parseEnvelope(value: string): EnvelopeParts | null {
  const parts = value.split(':');
  if (parts.length !== 4 || parts[0] !== ENVELOPE_VERSION) return null;
  const [, keyId, iv, sealed] = parts as [string, string, string, string];
  if (!KEY_ID.test(keyId) || !B64URL.test(iv) || !B64URL.test(sealed)) return null;
  return { keyId, iv, sealed };
}

/** The additional authenticated data binding an envelope to its call; the account id is length-prefixed so no two pairs collide. */
export function callerAad(ctx: CallerContext): string {
  return `callledger:caller:${ENVELOPE_VERSION}:${ctx.accountId.length}:${ctx.accountId}:${ctx.callId}`;
}

/** What a key of `role` may see of a caller's number: all of it for `admin`, a mask for `analyst`. */
export function callerForRole(role: ApiRole, e164: string | null): string | null {
  if (e164 === null) return null;
  return role === 'admin' ? e164 : maskNumber(e164);
}
