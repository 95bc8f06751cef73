/**
 * A network's claims: what it says happened on a call, parsed from its postbacks and folded into one claim per
 * network call id. A claim sits beside the buyer's own leg and never overwrites it (matching.ts compares them).
 *
 * Parsing (`postbackParams`, then `parsePostback`): the parameters come from the query string, a form body or a
 * flat-or-nested JSON object (nested keys joined with `.`), merged; a name given twice with different values is a
 * field error when a claim field reads it. Each claim field is read from the parameter the registration maps to it
 * (registration.ts `effectiveFields`):
 * - a value that is still a replacement token (`[Call:ConversionAmount]`, `[call_duration]`) or empty is absent:
 *   platforms leave a token unreplaced when the call has no such value;
 * - `callId` is required: 1–128 visible ASCII characters (it keys the claim);
 * - `caller` becomes the keyed caller hash through the injected `callerKey` (never kept in clear); withheld → null;
 * - `destination` is a phone number in any format (`15125550101` as Retreaver sends it) → E.164;
 * - `startedAt` is ISO-8601 with a zone, or epoch seconds (10 digits) or milliseconds (13 digits);
 * - `durationSec` whole seconds (a decimal part is dropped, as carriers count), at most a day;
 * - `payout` exact integer cents from the decimal text (`12.5`, `$1,234.50`, `45.500`; never through a float),
 *   not negative; JSON numbers are read from their shortest decimal form, exact for any amount of ≤ 15 digits;
 * - `converted` yes/no, true/false, 1/0, y/n (any case);
 * - `event` one of the platform event names in EVENT_NAMES (any case), so a new platform event is refused and
 *   seen rather than folded as something else.
 * Errors name the parameter and the claim field, never the value (it may be a phone number).
 *
 * Folding (`foldClaim`): postbacks of one call arrive late, duplicated and out of order, and carry no sequence, so
 * the fold is a join: each field combines by a rule that ignores order and repetition.
 * - `durationSec`, `payoutCents`: the largest reported (an early pixel carries 0; a postback never lowers a claim,
 *   a downward adjustment comes on the invoice);
 * - `startedAt`: the earliest reported; none reported → estimated as the earliest delivery's `receivedAt` minus its
 *   duration when that delivery reports the call's end (`completed`, `finalized`, `converted`, `payout`);
 * - `caller`, `destination`, `publisher`, `subSource`: the one value reported; two different values are a
 *   `conflicts` entry (matching.ts makes the call an `attribution_conflict`) and the smallest is kept;
 * - `counted` (the network bills the call): a `converted: yes` or a `converted` event anywhere → true; else a
 *   `converted: no` → false; else the payout > 0; else unknown (null);
 * - `events`: every event seen, in lifecycle order; `deliveries`: the distinct postbacks (a duplicate adds nothing).
 */
import { callerIdentity, identityHash, normaliseNumber } from '../calls/caller';
import type { FieldError } from '../kernel/problems';
import { isPathId, isPlainText, readInstant } from '../kernel/input';
import { parseAmountCents } from './money';
import { CLAIM_FIELDS, type ClaimField, type FieldMapping } from './registration';

/** Normalised events, in lifecycle order (a claim lists them in this order). */
export const NETWORK_EVENTS = ['incoming', 'connected', 'completed', 'converted', 'payout', 'finalized', 'recording', 'error'] as const;
export type NetworkEvent = (typeof NETWORK_EVENTS)[number];

/** Platform event names (lowercase) → event: Ringba's pixel triggers, Retreaver's webhook triggers, common synonyms. */
export const EVENT_NAMES: Readonly<Record<string, NetworkEvent>> = {
  incoming: 'incoming',
  start: 'incoming',
  started: 'incoming',
  selected: 'incoming',
  connected: 'connected',
  answered: 'connected',
  completed: 'completed',
  ended: 'completed',
  converted: 'converted',
  conversion: 'converted',
  payout: 'payout',
  finalized: 'finalized',
  finished: 'finalized',
  recording: 'recording',
  error: 'error',
};

/** Events that are sent at or after the call's end: their delivery time minus the duration estimates the start. */
const END_EVENTS: ReadonlySet<NetworkEvent> = new Set(['completed', 'finalized', 'converted', 'payout']);

export const MAX_CLAIM_DURATION_SEC = 86_400;
export const MAX_CLAIM_TEXT = 128;

/** A postback's parameters: name → every value given (query and body merged). */
export type PostbackParams = ReadonlyMap<string, readonly string[]>;

export type ParamsResult = { readonly ok: true; readonly params: PostbackParams } | { readonly ok: false; readonly code: 'body_malformed' | 'unsupported_media_type'; readonly errors: readonly FieldError[] };

function add(into: Map<string, string[]>, name: string, value: string): void {
  const prior = into.get(name);
  if (prior === undefined) into.set(name, [value]);
  else prior.push(value);
}

/** JSON scalars as text (numbers in their shortest decimal form), nested objects flattened with `.`; arrays repeat the name. */
function flattenJson(into: Map<string, string[]>, prefix: string, value: unknown): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    for (const v of value) flattenJson(into, prefix, v);
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flattenJson(into, prefix === '' ? k : `${prefix}.${k}`, v);
  } else if (prefix !== '') {
    add(into, prefix, String(value));
  }
}

/**
 * The parameters of a postback: the query string's, then the body's (`application/x-www-form-urlencoded`, or
 * `application/json` holding an object). An empty body needs no type (GET pixels); any other type is refused.
 */
export function postbackParams(input: { readonly query: string; readonly contentType: string | null; readonly body: string }): ParamsResult {
  const params = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(input.query.replace(/^\?/, ''))) add(params, name, value);
  if (input.body.trim() === '') return { ok: true, params };
  const type = (input.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    for (const [name, value] of new URLSearchParams(input.body)) add(params, name, value);
    return { ok: true, params };
  }
  if (type === 'application/json' || type.endsWith('+json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(input.body);
    } catch {
      return { ok: false, code: 'body_malformed', errors: [{ field: '(body)', message: 'must be JSON' }] };
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { ok: false, code: 'body_malformed', errors: [{ field: '(body)', message: 'must be a JSON object' }] };
    }
    flattenJson(params, '', parsed);
    return { ok: true, params };
  }
  return { ok: false, code: 'unsupported_media_type', errors: [{ field: 'content-type', message: 'must be application/x-www-form-urlencoded or application/json (or no body)' }] };
}

/** One postback, parsed: the network's word on one call at one delivery. */
export interface NetworkPostback {
  readonly networkCallId: string;
  /** Keyed hash of the caller's identity; null when not sent or withheld (a withheld caller names no one). */
  readonly callerKey: string | null;
  /** E.164. */
  readonly destination: string | null;
  readonly startedAt: string | null;
  readonly durationSec: number | null;
  readonly publisher: string | null;
  readonly subSource: string | null;
  readonly payoutCents: number | null;
  readonly converted: boolean | null;
  readonly event: NetworkEvent | null;
  readonly receivedAt: string;
}

export type PostbackResult = { readonly ok: true; readonly postback: NetworkPostback } | { readonly ok: false; readonly errors: readonly FieldError[] };

/** The caller hash function networks use: the caller identity's keyed hash, null for a withheld caller. */
export function networkCallerKey(hashKey: string): (sent: string) => string | null {
  return (sent) => {
    const identity = callerIdentity(sent);
    return identity.kind === 'withheld' ? null : identityHash(hashKey, identity);
  };
}

const UNREPLACED_TOKEN = /^\[[^[\]]+\]$/;

function readTime(raw: string): string | null {
  if (/^\d{10}$/.test(raw)) return new Date(Number(raw) * 1000).toISOString();
  if (/^\d{13}$/.test(raw)) return new Date(Number(raw)).toISOString();
  const instant = readInstant(raw.replace(' ', 'T'));
  return instant.ok ? instant.value : null;
}

function readBoolean(raw: string): boolean | null {
  const v = raw.toLowerCase();
  if (['yes', 'true', '1', 'y'].includes(v)) return true;
  if (['no', 'false', '0', 'n'].includes(v)) return false;
  return null;
}

/** A valid phone number as E.164: national (US plan) or international forms, and international digits without `+`. */
function readDestination(raw: string): string | null {
  return normaliseNumber(raw) ?? (/^\d{8,15}$/.test(raw) ? normaliseNumber(`+${raw}`) : null);
}

function text(raw: string): string | null {
  return raw.length <= MAX_CLAIM_TEXT && isPlainText(raw) ? raw : null;
}

interface Context {
  readonly receivedAt: string;
  readonly callerKey: (sent: string) => string | null;
}

/** One postback → its claim facts, or every field error at once (named by parameter, never quoting values). */
export function parsePostback(mapping: FieldMapping, params: PostbackParams, ctx: Context): PostbackResult {
  const errors: FieldError[] = [];
  const values: Partial<Record<ClaimField, string>> = {};
  for (const field of CLAIM_FIELDS) {
    const source = mapping[field];
    if (source === undefined) continue;
    const given = [...new Set((params.get(source.param) ?? []).map((v) => v.trim()))].filter((v) => v !== '' && !UNREPLACED_TOKEN.test(v));
    if (given.length > 1) errors.push({ field: source.param, message: `${field}: given more than once with different values` });
    else if (given.length === 1) values[field] = given[0]!;
  }
  const fail = (field: ClaimField, message: string) => errors.push({ field: mapping[field]!.param, message: `${field}: ${message}` });

  const callId = values.callId;
  if (mapping.callId === undefined) errors.push({ field: '(mapping)', message: 'callId: the registration maps no parameter to the network call id' });
  else if (callId === undefined) fail('callId', 'required (the network call id)');
  else if (!isPathId(callId)) fail('callId', 'must be 1 to 128 visible ASCII characters');

  const read = <T>(field: ClaimField, parse: (raw: string) => T | null, message: string): T | null => {
    const raw = values[field];
    if (raw === undefined) return null;
    const v = parse(raw);
    if (v === null) fail(field, message);
    return v;
  };
  const destination = read('destination', readDestination, 'must be a phone number (E.164 or national digits)');
  const startedAt = read('startedAt', readTime, 'must be an ISO-8601 instant with a zone, or epoch seconds or milliseconds');
  const durationSec = read(
    'durationSec',
    (raw) => (/^\d{1,6}(\.\d+)?$/.test(raw) && Math.floor(Number(raw)) <= MAX_CLAIM_DURATION_SEC ? Math.floor(Number(raw)) : null),
    `must be whole seconds from 0 to ${MAX_CLAIM_DURATION_SEC}`,
  );
  const payoutCents = read('payout', parseAmountCents, 'must be a non-negative decimal amount with at most two decimals (12.50)');
  const converted = read('converted', readBoolean, 'must be yes/no, true/false or 1/0');
  const event = read('event', (raw) => EVENT_NAMES[raw.toLowerCase()] ?? null, `must be one of ${Object.keys(EVENT_NAMES).join(', ')}`);
  const publisher = read('publisher', text, `must be at most ${MAX_CLAIM_TEXT} characters without control characters`);
  const subSource = read('subSource', text, `must be at most ${MAX_CLAIM_TEXT} characters without control characters`);
  const callerKey = values.caller === undefined ? null : ctx.callerKey(values.caller);

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    postback: { networkCallId: callId!, callerKey, destination, startedAt, durationSec, publisher, subSource, payoutCents, converted, event, receivedAt: ctx.receivedAt },
  };
}

/** One network call, every postback folded (see the module comment for each field's rule). */
export interface NetworkClaim {
  readonly networkCallId: string;
  readonly callerKey: string | null;
  readonly destination: string | null;
  readonly startedAt: string;
  readonly startSource: 'reported' | 'estimated';
  readonly durationSec: number | null;
  readonly publisher: string | null;
  readonly subSource: string | null;
  readonly payoutCents: number | null;
  readonly converted: boolean | null;
  /** Whether the network bills the call (see the module comment); null when nothing says. */
  readonly counted: boolean | null;
  readonly events: readonly NetworkEvent[];
  /** Fields whose postbacks disagree (never the values). */
  readonly conflicts: readonly ('caller' | 'destination' | 'publisher' | 'subSource')[];
  readonly firstReceivedAt: string;
  readonly lastReceivedAt: string;
  readonly deliveries: number;
}

function distinct(values: readonly (string | null)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== null))].sort();
}

function maxOf(values: readonly (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : Math.max(...present);
}

function minIso(values: readonly string[]): string | null {
  // ISO-8601 UTC strings in toISOString form sort as time.
  return values.length === 0 ? null : [...values].sort()[0]!;
}

/** A postback's content without its delivery time: two deliveries with the same key are one postback. */
function contentKey(p: NetworkPostback): string {
  const { receivedAt: _r, ...content } = p;
  return JSON.stringify(content, Object.keys(content).sort());
}

/** The claim of one network call from all its postbacks (non-empty, one networkCallId), in any order. */
export function foldClaim(postbacks: readonly NetworkPostback[]): NetworkClaim {
  const first = postbacks[0];
  if (first === undefined) throw new RangeError('a claim needs at least one postback');
  if (postbacks.some((p) => p.networkCallId !== first.networkCallId)) throw new RangeError('postbacks of different network calls');
  const conflicts: NetworkClaim['conflicts'][number][] = [];
  const single = (field: 'caller' | 'destination' | 'publisher' | 'subSource', values: (string | null)[]): string | null => {
    const d = distinct(values);
    if (d.length > 1) conflicts.push(field);
    return d[0] ?? null;
  };
  const callerKey = single('caller', postbacks.map((p) => p.callerKey));
  const destination = single('destination', postbacks.map((p) => p.destination));
  const publisher = single('publisher', postbacks.map((p) => p.publisher));
  const subSource = single('subSource', postbacks.map((p) => p.subSource));
  const durationSec = maxOf(postbacks.map((p) => p.durationSec));
  const payoutCents = maxOf(postbacks.map((p) => p.payoutCents));
  const flags = postbacks.map((p) => p.converted);
  const converted = flags.includes(true) ? true : flags.includes(false) ? false : null;
  const events = NETWORK_EVENTS.filter((e) => postbacks.some((p) => p.event === e));
  const counted = converted === true || events.includes('converted') ? true : converted === false ? false : payoutCents === null ? null : payoutCents > 0;
  const reported = minIso(distinct(postbacks.map((p) => p.startedAt)));
  const estimated = minIso(
    postbacks.map((p) => {
      const ms = Date.parse(p.receivedAt);
      const back = p.event !== null && END_EVENTS.has(p.event) && p.durationSec !== null ? p.durationSec * 1000 : 0;
      return new Date(ms - back).toISOString();
    }),
  )!;
  const received = postbacks.map((p) => p.receivedAt).sort();
  return {
    networkCallId: first.networkCallId,
    callerKey,
    destination,
    startedAt: reported ?? estimated,
    startSource: reported === null ? 'estimated' : 'reported',
    durationSec,
    publisher,
    subSource,
    payoutCents,
    converted,
    counted,
    events,
    conflicts,
    firstReceivedAt: received[0]!,
    lastReceivedAt: received[received.length - 1]!,
    deliveries: new Set(postbacks.map(contentKey)).size,
  };
}

/** Every claim of a set of postbacks (any networks' calls mixed, any order), one per network call id, sorted by it. */
export function foldClaims(postbacks: readonly NetworkPostback[]): NetworkClaim[] {
  const byCall = new Map<string, NetworkPostback[]>();
  for (const p of postbacks) {
    const list = byCall.get(p.networkCallId);
    if (list === undefined) byCall.set(p.networkCallId, [p]);
    else list.push(p);
  }
  return [...byCall.keys()].sort().map((id) => foldClaim(byCall.get(id)!));
}
