/**
 * The one shape of an SQS-consuming Lambda: Powertools logging context (never the event: it carries caller
 * numbers), metrics published when there are any, and a partial batch response built from the use case's failed
 * message ids (the event source mapping has ReportBatchItemFailures on).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { logger } from './log';
import { publishMetrics } from './metrics';

export interface QueueRecord {
  readonly messageId: string;
  readonly body: string;
}

export function sqsBatchHandler(
  processBatch: (records: QueueRecord[]) => Promise<{ readonly failedMessageIds: readonly string[] }>,
) {
  return middy<SQSEvent, SQSBatchResponse>()
    // logEvent: false whatever POWERTOOLS_LOGGER_LOG_EVENT says.
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(publishMetrics())
    .handler(async (event) => {
      const { failedMessageIds } = await processBatch(event.Records.map((r) => ({ messageId: r.messageId, body: r.body })));
      return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
    });
}
