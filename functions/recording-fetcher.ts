/**
 * Lambda: consumes the recordings queue. Downloads each completed recording with the account's credentials for its
 * provider (Twilio, Telnyx, Vonage, Plivo) and streams it into the recordings bucket; partial batch response.
 */
import { loadConfig } from '../shared/adapters/platform/env';
import { log } from '../shared/adapters/platform/log';
import { telemetry } from '../shared/adapters/platform/metrics';
import { sqsBatchHandler } from '../shared/adapters/platform/sqs-handler';
import { CallRepo, ConfigRepo } from '../shared/adapters/calls/main-repo';
import { S3RecordingObjects, S3RecordingStore } from '../shared/adapters/recordings/recordings';
import { SecretResolver } from '../shared/adapters/platform/secrets';
import { processRecordingBatch, type FetchRecordingDeps } from '../shared/app/recordings/fetch-recording';

const config = loadConfig(['mainTable', 'recordingsBucket', 'secretsRef', 'recordingUrlAllowedHosts', 'carrierRecordingHosts']);

const deps: FetchRecordingDeps = {
  calls: new CallRepo({ mainTable: config.mainTable }),
  config: new ConfigRepo({ mainTable: config.mainTable }),
  secrets: new SecretResolver({ prefix: config.secretsRef }),
  media: new S3RecordingStore({ bucket: config.recordingsBucket, allowedHosts: config.recordingUrlAllowedHosts, carrierHosts: config.carrierRecordingHosts }),
  // The recording's legal-hold tag follows its call's open dispute (shared/domain/recordings/retention.ts).
  holds: new S3RecordingObjects(config.recordingsBucket),
  now: () => new Date(),
  telemetry,
  log,
};

export const handler = sqsBatchHandler((records) => processRecordingBatch(records, deps));
