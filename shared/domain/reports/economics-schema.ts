/**
 * zod schemas of the reports' inputs: a campaign's economics (economics.ts), the scorecard's verdict rule
 * (scorecard.ts) and the threshold tuner's rule and sweep (threshold-tuner.ts). Kept apart from those modules
 * because top-level schema construction is a side effect esbuild cannot drop, and nothing that only computes
 * (the writer, the report reads) should bundle full zod. Query-string numbers are coerced by the sweep schema.
 */
import * as z from 'zod';
import type { CampaignEconomics } from './analytics';
import { CONFIDENCE_LEVELS, type VerdictRule } from './verdict';
import { MAX_BUFFER_SEC, MAX_THRESHOLDS, type TunerRule } from './threshold-tuner';

const share = z.number().min(0).max(1);

/** A campaign's entered economics. Margin up to $100M per customer; shares as fractions (0.2, not 20). */
export const CampaignEconomicsSchema = z.strictObject({
  avgCustomerMarginCents: z.number().int('must be whole cents').min(0).max(10_000_000_000),
  closeRate: share,
  targetShare: share,
}) satisfies z.ZodType<CampaignEconomics>;

export const VerdictRuleSchema = z.strictObject({
  minBillableCalls: z.number().int().min(1).max(1_000_000),
  confidence: z.union(CONFIDENCE_LEVELS.map((c) => z.literal(c))),
}) satisfies z.ZodType<VerdictRule>;

export const TunerRuleSchema = z.strictObject({
  minCaptureShare: share,
  minBookedJobs: z.number().int().min(0).max(1_000_000),
}) satisfies z.ZodType<TunerRule>;

const seconds = z.coerce.number().int('must be whole seconds').min(0).max(MAX_BUFFER_SEC);

/** `min`, `max`, `step` of `GET /v1/reports/threshold` (query strings, coerced; defaults 0, 600, 5). */
export const ThresholdSweepSchema = z
  .object({
    min: seconds.default(0),
    max: seconds.default(600),
    step: z.coerce.number().int('must be whole seconds').min(1).max(MAX_BUFFER_SEC).default(5),
  })
  .superRefine((q, ctx) => {
    if (q.max < q.min) ctx.addIssue({ code: 'custom', path: ['max'], message: 'must be at least min' });
    else if (Math.floor((q.max - q.min) / q.step) + 1 > MAX_THRESHOLDS) {
      ctx.addIssue({ code: 'custom', path: ['step'], message: `gives more than ${MAX_THRESHOLDS} candidate buffers between min and max` });
    }
  });
