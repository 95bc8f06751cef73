/**
 * Use case: settle a caller's duplicate window (shared/domain/rating/duplicate-window.ts) when a call arrives in it (the
 * writer rated it billable but for the duplicate rule) or leaves it (its charge was fully credited, or its pilot
 * refused its charge), and commit what the plan says in ONE transaction (CallRepo.commitRating / commitWindow):
 *
 * - the marker's next state, conditional on the version the plan was made from, so two writers of one caller never
 *   both decide: the loser's transaction is cancelled and it plans again from the marker the cancellation returned;
 * - for each call the plan changes, read once (with the marker, one serializable snapshot) to build its write: its re-rating (only the
 *   duplicate rule's part of the stored rating changes), conditional on the item as read (rating time, billable,
 *   credits), and its entry: the reversal of what remains of its live charge, or its next charge;
 * - the pilots' counters: a reversed charge gives its amount and call back, a new one is counted under the cap.
 *
 * A call whose item is not what the window says (a fully credited billed call: nothing remains to reverse; an item
 * that is no longer a candidate) leaves the window and the plan is made again. When a pilot refuses the plan's
 * charges, the latest-starting call charged under that pilot is rated `over_cap` and leaves the window (the earliest
 * BILLABLE call bills: a call over its pilot's cap is not billable).
 *
 * Crash safety: nothing is written outside the one transaction, so a crash before it leaves everything as it was
 * (the SQS message or the API request is retried), and after it leaves a consistent state; a redelivered arrival
 * finds its call rated and stops.
 */
import { planWindow, type CallAction, type WindowChange, type WindowPlan, type WindowState } from '../../domain/rating/duplicate-window';
import { chargeEntry, chargeEntryId, reversalEntry } from '../../domain/ledger/entries';
import { pilotCharge, pilotForCall, type CapRefusal, type PilotCharge } from '../../domain/pilots/caps';
import { asCampaign } from '../../domain/catalog/config';
import type { ChargeEntry } from '../../domain/ledger/entries';
import { backoffMs, sleep as realSleep } from '../kernel/concurrency';
import { WriteConflict, type CallRatingStore, type CommitOutcome, type StoredWindow, type WindowKey, type WindowRerate, type WindowWrite } from './ports';
import type { ConfigStore, Log, StoredCall } from '../kernel/ports';

export interface WindowDeps {
  readonly calls: Pick<CallRatingStore, 'readWindowSnapshot'>;
  readonly config: Pick<ConfigStore, 'getCampaign'>;
  readonly now: () => Date;
  readonly log: Log;
  readonly maxAttempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The call arriving in the window, and its charge's pilot (when it would be charged inside a pilot's window). */
export interface Arrival {
  readonly callId: string;
  readonly startMs: number;
  readonly windowMs: number;
  readonly priceCents: number;
  readonly pilot: PilotCharge | null;
}

export type SettleResult =
  | { readonly outcome: 'committed'; readonly plan: WindowPlan }
  /** The arriving call was already rated (another writer, or a redelivery). */
  | { readonly outcome: 'already_rated' }
  /** The arriving call's own pilot refused its charge: rate it over_cap (it is not billable, so not a candidate). */
  | { readonly outcome: 'arriving_over_cap'; readonly refusal: CapRefusal };

/**
 * Plans and commits until the window is settled. `commit` writes the plan (with the arriving call's own parts, if
 * any); `initial` is what the caller believes the marker is (an arriving call first assumes none: a first-time
 * caller costs no read, and a cancelled transaction returns the marker it found).
 */
export async function settleWindow(
  args: {
    readonly accountId: string;
    readonly key: WindowKey;
    readonly initial: StoredWindow;
    readonly arrival: Arrival | null;
    readonly leaving: readonly string[];
    readonly commit: (write: WindowWrite, plan: WindowPlan, rerates: readonly WindowRerate[]) => Promise<CommitOutcome>;
  },
  deps: WindowDeps,
): Promise<SettleResult | { readonly outcome: 'nothing' }> {
  let window = args.initial;
  const leaving = new Set(args.leaving);
  const overCap = new Map<string, CapRefusal>();
  const maxAttempts = deps.maxAttempts ?? 6;
  // Commits are bounded by maxAttempts; re-plans without a commit (a call that must leave first) by the window's size.
  for (let attempt = 0, rounds = 0; attempt < maxAttempts && rounds < 4 * maxAttempts + 100; rounds++) {
    const plan = planWindow(window.state, changesOf(args.arrival, leaving));
    if (args.arrival !== null && plan.known.includes(args.arrival.callId)) return { outcome: 'already_rated' };
    if (plan.empty) return { outcome: 'nothing' };
    const built = await rerateWrites(args.accountId, args.key, window, plan, overCap, deps);
    if (built.changed !== null) {
      // The snapshot shows a newer marker than the one planned from: plan again from it.
      window = built.changed;
      continue;
    }
    if (built.leaving.length > 0) {
      for (const id of built.leaving) leaving.add(id);
      continue;
    }
    attempt += 1;
    const outcome = await args.commit({ key: args.key, expect: window.stored, next: built.next }, plan, built.rerates);
    switch (outcome.outcome) {
      case 'committed':
        logRerates(args.accountId, built.rerates, deps.log);
        return { outcome: 'committed', plan };
      case 'already_rated':
        return { outcome: 'already_rated' };
      case 'window_changed':
        window = outcome.window;
        break;
      case 'rerate_stale':
        break;
      case 'conflict':
        await (deps.sleep ?? realSleep)(backoffMs(attempt));
        break;
      case 'over_cap': {
        const blamed = overCapCall(args.arrival, plan, built.rerates, outcome.pilotId);
        if (args.arrival !== null && blamed === args.arrival.callId) return { outcome: 'arriving_over_cap', refusal: outcome.refusal };
        overCap.set(blamed, outcome.refusal);
        leaving.add(blamed);
        break;
      }
      default: {
        const exhaustive: never = outcome;
        throw new Error(`unexpected outcome ${JSON.stringify(exhaustive)}`);
      }
    }
  }
  throw new WriteConflict(`duplicate window of ${args.accountId} (did not settle)`);
}

/** What changes in the window this round: the arriving call, and every call that must leave it. */
function changesOf(arrival: Arrival | null, leaving: ReadonlySet<string>): WindowChange[] {
  return [...(arrival === null ? [] : [{ kind: 'arrive' as const, call: arrival }]), ...[...leaving].map((callId) => ({ kind: 'leave' as const, callId }))];
}

function logRerates(accountId: string, rerates: readonly WindowRerate[], log: Log): void {
  for (const r of rerates) {
    log.info('call re-rated by its duplicate window', {
      accountId,
      callId: r.callId,
      billable: r.billable,
      reasons: r.reasons,
      priorCallId: r.prior?.callId ?? null,
      entry: r.entry?.entryId ?? null,
    });
  }
}

/**
 * The call a pilot's refusal takes out of the plan. The earliest billable call bills: of the calls this plan charges
 * under the refusing pilot, the latest-starting one is the one over the cap.
 */
function overCapCall(arrival: Arrival | null, plan: WindowPlan, rerates: readonly WindowRerate[], pilotId: string): string {
  const charged = [
    ...(arrival !== null && plan.arrivals.get(arrival.callId)?.billed && arrival.pilot?.pilotId === pilotId ? [{ callId: arrival.callId, startMs: arrival.startMs }] : []),
    ...rerates.flatMap((r) => (r.pilot?.kind === 'charge' && r.pilot.charge.pilotId === pilotId ? [{ callId: r.callId, startMs: startOf(plan, r.callId) }] : [])),
  ].sort((a, b) => b.startMs - a.startMs || (a.callId < b.callId ? 1 : -1));
  const blamed = charged[0];
  if (blamed === undefined) throw new Error(`pilot ${pilotId} refused a plan that charges nothing under it`);
  return blamed.callId;
}

function startOf(plan: WindowPlan, callId: string): number {
  return plan.actions.find((a) => a.callId === callId)?.startMs ?? 0;
}

/** A call's net in the ledger, from its item: live charge + reversed charges + credits + reversals. */
export function callNetCents(call: Pick<StoredCall, 'rating' | 'credits' | 'reversals'>): number {
  const live = call.rating?.billable === true ? call.rating.amountCents : 0;
  return live + (call.reversals?.chargeCents ?? 0) + (call.credits?.cents ?? 0) + (call.reversals?.cents ?? 0);
}

/** Which of a call's charges is live (when it bills): every earlier one was reversed. */
export function liveChargeSeq(call: Pick<StoredCall, 'reversals'>): number {
  return (call.reversals?.count ?? 0) + 1;
}

/** Whether two reads of a marker are the same version of it (what a write over it is conditioned on). */
function sameVersion(a: StoredWindow['stored'], b: StoredWindow['stored']): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'versioned' && b.kind === 'versioned') return a.version === b.version;
  if (a.kind === 'legacy' && b.kind === 'legacy') return a.callId === b.callId && a.billedStartMs === b.billedStartMs;
  return true;
}

/**
 * The writes of a plan's actions (and of the calls it takes out for their pilot's refusal), from the calls' items read
 * with the marker in ONE serializable snapshot (a standard read can see a transaction's marker before its call items;
 * the snapshot cannot); or a newer marker to plan from again; or the calls that must leave the window first (their
 * item says they are no longer candidates, or nothing remains of their charge to reverse). A plan that changes no
 * other call reads nothing.
 */
async function rerateWrites(
  accountId: string,
  key: WindowKey,
  window: StoredWindow,
  plan: WindowPlan,
  overCap: ReadonlyMap<string, CapRefusal>,
  deps: WindowDeps,
): Promise<{ rerates: WindowRerate[]; leaving: string[]; next: WindowState; changed: StoredWindow | null }> {
  const at = deps.now().toISOString();
  const rerates: WindowRerate[] = [];
  const leaving: string[] = [];
  const prices = new Map<string, number>();
  const actions = actionsOf(plan, overCap, window.state);
  if (actions.length === 0) return { rerates, leaving, next: plan.next, changed: null };
  const snapshot = await deps.calls.readWindowSnapshot(accountId, key, actions.map((a) => a.callId));
  if (!sameVersion(snapshot.window.stored, window.stored)) return { rerates, leaving, next: plan.next, changed: snapshot.window };
  for (const action of actions) {
    const ctx = await rerateContext(accountId, snapshot.calls.get(action.callId) ?? null, at, deps);
    const rerate = ctx === null ? 'leave' : rerateOf(action, ctx, prices);
    if (rerate === 'leave') leaving.push(action.callId);
    else if (rerate !== 'unchanged') rerates.push(rerate);
  }
  return { rerates, leaving, next: withLearntPrices(plan.next, prices), changed: null };
}

type WindowAction = CallAction | { readonly kind: 'over_cap'; readonly callId: string; readonly refusal: CapRefusal };

/** The plan's actions, then the calls still in the window that a pilot refused (they leave it as over_cap). */
function actionsOf(plan: WindowPlan, overCap: ReadonlyMap<string, CapRefusal>, state: WindowState): WindowAction[] {
  return [
    ...plan.actions,
    ...[...overCap.entries()].filter(([id]) => state.calls.some((c) => c.callId === id)).map(([callId, refusal]) => ({ kind: 'over_cap' as const, callId, refusal })),
  ];
}

/** A call of the snapshot with what its re-rating needs: its rating, the condition on its item, its pilot, its charge's fields. */
interface RerateContext {
  readonly call: StoredCall & { readonly startedAt: string };
  readonly rating: NonNullable<StoredCall['rating']>;
  readonly expect: Pick<WindowRerate, 'callId' | 'expectRatedAt' | 'expectBillable' | 'expectCreditCents' | 'ratedAt'>;
  readonly isDuplicate: boolean;
  readonly isBilled: boolean;
  readonly startMs: number;
  readonly pilot: PilotChargeTarget | null;
  readonly base: Omit<ChargeEntry, 'entryId' | 'amountCents' | 'createdAt'>;
  readonly accountId: string;
  readonly at: string;
}

type PilotChargeTarget = Parameters<typeof pilotCharge>[1];

/** The call's context, or null when its item is not a rated call of this account with a campaign, publisher and terms. */
async function rerateContext(accountId: string, call: StoredCall | null, at: string, deps: WindowDeps): Promise<RerateContext | null> {
  const rating = call?.rating ?? null;
  if (call === null || rating === null || call.ratedAt === null || call.startedAt === null || call.accountId !== accountId || rating.campaignId === null || rating.publisherId === null || rating.termsVersion === null) {
    return null;
  }
  const startMs = Date.parse(call.startedAt);
  const campaign = await deps.config.getCampaign(accountId, rating.campaignId, startMs);
  const pilotMatch = campaign === null ? null : pilotForCall(asCampaign(campaign).pilots, rating.publisherId, startMs);
  const pilot = pilotMatch?.inWindow === true ? pilotMatch.pilot : null;
  return {
    call: { ...call, startedAt: call.startedAt },
    rating,
    expect: { callId: call.callId, expectRatedAt: call.ratedAt, expectBillable: rating.billable, expectCreditCents: call.credits?.cents ?? null, ratedAt: at },
    isDuplicate: !rating.billable && rating.reasons.length === 1 && rating.reasons[0] === 'duplicate_caller',
    isBilled: rating.billable && rating.reasons.length === 0,
    startMs,
    pilot,
    base: {
      type: 'charge',
      currency: 'USD',
      callId: call.callId,
      accountId,
      publisherId: rating.publisherId,
      subSource: rating.subSource,
      campaignId: rating.campaignId,
      termsVersion: rating.termsVersion,
      effectiveAt: call.startedAt,
      ...(pilot === null ? {} : { pilotId: pilot.pilotId }),
    },
    accountId,
    at,
  };
}

/** One action's write; `leave`: the call's item says it must leave the window first; `unchanged`: nothing to write. */
function rerateOf(action: WindowAction, ctx: RerateContext, prices: Map<string, number>): WindowRerate | 'leave' | 'unchanged' {
  switch (action.kind) {
    case 'reverse':
      return reverseRerate(action, ctx, prices);
    case 'charge':
      return chargeRerate(action, ctx);
    case 'repoint':
      if (!ctx.isDuplicate) return 'leave';
      return { ...ctx.expect, billable: false, amountCents: 0, reasons: ['duplicate_caller'], prior: { callId: action.prior.callId, billedStartMs: action.prior.startMs }, entry: null, pilot: null };
    case 'over_cap':
      if (!ctx.isDuplicate) return 'unchanged';
      return { ...ctx.expect, billable: false, amountCents: 0, reasons: ['over_cap'], prior: null, capRefusal: action.refusal, entry: null, pilot: null };
    default: {
      const exhaustive: never = action;
      throw new Error(`unknown action ${JSON.stringify(exhaustive)}`);
    }
  }
}

/** A billed call an earlier call now takes the window from: what remains of its live charge is reversed. */
function reverseRerate(action: Extract<CallAction, { kind: 'reverse' }>, ctx: RerateContext, prices: Map<string, number>): WindowRerate | 'leave' {
  const { call, rating, at } = ctx;
  const remaining = callNetCents(call);
  // Fully credited (nothing remains): it no longer counts for the window; it leaves instead of being reversed.
  if (!ctx.isBilled || remaining <= 0) return 'leave';
  const seq = liveChargeSeq(call);
  const charge: ChargeEntry = { ...ctx.base, entryId: chargeEntryId(call.callId, seq), amountCents: rating.amountCents, createdAt: at };
  prices.set(call.callId, rating.amountCents);
  return {
    ...ctx.expect,
    billable: false,
    amountCents: 0,
    reasons: ['duplicate_caller'],
    prior: { callId: action.prior.callId, billedStartMs: action.prior.startMs },
    entry: reversalEntry(charge, { remainingCents: remaining, seq, priorCallId: action.prior.callId, at }),
    reversedChargeCents: rating.amountCents,
    pilot: ctx.pilot === null ? null : { kind: 'giveback', charge: pilotCharge(ctx.accountId, ctx.pilot, rating.amountCents, ctx.startMs) },
  };
}

/** A duplicate that now has the window to itself: it bills, its next charge at the price the window kept. */
function chargeRerate(action: Extract<CallAction, { kind: 'charge' }>, ctx: RerateContext): WindowRerate | 'leave' {
  const { call, rating, at, pilot } = ctx;
  const price = action.priceCents;
  if (!ctx.isDuplicate || price === null) return 'leave';
  return {
    ...ctx.expect,
    billable: true,
    amountCents: price,
    reasons: [],
    prior: null,
    entry: chargeEntry({
      accountId: ctx.accountId,
      callId: call.callId,
      decision: { ...rating, billable: true, amountCents: price },
      startedAt: call.startedAt,
      createdAt: at,
      seq: liveChargeSeq(call),
      ...(pilot === null ? {} : { pilotId: pilot.pilotId }),
    }),
    pilot: pilot === null ? null : { kind: 'charge', charge: pilotCharge(ctx.accountId, pilot, price, ctx.startMs) },
  };
}

/** A marker written before prices were kept in it: the price of a call is learnt when its charge is first reversed. */
function withLearntPrices(next: WindowState, prices: ReadonlyMap<string, number>): WindowState {
  return { ...next, calls: next.calls.map((c) => (c.priceCents === null && prices.has(c.callId) ? { ...c, priceCents: prices.get(c.callId)! } : c)) };
}
