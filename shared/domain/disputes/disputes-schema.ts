/**
 * zod schemas of the dispute API and of a publisher's credit policy (disputes.ts). Kept apart from disputes.ts
 * because top-level schema construction is a side effect esbuild cannot drop, and the ledger writer must not
 * bundle full zod.
 */
import * as z from 'zod';
import { multiLine } from '../kernel/input-schema';
import { DISPUTE_REASONS, type CreditPolicy, type OpenDisputeRequest, type ResolveDisputeRequest } from './disputes';

export const CreditPolicySchema = z.strictObject({
  disputeWindowDays: z.number().int().min(0).max(366),
  allowedReasons: z.array(z.enum(DISPUTE_REASONS)).min(1),
}) satisfies z.ZodType<CreditPolicy>;

export const OpenDisputeSchema = z.strictObject({
  reason: z.enum(DISPUTE_REASONS),
  note: multiLine(z.string().max(2000)).default(''),
  // `satisfies`: the hand-written request types in disputes.ts must stay what these schemas produce.
}) satisfies z.ZodType<OpenDisputeRequest>;

export const ResolveDisputeSchema = z.discriminatedUnion('outcome', [
  z.strictObject({
    outcome: z.literal('accepted'),
    note: multiLine(z.string().max(2000)).default(''),
    /** Partial credit; the whole charge when absent. */
    creditCents: z.number().int('must be whole cents').min(1).optional(),
  }),
  z.strictObject({ outcome: z.literal('rejected'), note: multiLine(z.string().max(2000)).default('') }),
]) satisfies z.ZodType<ResolveDisputeRequest>;
