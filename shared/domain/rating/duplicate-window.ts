/**
 * The duplicate window: which of a caller's calls bills, whatever order their final callbacks arrive in. Pure: no
 * I/O, no clock; the writer reads the caller's window state (the duplicate marker), asks `planWindow` what changes,
 * and commits the plan in one transaction conditional on the state's version (docs/ARCHITECTURE.md, "The first call
 * of a repeat caller bills").
 *
 * Rule (start order). A caller's CANDIDATES in one duplicate scope (a campaign, or the account) are the calls that
 * pass every rating rule except `duplicate_caller`. Walk them by start time (ties: callId): a candidate BILLS iff no
 * billed candidate started within its own duplicate window before it; otherwise it is a duplicate of the latest billed
 * candidate before it (its prior). The billed set therefore depends on the set of candidates only, never on the order
 * in which they were rated: a late earlier call takes the charge of a later one, and that can cascade (the later
 * call's own duplicates may bill again, theirs become duplicates, …). `planWindow` recomputes the whole set and
 * returns the differences as actions: charge a duplicate that now bills, reverse a billed call that is now a
 * duplicate, re-point a duplicate whose prior changed.
 *
 * A candidate leaves the window (no longer counts, neither as billed nor as a duplicate) when its charge was fully
 * credited, or when a pilot's counter refused its charge (over_cap): both are `leave` changes.
 *
 * Bounded state. Only what a later change can still affect is kept: every candidate that started at or after the
 * state's horizon, and the latest BILLED candidate before it (the only one a later call can be a duplicate of: any
 * older billed call is further away). The horizon follows the caller's newest candidate at WINDOW_HORIZON_MS behind
 * it (and is raised so that at most WINDOW_MAX_CALLS candidates are kept); it never moves back. A change at or after
 * the horizon is decided exactly; one before it (a final callback or a full credit more than the horizon late) is
 * decided against the calls still kept, as if the dropped ones had never been candidates (documented limit).
 */

/** How far behind a caller's newest candidate the window state keeps every candidate (35 days). */
export const WINDOW_HORIZON_MS = 35 * 86_400_000;

/**
 * At most this many candidates are kept after the latest billed one before the horizon, so that a plan always fits
 * one TransactWriteItems (100 items: the arriving call and its charge, the marker, two items per flipped call, pilot
 * counters) and the marker stays a few kilobytes.
 */
export const WINDOW_MAX_CALLS = 40;

export interface WindowCall {
  readonly callId: string;
  readonly startMs: number;
  /** This call's own duplicate window (its terms version's), in ms. */
  readonly windowMs: number;
  /** What the call bills at; null when unknown (a marker written before prices were kept in it). */
  readonly priceCents: number | null;
  /** It holds a live charge. */
  readonly billed: boolean;
  /** Charges written for the call so far; when billed, its live charge is the last of them. */
  readonly charges: number;
}

export interface WindowState {
  /** 0: no state stored yet. */
  readonly version: number;
  /** In start order (`byStart`). */
  readonly calls: readonly WindowCall[];
  /** Start below which candidates were dropped (all but the latest billed one); null: none dropped yet. */
  readonly horizonMs: number | null;
}

export const EMPTY_WINDOW: WindowState = { version: 0, calls: [], horizonMs: null };

export interface ArrivingCall {
  readonly callId: string;
  readonly startMs: number;
  readonly windowMs: number;
  readonly priceCents: number;
}

export type WindowChange =
  /** A call rated billable but for the duplicate rule. */
  | { readonly kind: 'arrive'; readonly call: ArrivingCall }
  /** A candidate that no longer counts: fully credited, or refused by its pilot's counter. */
  | { readonly kind: 'leave'; readonly callId: string };

export interface Prior {
  readonly callId: string;
  readonly startMs: number;
}

/** What happens to a call already in the window state. */
export type CallAction =
  /** A duplicate now bills: its `seq`-th charge. */
  | { readonly kind: 'charge'; readonly callId: string; readonly startMs: number; readonly seq: number; readonly priceCents: number | null }
  /** A billed call is now a duplicate of `prior`: its live charge (the `seq`-th) is reversed. */
  | { readonly kind: 'reverse'; readonly callId: string; readonly startMs: number; readonly seq: number; readonly prior: Prior }
  /** A duplicate stays one, of another billed call. */
  | { readonly kind: 'repoint'; readonly callId: string; readonly startMs: number; readonly prior: Prior };

export interface WindowPlan {
  /** The state to store (version + 1). */
  readonly next: WindowState;
  /** Each arriving call's decision: it bills (prior null) or duplicates `prior`. */
  readonly arrivals: ReadonlyMap<string, { readonly billed: boolean; readonly prior: Prior | null }>;
  /** Calls already in the state whose rating changes, in start order. */
  readonly actions: readonly CallAction[];
  /** Arriving calls that were already in the state (a redelivery): nothing is decided for them. */
  readonly known: readonly string[];
  /** Nothing to write: no arrival, no action, no call left. */
  readonly empty: boolean;
}

export function byStart(a: Pick<WindowCall, 'startMs' | 'callId'>, b: Pick<WindowCall, 'startMs' | 'callId'>): number {
  return a.startMs - b.startMs || (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0);
}

/**
 * The start-order rule over a set of candidates: for each, whether it bills and, if not, the billed call it is a
 * duplicate of (the latest billed one before it, which is the nearest).
 */
export function billedInStartOrder(calls: readonly Pick<WindowCall, 'callId' | 'startMs' | 'windowMs'>[]): Map<string, Prior | null> {
  const out = new Map<string, Prior | null>();
  let latestBilled: Prior | null = null;
  for (const c of [...calls].sort(byStart)) {
    if (latestBilled !== null && c.startMs - latestBilled.startMs < c.windowMs) {
      out.set(c.callId, latestBilled);
    } else {
      out.set(c.callId, null);
      latestBilled = { callId: c.callId, startMs: c.startMs };
    }
  }
  return out;
}

/** The prior of each non-billed call of a state as stored (the latest billed call before it), for re-pointing. */
function storedPriors(calls: readonly WindowCall[]): Map<string, Prior | null> {
  const out = new Map<string, Prior | null>();
  let latestBilled: Prior | null = null;
  for (const c of calls) {
    out.set(c.callId, c.billed ? null : latestBilled);
    if (c.billed) latestBilled = { callId: c.callId, startMs: c.startMs };
  }
  return out;
}

/**
 * Applies `changes` to `state` and returns what to write. Arrivals of calls already in the state are ignored (listed
 * in `known`), a `leave` of a call not in the state changes nothing.
 */
export function planWindow(state: WindowState, changes: readonly WindowChange[]): WindowPlan {
  const current = new Map(state.calls.map((c) => [c.callId, c]));
  const leaving = new Set(changes.flatMap((c) => (c.kind === 'leave' && current.has(c.callId) ? [c.callId] : [])));
  const arriving = new Map<string, ArrivingCall>();
  const known: string[] = [];
  for (const ch of changes) {
    if (ch.kind !== 'arrive') continue;
    if (current.has(ch.call.callId)) known.push(ch.call.callId);
    else arriving.set(ch.call.callId, ch.call);
  }
  const kept = state.calls.filter((c) => !leaving.has(c.callId));
  const all = [...kept, ...[...arriving.values()].map((a): WindowCall => ({ ...a, billed: false, charges: 0 }))].sort(byStart);
  const decided = billedInStartOrder(all);
  const before = storedPriors(state.calls);

  const actions: CallAction[] = [];
  const arrivals = new Map<string, { billed: boolean; prior: Prior | null }>();
  const nextCalls: WindowCall[] = [];
  for (const c of all) {
    const prior = decided.get(c.callId)!;
    const billed = prior === null;
    if (arriving.has(c.callId)) {
      arrivals.set(c.callId, { billed, prior });
      nextCalls.push({ ...c, billed, charges: billed ? 1 : 0 });
      continue;
    }
    if (billed && !c.billed) {
      actions.push({ kind: 'charge', callId: c.callId, startMs: c.startMs, seq: c.charges + 1, priceCents: c.priceCents });
      nextCalls.push({ ...c, billed: true, charges: c.charges + 1 });
    } else if (!billed && c.billed) {
      actions.push({ kind: 'reverse', callId: c.callId, startMs: c.startMs, seq: c.charges, prior: prior! });
      nextCalls.push({ ...c, billed: false });
    } else {
      const was = before.get(c.callId) ?? null;
      if (!billed && (was === null || was.callId !== prior!.callId)) actions.push({ kind: 'repoint', callId: c.callId, startMs: c.startMs, prior: prior! });
      nextCalls.push(c);
    }
  }
  const pruned = prune(nextCalls, state.horizonMs);
  return {
    next: { version: state.version + 1, calls: pruned.calls, horizonMs: pruned.horizonMs },
    arrivals,
    actions,
    known,
    empty: arrivals.size === 0 && actions.length === 0 && leaving.size === 0,
  };
}

/**
 * Keeps what a later change can still affect: the candidates at or after the horizon (raised to the newest start −
 * WINDOW_HORIZON_MS, and further so at most WINDOW_MAX_CALLS remain), and the latest billed candidate before it.
 */
export function prune(calls: readonly WindowCall[], horizonMs: number | null): { calls: WindowCall[]; horizonMs: number | null } {
  const sorted = [...calls].sort(byStart);
  if (sorted.length === 0) return { calls: [], horizonMs };
  let boundary = Math.max(horizonMs ?? -Infinity, sorted.at(-1)!.startMs - WINDOW_HORIZON_MS);
  const recent = sorted.filter((c) => c.startMs >= boundary);
  if (recent.length > WINDOW_MAX_CALLS) boundary = recent[recent.length - WINDOW_MAX_CALLS]!.startMs;
  const older = sorted.filter((c) => c.startMs < boundary);
  const keptOlder = older.filter((c) => c.billed).slice(-1);
  const kept = [...keptOlder, ...sorted.filter((c) => c.startMs >= boundary)];
  // Nothing dropped: the horizon stays where it was (null: never needed).
  const dropped = older.length > keptOlder.length;
  return { calls: kept, horizonMs: dropped ? boundary : horizonMs };
}

/** Whether a change at `startMs` is decided exactly (at or after the horizon: every candidate that matters is kept). */
export function withinHorizon(state: WindowState, startMs: number): boolean {
  return state.horizonMs === null || startMs >= state.horizonMs;
}

/**
 * Which duplicate marker a plan's write must find: none yet, the version of the current shape it was planned from,
 * or exactly the old-shape marker it read (one billed call, no version). The database holds the write to it, so two
 * writers of one caller never both commit a plan made from the same state: the second plans again.
 */
export type MarkerVersion =
  | { readonly kind: 'absent' }
  | { readonly kind: 'versioned'; readonly version: number }
  | { readonly kind: 'legacy'; readonly callId: string; readonly billedStartMs: number };

/** What a marker write is conditioned on, as data: the marker as read, and the version the write stores. */
export interface MarkerCondition {
  readonly expect: MarkerVersion;
  readonly writesVersion: number;
}

/**
 * The condition of writing `next` over the marker read as `read`: the marker must still be exactly what was read,
 * and `next` must be the version right after it (a plan's state is always its read state's version + 1; anything
 * else is a programming error and throws, before any write).
 */
export function markerCondition(read: MarkerVersion, next: Pick<WindowState, 'version'>): MarkerCondition {
  const readVersion = read.kind === 'versioned' ? read.version : 0;
  if (next.version !== readVersion + 1) throw new Error(`duplicate marker: version ${next.version} written over version ${readVersion}`);
  return { expect: read, writesVersion: next.version };
}
