/**
 * zod schemas of the block list (block-list.ts): the `PUT /v1/blocked-callers/{e164}` body and the response the
 * OpenAPI document describes. Apart from block-list.ts so that the ledger writer, which reads block lists through
 * the pure module, does not bundle full zod (docs/ARCHITECTURE.md).
 */
import * as z from 'zod';
import { BLOCK_REASONS } from './block-list';
import { instantInput } from '../kernel/input-schema';

export const BlockReasonSchema = z.enum(BLOCK_REASONS);

/**
 * `PUT /v1/blocked-callers/{e164}`: block (default) or unblock the caller from `effectiveFrom` (default and
 * minimum: now + CONFIG_LEAD_MS). `reason` is required to block; an unblock keeps the last reason unless given.
 */
export const BlockCallerBodySchema = z
  .strictObject({
    reason: BlockReasonSchema.optional(),
    blocked: z.boolean().default(true),
    effectiveFrom: instantInput().optional(),
  })
  .refine((b) => !b.blocked || b.reason !== undefined, { path: ['reason'], message: 'is required when blocking' });
export type BlockCallerBody = z.infer<typeof BlockCallerBodySchema>;

const BlockChangeSchema = z
  .object({
    blocked: z.boolean(),
    reason: BlockReasonSchema,
    effectiveFrom: z.iso.datetime(),
    at: z.iso.datetime(),
    by: z.string().describe('The API key label that wrote the change'),
  })
  .meta({ id: 'BlockChange' });

/** The response of the blocked-caller routes (block-list.ts BlockedCallerView): never the number, never its hash. */
export const BlockedCallerSchema = z
  .object({
    blockId: z.string().regex(/^blk_[0-9a-f]{16}$/).describe('What a rating explanation names (rule blocked_caller); not reversible to the number'),
    last4: z.string().describe('The last four digits, e.g. …1234'),
    reason: BlockReasonSchema,
    state: z.enum(['blocked', 'unblocked']).describe('In force for calls that start now'),
    pending: z
      .object({ blocked: z.boolean(), effectiveFrom: z.iso.datetime() })
      .nullable()
      .describe('The latest change, when it is not in force yet'),
    createdAt: z.iso.datetime(),
    createdBy: z.string(),
    updatedAt: z.iso.datetime(),
    history: z.array(BlockChangeSchema).describe('Every change in the order written; a call is rated by the last-written change in force when it started'),
  })
  .meta({ id: 'BlockedCaller' });
