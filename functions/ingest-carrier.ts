/**
 * Lambda: POST /webhooks/{telnyx,vonage,plivo}/{accountId}. One function for the three carriers: it takes the
 * carrier from the route, verifies and normalises the webhook with that carrier's scheme, enqueues it, answers 204
 * (Telnyx: 200)
 * (docs/ARCHITECTURE.md, "Carrier webhooks: one function").
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../shared/adapters/platform/env';
import { noContent, rawBody, type HttpEvent, type HttpResult } from '../shared/adapters/http/http';
import { httpProblems } from '../shared/adapters/http/problems';
import { log, logger } from '../shared/adapters/platform/log';
import { publishMetrics, telemetry } from '../shared/adapters/platform/metrics';
import { ConfigRepo } from '../shared/adapters/calls/main-repo';
import { SqsIngestQueue } from '../shared/adapters/calls/queue';
import { SecretResolver } from '../shared/adapters/platform/secrets';
import { carrierOfRoute } from '../shared/adapters/http/carrier-route';
import { ingestCarrierWebhook, type CarrierIngestDeps } from '../shared/app/calls/carrier-ingest';
import { RoutingRepo } from '../shared/adapters/routing/routing-repo';

const config = loadConfig(['mainTable', 'ingestQueueUrl', 'publicBaseUrl', 'secretsRef', 'callerHashKeyRef']);
const hashKeys = new SecretResolver();

const deps: CarrierIngestDeps = {
  config: new ConfigRepo({ mainTable: config.mainTable }),
  secrets: new SecretResolver({ prefix: config.secretsRef }),
  queue: new SqsIngestQueue(config.ingestQueueUrl),
  publicBaseUrl: config.publicBaseUrl,
  now: () => new Date(),
  telemetry,
  log,
  // A TeXML dialled leg's progress (`?leg=dial…&st`): the target's lease and the routing audit, its context
  // authenticated with the account's state key (derived from the caller-hash key).
  legs: new RoutingRepo({ mainTable: config.mainTable }),
  callerHashKey: () => hashKeys.resolve(config.callerHashKeyRef),
};

export const handler = middy<HttpEvent, HttpResult>()
  .use(httpProblems())
  // logEvent: false whatever POWERTOOLS_LOGGER_LOG_EVENT says: events carry caller numbers.
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .use(publishMetrics())
  .handler(async (event) => {
    const carrier = carrierOfRoute(event);
    await ingestCarrierWebhook(
      {
        carrier,
        method: event.requestContext.http.method,
        accountId: event.pathParameters?.accountId,
        rawPath: event.rawPath,
        rawQueryString: event.rawQueryString ?? '',
        headers: event.headers ?? {},
        body: rawBody(event),
      },
      deps,
    );
    // Telnyx's Voice API guide delivers to the failover URL on any answer but 200 OK; the others take Twilio's 204.
    return carrier === 'telnyx' ? { statusCode: 200, headers: {}, body: '' } : noContent();
  });
