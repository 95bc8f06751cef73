/**
 * The buyer's own legs of a network, read from the call store: rated calls of the account that reached one of the
 * network's destinations, as matching.ts needs them. Our side is the rating's: its duration, verdict and charge.
 */
import { foldCall } from '../../domain/calls/fold';
import type { BuyerLeg } from '../../domain/networks/matching';
import type { CallStore, StoredCall } from '../kernel/ports';

/** The leg of a rated call (null when not rated, not started, or not on one of `destinations`). */
export function legOf(call: StoredCall, destinations: ReadonlySet<string>): BuyerLeg | null {
  if (call.rating === null || call.startedAt === null) return null;
  const own = call.events.filter((e) => e.kind === 'call.status' && e.parentCallId === null);
  if (own.length === 0) return null;
  const view = foldCall(call.events);
  const to = (view.terminal ?? view.first)?.to ?? null;
  if (to === null || !destinations.has(to)) return null;
  return {
    callId: call.callId,
    callerKey: call.callerHash ?? null,
    destination: to,
    startedAt: new Date(Date.parse(call.startedAt)).toISOString(),
    durationSec: call.durationSec ?? view.terminal?.durationSec ?? null,
    billable: call.rating.billable,
    chargeCents: call.rating.billable ? call.rating.amountCents : 0,
    networkCallId: null,
    numberPublisher: null,
  };
}

/** Every rated call of the account that started in [from, to) on one of `destinations`, as legs. */
export async function legsBetween(
  calls: Pick<CallStore, 'listCalls'>,
  accountId: string,
  destinations: readonly string[],
  from: string,
  to: string,
): Promise<BuyerLeg[]> {
  const wanted = new Set(destinations);
  const legs: BuyerLeg[] = [];
  let cursor: string | undefined;
  do {
    const page = await calls.listCalls({ accountId, from, to, limit: 100, ...(cursor === undefined ? {} : { cursor }) });
    for (const call of page.items) {
      const leg = legOf(call, wanted);
      if (leg !== null) legs.push(leg);
    }
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
  return legs;
}
