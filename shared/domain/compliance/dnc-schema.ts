/**
 * zod schemas of the DNC lists (dnc.ts): the `PUT /v1/dnc-lists/{listId}` and JSON upload bodies and the responses the
 * OpenAPI document describes. Apart from dnc.ts so that the ledger writer does not bundle full zod.
 */
import * as z from 'zod';
import { DNC_SOURCES, MAX_DNC_LINES, type DncList } from './dnc';
import { singleLine } from '../kernel/input-schema';
import type { SameShape } from '../kernel/schema-shape';

export const DncSourceSchema = z.enum(DNC_SOURCES);

/** `PUT /v1/dnc-lists/{listId}`: create or rename a list. */
export const PutDncListBodySchema = z.strictObject({
  name: singleLine(z.string().trim().min(1).max(200)),
  source: DncSourceSchema,
});
export type PutDncListBody = z.infer<typeof PutDncListBodySchema>;

/** `POST /v1/dnc-lists/{listId}/numbers` as JSON: numbers to add and to remove (together ≤ MAX_DNC_LINES). */
export const DncNumbersBodySchema = z
  .strictObject({
    add: z.array(z.string().max(64)).max(MAX_DNC_LINES).optional(),
    remove: z.array(z.string().max(64)).max(MAX_DNC_LINES).optional(),
  })
  .refine((b) => (b.add?.length ?? 0) + (b.remove?.length ?? 0) > 0, { path: ['add'], message: 'add or remove must name at least one number' })
  .refine((b) => (b.add?.length ?? 0) + (b.remove?.length ?? 0) <= MAX_DNC_LINES, { path: ['remove'], message: `add and remove together must not exceed ${MAX_DNC_LINES}` });
export type DncNumbersBody = z.infer<typeof DncNumbersBodySchema>;

export const DncListSchema = z
  .object({
    accountId: z.string(),
    listId: z.string(),
    name: z.string(),
    source: DncSourceSchema,
    count: z.number().int().describe('Numbers listed now or from a pending instant'),
    createdAt: z.iso.datetime(),
    createdBy: z.string(),
    updatedAt: z.iso.datetime(),
    lastUploadAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'DncList' });

/** The answer is the stored list (dnc.ts): the document cannot drift from it. */
const _dncListShape: SameShape<z.output<typeof DncListSchema>, DncList> = true;
void _dncListShape;

export const DncUploadResultSchema = z
  .object({
    listId: z.string(),
    lines: z.number().int(),
    added: z.number().int(),
    already: z.number().int().describe('Added lines already listed (also repeated lines of one upload)'),
    removed: z.number().int(),
    notListed: z.number().int().describe('Removed lines that were not listed'),
    invalid: z.number().int(),
    invalidLines: z.array(z.number().int()).describe('Line numbers of invalid lines (the first 1,000); numbers are never echoed'),
    effectiveFrom: z.iso.datetime().describe('Changes apply to calls that start at or after this instant'),
  })
  .meta({ id: 'DncUploadResult' });

export const DncListsSchema = z.object({ lists: z.array(DncListSchema) });
