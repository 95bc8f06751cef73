/**
 * The counted caps of admission and routing (domain/routing/counters.ts decides; this file only spells), in the main
 * table (docs/CONTRACTS.md, "Admission"):
 *
 *   window          pk = CAPS#<accountId>#<campaign|target>#<id>   sk = DAY#<local day>   d, h<HH> (binary sets), ttl
 *   campaign lease  pk = CLEASE#<accountId>#<campaignId>          sk = SLOT#<n>          holder (callId), expiresAtMs
 *
 * Hourly and daily caps: one item per (owner, local day) holding the day's set `d` and each hour's set `h<HH>` of the
 * calls counted, so a count is ONE UpdateItem on one item: `ADD` of the call's member to each capped window's set,
 * conditional on `attribute_not_exists(set) OR size(set) < cap OR contains(set, member)` for each. ADD of a member
 * already in a set changes nothing, so a retried request never counts twice, and its condition holds even at the
 * cap. Concurrent calls of one campaign serialise on that item (single-item conditional updates, never a transaction,
 * so they never cancel each other: TransactionConflict). A refused count returns the item as it was (ALL_OLD) and the
 * sizes of its sets are the true counts admission is run again with.
 *
 * Improvements on storing the call ids themselves, and why:
 * - a member is the first 8 bytes of SHA-256(callId) (a binary set), not the ~41-byte call id: the item is read and
 *   written whole, so its size is the write's cost (1 WCU per KB) and bounds the cap it can hold (400 KB). Two calls
 *   share a member with probability ≈ n²/2⁶⁵ (nil for any cap a day can reach); if they did, the second would count as
 *   a retry of the first (one call over the cap, never a refused retry);
 * - a window without a cap is not stored (its set would only grow), and each write removes the hour sets older than
 *   the previous hour (never the previous one: a write still in flight from it must not lose a concurrent count of
 *   the current hour), so the item holds at most the day's set and two hours' sets: ≈ 10 B per call counted.
 * - `ttl` a few days after the last count (WINDOW_RETENTION_MS): past any retry of a call counted in it.
 *
 * The campaign's concurrency cap is lease slots exactly like a target's (routing-repo.ts): the first try is the slot
 * the call id hashes to (no read on the answer path); when its condition fails the slots are read once and the domain
 * picks a free or expired one (leases.ts slotToTry); none: the campaign is at its cap, and the live leases read are
 * the count. A slot expires by itself (counters.ts campaignHold), so a lost callback never blocks the campaign.
 */
import { createHash } from 'node:crypto';
import { QueryCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { AdmissionCounters, CountResult, HoldResult } from '../../app/routing/ports';
import type { CallSpan, CounterOwner, WindowCountWrite } from '../../domain/routing/counters';
import { campaignHold } from '../../domain/routing/counters';
import { liveLeaseCount, slotToTry, type LeaseSlot } from '../../domain/routing/leases';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { errorName } from '../platform/dynamodb/ddb-ops';

const N = (n: number): AttributeValue => ({ N: String(n) });

export const counterKeys = {
  window: (accountId: string, owner: CounterOwner, day: string) => ({ pk: `CAPS#${accountId}#${owner.kind}#${owner.id}`, sk: `DAY#${day}` }),
  leasePk: (accountId: string, campaignId: string) => `CLEASE#${accountId}#${campaignId}`,
  slot: (accountId: string, campaignId: string, slot: number) => ({ pk: counterKeys.leasePk(accountId, campaignId), sk: `SLOT#${slot}` }),
};

/** A call's member of a window set: the first 8 bytes of SHA-256(callId). */
export function windowMember(callId: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(callId, 'utf8').digest().subarray(0, 8));
}

/** The hour set's attribute name for a local hour `YYYY-MM-DDTHH`. */
export const hourAttribute = (hour: string) => `h${hour.slice(11, 13)}`;

/** Attempts at a free campaign slot after the hashed one was taken (each after one read of the slots). */
const HOLD_ATTEMPTS = 4;

export interface AdmissionCountersOptions {
  readonly mainTable: string;
  readonly client?: DynamoDBClient;
}

function hashedSlot(callId: string, cap: number): number {
  return createHash('sha256').update(callId).digest().readUInt32BE(0) % cap;
}

function setSize(item: Record<string, AttributeValue> | undefined, name: string): number {
  return item?.[name]?.BS?.length ?? 0;
}

export class AdmissionCounterRepo implements AdmissionCounters {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: AdmissionCountersOptions) {
    this.table = options.mainTable;
    this.client = dynamodbClient(options.client);
  }

  async count(accountId: string, w: WindowCountWrite): Promise<CountResult> {
    const hour = hourAttribute(w.hour);
    const names: Record<string, string> = { '#ttl': 'ttl' };
    const values: Record<string, AttributeValue> = { ':m': { BS: [windowMember(w.callId)] }, ':mb': { B: windowMember(w.callId) }, ':ttl': N(Math.ceil(w.expiresAtMs / 1000)) };
    const adds: string[] = [];
    const conditions: string[] = [];
    const capped = (alias: string, attr: string, cap: number | null) => {
      if (cap === null) return;
      names[alias] = attr;
      values[`:${alias.slice(1)}cap`] = N(cap);
      adds.push(`${alias} :m`);
      conditions.push(`(attribute_not_exists(${alias}) OR size(${alias}) < :${alias.slice(1)}cap OR contains(${alias}, :mb))`);
    };
    capped('#d', 'd', w.dayCap);
    capped('#h', hour, w.hourCap);
    // Hour sets before the previous hour: no write of this day can still count in them.
    const older = w.hourCap === null ? [] : Array.from({ length: Math.max(0, Number(w.hour.slice(11, 13)) - 1) }, (_, i) => `h${String(i).padStart(2, '0')}`);
    older.forEach((attr, i) => (names[`#o${i}`] = attr));
    const remove = older.length === 0 ? '' : ` REMOVE ${older.map((_, i) => `#o${i}`).join(', ')}`;
    try {
      const out = await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(counterKeys.window(accountId, w.owner, w.day)),
          UpdateExpression: `SET #ttl = :ttl ADD ${adds.join(', ')}${remove}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'UPDATED_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      // The sets now hold this call too: the counts besides it.
      const others = (name: string) => Math.max(0, setSize(out.Attributes, name) - 1);
      return { ok: true, thisHour: w.hourCap === null ? 0 : others(hour), today: w.dayCap === null ? 0 : others('d') };
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      const old = (err as { Item?: Record<string, AttributeValue> }).Item;
      return { ok: false, thisHour: setSize(old, hour), today: setSize(old, 'd') };
    }
  }

  async uncount(accountId: string, w: WindowCountWrite): Promise<void> {
    const names: Record<string, string> = {};
    const deletes: string[] = [];
    if (w.dayCap !== null) {
      names['#d'] = 'd';
      deletes.push('#d :m');
    }
    if (w.hourCap !== null) {
      names['#h'] = hourAttribute(w.hour);
      deletes.push('#h :m');
    }
    if (deletes.length === 0) return;
    try {
      await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(counterKeys.window(accountId, w.owner, w.day)),
          UpdateExpression: `DELETE ${deletes.join(', ')}`,
          // Never create the item: a give-back of a window that is gone (TTL) has nothing to give back.
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':m': { BS: [windowMember(w.callId)] } },
        }),
      );
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
    }
  }

  async hold(accountId: string, campaignId: string, cap: number, callId: string, atMs: number, span: CallSpan): Promise<HoldResult> {
    let slot: number | null = hashedSlot(callId, cap);
    for (let attempt = 0; attempt < HOLD_ATTEMPTS && slot !== null; attempt++) {
      if (await this.takeSlot(accountId, campaignId, slot, callId, atMs, span)) return { ok: true };
      const slots = await this.readSlots(accountId, campaignId);
      slot = slotToTry(cap, slots, callId, atMs);
      if (slot === null) return { ok: false, active: liveLeaseCount(slots, atMs) };
    }
    // Every free slot read was taken before this call could write it: the campaign is at its cap now.
    return { ok: false, active: cap };
  }

  private async takeSlot(accountId: string, campaignId: string, slot: number, callId: string, atMs: number, span: CallSpan): Promise<boolean> {
    const w = campaignHold(campaignId, slot, callId, atMs, span);
    try {
      await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(counterKeys.slot(accountId, campaignId, slot)),
          UpdateExpression: 'SET holder = :me, expiresAtMs = :exp',
          ConditionExpression: 'attribute_not_exists(holder) OR holder = :me OR expiresAtMs <= :now',
          ExpressionAttributeValues: { ':me': { S: callId }, ':exp': N(w.expiresAtMs ?? atMs), ':now': N(atMs) },
        }),
      );
      return true;
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      return false;
    }
  }

  async release(accountId: string, campaignId: string, cap: number, callId: string): Promise<void> {
    if (await this.clearSlot(accountId, campaignId, hashedSlot(callId, cap), callId)) return;
    const held = (await this.readSlots(accountId, campaignId)).find((s) => s.holder === callId);
    if (held !== undefined) await this.clearSlot(accountId, campaignId, held.slot, callId);
  }

  /** Clears the slot if the call holds it (a late release never frees another call's slot). */
  private async clearSlot(accountId: string, campaignId: string, slot: number, callId: string): Promise<boolean> {
    try {
      await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(counterKeys.slot(accountId, campaignId, slot)),
          UpdateExpression: 'REMOVE holder, expiresAtMs',
          ConditionExpression: 'holder = :me',
          ExpressionAttributeValues: { ':me': { S: callId } },
        }),
      );
      return true;
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      return false;
    }
  }

  async readSlots(accountId: string, campaignId: string): Promise<LeaseSlot[]> {
    const out = await this.client().send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: counterKeys.leasePk(accountId, campaignId) } },
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map((raw) => ({
      slot: Number(String(raw.sk?.S ?? '').slice('SLOT#'.length)),
      holder: raw.holder?.S ?? null,
      expiresAtMs: raw.expiresAtMs?.N === undefined ? null : Number(raw.expiresAtMs.N),
    }));
  }
}
