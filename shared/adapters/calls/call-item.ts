/**
 * How a call's events and rating are stored on the call item (docs/CONTRACTS.md, "The call item").
 *
 * Bytes are money here: a billable call's item is written inside a transaction at 2 WCU per KB, and the gsi1 index
 * projects the whole item, so the item must stay under 1 KB (see capacity.ts and the capacity test). Hence:
 *
 * Slots are DynamoDB Maps with one-letter keys. What the slot's name or the call already says is not repeated:
 * - `accountId`, `callId` are on the item; `kind` and `status` (or `recordingId` + `recordingStatus`) are in the
 *   slot name (`s_<status>[_gather][_amd]`, `r_<recordingId>_<status>`); `provider` is the callId's prefix;
 * - the eventId is stored only when it is not the one parseTwilioEvent derives;
 * - times are epoch milliseconds (a Number is ~6 bytes, an ISO string 24), `receivedAt` as the delay after
 *   `occurredAt` (omitted when 0); a time not in `toISOString()` form is kept verbatim, so decoding is exact;
 * - a recording URL that ends in the recording's id (Twilio's always do) is stored without it;
 * - null fields are dropped;
 * - the custom SIP headers a call arrived with (`forwarded`, at most 8 and 512 characters) are the Map `x`.
 * decodeSlot restores exactly the event that was encoded, except for what is personal (docs/ARCHITECTURE.md
 * "PII"): the caller's number (`from`) is never stored in a slot; it is read back as '' (items written before caller numbers were sealed
 * kept it as `f` and are still read). Its location as Twilio derives it from the number (FromState, FromZip,
 * FromCountry) is kept only on the call's own terminal slots, whose event is the geography rule's input; other slots
 * read it back as null. What later steps need of the caller is on the item: `callerHash`, `ct` (encodeCallerTraits)
 * and, sealed, `callerEnc`.
 *
 * The rating is stored as what cannot be derived again (shared/domain/rating/decision.ts RecordedRating): the reasons
 * (verbatim), the terms version and the terms figures the rules used, and the inputs from outside the call (the prior
 * call of a duplicate, a pilot's refusal, a block-list entry, talk time, signals). It decodes to those typed inputs;
 * the per-rule explanation is the rating's own (rules.ts rateCall), run again by the rating explanation. The billing
 * facts (billable, amountCents, campaign, publisher, sub-source) are top-level attributes of the item.
 *
 * The stored recording is a Map with short keys too; its sha256 is stored as 32 raw bytes (Binary), not 64 hex.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { TERMINAL_STATUSES, type CallEvent, type CallStatus, type CallStatusEvent, type RecordingStatus, type RecordingStatusEvent } from '../../domain/calls/events';
import { LEG_SLOT_SEPARATOR } from '../../domain/calls/fold';
import { recordedRating, type RatingDecision, type RatingFacts, type ReasonCode, type RecordedRating, type RecordedRatingInputs } from '../../domain/rating/decision';
import type { CapRefusal } from '../../domain/pilots/caps';
import type { CallerNumberClass, CallerTraits } from '../../domain/quality/caller-traits';
import type { StoredRecording } from '../../app/kernel/ports';
import type { CallOutcomeOnCall } from '../../domain/outcomes/outcomes';
import { isQaVerdict, type CallQa } from '../../domain/qa/qa';

type Stored = Record<string, unknown>;

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

export function isSlotAttribute(attr: string): boolean {
  return attr.startsWith('s_') || attr.startsWith('r_') || attr.startsWith('c_');
}

// ------------------------------------------------------------------ times

function isCanonicalIso(value: string): number | null {
  const ms = Date.parse(value);
  return Number.isFinite(ms) && new Date(ms).toISOString() === value ? ms : null;
}

function encodeTimes(occurredAt: string, receivedAt: string): Record<string, AttributeValue> {
  const o = isCanonicalIso(occurredAt);
  const r = isCanonicalIso(receivedAt);
  const out: Record<string, AttributeValue> = { o: o === null ? S(occurredAt) : N(o) };
  if (o !== null && r !== null) {
    if (r !== o) out.r = N(r - o);
  } else {
    out.r = S(receivedAt);
  }
  return out;
}

function decodeTimes(stored: Stored): { occurredAt: string; receivedAt: string } {
  const occurredAt = typeof stored.o === 'number' ? new Date(stored.o).toISOString() : String(stored.o);
  const receivedAt =
    typeof stored.r === 'string'
      ? stored.r
      : typeof stored.o === 'number'
        ? new Date(stored.o + (typeof stored.r === 'number' ? stored.r : 0)).toISOString()
        : occurredAt;
  return { occurredAt, receivedAt };
}

// ------------------------------------------------------------------ slots

/**
 * call.status fields and their one-letter keys (the order is the encoding order). `from` is not among them: it is
 * never written (`f` is read on items written before caller numbers were sealed, see decodeSlot).
 */
const STATUS_FIELDS = [
  ['direction', 'd'],
  ['to', 't'],
  ['durationSec', 'u'],
  ['answeredBy', 'a'],
  ['stirVerstat', 'v'],
  ['digits', 'g'],
  ['fromState', 's'],
  ['fromZip', 'z'],
  ['fromCountry', 'c'],
  ['parentCallId', 'p'],
] as const satisfies readonly (readonly [keyof CallStatusEvent, string])[];

/** The caller's location fields: stored on the call's own terminal slots only (the geography rule's input). */
const LOCATION_KEYS: ReadonlySet<string> = new Set(['s', 'z', 'c']);

function isOwnTerminal(event: CallStatusEvent): boolean {
  return event.parentCallId === null && TERMINAL_STATUSES.has(event.status);
}

/** An event as its slot keeps it, i.e. as decodeSlot reads it back: without the caller, located only if own terminal. */
export function eventAtRest(event: CallEvent): CallEvent {
  if (event.kind !== 'call.status') return event;
  return { ...event, from: '', ...(isOwnTerminal(event) ? {} : { fromState: null, fromZip: null, fromCountry: null }) };
}

const RECORDING_FIELDS = [['recordingDurationSec', 'u']] as const satisfies readonly (readonly [keyof RecordingStatusEvent, string])[];

function providerOf(callId: string): string {
  return callId.slice(0, callId.indexOf(':'));
}

function defaultEventId(event: CallEvent): string {
  return event.kind === 'call.status'
    ? `${event.callId}:status:${event.status}${event.digits !== null ? ':gather' : ''}`
    : `${event.callId}:recording:${event.recordingId}:${event.recordingStatus}`;
}

function put(out: Record<string, AttributeValue>, key: string, value: unknown): void {
  if (value === null || value === undefined) return;
  out[key] = typeof value === 'number' ? N(value) : S(String(value));
}

/** The slot value (a Map) of an event; its attribute name is `slotName(event)`. */
export function encodeSlot(event: CallEvent): AttributeValue {
  const out = encodeTimes(event.occurredAt, event.receivedAt);
  put(out, 'q', event.sequenceNumber);
  if (event.kind === 'call.status') {
    const located = isOwnTerminal(event);
    for (const [field, key] of STATUS_FIELDS) if (located || !LOCATION_KEYS.has(key)) put(out, key, event[field]);
    // `x`: the custom SIP headers the call arrived with (bounded at parsing; not personal: no number is kept).
    if (event.forwarded !== undefined) out.x = { M: Object.fromEntries(Object.entries(event.forwarded).map(([name, value]) => [name, S(value)])) };
  } else {
    for (const [field, key] of RECORDING_FIELDS) put(out, key, event[field]);
    // `L`: the URL without its trailing recording id; `l`: the URL as it came.
    const url = event.recordingUrl;
    if (url !== null) out[url.endsWith(event.recordingId) ? 'L' : 'l'] = S(url.endsWith(event.recordingId) ? url.slice(0, -event.recordingId.length) : url);
  }
  if (event.provider !== providerOf(event.callId)) out.w = S(event.provider);
  // A child leg lives on its parent's item, whose call id the default would be built from: always store its id.
  if (event.eventId !== defaultEventId(event) || (event.kind === 'call.status' && event.parentCallId !== null)) out.i = S(event.eventId);
  return { M: out };
}

function field<T>(stored: Stored, key: string): T | null {
  return (stored[key] ?? null) as T | null;
}

/** The event stored in slot `attr` (value as unmarshalled), on the call `callId` of account `accountId`. */
export function decodeSlot(attr: string, stored: Stored, accountId: string, callId: string): CallEvent {
  // A completed leg's slot names the leg (fold.ts slotName): the event is the leg's own, as it was parsed.
  const leg = attr.startsWith('c_') ? attr.split(LEG_SLOT_SEPARATOR)[1] : undefined;
  const base = {
    provider: (field<string>(stored, 'w') ?? providerOf(callId)) as CallEvent['provider'],
    accountId,
    callId: leg ?? callId,
    ...decodeTimes(stored),
    sequenceNumber: field<number>(stored, 'q'),
  };
  if (attr.startsWith('s_') || attr.startsWith('c_')) {
    // `c_<status>[__<leg>]`: a child leg's status event (fold.ts isChildLeg), which carries its parentCallId.
    // `s_<status>[_gather][_amd]`: the suffixes name the event (fold.ts slotName), not the status.
    const status = (attr.startsWith('s_') ? attr.replace(/(_gather)?(_amd)?$/, '') : attr.split(LEG_SLOT_SEPARATOR)[0]!).slice(2) as CallStatus;
    const fields = Object.fromEntries(STATUS_FIELDS.map(([name, key]) => [name, field(stored, key)]));
    // No longer stored: ''. A clear `f` (written before) or one a deletion request removed: read as it is.
    const from = typeof stored.f === 'string' ? stored.f : '';
    const forwarded = typeof stored.x === 'object' && stored.x !== null ? { forwarded: stored.x as Record<string, string> } : {};
    const event = { kind: 'call.status', eventId: '', ...base, status, from, ...fields, ...forwarded } as unknown as CallStatusEvent;
    return { ...event, eventId: field<string>(stored, 'i') ?? defaultEventId(event) };
  }
  const cut = attr.lastIndexOf('_');
  const recordingId = attr.slice(2, cut);
  const recordingStatus = attr.slice(cut + 1) as RecordingStatus;
  const fields = Object.fromEntries(RECORDING_FIELDS.map(([name, key]) => [name, field(stored, key)]));
  const recordingUrl = typeof stored.L === 'string' ? `${stored.L}${recordingId}` : field<string>(stored, 'l');
  const event = { kind: 'recording.status', eventId: '', ...base, recordingId, recordingStatus, recordingUrl, ...fields } as unknown as RecordingStatusEvent;
  return { ...event, eventId: field<string>(stored, 'i') ?? defaultEventId(event) };
}

// ------------------------------------------------------------------ caller traits

const CLASS_CODES: Readonly<Record<CallerNumberClass, string>> = { valid: 'v', unallocatable: 'u', invalid: 'i', withheld: 'w' };
const CLASS_OF_CODE: Readonly<Record<string, CallerNumberClass>> = { v: 'valid', u: 'unallocatable', i: 'invalid', w: 'withheld' };

/**
 * The `ct` string: what later steps need of the caller instead of the number (quality-signals.ts CallerTraits), as
 * `<class>:<areaCode>:<numberBlock>` with a one-letter class and empty parts for null, e.g. `v:512:6:<16 chars>`
 * (24 B; the block contains one `:` itself).
 */
export function encodeCallerTraits(t: CallerTraits): AttributeValue {
  return S(`${CLASS_CODES[t.numberClass]}:${t.areaCode ?? ''}:${t.numberBlock ?? ''}`);
}

/** null for a value that is not one (never fails a read). */
export function decodeCallerTraits(value: unknown): CallerTraits | null {
  if (typeof value !== 'string') return null;
  const m = /^([vuiw]):(\d{3})?:(.*)$/.exec(value);
  if (m === null) return null;
  return { numberClass: CLASS_OF_CODE[m[1]!]!, areaCode: m[2] ?? null, numberBlock: m[3] === '' ? null : m[3]! };
}

// ------------------------------------------------------------------ rating

/**
 * The `rating` Map: what a call item records of its rating besides the billing facts (decision.ts RecordedRating),
 * one or two letters a field: `x` the reasons (space-separated, absent when none), `v` the terms version, `b` the
 * buffer and `h` the duplicate window the rules used, `pc`/`ps` the prior billed call of a duplicate and its start
 * (epoch ms), `ac` the campaign an unknown number pointed at, `cr` the pilot counter's refusal, `bk` the block-list
 * entry, `tk` the talk seconds measured, `sg` the quality signals (space-separated).
 */
export function encodeRating(decision: RatingDecision): AttributeValue {
  const { reasons, termsVersion, recorded } = recordedRating(decision);
  const out: Record<string, AttributeValue> = {};
  if (reasons.length > 0) out.x = S(reasons.join(' '));
  put(out, 'v', termsVersion);
  put(out, 'b', recorded.bufferSec);
  put(out, 'h', recorded.duplicateWindowHours);
  put(out, 'pc', recorded.priorBilled?.callId);
  put(out, 'ps', recorded.priorBilled?.billedStartMs);
  put(out, 'ac', recorded.assignedCampaignId);
  put(out, 'cr', recorded.capRefusal);
  put(out, 'bk', recorded.blockId);
  put(out, 'tk', recorded.talkSec);
  if (recorded.signals !== undefined && recorded.signals.length > 0) out.sg = S(recorded.signals.join(' '));
  return { M: out };
}

const CAP_REFUSALS: ReadonlySet<string> = new Set(['closed', 'spend_cap', 'daily_cap', 'max_calls'] satisfies CapRefusal[]);

/**
 * The rating a call item records: billing facts (top-level attributes of the item, `facts`) and the `rating` Map
 * as typed recorded inputs. Items of every age decode: a field a rating did not use is absent, never a failed read.
 */
export function decodeRating(stored: Stored, facts: RatingFacts): RecordedRating {
  const reasons = typeof stored.x === 'string' && stored.x !== '' ? (stored.x.split(' ') as ReasonCode[]) : [];
  const recorded: { -readonly [K in keyof RecordedRatingInputs]: RecordedRatingInputs[K] } = {};
  if (typeof stored.ac === 'string') recorded.assignedCampaignId = stored.ac;
  if (typeof stored.b === 'number') recorded.bufferSec = stored.b;
  if (typeof stored.h === 'number') recorded.duplicateWindowHours = stored.h;
  if (typeof stored.pc === 'string' && typeof stored.ps === 'number') recorded.priorBilled = { callId: stored.pc, billedStartMs: stored.ps };
  if (typeof stored.cr === 'string' && CAP_REFUSALS.has(stored.cr)) recorded.capRefusal = stored.cr as CapRefusal;
  if (typeof stored.bk === 'string') recorded.blockId = stored.bk;
  if (typeof stored.tk === 'number') recorded.talkSec = stored.tk;
  if (typeof stored.sg === 'string' && stored.sg !== '') recorded.signals = stored.sg.split(' ');
  return { ...facts, reasons, termsVersion: field<number>(stored, 'v'), recorded };
}

// ------------------------------------------------------------------ recording

/** The `recording` Map: the StoredRecording with one-letter keys, the time in epoch ms, the sha256 as bytes. */
export function encodeRecording(r: StoredRecording): AttributeValue {
  const out: Record<string, AttributeValue> = {
    i: S(r.recordingId),
    k: S(r.key),
    h: { B: Buffer.from(r.sha256, 'hex') },
    b: N(r.bytes),
    t: S(r.contentType),
  };
  put(out, 'd', r.durationSec);
  const at = isCanonicalIso(r.storedAt);
  out.a = at === null ? S(r.storedAt) : N(at);
  return { M: out };
}

export function decodeRecording(stored: Stored): StoredRecording {
  return {
    recordingId: String(stored.i),
    key: String(stored.k),
    sha256: Buffer.from(stored.h as Uint8Array).toString('hex'),
    bytes: Number(stored.b),
    durationSec: field<number>(stored, 'd'),
    contentType: String(stored.t),
    storedAt: typeof stored.a === 'number' ? new Date(stored.a).toISOString() : String(stored.a),
  };
}

// ------------------------------------------------------------------ outcome

/**
 * The `outcome` Map: the CRM outcome in force for the call (shared/domain/outcomes/outcomes.ts), written by the outcomes API
 * outside the rating and carried to reports by the campaign index (gsi3, ALL). One-letter keys, the time in epoch ms:
 * `e` externalId, `s` status, `r` revenueCents, `g` marginCents (gain), `o` occurredAt, `m` how it matched.
 */
export function encodeOutcome(o: CallOutcomeOnCall): AttributeValue {
  const at = isCanonicalIso(o.occurredAt);
  return {
    M: {
      e: S(o.externalId),
      s: S(o.status),
      r: N(o.revenueCents),
      g: N(o.marginCents),
      o: at === null ? S(o.occurredAt) : N(at),
      m: S(o.match),
    },
  };
}

export function decodeOutcome(stored: Stored): CallOutcomeOnCall {
  return {
    externalId: String(stored.e),
    status: String(stored.s) as CallOutcomeOnCall['status'],
    revenueCents: Number(stored.r),
    marginCents: Number(stored.g),
    occurredAt: typeof stored.o === 'number' ? new Date(stored.o).toISOString() : String(stored.o),
    match: stored.m === 'call_id' ? 'call_id' : 'caller_time',
  };
}

// ------------------------------------------------------------------ QA verdict

/**
 * The `qa` Map: the QA reviewer's verdict in force (shared/domain/qa/qa.ts), written by `POST /v1/calls/{callId}/qa`
 * (qa-repo.ts) outside the rating and carried to reports and QA samples by the campaign index (gsi3, ALL).
 * One-letter keys: `v` verdict, `n` note (absent when none), `r` reviewer (key label and role), `a` reviewedAt (ISO).
 */
export function encodeQa(qa: CallQa): AttributeValue {
  return { M: { v: S(qa.verdict), ...(qa.note === null ? {} : { n: S(qa.note) }), r: S(qa.reviewer), a: S(qa.reviewedAt) } };
}

/** null for a map that does not hold a known verdict (never fails a read). */
export function decodeQa(stored: Stored): CallQa | null {
  if (!isQaVerdict(stored.v)) return null;
  return {
    verdict: stored.v,
    note: typeof stored.n === 'string' ? stored.n : null,
    reviewer: String(stored.r ?? ''),
    reviewedAt: String(stored.a ?? ''),
  };
}
