/**
 * The buyer's own legs of a network, read from the call store: rated calls of the account that reached one of the
 * network's destinations, as matching.ts needs them. Our side is the rating's: its duration, verdict and charge;
 * the network's call id is what the call arrived with in the network's SIP header (registration.ts
 * `forwardedCallId`, fold.ts `forwardedOf`), read through that network's setting only: a header another network
 * sends never names a claim of this one.
 */
import { foldCall, forwardedOf } from '../../domain/calls/fold';
import type { BuyerLeg } from '../../domain/networks/matching';
import { effectiveForwardedCallId, type NetworkRegistration } from '../../domain/networks/registration';
import type { CallStore, StoredCall } from '../kernel/ports';

/** How one network's legs are read: its destinations and the SIP header that carries its call id (lower-cased). */
export interface LegReading {
  readonly destinations: ReadonlySet<string>;
  readonly callIdHeader: string | null;
}

export function legReadingOf(network: Pick<NetworkRegistration, 'kind' | 'destinations' | 'forwardedCallId'>): LegReading {
  const source = effectiveForwardedCallId(network.kind, network.forwardedCallId);
  return { destinations: new Set(network.destinations), callIdHeader: source === null ? null : source.sipHeader.toLowerCase() };
}

/** The leg of a rated call (null when not rated, not started, or not on one of the network's destinations). */
export function legOf(call: StoredCall, reading: LegReading): BuyerLeg | null {
  if (call.rating === null || call.startedAt === null) return null;
  const own = call.events.filter((e) => e.kind === 'call.status' && e.parentCallId === null);
  if (own.length === 0) return null;
  const view = foldCall(call.events);
  const to = (view.terminal ?? view.first)?.to ?? null;
  if (to === null || !reading.destinations.has(to)) return null;
  return {
    callId: call.callId,
    callerKey: call.callerHash ?? null,
    destination: to,
    startedAt: new Date(Date.parse(call.startedAt)).toISOString(),
    durationSec: call.durationSec ?? view.terminal?.durationSec ?? null,
    billable: call.rating.billable,
    chargeCents: call.rating.billable ? call.rating.amountCents : 0,
    networkCallId: reading.callIdHeader === null ? null : (forwardedOf(call.events)?.[reading.callIdHeader] ?? null),
    numberPublisher: null,
  };
}

/** Every rated call of the account that started in [from, to) on one of the network's destinations, as legs. */
export async function legsBetween(calls: Pick<CallStore, 'listCalls'>, accountId: string, reading: LegReading, from: string, to: string): Promise<BuyerLeg[]> {
  const legs: BuyerLeg[] = [];
  let cursor: string | undefined;
  do {
    const page = await calls.listCalls({ accountId, from, to, limit: 100, ...(cursor === undefined ? {} : { cursor }) });
    for (const call of page.items) {
      const leg = legOf(call, reading);
      if (leg !== null) legs.push(leg);
    }
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
  return legs;
}
