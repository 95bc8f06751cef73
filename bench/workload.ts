/**
 * The bench's call sets, built with the project's own traffic generator (events/traffic.ts), so every request is
 * a real, signed Twilio webhook the ingest function accepts.
 *
 * Every call of a bench set is billable and has its own caller: connected, longer than any buffer, no repeat
 * callers, no Twilio retries, no reordering. Each set gets its own month, so no two sets share a duplicate window.
 */
import { generateTraffic, type PublisherProfile, type Traffic, type TrafficSeed, type WebhookRequest } from '../events/traffic';

export const BILLABLE_PROFILE: PublisherProfile = {
  label: 'bench-billable',
  volumeWeight: 1,
  connectRate: 1,
  notConnected: { busy: 1, 'no-answer': 0, failed: 0, canceled: 0 },
  // Two to eight minutes: past the demo campaign's 90 s buffer (and any sane one).
  durations: [{ weight: 1, minSec: 120, maxSec: 480 }],
  repeatCallerRate: 0,
  outOfStateRate: 0,
  stirVerstat: { 'TN-Validation-Passed-A': 1, 'TN-Validation-Passed-B': 0, 'TN-Validation-Passed-C': 0, 'TN-Validation-Failed': 0, 'No-TN-Validation': 0 },
};

export interface CallSet {
  readonly traffic: Traffic;
  readonly ringing: readonly WebhookRequest[];
  readonly completed: readonly WebhookRequest[];
  readonly recordings: readonly WebhookRequest[];
  /** Ringing and completed of every call, in delivery order (what a live Twilio account would send). */
  readonly lifecycle: readonly WebhookRequest[];
  /** First and last possible ledger sort key of this set (its charges' `effectiveAt` lie in its month). */
  readonly ledgerRange: { readonly from: string; readonly to: string };
}

export interface CallSetOptions {
  readonly seed: TrafficSeed;
  readonly authTokens: Readonly<Record<string, string>>;
  readonly publicBaseUrl: string;
  readonly mediaBaseUrl: string;
  readonly calls: number;
  /** 1-based: set n lives in month n of 2025. */
  readonly month: number;
}

export function billableCallSet(o: CallSetOptions): CallSet {
  const mm = String(o.month).padStart(2, '0');
  const traffic = generateTraffic({
    seed: o.seed,
    authTokens: o.authTokens,
    publicBaseUrl: o.publicBaseUrl,
    mediaBaseUrl: o.mediaBaseUrl,
    calls: o.calls,
    rngSeed: 4242 + o.month,
    startAt: `2025-${mm}-02T00:00:00Z`,
    // Calls overlap in time like a busy account's, yet the set stays inside its month.
    spanHours: 6,
    profiles: Object.fromEntries(o.seed.publishers.map((p) => [p.publisherId, BILLABLE_PROFILE])),
    delivery: { duplicateRate: 0, outOfOrderRate: 0, maxJitterMs: 0 },
  });
  const notBillable = traffic.calls.filter((c) => !c.billable).length;
  if (notBillable > 0) throw new Error(`bench call set ${o.month}: ${notBillable} calls are not billable`);
  if (new Set(traffic.calls.map((c) => c.from)).size !== traffic.calls.length) throw new Error(`bench call set ${o.month}: callers repeat`);
  const of = (kind: WebhookRequest['meta']['kind']) => traffic.requests.filter((r) => r.meta.kind === kind);
  return {
    traffic,
    ringing: of('incoming'),
    completed: of('status'),
    recordings: of('recording'),
    lifecycle: traffic.requests.filter((r) => r.meta.kind !== 'recording'),
    ledgerRange: { from: `2025-${mm}-01`, to: `2025-${mm}-31T99` },
  };
}
