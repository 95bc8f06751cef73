/**
 * Lambda: GET|POST /webhooks/networks/{accountId}/{networkId}/{secret}. Checks a network's postback (its secret, the
 * source address, its tokens), enqueues it, answers 204 (shared/app/networks/postback-ingest.ts). Neither the
 * secret nor the request path that carries it is logged.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../shared/adapters/platform/env';
import { header, noContent, rawBody, type HttpEvent, type HttpResult } from '../shared/adapters/http/http';
import { httpProblems } from '../shared/adapters/http/problems';
import { logger } from '../shared/adapters/platform/log';
import { SecretResolver } from '../shared/adapters/platform/secrets';
import { postbackIngestDeps } from '../shared/adapters/networks/deps';
import { ingestPostback } from '../shared/app/networks/postback-ingest';

const config = loadConfig(['mainTable', 'ingestQueueUrl', 'callerHashKeyRef']);
const deps = postbackIngestDeps(config, new SecretResolver());

export const handler = middy<HttpEvent, HttpResult>()
  // The path is the credential: a problem names the route template as its instance, never the path.
  .use(httpProblems({ instance: '/webhooks/networks/{accountId}/{networkId}/{secret}' }))
  // logEvent: false whatever POWERTOOLS_LOGGER_LOG_EVENT says: the path carries the secret, the query the caller.
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .handler(async (event) => {
    await ingestPostback(
      {
        method: event.requestContext.http.method,
        accountId: event.pathParameters?.accountId,
        networkId: event.pathParameters?.networkId,
        secret: event.pathParameters?.secret,
        rawQueryString: event.rawQueryString ?? '',
        contentType: header(event, 'content-type'),
        body: rawBody(event),
        sourceIp: event.requestContext.http.sourceIp,
      },
      deps,
    );
    return noContent();
  });
