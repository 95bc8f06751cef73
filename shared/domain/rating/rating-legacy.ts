/**
 * Rating v1 (issue 2's flat contract). The ledger writer rates with rating-v2.ts (the full contract, versioned
 * terms); v1 stays as the reference the traffic generator's ground truth, the benchmark and the compact call
 * item's rule recomputation (call-item.ts) use, and `PriorBilled` is shared by both.
 *
 * Is this call billable under its campaign's terms, and for how much? A pure function of the call,
 * the terms and the prior duplicate marker; the writer supplies the marker it found (or none) and re-rates when
 * the database shows a marker it did not know about.
 *
 * Rules, in order (the first failing rule is the primary reason; every failing rule is listed):
 *  1. unknown_number   the dialled number is not an assigned tracking number (or its campaign is gone)
 *  2. not_connected    the call ended busy, no-answer, failed or canceled
 *  3. below_buffer     connected seconds < the campaign's bufferSec
 *  4. duplicate_caller the same caller already produced a billable call on this campaign within
 *                      duplicateWindowHours of this call's start
 * Rules that cannot be evaluated (no terms for an unknown number; no buffer for an unconnected call) are skipped.
 */
import type { Campaign, CallStatusEvent, CampaignTerms, RatingDecision, ReasonCode, TrackingNumber } from '../kernel/types';

export interface PriorBilled {
  readonly callId: string;
  readonly billedStartMs: number;
}

export interface RatingInput {
  readonly terminal: CallStatusEvent;
  readonly startedAtMs: number;
  readonly assignment: TrackingNumber | null;
  readonly campaign: Campaign | null;
  readonly priorBilled: PriorBilled | null;
}

type RuleResult = RatingDecision['rules'][number];

export function duplicateWindowMs(terms: CampaignTerms): number {
  return terms.duplicateWindowHours * 3_600_000;
}

/** Symmetric, so that a late-processed earlier call is judged against a later billed one the same way. */
export function withinDuplicateWindow(prior: PriorBilled, startedAtMs: number, windowMs: number): boolean {
  return Math.abs(prior.billedStartMs - startedAtMs) < windowMs;
}

export function rateCall(input: RatingInput): RatingDecision {
  const { terminal, assignment, campaign } = input;
  const rules: RuleResult[] = [];
  const known = assignment !== null && campaign !== null && campaign.campaignId === assignment.campaignId;
  rules.push({
    rule: 'unknown_number',
    passed: known,
    inputs: { to: terminal.to, campaignId: assignment?.campaignId ?? null },
  });

  if (known) {
    const terms = campaign.terms;
    const connected = terminal.status === 'completed';
    rules.push({ rule: 'not_connected', passed: connected, inputs: { status: terminal.status } });
    if (connected) {
      const durationSec = terminal.durationSec ?? 0;
      rules.push({
        rule: 'below_buffer',
        passed: durationSec >= terms.bufferSec,
        inputs: { durationSec, bufferSec: terms.bufferSec },
      });
    }
    const windowMs = duplicateWindowMs(terms);
    const prior = input.priorBilled;
    const duplicate = prior !== null && withinDuplicateWindow(prior, input.startedAtMs, windowMs);
    rules.push({
      rule: 'duplicate_caller',
      passed: !duplicate,
      inputs: {
        duplicateWindowHours: terms.duplicateWindowHours,
        priorCallId: duplicate ? prior.callId : null,
        priorStartedAt: duplicate ? new Date(prior.billedStartMs).toISOString() : null,
      },
    });
  }

  const reasons: ReasonCode[] = rules.filter((r) => !r.passed).map((r) => r.rule);
  const billable = reasons.length === 0;
  return {
    billable,
    amountCents: billable && campaign ? campaign.terms.priceCents : 0,
    reasons,
    campaignId: known ? campaign.campaignId : null,
    publisherId: known ? assignment.publisherId : null,
    subSource: known ? assignment.subSource : null,
    termsVersion: known ? campaign.terms.version : null,
    rules,
  };
}
