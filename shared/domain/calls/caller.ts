/**
 * Caller numbers are personal data. The domain turns what the provider sent as the caller (`From`) into ONE caller
 * identity, and derives a keyed hash of it (HMAC-SHA256 with a per-environment secret) that every match uses instead
 * of the number: duplicates, blocks, Do-Not-Call, consent, CRM outcomes, invoice reconciliation and deletion requests.
 * libphonenumber-js with the "min" metadata: enough to validate and format, small enough for a Lambda bundle.
 *
 * Every caller has an identity, so hiding or mangling the caller id is never a way around a rule that matches
 * callers (the duplicate window above all). `callerIdentity` is the one function from "what the provider sent" to it:
 *
 * | kind       | when                                                                  | canonical (hashed)          |
 * |------------|-----------------------------------------------------------------------|-----------------------------|
 * | `e164`     | a valid phone number (any formatting; national forms in the US plan)  | `+15125550101`              |
 * | `number`   | digits that are not a valid number (unallocatable, wrong length)      | `+17370123456`, `digits:12` |
 * | `address`  | a SIP URI or Twilio Client identity without a phone number in it      | `addr:sip:alice@example.com`|
 * | `withheld` | the provider says the caller id is withheld (WITHHELD_CALLER_IDS)     | `withheld`                  |
 *
 * - A valid number's canonical form is its E.164 string, exactly what was hashed before identities existed, so hashes
 *   already stored (call items, block list, DNC, consent, outcomes, deletion requests) keep matching.
 * - Digits that libphonenumber can place in a country get the same `+<country><national>` form whether or not the
 *   number is valid: formatting never splits one caller into two, and if a metadata update later makes the number
 *   valid its identity does not change (same string). Digits it cannot place are `digits:` + `+`? + the digits.
 * - The kinds' canonical forms cannot collide: E.164-shaped strings start with `+`, the others with a prefix word.
 * - Every withheld caller shares ONE identity (per account: every store that matches callers is keyed by account).
 *   The buyer cannot tell two withheld callers apart, and a marker per withheld text would let a publisher rotate
 *   `anonymous` / `restricted` / `unknown` to bill the same caller three times. Under terms that bill withheld callers
 *   (`withheldCallerId: billable`) at most one withheld call bills per duplicate window; under the default
 *   (`non_billable`, rating rule `caller_id_withheld`) none does.
 */
import { createHmac } from 'node:crypto';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/min';
import { Unprocessable } from '../kernel/problems';
import type { Provider } from './events';

/**
 * What the caller's number is, without saying it: `withheld` (the caller id is withheld: callerIdentity),
 * `invalid` (not a possible number: wrong length, not digits, a SIP or client address), `unallocatable` (possible
 * length, outside the numbering plan), `valid`.
 */
export type CallerNumberClass = 'valid' | 'unallocatable' | 'invalid' | 'withheld';

export type CallerIdentityKind = 'e164' | 'number' | 'address' | 'withheld';

export interface CallerIdentity {
  readonly kind: CallerIdentityKind;
  /** The string the keyed hash is taken of (never stored or logged in clear). */
  readonly canonical: string;
  readonly numberClass: CallerNumberClass;
}

/** How a provider says "caller id withheld" in its caller field (callerIdentity applies them in this order). */
export interface WithheldCallerIdForms {
  /** Text that is not a number, a SIP URI or a client id is a withheld caller id (a description of one). */
  readonly freeText: boolean;
  /** A SIP user part or client name containing one of these (case-insensitive) is withheld. */
  readonly words: readonly string[];
  /** Numbers (E.164) that stand for a withheld caller id. */
  readonly numbers: readonly string[];
}

const PRIVACY_WORDS = ['anonymous', 'restricted', 'unknown', 'private', 'unavailable', 'withheld', 'blocked'];

/**
 * What a provider without a row of its own gets: free text and the privacy words (`Private`, `Restricted`,
 * `Unavailable`, `Anonymous`, `sip:anonymous@…` are how carriers deliver a withheld number), no withheld numbers.
 */
export const DEFAULT_WITHHELD_CALLER_ID_FORMS: WithheldCallerIdForms = { freeText: true, words: PRIVACY_WORDS, numbers: [] };

/**
 * How each provider says "caller id withheld", in one place (a provider adds its row here, nowhere else). An empty
 * caller is withheld for every provider. For Twilio (/work/shared notes: TwiML request parameters, the 2024-01-18
 * and 2022-11-16 changelogs):
 * - `From` is a phone number, a SIP URI, a `client:` identity, or else "a string that contains anonymous, unknown,
 *   or other descriptions" (case as sent since 2024-07-22): any other text is a withheld caller id (`freeText`);
 * - `words`: a SIP user part or client name containing one of them is withheld too (RFC 3323's
 *   `sip:anonymous@anonymous.invalid`, `client:anonymous`);
 * - `numbers`: the keypad spellings `<Dial>` legs used for withheld ids until 2022-11 (ANONYMOUS, RESTRICTED, UNKNOWN,
 *   BLOCKED, UNAVAILABLE). None is a valid number in its country's plan, so no real caller is mistaken for withheld.
 */
export const WITHHELD_CALLER_IDS: Readonly<Partial<Record<Provider, WithheldCallerIdForms>>> = {
  twilio: {
    freeText: true,
    words: PRIVACY_WORDS,
    numbers: ['+266696687', '+7378742833', '+8656696', '+2562533', '+86282452253'],
  },
};

function withheldForms(provider: Provider): WithheldCallerIdForms {
  return WITHHELD_CALLER_IDS[provider] ?? DEFAULT_WITHHELD_CALLER_ID_FORMS;
}

/** The identity every withheld caller shares. */
export const WITHHELD_IDENTITY: CallerIdentity = { kind: 'withheld', canonical: 'withheld', numberClass: 'withheld' };

/** Digits with the formatting people and systems put around them, optionally `+` first: nothing else. */
const DIALABLE = /^\+?[\d\s().\-/]*\d[\d\s().\-/]*$/;
const SIP_URI = /^sips?:([^@;?>]+)@([^;?>]+)/i;
const CLIENT = /^client:(.+)$/i;

function containsWord(text: string, words: readonly string[]): boolean {
  const lower = text.toLowerCase();
  return words.some((w) => lower.includes(w));
}

/** A dialable string's identity (never withheld unless it is one of the provider's withheld numbers). */
function numberIdentity(dialable: string, provider: Provider, defaultCountry: CountryCode): CallerIdentity {
  const parsed = parsePhoneNumberFromString(dialable, defaultCountry);
  if (parsed === undefined) {
    const digits = dialable.replace(/\D/g, '');
    return { kind: 'number', canonical: `digits:${dialable.startsWith('+') ? '+' : ''}${digits}`, numberClass: 'invalid' };
  }
  if (withheldForms(provider).numbers.includes(parsed.number)) return WITHHELD_IDENTITY;
  if (parsed.isValid()) return { kind: 'e164', canonical: parsed.number, numberClass: 'valid' };
  return { kind: 'number', canonical: parsed.number, numberClass: parsed.isPossible() ? 'unallocatable' : 'invalid' };
}

/** The caller identity of what the provider sent as the caller (pure; see the module comment). */
export function callerIdentity(sent: string, provider: Provider = 'twilio', defaultCountry: CountryCode = 'US'): CallerIdentity {
  const forms = withheldForms(provider);
  const trimmed = sent.normalize('NFC').trim();
  if (trimmed === '') return WITHHELD_IDENTITY;
  const tel = trimmed.replace(/^tel:/i, '');
  if (DIALABLE.test(tel)) return numberIdentity(tel, provider, defaultCountry);
  const sip = SIP_URI.exec(trimmed);
  if (sip !== null) {
    const user = decodeURIComponentSafe(sip[1]!);
    if (DIALABLE.test(user)) return numberIdentity(user, provider, defaultCountry);
    if (containsWord(user, forms.words)) return WITHHELD_IDENTITY;
    const host = sip[2]!.replace(/:\d+$/, '').toLowerCase();
    return { kind: 'address', canonical: `addr:sip:${user}@${host}`, numberClass: 'invalid' };
  }
  const client = CLIENT.exec(trimmed);
  if (client !== null) {
    if (containsWord(client[1]!, forms.words)) return WITHHELD_IDENTITY;
    return { kind: 'address', canonical: `addr:client:${client[1]!}`, numberClass: 'invalid' };
  }
  if (forms.freeText || containsWord(trimmed, forms.words)) return WITHHELD_IDENTITY;
  return { kind: 'address', canonical: `addr:${trimmed}`, numberClass: 'invalid' };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Whether the provider's caller id says the caller is withheld. */
export function isWithheldCallerId(sent: string, provider: Provider = 'twilio'): boolean {
  return callerIdentity(sent, provider).kind === 'withheld';
}

/** E.164 for a valid phone number (any formatting), or null for anything else (withheld, SIP, client, invalid). */
export function normaliseNumber(raw: string, defaultCountry: CountryCode = 'US'): string | null {
  const identity = callerIdentity(raw, 'twilio', defaultCountry);
  return identity.kind === 'e164' ? identity.canonical : null;
}

/** Hex HMAC-SHA256 of a canonical identity (for a valid number: its E.164 string): stable per environment, useless without the key. */
export function callerHash(key: string, canonical: string): string {
  return createHmac('sha256', key).update(canonical, 'utf8').digest('hex');
}

/** The keyed hash of an identity: what every caller match compares. */
export function identityHash(key: string, identity: CallerIdentity): string {
  return callerHash(key, identity.canonical);
}

/**
 * A caller number someone TYPED (a block-list path, a DNC line, a consent record, a CRM outcome, a deletion request,
 * an invoice line), as the identity the writer gives the same number: valid numbers and other digits alike. Refused:
 * - `withheld`: a withheld marker names no caller; listing, consenting or matching it would apply to every withheld
 *   caller of the account at once (the terms' `withheldCallerId` decides about those);
 * - `not_a_number`: text that is no phone number (a typo, a SIP address), digits no country plan can place, or
 *   national digits that are no possible number.
 */
export function typedCallerIdentity(raw: string): CallerIdentity | 'withheld' | 'not_a_number' {
  const identity = callerIdentity(raw);
  if (identity.kind === 'address') return 'not_a_number';
  // Digits no country plan can place (`digits:`) are a provider's oddity, and national digits that cannot even be a
  // number (`12`) a typo; digits typed in international form (`+1512555014`) are taken as written.
  const international = raw.trim().replace(/^tel:/i, '').startsWith('+');
  if (identity.canonical.startsWith('digits:') || (identity.kind === 'number' && identity.numberClass === 'invalid' && !international)) return 'not_a_number';
  if (identity.kind !== 'withheld') return identity;
  // Withheld by the provider's rules; typed, only a marker word or a withheld number is meant as one, other text is a typo.
  const trimmed = raw.trim();
  if (trimmed === '') return 'not_a_number';
  return containsWord(trimmed, PRIVACY_WORDS) || DIALABLE.test(trimmed.replace(/^tel:/i, '')) ? 'withheld' : 'not_a_number';
}

/**
 * The 422 for a withheld marker typed where a caller is meant (typedCallerIdentity): it names no caller, and as
 * the identity every withheld caller shares it would block, list, consent, match or erase all of them at once.
 */
export function withheldCallerRefusal(field: string): Unprocessable {
  return new Unprocessable(
    'A withheld caller id names no caller: every withheld caller shares one identity, so it would apply to all of them. Campaign terms decide whether withheld callers bill (withheldCallerId).',
    [{ field, message: 'must be a caller number, not a withheld caller id (anonymous, restricted, unknown, …)' }],
  );
}

/** `+15125550101` → `+1512•••0101`: enough to recognise, not enough to dial. */
export function maskNumber(e164: string): string {
  if (e164.length <= 8) return '•'.repeat(e164.length);
  return `${e164.slice(0, 5)}•••${e164.slice(-4)}`;
}
