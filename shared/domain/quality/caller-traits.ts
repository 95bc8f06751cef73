/**
 * What the steps after rating know of a caller without the number: its class (caller.ts callerIdentity decides
 * it), its NANP area code, and its number block, kept only as a keyed hash. The number itself is only kept sealed.
 */
import { createHmac } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { callerIdentity, type CallerNumberClass } from '../calls/caller';

export type { CallerNumberClass };

/**
 * What the caller's number is, without saying it (caller.ts callerIdentity, the one place that decides it):
 * `withheld` (anonymous / restricted / unknown / empty, per provider), `invalid` (not a possible number, or a SIP /
 * client address), `unallocatable` (possible length, outside the numbering plan), `valid`.
 */
export function callerNumberClass(raw: string): CallerNumberClass {
  return callerIdentity(raw).numberClass;
}

// ---------------------------------------------------------------- number blocks

/**
 * The block a caller's number belongs to: country code + the first `digits` national digits (`1-512555` for
 * +1 512 555 0142 with 6). Null for numbers that are not possible numbers (withheld, invalid). Feed the detector
 * this, or a keyed hash of it if blocks must not be stored in clear.
 */
export function numberBlockOf(raw: string, digits: number): string | null {
  const identity = callerIdentity(raw);
  if (identity.numberClass !== 'valid' && identity.numberClass !== 'unallocatable') return null;
  const parsed = parsePhoneNumberFromString(identity.canonical);
  if (!parsed || !parsed.isPossible()) return null;
  return `${parsed.countryCallingCode}-${String(parsed.nationalNumber).slice(0, digits)}`;
}

/**
 * The number block as it is stored and compared: `<digits>:<keyed hash>`, HMAC-SHA256 under the
 * caller-hash key of `block:<digits>:<block>` (domain-separated from the caller hash, whose input is an E.164 number),
 * 16 base64url characters (96 bits). Blocks of different digit counts never compare equal. Null when numberBlockOf is.
 */
export function keyedNumberBlock(key: string, raw: string, digits: number): string | null {
  const block = numberBlockOf(raw, digits);
  if (block === null) return null;
  return `${digits}:${createHmac('sha256', key).update(`block:${digits}:${block}`, 'utf8').digest('base64url').slice(0, 16)}`;
}

/** The number-block digit count a keyedNumberBlock value was made with (null: not one). */
export function keyedBlockDigits(value: string): number | null {
  const m = /^(\d):[A-Za-z0-9_-]{16}$/.exec(value);
  return m === null ? null : Number(m[1]);
}

// ---------------------------------------------------------------- caller traits

/**
 * What the steps after rating need to know of a caller, without the number. Recorded on the call
 * item with the first rating, when the number is at hand; the number itself is only kept sealed (`callerEnc`):
 * - `numberClass`: robocall_suspect's `caller_number` rule, on re-rating;
 * - `areaCode`: the NANP area code of a valid +1 number (rating/rules.ts callerGeo), for the geography rule on re-rating
 *   and in the rating explanation; null otherwise;
 * - `numberBlock`: keyedNumberBlock at the account's velocity.numberBlockDigits then, for the quality pass.
 */
export interface CallerTraits {
  readonly numberClass: CallerNumberClass;
  readonly areaCode: string | null;
  readonly numberBlock: string | null;
}
