/**
 * What a network that forwarded a call passed on it: the custom SIP headers (`X-…`) of the INVITE, as each carrier
 * hands them to its webhooks, kept provider-neutral on the call status event (events.ts `forwarded`). A network
 * names its call id this way (Retreaver `X-PH-RetreaverUUID`; Ringba a call token in a SIP header for SIP targets;
 * TrackDrive and others whatever the buyer configures), and matching pairs the claim with that id first.
 *
 * Where each carrier puts them:
 * - Twilio: `SipHeader_<name>` request parameters on the voice URL request of a call to a SIP domain;
 * - Vonage: `SipHeader_X-…` keys of the answer webhook;
 * - Plivo: `X-PH-…` request parameters (Plivo passes only headers with that prefix);
 * - Telnyx: `custom_headers` (`[{name, value}]`) of `call.initiated` and `call.answered`.
 * A network whose target is a SIP URI (TrackDrive's endpoint template with `[number_to_dial]`) passes values as the
 * URI's `?X-Name=value` headers, which become headers of the INVITE (RFC 3261 §19.1.1): they arrive the same way.
 *
 * Kept, and only this (a header can carry anything a network puts in it, and the event is stored on the call item):
 * - names `X-` + 1–62 of `[A-Za-z0-9._-]`, lower-cased (SIP header names are case-insensitive, RFC 3261 §7.3.1);
 *   none whose name says it is a credential (`…key`, `…secret`, `…password`, `…auth`, `…signature`, …, such as
 *   Retreaver's per-call API key `X-PH-RetreaverKey`): a secret is never stored;
 * - values of 1–128 printable ASCII characters, trimmed; never one that reads as a phone number or a telephony
 *   address (7–15 digits with only `+ ( ) . -` and spaces, a `sip:`/`tel:` URI) or contains the caller's number:
 *   caller numbers are personal data, and a network may pass the caller in a header;
 * - a name sent with two different values (or one refused) is ambiguous and dropped, so no arrival order decides;
 * - at most 8 headers and 512 characters of names and values together, in name order.
 * Everything else is left out: the event is recorded whatever the headers say (they never refuse a call).
 */
import type { CallStatusEvent } from './events';
import type { ParseOutcome } from './providers/verdicts';

/** The custom SIP headers kept on an event: lower-cased name → value. */
export type ForwardedHeaders = Readonly<Record<string, string>>;

export const FORWARDED_LIMITS = { maxHeaders: 8, maxValueLength: 128, maxTotalLength: 512 } as const;

/** A custom SIP header name as kept (and as a network registration may name one): `X-` + 1–62 of `[A-Za-z0-9._-]`. */
export const SIP_HEADER_NAME = /^[Xx]-[A-Za-z0-9._-]{1,62}$/;

/** A name that says its value is a credential. */
const CREDENTIAL_NAME = /(key|secret|password|passwd|pwd|auth|authorization|credentials?|signature|sig)$/i;

/** Whether a header of this name is kept (events) and so may name a network's call id (registration). */
export function isForwardableHeader(name: string): boolean {
  return SIP_HEADER_NAME.test(name) && !CREDENTIAL_NAME.test(name);
}

/** Whether the name is refused as a credential's (for the registration's explanation). */
export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_NAME.test(name);
}

function digitsOf(s: string): string {
  return s.replace(/\D/g, '');
}

/** A value that reads as a phone number or telephony address, or contains the caller's national number. */
function namesANumber(value: string, callerNational: string): boolean {
  if (/^(sips?|tel):/i.test(value)) return true;
  const digits = digitsOf(value);
  if (/^[+\d\s().-]+$/.test(value) && digits.length >= 7 && digits.length <= 15) return true;
  return callerNational.length >= 7 && digits.includes(callerNational);
}

function keptValue(raw: unknown, callerNational: string): string | null {
  if (typeof raw !== 'string') return null;
  const value = raw.trim();
  if (value === '' || value.length > FORWARDED_LIMITS.maxValueLength || !/^[\x20-\x7e]+$/.test(value)) return null;
  return namesANumber(value, callerNational) ? null : value;
}

/** The first headers in name order within the count and length limits. */
export function boundForwarded(headers: ReadonlyMap<string, string>): ForwardedHeaders | null {
  const out: Record<string, string> = {};
  let total = 0;
  let count = 0;
  for (const name of [...headers.keys()].sort()) {
    const value = headers.get(name)!;
    if (count === FORWARDED_LIMITS.maxHeaders) break;
    if (total + name.length + value.length > FORWARDED_LIMITS.maxTotalLength) continue;
    out[name] = value;
    total += name.length + value.length;
    count += 1;
  }
  return count === 0 ? null : out;
}

/**
 * The headers kept from `entries` (header name, value or values as sent) of a call whose caller is `caller` (as the
 * carrier sent it; its digits are what a value must not contain). Null when none is kept.
 */
export function forwardedHeaders(entries: Iterable<readonly [string, unknown]>, caller: string): ForwardedHeaders | null {
  // A SIP caller (`sip:+15125550112@203.0.113.7`) is its user part; the host is not the number.
  const callerNational = digitsOf(caller.replace(/^(sips?|tel):/i, '').split('@')[0] ?? '').slice(-10);
  const seen = new Map<string, string | null>();
  for (const [rawName, raw] of entries) {
    const name = rawName.toLowerCase();
    if (!isForwardableHeader(name)) continue;
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      const value = keptValue(v, callerNational);
      const prior = seen.get(name);
      seen.set(name, value === null || (prior !== undefined && prior !== value) ? null : value);
    }
  }
  const kept = new Map([...seen].filter((e): e is [string, string] => e[1] !== null));
  return boundForwarded(kept);
}

/**
 * The request parameters that carry SIP headers: those named `<prefix><header>` (Twilio and Vonage `SipHeader_`),
 * as [header, value]; with `keepPrefix`, those whose name starts with the prefix, named as they are (Plivo `X-PH-`).
 * The prefix is matched regardless of case.
 */
export function headerParams(params: Readonly<Record<string, unknown>>, prefix: string, keepPrefix = false): [string, unknown][] {
  const p = prefix.toLowerCase();
  return Object.entries(params)
    .filter(([name]) => name.toLowerCase().startsWith(p))
    .map(([name, value]) => [keepPrefix ? name : name.slice(prefix.length), value]);
}

/** Telnyx `custom_headers` (`[{name, value}]`) as [header, value]; anything else gives none. */
export function headerList(list: unknown): [string, unknown][] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((h): [string, unknown][] =>
    typeof h === 'object' && h !== null && typeof (h as { name?: unknown }).name === 'string' ? [[(h as { name: string }).name, (h as { value?: unknown }).value]] : [],
  );
}

/** `{ forwarded }` when any header is kept, else nothing: to spread into a call status event. */
export function forwardedField(entries: Iterable<readonly [string, unknown]>, caller: string): { readonly forwarded?: ForwardedHeaders } {
  const forwarded = forwardedHeaders(entries, caller);
  return forwarded === null ? {} : { forwarded };
}

/** A parse outcome with the kept headers on its call status event (recordings, refusals and ignored events unchanged). */
export function withForwarded(outcome: ParseOutcome, entries: Iterable<readonly [string, unknown]>): ParseOutcome {
  if (outcome.kind !== 'event' || outcome.event.kind !== 'call.status') return outcome;
  const event: CallStatusEvent = { ...outcome.event, ...forwardedField(entries, outcome.event.from) };
  return { ...outcome, event };
}
