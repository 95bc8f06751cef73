/**
 * Lambda: POST /webhooks/twilio/{accountId}. Verifies and normalises a Twilio webhook, enqueues it, answers 204.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../shared/adapters/platform/env';
import { header, noContent, rawBody, type HttpEvent, type HttpResult } from '../shared/adapters/http/http';
import { httpProblems } from '../shared/adapters/http/problems';
import { log, logger } from '../shared/adapters/platform/log';
import { publishMetrics, telemetry } from '../shared/adapters/platform/metrics';
import { ConfigRepo } from '../shared/adapters/calls/main-repo';
import { SqsIngestQueue } from '../shared/adapters/calls/queue';
import { SecretResolver } from '../shared/adapters/platform/secrets';
import { ingestWebhook, type IngestDeps } from '../shared/app/calls/ingest';
import { RoutingRepo } from '../shared/adapters/routing/routing-repo';

const config = loadConfig(['mainTable', 'ingestQueueUrl', 'publicBaseUrl', 'secretsRef']);

const deps: IngestDeps = {
  config: new ConfigRepo({ mainTable: config.mainTable }),
  secrets: new SecretResolver({ prefix: config.secretsRef }),
  queue: new SqsIngestQueue(config.ingestQueueUrl),
  publicBaseUrl: config.publicBaseUrl,
  now: () => new Date(),
  telemetry,
  log,
  // The dialled legs' progress (`?leg=dial…`): the target's lease and the routing audit.
  legs: new RoutingRepo({ mainTable: config.mainTable }),
};

export const handler = middy<HttpEvent, HttpResult>()
  .use(httpProblems())
  // logEvent: false whatever POWERTOOLS_LOGGER_LOG_EVENT says: events carry caller numbers.
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .use(publishMetrics())
  .handler(async (event) => {
    await ingestWebhook(
      {
        method: event.requestContext.http.method,
        accountId: event.pathParameters?.accountId,
        rawPath: event.rawPath,
        rawQueryString: event.rawQueryString ?? '',
        contentType: header(event, 'content-type'),
        signature: header(event, 'x-twilio-signature'),
        body: rawBody(event),
      },
      deps,
    );
    return noContent();
  });
