/**
 * What the capacity model (platform/dynamodb/capacity.ts) needs to price a write of a call item by AWS's rules: the
 * item before it, and the indexes the item can enter. Only the benchmark's and the tests' figures depend on it.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import { TABLES } from '../../../infra/resources';
import type { WindowRerate } from '../../app/rating/ports';
import { gsiWcu, updateWcu, type IndexShape, type Item } from '../platform/dynamodb/capacity';
import type { UpdateBuilder } from './call-update';
import { mainKeys } from './keys';

/** A main-table index as the capacity model sees it (infra/resources.ts). */
function indexShape(def: (typeof TABLES.main.globalSecondaryIndexes)[number]): IndexShape {
  return {
    partitionKey: def.partitionKey.name,
    sortKey: def.sortKey.name,
    projected: 'projection' in def && def.projection === 'KEYS_ONLY' ? [] : 'ALL',
    tableKeys: [TABLES.main.partitionKey.name, TABLES.main.sortKey.name],
  };
}

/**
 * Every index of the main table a call item can enter: gsi1 (ALL), gsi2 (connected calls by caller, KEYS_ONLY: a
 * write costs 1 WCU when the call enters it and nothing afterwards) and gsi3 (calls by campaign, ALL: like gsi1,
 * every later write of a rated call item that changes it costs one more index write per KB).
 */
export const CALL_INDEXES: readonly IndexShape[] = TABLES.main.globalSecondaryIndexes.map(indexShape);

/** How many call items are remembered (for the capacity model only). */
const KNOWN_IMAGES = 1000;

const S = (s: string) => ({ S: s });
const N = (n: number) => ({ N: String(n) });

/** Table and index WCU of a call item's UpdateItem, from the item before and after it. */
function callWriteWcu(before: Item | null, after: Item, transactional: boolean): number {
  return updateWcu(before, after, { transactional }) + CALL_INDEXES.reduce((sum, index) => sum + gsiWcu(before, after, index), 0);
}

/**
 * The last image of recently written or read call items. Single-item updates learn the image before them from
 * ReturnValues=ALL_OLD (free: no extra capacity); a transaction cannot return it, so the capacity model prices
 * the rating transaction's update against the image remembered here. Exact when this container wrote or read
 * the item last (always so for the benchmark and the local stack); otherwise the model sees only what the
 * transaction writes, a lower bound.
 */
export class CallImages {
  private readonly images = new Map<string, Item>();

  get(callId: string): Item | null {
    return this.images.get(callId) ?? null;
  }

  remember(callId: string, image: Item): void {
    this.images.delete(callId);
    this.images.set(callId, image);
    if (this.images.size > KNOWN_IMAGES) this.images.delete(this.images.keys().next().value!);
  }

  /** An UpdateItem of the call item; returns the AWS-model WCU (table + indexes) and remembers the new image. */
  priceUpdate(callId: string, b: UpdateBuilder, before: Item | null, transactional: boolean): number {
    const after = b.applyTo(before, marshall(mainKeys.call(callId)));
    this.remember(callId, after);
    return callWriteWcu(before, after, transactional);
  }

  /** The capacity of a re-rate's update, from the call's remembered image (the app read it to plan). */
  priceRerate(r: WindowRerate): number {
    const before = this.get(r.callId);
    if (before === null) return 2;
    const rating = { ...(before.rating?.M ?? {}) };
    if (r.reasons.length > 0) rating.x = S(r.reasons.join(' '));
    else delete rating.x;
    if (r.prior !== null) {
      rating.pc = S(r.prior.callId);
      rating.ps = N(r.prior.billedStartMs);
    } else {
      delete rating.pc;
      delete rating.ps;
    }
    if (r.capRefusal !== undefined) rating.cr = S(r.capRefusal);
    const after: Item = { ...before, rating: { M: rating }, ratedAt: S(r.ratedAt), billable: { BOOL: r.billable }, amountCents: N(r.amountCents) };
    if (r.entry?.type === 'reversal') {
      const add = (attr: string, n: number) => (after[attr] = N(Number(before[attr]?.N ?? 0) + n));
      add('revChargeCents', r.reversedChargeCents ?? 0);
      add('revCents', r.entry.amountCents);
      add('revCount', 1);
    }
    this.remember(r.callId, after);
    return callWriteWcu(before, after, true);
  }
}
