/**
 * zod schema of the recording retention setting (retention.ts): `PUT /v1/account/compliance` takes it
 * next to the compliance flags. Apart from retention.ts so that the fetcher and the writer, which read the class,
 * do not bundle full zod.
 */
import * as z from 'zod';
import { ComplianceSettingsSchema } from '../compliance/consent-schema';
import { DEFAULT_RECORDING_RETENTION_DAYS, RECORDING_RETENTION_DAYS } from './retention';

export const RecordingRetentionDaysSchema = z
  .union(RECORDING_RETENTION_DAYS.map((d) => z.literal(d)) as unknown as [z.ZodLiteral<number>, z.ZodLiteral<number>, ...z.ZodLiteral<number>[]], {
    error: `must be one of ${RECORDING_RETENTION_DAYS.join(', ')} (days)`,
  })
  .meta({ description: `Days a recording is kept after it is stored; default ${DEFAULT_RECORDING_RETENTION_DAYS}. Applies to recordings stored from now on.` });

/** The compliance flags plus, optionally, the recording retention class (absent: the account's class is unchanged). */
export const AccountComplianceBodySchema = ComplianceSettingsSchema.extend({
  recordingRetentionDays: RecordingRetentionDaysSchema.optional(),
}).meta({ id: 'AccountComplianceSettings' });
export type AccountComplianceBody = z.infer<typeof AccountComplianceBodySchema>;
