/**
 * What a carrier webhook verifier and parser answer, shared by every provider. Pure: no HTTP status, no I/O, no
 * clock (the caller passes `nowMs`).
 *
 * A verifier never throws on what the sender controls: it answers `{ ok: true }` or a refusal with a stable code,
 * so that the HTTP table can map codes to statuses without parsing messages, and so that a test can assert the
 * exact reason a request was refused. A parser is total in the same way: any body gives an event, a documented
 * "nothing to record" (an event type that carries no billing fact), or a refusal naming the bad fields (never
 * their values: they may be phone numbers).
 */
import { timingSafeEqual } from 'node:crypto';
import type { CallEvent, Provider } from '../events';

/** Every reason a signed request is refused. Each provider uses the subset its scheme can produce. */
export const SIGNATURE_REFUSAL_CODES = [
  /** The signature (or bearer token) header is absent or empty. */
  'signature_missing',
  /** The header is present but cannot be decoded (bad base64, wrong length, not a three-part JWT). */
  'signature_malformed',
  /** The signature was checked and does not match the request under any of the account's credentials. */
  'signature_invalid',
  /** The signed timestamp (`telnyx-timestamp`, the JWT `iat`) is absent. */
  'timestamp_missing',
  /** The signed timestamp is not a whole number of seconds. */
  'timestamp_malformed',
  /** The signed timestamp is more than the tolerance in the past: a replay, or a delivery held too long. */
  'timestamp_stale',
  /** The signed timestamp is more than the tolerance in the future. */
  'timestamp_future',
  /** Plivo: `X-Plivo-Signature-V3-Nonce` is absent or empty. */
  'nonce_missing',
  /** Vonage: the JWT header names an algorithm other than HS256 (`none` included). */
  'alg_not_allowed',
  /** Vonage: the JWT claims are not a JSON object, or a registered claim has the wrong type. */
  'claims_invalid',
  /** Vonage: the JWT carries an `exp` that has passed. */
  'token_expired',
  /** Vonage: the JWT carries an `nbf` that has not come yet. */
  'token_not_yet_valid',
  /** Vonage: the JWT carries no `payload_hash` claim. */
  'payload_hash_missing',
  /** Vonage: `payload_hash` is not the SHA-256 of the body received: the body was changed after signing. */
  'payload_hash_mismatch',
  /** A correctly signed request names another provider account (Vonage `api_key` / `application_id`). */
  'account_mismatch',
  /** None of the account's configured credentials can be used (a malformed public key): our fault, not the sender's. */
  'credentials_unusable',
] as const;
export type SignatureRefusalCode = (typeof SIGNATURE_REFUSAL_CODES)[number];

/**
 * Who is at fault, for the HTTP table: `unauthenticated` (nothing to check), `forbidden` (checked and refused),
 * `misconfigured` (the account's credentials are unusable; the request may be genuine, so it must be retried later).
 */
export type RefusalKind = 'unauthenticated' | 'forbidden' | 'misconfigured';

export const SIGNATURE_REFUSAL_KIND: Readonly<Record<SignatureRefusalCode, RefusalKind>> = {
  signature_missing: 'unauthenticated',
  signature_malformed: 'forbidden',
  signature_invalid: 'forbidden',
  timestamp_missing: 'unauthenticated',
  timestamp_malformed: 'forbidden',
  timestamp_stale: 'forbidden',
  timestamp_future: 'forbidden',
  nonce_missing: 'unauthenticated',
  alg_not_allowed: 'forbidden',
  claims_invalid: 'forbidden',
  token_expired: 'forbidden',
  token_not_yet_valid: 'forbidden',
  payload_hash_missing: 'forbidden',
  payload_hash_mismatch: 'forbidden',
  account_mismatch: 'forbidden',
  credentials_unusable: 'misconfigured',
};

export interface SignatureRefusal<C extends SignatureRefusalCode = SignatureRefusalCode> {
  readonly ok: false;
  readonly provider: Provider;
  readonly code: C;
  /** A sentence for the problem body; never a header value, a body excerpt or a credential. */
  readonly detail: string;
}

export type Verification<C extends SignatureRefusalCode = SignatureRefusalCode> =
  | { readonly ok: true; readonly provider: Provider }
  | SignatureRefusal<C>;

export function refuse<C extends SignatureRefusalCode>(provider: Provider, code: C, detail: string): SignatureRefusal<C> {
  return { ok: false, provider, code, detail };
}

/** A field the parser refused, by name and rule; structurally a problem-details `FieldError`. */
export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

export const PARSE_REFUSAL_CODES = [
  /** The body is not what the provider sends at all (not JSON, not an object, not a form). */
  'body_malformed',
  /** The body has the provider's shape but named fields are missing or invalid. */
  'fields_invalid',
] as const;
export type ParseRefusalCode = (typeof PARSE_REFUSAL_CODES)[number];

/**
 * What parsing a verified body gives:
 * - `event`: the canonical event to enqueue;
 * - `ignored`: a well-formed event of a type that carries no billing fact (e.g. Telnyx `call.speak.ended`): the
 *   provider must get a 2xx (a 4xx would make it retry or fail over), and nothing is recorded;
 * - `refused`: the body is malformed; `errors` names every bad field.
 */
export type ParseOutcome =
  | { readonly kind: 'event'; readonly event: CallEvent }
  | { readonly kind: 'ignored'; readonly provider: Provider; readonly eventType: string }
  | {
      readonly kind: 'refused';
      readonly provider: Provider;
      readonly code: ParseRefusalCode;
      readonly detail: string;
      readonly errors: readonly FieldIssue[];
    };

export interface ParseContext {
  /** The CallLedger account from the URL path, whose credentials verified the request; never taken from the body. */
  readonly accountId: string;
  /** When the ingest function accepted the request (ISO-8601 UTC). */
  readonly receivedAt: string;
}

/** Request headers as received. Names are matched case-insensitively (API Gateway lowercases them, others do not). */
export type HeaderMap = Readonly<Record<string, string | undefined>>;

export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** Constant-time equality of two byte strings (false for different lengths, which leak nothing secret). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

/** Whole seconds since the epoch, as providers sign them. */
export function epochSeconds(nowMs: number): number {
  return Math.floor(nowMs / 1000);
}

/** Where a signed instant falls against the clock with a tolerance of `toleranceSec` both ways. */
export function freshness(signedAtSec: number, nowMs: number, toleranceSec: number): 'fresh' | 'stale' | 'future' {
  const now = epochSeconds(nowMs);
  if (now - signedAtSec > toleranceSec) return 'stale';
  if (signedAtSec - now > toleranceSec) return 'future';
  return 'fresh';
}

/** The replay window of the timestamped schemes (Telnyx, Vonage): 300 s either way, as Telnyx's own SDK enforces. */
export const SIGNATURE_TOLERANCE_SEC = 300;

/**
 * A number as the carrier sent it, in E.164 when it is one: Vonage and Plivo send digits without the `+`
 * (`447700900000`), Telnyx with it. Anything else (a SIP URI, `anonymous`, an empty caller) is kept as sent.
 */
export function e164IfDigits(raw: string): string {
  const trimmed = raw.trim();
  return /^[1-9]\d{6,14}$/.test(trimmed) ? `+${trimmed}` : trimmed;
}

/** Whole seconds from `fromIso` to `toIso`, floored (a started second is not a billed second); null if either is unknown. */
export function secondsBetween(fromIso: string | null, toIso: string | null): number | null {
  if (fromIso === null || toIso === null) return null;
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  return Number.isFinite(ms) ? Math.max(0, Math.floor(ms / 1000)) : null;
}

/** An ISO-8601 instant from a provider's text, or null when it is absent or not a time. */
export function isoOrNull(v: string | null | undefined): string | null {
  if (v === null || v === undefined || v.trim() === '') return null;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** Provider ids travel into item keys and slot names: letters, digits and `:._-` only, at most 128 characters. */
export const PROVIDER_ID = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$/;

/**
 * The SHAKEN/STIR result in Twilio's `StirVerstat` vocabulary (what quality signals read): a validated
 * attestation A/B/C is `TN-Validation-Passed-<level>`, an unvalidated one `TN-Validation-Failed-<level>`.
 */
export function stirVerstatOf(attestation: string | null, validated: boolean | null): string | null {
  const level = attestation?.trim().toUpperCase() ?? '';
  if (!/^[ABC]$/.test(level)) return null;
  return validated === true ? `TN-Validation-Passed-${level}` : `TN-Validation-Failed-${level}`;
}

/**
 * zod issues → field issues named by their path in the provider's body (`data.payload.call_leg_id`), without the
 * input values (they may be phone numbers).
 */
export function fieldIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[], prefix = ''): FieldIssue[] {
  return issues.map((i) => {
    const path = i.path.map(String).join('.');
    return { field: [prefix, path].filter((p) => p !== '').join('.') || '(root)', message: i.message };
  });
}

export function refusedFields(provider: Provider, what: string, errors: readonly FieldIssue[]): ParseOutcome {
  return {
    kind: 'refused',
    provider,
    code: 'fields_invalid',
    detail: `Malformed ${what}: ${errors.map((e) => e.field).join(', ')}.`,
    errors,
  };
}

export function refusedBody(provider: Provider, detail: string): ParseOutcome {
  return { kind: 'refused', provider, code: 'body_malformed', detail, errors: [] };
}

/** The body as UTF-8 text, or null when its bytes are not UTF-8 (no provider sends that). */
export function utf8Text(body: Uint8Array | string): string | null {
  if (typeof body === 'string') return body;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    return null;
  }
}

/** Strict, padded base64 (what Telnyx's SDK accepts); null for anything else. */
export function strictBase64(text: string): Buffer | null {
  if (text.length === 0 || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return null;
  return Buffer.from(text, 'base64');
}
