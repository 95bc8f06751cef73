/**
 * Lambda: consumes the recordings queue. Downloads each completed recording with the account's Twilio
 * credentials and streams it into the recordings bucket; partial batch response.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '../shared/adapters/env';
import { log, logger } from '../shared/adapters/log';
import { publishMetrics, telemetry } from '../shared/adapters/metrics';
import { CallRepo, ConfigRepo } from '../shared/adapters/main-repo';
import { S3RecordingStore } from '../shared/adapters/recordings';
import { SecretResolver } from '../shared/adapters/secrets';
import { processRecordingBatch, type FetchRecordingDeps } from '../shared/app/fetch-recording';

const config = loadConfig(['mainTable', 'recordingsBucket', 'secretsRef', 'recordingUrlAllowedHosts']);

const deps: FetchRecordingDeps = {
  calls: new CallRepo({ mainTable: config.mainTable }),
  config: new ConfigRepo({ mainTable: config.mainTable }),
  secrets: new SecretResolver({ prefix: config.secretsRef }),
  media: new S3RecordingStore({ bucket: config.recordingsBucket, allowedHosts: config.recordingUrlAllowedHosts }),
  now: () => new Date(),
  telemetry,
  log,
};

export const handler = middy<SQSEvent, SQSBatchResponse>()
  // logEvent: false whatever POWERTOOLS_LOGGER_LOG_EVENT says: events carry caller numbers.
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .use(publishMetrics())
  .handler(async (event) => {
    const { failedMessageIds } = await processRecordingBatch(
      event.Records.map((r) => ({ messageId: r.messageId, body: r.body })),
      deps,
    );
    return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
  });
