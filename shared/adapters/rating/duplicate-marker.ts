/**
 * The duplicate marker item (`DUP#<accountId>#<campaignId or *>#<callerHash>` / `DUP`): a caller's duplicate window
 * state (shared/domain/rating/duplicate-window.ts) as stored, and the condition a write of it carries.
 *
 * Shape (compact: the item is written in every rating transaction of a repeat caller, 2 WCU per started KB):
 *   v    Number   version, 1 for the first write, +1 for each; every write is conditional on the version it read
 *   c    List     the candidates in start order, each a Map
 *                   i: callId, s: start (epoch ms), w: its duplicate window (hours), p: its price (cents; absent when
 *                   unknown), b: true when it holds a live charge (absent: false), n: charges written (absent: 0)
 *   h    Number   the horizon (epoch ms) below which candidates were dropped; absent: none dropped
 *   ttl  Number   epoch s after which nothing can depend on it any more (below); TTL only tidies up
 *
 * Markers of the old shape (`{callId, billedStartMs, ttl}`: one billed start, no version) are still read: as a state
 * of that one billed call (its window recovered from the ttl the old writer set: start + window + 1 day), version 0,
 * and a write over one is conditional on it still being exactly that old item.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { EMPTY_WINDOW, WINDOW_HORIZON_MS, type MarkerCondition, type WindowCall, type WindowState } from '../../domain/rating/duplicate-window';
import type { StoredWindow } from '../../app/rating/ports';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

/** The marker's attributes besides its key. */
export function encodeWindow(state: WindowState): Record<string, AttributeValue> {
  const calls = state.calls.map((c): AttributeValue => {
    const m: Record<string, AttributeValue> = { i: S(c.callId), s: N(c.startMs), w: N(Math.round(c.windowMs / HOUR_MS)) };
    if (c.priceCents !== null) m.p = N(c.priceCents);
    if (c.billed) m.b = { BOOL: true };
    if (c.charges > 0) m.n = N(c.charges);
    return { M: m };
  });
  const item: Record<string, AttributeValue> = { v: N(state.version), c: { L: calls }, ttl: N(windowTtlSec(state)) };
  if (state.horizonMs !== null) item.h = N(state.horizonMs);
  return item;
}

/**
 * When nothing can depend on the marker any more: a later call starts at most WINDOW_HORIZON_MS before its final
 * callback is rated (longer than SQS keeps a message and its dead letter), so once its newest candidate's start plus
 * the longest window of its candidates plus the horizon has passed, a new call is outside every window it holds.
 */
export function windowTtlSec(state: WindowState): number {
  const newest = Math.max(...state.calls.map((c) => c.startMs), 0);
  const longest = Math.max(...state.calls.map((c) => c.windowMs), 0);
  return Math.ceil((newest + longest + WINDOW_HORIZON_MS + DAY_MS) / 1000);
}

/** A marker item (as read, or as a cancelled transaction returned it) as the state and what to condition on. */
export function decodeWindow(item: Record<string, AttributeValue> | undefined): StoredWindow {
  if (item === undefined) return { state: EMPTY_WINDOW, stored: { kind: 'absent' } };
  const raw = unmarshall(item) as Record<string, unknown>;
  if (typeof raw.v === 'number') {
    const calls: WindowCall[] = ((raw.c as Record<string, unknown>[] | undefined) ?? []).map((m) => ({
      callId: String(m.i),
      startMs: Number(m.s),
      windowMs: Number(m.w) * HOUR_MS,
      priceCents: typeof m.p === 'number' ? m.p : null,
      billed: m.b === true,
      charges: typeof m.n === 'number' ? m.n : 0,
    }));
    return {
      state: { version: raw.v, calls, horizonMs: typeof raw.h === 'number' ? raw.h : null },
      stored: { kind: 'versioned', version: raw.v },
    };
  }
  // The old shape: one billed call's start; its window is in the ttl the old writer set (start + window + 1 day).
  const callId = String(raw.callId);
  const billedStartMs = Number(raw.billedStartMs);
  const windowHours = typeof raw.ttl === 'number' ? Math.max(0, Math.round((raw.ttl * 1000 - DAY_MS - billedStartMs) / HOUR_MS)) : 0;
  return {
    state: { version: 0, calls: [{ callId, startMs: billedStartMs, windowMs: windowHours * HOUR_MS, priceCents: null, billed: true, charges: 1 }], horizonMs: null },
    stored: { kind: 'legacy', callId, billedStartMs },
  };
}

/**
 * A marker write's condition (shared/domain/rating/duplicate-window.ts#markerCondition decides it, as data) spelled
 * for DynamoDB: the marker is still the one the plan was made from.
 */
export function windowCondition(expect: MarkerCondition['expect']): { expression: string; names: Record<string, string>; values: Record<string, AttributeValue> } {
  switch (expect.kind) {
    case 'absent':
      return { expression: 'attribute_not_exists(#pk)', names: { '#pk': 'pk' }, values: {} };
    case 'versioned':
      return { expression: '#v = :v', names: { '#v': 'v' }, values: { ':v': N(expect.version) } };
    case 'legacy':
      return {
        expression: 'attribute_not_exists(#v) AND #lc = :lc AND #ls = :ls',
        names: { '#v': 'v', '#lc': 'callId', '#ls': 'billedStartMs' },
        values: { ':lc': S(expect.callId), ':ls': N(expect.billedStartMs) },
      };
    default: {
      const exhaustive: never = expect;
      throw new Error(`unknown marker version ${JSON.stringify(exhaustive)}`);
    }
  }
}
