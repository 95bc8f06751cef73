/**
 * Caller numbers are personal data. The domain normalises them to E.164 (libphonenumber-js, metadata "min":
 * enough to validate and format, small enough for a Lambda bundle) and derives a keyed hash (HMAC-SHA256 with
 * a per-environment secret) that duplicate detection uses instead of the number itself.
 */
import { createHmac } from 'node:crypto';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/min';

/** E.164 for a dialable number, or null for withheld / SIP / client identities and invalid numbers. */
export function normaliseNumber(raw: string, defaultCountry: CountryCode = 'US'): string | null {
  const trimmed = raw.trim();
  if (trimmed === '' || /anonymous|unknown|restricted|private|unavailable|^client:|^sip:/i.test(trimmed)) return null;
  const parsed = parsePhoneNumberFromString(trimmed, defaultCountry);
  return parsed && parsed.isValid() ? parsed.number : null;
}

/** Hex HMAC-SHA256 of the E.164 number: stable per environment, useless without the key. */
export function callerHash(key: string, e164: string): string {
  return createHmac('sha256', key).update(e164, 'utf8').digest('hex');
}

/** `+15125550101` → `+1512•••0101`: enough to recognise, not enough to dial. */
export function maskNumber(e164: string): string {
  if (e164.length <= 8) return '•'.repeat(e164.length);
  return `${e164.slice(0, 5)}•••${e164.slice(-4)}`;
}
