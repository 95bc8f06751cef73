/**
 * zod schemas of the QA API (qa.ts): the `POST /v1/calls/{callId}/qa` body, and the answers of both QA routes for the
 * OpenAPI document. Kept apart from qa.ts so that the ledger writer (which decodes call items, hence imports qa.ts)
 * does not bundle full zod.
 */
import * as z from 'zod';
import { DISPUTE_REASONS } from '../disputes/disputes';
import { multiLine } from '../kernel/input-schema';
import { MAX_QA_NOTE, QA_VERDICTS, type QaVerdict } from './qa';
import type { DisputeReason } from '../disputes/disputes';

export const QaVerdictSchema = z.enum(QA_VERDICTS);

/** The body of `POST /v1/calls/{callId}/qa`. */
export interface PostQaRequest {
  readonly verdict: QaVerdict;
  readonly note?: string | undefined;
  /** Open a dispute on the call's charge with this verdict (admin keys only). */
  readonly openDispute: boolean;
  /** The dispute's reason; default: the verdict's (qa.ts disputeReasonOf). Only with openDispute. */
  readonly disputeReason?: DisputeReason | undefined;
}

export const PostQaSchema = z
  .strictObject({
    verdict: QaVerdictSchema,
    note: multiLine(z.string().trim().min(1).max(MAX_QA_NOTE)).optional(),
    openDispute: z.boolean().default(false),
    disputeReason: z.enum(DISPUTE_REASONS).optional(),
  })
  .refine((b) => b.disputeReason === undefined || b.openDispute, { path: ['disputeReason'], message: 'only with openDispute: true' })
  .meta({ id: 'PostQa' }) satisfies z.ZodType<PostQaRequest>;

export const CallQaSchema = z
  .object({
    verdict: QaVerdictSchema,
    note: z.string().nullable(),
    reviewer: z.string().describe('The API key label and role, never the key'),
    reviewedAt: z.iso.datetime(),
  })
  .meta({ id: 'CallQa' });

const ProblemSummary = z.object({ status: z.number().int(), type: z.string(), title: z.string(), detail: z.string() });

export const PostQaResponseSchema = z
  .object({
    callId: z.string(),
    qa: CallQaSchema,
    dispute: z
      .object({
        result: z.enum(['opened', 'existing', 'refused']).describe('existing: an identical dispute was already open; refused: see problem'),
        dispute: z.record(z.string(), z.unknown()).nullable().describe('The dispute (as POST /v1/calls/{callId}/disputes answers it); null when refused'),
        problem: ProblemSummary.nullable().describe('Why the dispute was refused (e.g. 409 already disputed, 422 outside the window); the verdict is stored anyway'),
      })
      .nullable()
      .describe('null unless openDispute was true'),
  })
  .meta({ id: 'QaVerdictResult' });

export const QaSampleSchema = z
  .object({
    campaignId: z.string(),
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    perSource: z.number().int(),
    seed: z.string().describe('Send it again as ?seed= to reproduce this sample'),
    flaggedShare: z.number(),
    rule: z.string(),
    generatedAt: z.iso.datetime(),
    sources: z.array(
      z.object({
        publisherId: z.string(),
        subSource: z.string().nullable(),
        calls: z.number().int(),
        flagged: z.number().int(),
        sample: z.array(
          z.object({
            callId: z.string(),
            startedAt: z.iso.datetime(),
            publisherId: z.string(),
            subSource: z.string().nullable(),
            billable: z.boolean(),
            reasons: z.array(z.string()),
            signals: z.array(z.string()),
            flags: z.array(z.enum(['signal', 'disputed', 'near_buffer'])),
            qa: CallQaSchema.omit({ note: true }).nullable(),
            recording: z.object({ url: z.url(), expiresAt: z.iso.datetime() }).nullable().describe('Presigned GET, valid 15 minutes'),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'QaSample' });
