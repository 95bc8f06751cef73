/**
 * zod schemas of consent evidence and the account's compliance settings (consent.ts): the `POST /v1/consent` and
 * `PUT /v1/account/compliance` bodies and the responses the OpenAPI document describes.
 */
import * as z from 'zod';
import { instantInput, singleLine } from '../kernel/input-schema';
import type { ConsentEvidence } from './consent';
import type { SameShape } from '../kernel/schema-shape';

const CertificateUrl = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      return new URL(u).protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an https URL');

/** Ids from the lead or consent vendor's systems: single-line text. */
const Id = singleLine(z.string().trim().min(1).max(200));

/** One consent record: by callId (the call's caller) or by callerNumber; a certificate id and/or URL is required. */
export const ConsentRecordSchema = z
  .strictObject({
    callId: Id.optional(),
    callerNumber: z.string().max(64).optional(),
    capturedAt: instantInput().describe('When the consent was captured'),
    certificateId: Id.optional(),
    certificateUrl: CertificateUrl.optional(),
    leadId: Id.optional(),
    publisherId: Id.optional(),
  })
  .refine((r) => (r.callId === undefined) !== (r.callerNumber === undefined), { path: ['callId'], message: 'exactly one of callId and callerNumber is required' })
  .refine((r) => r.certificateId !== undefined || r.certificateUrl !== undefined, { path: ['certificateId'], message: 'certificateId or certificateUrl is required' })
  .refine((r) => r.callerNumber === undefined || r.publisherId !== undefined, { path: ['publisherId'], message: 'is required with callerNumber' });
export type ConsentRecord = z.infer<typeof ConsentRecordSchema>;

export const MAX_CONSENT_RECORDS = 1000;

/**
 * One record, or {records: [...]} (≤ MAX_CONSENT_RECORDS). Each record is validated on its own and an invalid one is
 * refused in its result line (the answer is still 200), so the body's schema holds only what is refused as a whole.
 */
export const ConsentBatchSchema = z.strictObject({ records: z.array(z.unknown()).min(1).max(MAX_CONSENT_RECORDS) });
const RECORD_FIELDS = 'callId or callerNumber (+ publisherId), capturedAt, certificateId and/or certificateUrl (https), leadId';
export const PostConsentBodySchema = z.union([
  z.looseObject({}).describe(`One consent record: ${RECORD_FIELDS}. Refused in its result line when invalid.`),
  z.strictObject({
    records: z
      .array(z.looseObject({}).describe(`A consent record: ${RECORD_FIELDS}`))
      .min(1)
      .max(MAX_CONSENT_RECORDS)
      .describe('Consent records, each validated on its own: an invalid one is refused in its result line'),
  }),
]);

export const ComplianceSettingsSchema = z
  .strictObject({
    consentMissingNonBillable: z.boolean(),
    dncNonBillable: z.boolean(),
  })
  .meta({ id: 'ComplianceSettings' });

export const ConsentEvidenceSchema = z
  .object({
    evidenceId: z.string(),
    accountId: z.string(),
    capturedAt: z.iso.datetime(),
    certificateId: z.string().nullable(),
    certificateUrl: z.string().nullable(),
    leadId: z.string().nullable(),
    publisherId: z.string().nullable(),
    callId: z.string().nullable(),
    postedAt: z.iso.datetime(),
    postedBy: z.string(),
  })
  .meta({ id: 'ConsentEvidence' });

/** The answer is the stored evidence (consent.ts): the document cannot drift from it. */
const _evidenceShape: SameShape<z.output<typeof ConsentEvidenceSchema>, ConsentEvidence> = true;
void _evidenceShape;

export const PostConsentResponseSchema = z.object({
  results: z.array(
    z.object({
      line: z.number().int(),
      result: z.enum(['stored', 'already', 'refused']),
      evidenceId: z.string().nullable(),
      problem: z.object({ status: z.number().int(), title: z.string(), detail: z.string(), errors: z.array(z.object({ field: z.string(), message: z.string() })).optional() }).optional(),
    }),
  ),
});

export const CallConsentSchema = z.object({
  callId: z.string(),
  startedAt: z.iso.datetime().nullable(),
  validityDays: z.number().int(),
  evidence: z.array(ConsentEvidenceSchema).describe('Newest capture first: evidence captured at or before the call started, within validityDays'),
});
