/**
 * The UpdateItem expressions of a call item: its event slots (first write wins), its account and its rating fields,
 * with the conditions that keep a call one account's and rated once. UpdateBuilder also remembers what it assigns,
 * so the capacity model can compute the item after the update (call-images.ts).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { foldCall, isChildLeg, slotName } from '../../domain/calls/fold';
import type { CallEvent } from '../../domain/calls/events';
import type { RatingDecision } from '../../domain/rating/decision';
import type { RatedCall, Rerating } from '../../app/rating/ports';
import type { Item } from '../platform/dynamodb/capacity';
import { encodeCallerTraits, encodeRating, encodeSlot } from './call-item';
import { callerIndex, callIndex, campaignIndex } from './keys';

/** One event per slot: two events for the same slot in one request would overlap (first eventId wins). */
function uniqueSlots(events: readonly CallEvent[]): Map<string, CallEvent> {
  const sorted = [...events].sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  const slots = new Map<string, CallEvent>();
  for (const e of sorted) if (!slots.has(slotName(e))) slots.set(slotName(e), e);
  return slots;
}

export class UpdateBuilder {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, AttributeValue> = {};
  private readonly sets: string[] = [];
  /** What the SET clauses assign, so the capacity model can compute the item after the update. */
  private readonly assigned: { attr: string; value: AttributeValue; ifNotExists: boolean }[] = [];
  private n = 0;
  private v = 0;

  name(attr: string): string {
    const k = `#a${this.n++}`;
    this.names[k] = attr;
    return k;
  }

  value(val: AttributeValue): string {
    const k = `:v${this.v++}`;
    this.values[k] = val;
    return k;
  }

  set(attr: string, val: AttributeValue): this {
    this.sets.push(`${this.name(attr)} = ${this.value(val)}`);
    this.assigned.push({ attr, value: val, ifNotExists: false });
    return this;
  }

  /** `attr = :existing` for a placeholder already made with value(). */
  setTo(attr: string, placeholder: string): this {
    this.sets.push(`${this.name(attr)} = ${placeholder}`);
    this.assigned.push({ attr, value: this.values[placeholder]!, ifNotExists: false });
    return this;
  }

  setIfNotExists(attr: string, val: AttributeValue): this {
    const n = this.name(attr);
    this.sets.push(`${n} = if_not_exists(${n}, ${this.value(val)})`);
    this.assigned.push({ attr, value: val, ifNotExists: true });
    return this;
  }

  expression(): string {
    return `SET ${this.sets.join(', ')}`;
  }

  /** The item after this update, given the item before it (null: the update creates it with `key`). */
  applyTo(before: Item | null, key: Item): Item {
    const after: Item = { ...(before ?? key) };
    for (const a of this.assigned) if (!a.ifNotExists || after[a.attr] === undefined) after[a.attr] = a.value;
    return after;
  }
}

export const S = (s: string): AttributeValue => ({ S: s });
export const N = (n: number): AttributeValue => ({ N: String(n) });

/** Writes the event slots (first write wins) and the account; returns the `:acct` placeholder. */
export function setSlotsAndAccount(b: UpdateBuilder, accountId: string, events: readonly CallEvent[]): string {
  for (const [slot, e] of uniqueSlots(events)) b.setIfNotExists(slot, encodeSlot(e));
  const acct = b.value(S(accountId));
  b.setTo('accountId', acct);
  return acct;
}

/**
 * Whether the rated call connected (terminal status `completed`), from the events the rating was made with: the
 * terminal event is always among them (process-ingest-batch.ts folds it from the same list). Falls back on the
 * decision's `not_connected` rule; unknown → false (the call then stays out of the caller index).
 */
function ratedConnected(events: readonly CallEvent[], d: RatingDecision): boolean {
  const own = events.filter((e) => !isChildLeg(e));
  const terminal = own.length > 0 ? foldCall(own).terminal : null;
  if (terminal !== null) return terminal.status === 'completed';
  return d.rules.find((r) => r.rule === 'not_connected')?.inputs.status === 'completed';
}

/** The rating fields, written once with the rating (absent optional fields are not written: bytes cost WCU). */
export function setRating(b: UpdateBuilder, callId: string, accountId: string, rated: RatedCall, events: readonly CallEvent[], callerEnc: string | null): void {
  const d = rated.decision;
  b.set('rating', encodeRating(d))
    .set('ratedAt', S(rated.ratedAt))
    .set('startedAt', S(rated.startedAt))
    .set('endedAt', S(rated.endedAt))
    .set('durationSec', N(rated.durationSec))
    .set('billable', { BOOL: d.billable })
    .set('amountCents', N(d.amountCents))
    .set('gsi1pk', S(callIndex.pk(accountId)))
    .set('gsi1sk', S(callIndex.sk(rated.startedAt, callId)));
  if (d.campaignId !== null) b.set('campaignId', S(d.campaignId));
  if (d.publisherId !== null) b.set('publisherId', S(d.publisherId));
  if (d.subSource !== null) b.set('subSource', S(d.subSource));
  if (rated.callerHash !== null) b.set('callerHash', S(rated.callerHash));
  // The number itself only sealed (shared/domain/privacy/pii.ts); legacy items carry a clear `callerE164`.
  if (callerEnc !== null) b.set('callerEnc', S(callerEnc));
  // The slots carry no number: what re-rating and the quality pass need of the caller (call-item.ts).
  if (rated.callerTraits != null) b.set('ct', encodeCallerTraits(rated.callerTraits));
  // The sparse indexes (their sort key is gsi1sk): a campaign's calls, and a caller's connected calls.
  if (d.campaignId !== null) b.set('gsi3pk', S(campaignIndex.pk(accountId, d.campaignId)));
  if (rated.callerHash !== null && ratedConnected(events, d)) b.set('gsi2pk', S(callerIndex.pk(accountId, rated.callerHash)));
}

/** `attribute_not_exists(pk) OR accountId = :acct`: the call is new or already this account's. */
export function sameAccountCondition(b: UpdateBuilder, acct: string): string {
  return `(attribute_not_exists(${b.name('pk')}) OR ${b.name('accountId')} = ${acct})`;
}

function notRatedCondition(b: UpdateBuilder, acct: string): string {
  return `attribute_not_exists(${b.name('rating')}) AND ${sameAccountCondition(b, acct)}`;
}

/**
 * The condition of a call's rating write: not rated yet, or, for a re-rating, still rated as it was read
 * (`ratedAt` is unique per rating write) and not billable, so a re-rating never touches a charged call.
 */
export function ratingCondition(b: UpdateBuilder, acct: string, rerate: Rerating | undefined): string {
  if (rerate === undefined) return notRatedCondition(b, acct);
  return `${b.name('ratedAt')} = ${b.value(S(rerate.expectRatedAt))} AND ${b.name('billable')} = ${b.value({ BOOL: false })} AND ${b.name('accountId')} = ${acct}`;
}

/** A call item (table or gsi1/gsi3 image) as the StoredCall the use cases read. */
