/**
 * zod schemas of deletion requests (shared/app/privacy/privacy.ts): the request body and the stored outcome as the
 * OpenAPI document describes it. Full zod: only the api bundles this module.
 */
import * as z from 'zod';

export const DeletionRequestBodySchema = z
  .strictObject({
    /** Any form libphonenumber-js normalises (US default); hashed at once, never stored or echoed. */
    callerNumber: z.string().trim().min(1).max(40),
  })
  .meta({ id: 'DeletionRequest' });

export const DeletionRecordSchema = z
  .object({
    deletionId: z.string(),
    accountId: z.string(),
    status: z.enum(['running', 'deferred', 'completed']),
    requestedAt: z.iso.datetime(),
    requestedBy: z.string(),
    completedAt: z.iso.datetime().nullable(),
    calls: z.number().int(),
    callIds: z.array(z.string()),
    callIdsTruncated: z.boolean(),
    personalFieldsRemoved: z.number().int(),
    recordingsDeleted: z.number().int(),
    recordingsDeferred: z.array(z.string()),
  })
  .meta({ id: 'DeletionRequestOutcome' });
