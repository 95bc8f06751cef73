/**
 * Drift between a network's count and the buyer's, from the findings of matching.ts, and the disputes the
 * disagreements call for. Pure: the time zone and the current instant are arguments.
 *
 * Drift rows: one per local day (in the given IANA zone, by the finding's `startedAt`: the leg's start when there is
 * a leg) and per publisher (the claim's; null for legs no claim names). Each row counts the calls (findings), the
 * agreements (`matched`), each disagreement state with its calls and money at stake, and the distribution of the
 * duration gap (claim − leg, seconds) over every pair with both durations, in fixed signed buckets
 * (DURATION_GAP_BUCKETS), so that "they count longer" and "we count longer" read apart. Totals are the rows summed.
 * calls = agreements + Σ disagreement calls, in every row.
 *
 * Dispute proposals: one per finding that names a claim in which the network bills more than the buyer owes
 * (`claimed_not_received`, `billable_disagreement` they count and we do not, a `duration_gap` whose amounts differ
 * that way) or names the wrong publisher (`attribution_conflict`, whatever the money), while the credit window is
 * open: until the finding's start + windowDays × 24 h (exclusive). Never outside it. The policy decides the
 * action: `auto_open` → `open`, `propose` → `propose`, `off` → none. Calls the network does not bill
 * (`received_not_claimed`, we count and they do not) are not disputes: there is nothing to credit. A proposal's id
 * is the network call id's, so re-running drift proposes each dispute once.
 */
import { wallTime } from '../kernel/zoned-time';
import { MATCH_STATES, type Disagreement, type MatchFinding, type MatchReason, type MatchState } from './matching';
import type { NetworkCreditPolicy } from './registration';

export const DURATION_GAP_BUCKETS = [
  { label: '<=-301', min: -Infinity, max: -301 },
  { label: '-300..-61', min: -300, max: -61 },
  { label: '-60..-16', min: -60, max: -16 },
  { label: '-15..-6', min: -15, max: -6 },
  { label: '-5..-1', min: -5, max: -1 },
  { label: '0', min: 0, max: 0 },
  { label: '1..5', min: 1, max: 5 },
  { label: '6..15', min: 6, max: 15 },
  { label: '16..60', min: 16, max: 60 },
  { label: '61..300', min: 61, max: 300 },
  { label: '>=301', min: 301, max: Infinity },
] as const;
export type DurationGapBucket = (typeof DURATION_GAP_BUCKETS)[number]['label'];

export const DISAGREEMENTS = MATCH_STATES.filter((s): s is Disagreement => s !== 'matched');

export interface StateTotal {
  readonly calls: number;
  readonly atStakeCents: number;
}

export interface DriftCounts {
  readonly calls: number;
  readonly agreements: number;
  readonly disagreements: Readonly<Record<Disagreement, StateTotal>>;
  readonly durationGap: readonly { readonly bucket: DurationGapBucket; readonly calls: number }[];
}

export interface DriftRow extends DriftCounts {
  /** Local date in the report's zone, YYYY-MM-DD. */
  readonly day: string;
  readonly publisher: string | null;
}

export interface DriftReport {
  readonly timeZone: string;
  /** By day, then publisher (null last). */
  readonly rows: readonly DriftRow[];
  readonly totals: DriftCounts;
}

export function gapBucket(gapSec: number): DurationGapBucket {
  const rounded = Math.round(gapSec);
  return DURATION_GAP_BUCKETS.find((b) => rounded >= b.min && rounded <= b.max)!.label;
}

function localDay(iso: string, timeZone: string): string {
  const w = wallTime(Date.parse(iso), timeZone);
  return `${String(w.year).padStart(4, '0')}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}

interface Mutable {
  calls: number;
  agreements: number;
  disagreements: Record<Disagreement, { calls: number; atStakeCents: number }>;
  gaps: Map<DurationGapBucket, number>;
}

function empty(): Mutable {
  const disagreements = Object.fromEntries(DISAGREEMENTS.map((s) => [s, { calls: 0, atStakeCents: 0 }])) as Mutable['disagreements'];
  return { calls: 0, agreements: 0, disagreements, gaps: new Map() };
}

function addTo(m: Mutable, f: MatchFinding): void {
  m.calls += 1;
  if (f.state === 'matched') m.agreements += 1;
  else {
    m.disagreements[f.state].calls += 1;
    m.disagreements[f.state].atStakeCents += f.atStakeCents;
  }
  if (f.durationGapSec !== null) {
    const b = gapBucket(f.durationGapSec);
    m.gaps.set(b, (m.gaps.get(b) ?? 0) + 1);
  }
}

function frozen(m: Mutable): DriftCounts {
  return {
    calls: m.calls,
    agreements: m.agreements,
    disagreements: m.disagreements,
    durationGap: DURATION_GAP_BUCKETS.map((b) => ({ bucket: b.label, calls: m.gaps.get(b.label) ?? 0 })),
  };
}

/** The drift report of a network's findings, per local day and publisher. */
export function networkDrift(findings: readonly MatchFinding[], timeZone: string): DriftReport {
  const rows = new Map<string, { day: string; publisher: string | null; counts: Mutable }>();
  const totals = empty();
  for (const f of findings) {
    const day = localDay(f.startedAt, timeZone);
    const key = JSON.stringify([day, f.publisher]);
    let row = rows.get(key);
    if (row === undefined) {
      row = { day, publisher: f.publisher, counts: empty() };
      rows.set(key, row);
    }
    addTo(row.counts, f);
    addTo(totals, f);
  }
  const sorted = [...rows.values()].sort(
    (a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0) || (a.publisher === b.publisher ? 0 : a.publisher === null ? 1 : b.publisher === null ? -1 : a.publisher < b.publisher ? -1 : 1),
  );
  return { timeZone, rows: sorted.map((r) => ({ day: r.day, publisher: r.publisher, ...frozen(r.counts) })), totals: frozen(totals) };
}

export interface DisputeProposal {
  readonly proposalId: string;
  readonly action: 'open' | 'propose';
  readonly state: MatchState;
  readonly reasons: readonly MatchReason[];
  readonly networkCallId: string;
  /** The buyer's leg (null for a claim no leg matched). */
  readonly legCallId: string | null;
  /** What the buyer asks back: the network's amount above ours (an attribution conflict: the network's amount). */
  readonly amountCents: number;
  readonly startedAt: string;
  /** The credit window closes at this instant (exclusive). */
  readonly deadline: string;
}

/** Whether a finding is a dispute the network can be asked to credit (the money, or the publisher, is wrong on its side). */
export function isDisputable(f: MatchFinding): boolean {
  if (f.networkCallId === null) return false;
  if (f.state === 'attribution_conflict') return true;
  if (f.state === 'matched' || f.state === 'received_not_claimed') return false;
  return (f.theirCents ?? 0) > (f.ourCents ?? 0);
}

export function networkDisputeId(networkId: string, networkCallId: string): string {
  return `network-dispute:${networkId}:${networkCallId}`;
}

/** The disputes the findings call for under the network's policy at `nowMs`, sorted by start then network call id. */
export function disputeProposals(networkId: string, findings: readonly MatchFinding[], policy: NetworkCreditPolicy, nowMs: number): DisputeProposal[] {
  if (policy.mode === 'off') return [];
  const action = policy.mode === 'auto_open' ? 'open' : 'propose';
  const windowMs = policy.windowDays * 86_400_000;
  const out: DisputeProposal[] = [];
  for (const f of findings) {
    if (!isDisputable(f)) continue;
    const deadlineMs = Date.parse(f.startedAt) + windowMs;
    if (nowMs >= deadlineMs) continue;
    out.push({
      proposalId: networkDisputeId(networkId, f.networkCallId!),
      action,
      state: f.state,
      reasons: f.reasons,
      networkCallId: f.networkCallId!,
      legCallId: f.legCallId,
      amountCents: f.state === 'attribution_conflict' ? (f.theirCents ?? 0) : (f.theirCents ?? 0) - (f.ourCents ?? 0),
      startedAt: f.startedAt,
      deadline: new Date(deadlineMs).toISOString(),
    });
  }
  return out.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0) || (a.networkCallId < b.networkCallId ? -1 : 1));
}
