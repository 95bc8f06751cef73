/**
 * What a pilot's webhooks are told: the threshold keys due, and the body of each notification.
 */
import { NOTIFY_THRESHOLDS, type CloseReason, type CounterSnapshot, type PilotRecord, type PilotState } from './pilots';

/** Threshold notification keys due at `percent`, not yet claimed. */
export function thresholdsDue(percent: number, notified: readonly string[]): string[] {
  return NOTIFY_THRESHOLDS.filter((t) => percent >= t).map((t) => `threshold:${t}`).filter((k) => !notified.includes(k));
}

export type PilotEvent = 'pilot.activated' | 'pilot.threshold' | 'pilot.closed' | 'pilot.report_ready';

/** The JSON body POSTed to each notify URL. No caller data: ids, figures and the state only. */
export interface PilotNotification {
  readonly event: PilotEvent;
  readonly accountId: string;
  readonly pilotId: string;
  readonly campaignId: string;
  readonly state: PilotState;
  readonly spentCents: number;
  readonly spendCapCents: number;
  readonly percentOfCap: number;
  readonly billableCalls: number;
  readonly threshold?: number;
  readonly closedReason?: CloseReason;
  readonly at: string;
}

export function notificationFor(
  key: string,
  p: Pick<PilotRecord, 'accountId' | 'pilotId' | 'campaignId' | 'spendCapCents'>,
  state: PilotState,
  counter: Pick<CounterSnapshot, 'spentCents' | 'billableCalls' | 'closedReason'>,
  at: string,
): PilotNotification {
  const base = {
    accountId: p.accountId,
    pilotId: p.pilotId,
    campaignId: p.campaignId,
    state,
    spentCents: counter.spentCents,
    spendCapCents: p.spendCapCents,
    percentOfCap: Math.floor((counter.spentCents * 100) / p.spendCapCents),
    billableCalls: counter.billableCalls,
    at,
  };
  if (key.startsWith('threshold:')) return { ...base, event: 'pilot.threshold', threshold: Number(key.slice('threshold:'.length)) };
  if (key === 'activated') return { ...base, event: 'pilot.activated' };
  if (key === 'closed') return { ...base, event: 'pilot.closed', ...(counter.closedReason ? { closedReason: counter.closedReason } : {}) };
  return { ...base, event: 'pilot.report_ready' };
}
