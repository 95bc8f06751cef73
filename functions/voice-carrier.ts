/**
 * Lambda: POST /voice/{telnyx,plivo}/{accountId} — the voice URL of the carriers besides Twilio, and every Gather, Dial and
 * whisper URL CallLedger writes under it (shared/app/routing/voice-carriers.ts). One function for the carriers, as
 * their webhooks have (ingest-carrier.ts): the carrier comes from the route; the decision is Twilio's
 * (voice-answer.ts), the answer in the carrier's language. Kept apart from voice-twilio.ts so that it reads only the
 * carriers' secrets, never Twilio's.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../shared/adapters/platform/env';
import { rawBody, type HttpEvent, type HttpResult } from '../shared/adapters/http/http';
import { httpProblems } from '../shared/adapters/http/problems';
import { log, logger } from '../shared/adapters/platform/log';
import { ConfigRepo } from '../shared/adapters/calls/main-repo';
import { SqsIngestQueue } from '../shared/adapters/calls/queue';
import { SecretResolver } from '../shared/adapters/platform/secrets';
import { BlockRepo } from '../shared/adapters/blocklist/block-repo';
import { TargetRepo } from '../shared/adapters/routing/target-repo';
import { RoutingRepo } from '../shared/adapters/routing/routing-repo';
import { voiceCarrierOfRoute } from '../shared/adapters/http/carrier-route';
import type { VoiceDeps } from '../shared/app/routing/voice-answer';
import { answerCarrierVoice } from '../shared/app/routing/voice-carriers';

const config = loadConfig(['mainTable', 'ingestQueueUrl', 'publicBaseUrl', 'secretsRef', 'callerHashKeyRef']);
/** The decision's budget (VOICE_DECISION_BUDGET_MS, default 1500 ms), as the Twilio voice function's. */
const budgetMs = Number(process.env.VOICE_DECISION_BUDGET_MS ?? 1500);
const hashKeys = new SecretResolver();

const deps: VoiceDeps = {
  config: new ConfigRepo({ mainTable: config.mainTable }),
  secrets: new SecretResolver({ prefix: config.secretsRef }),
  targets: new TargetRepo({ mainTable: config.mainTable }),
  blocks: new BlockRepo({ mainTable: config.mainTable }),
  callerHashKey: () => hashKeys.resolve(config.callerHashKeyRef),
  routing: new RoutingRepo({ mainTable: config.mainTable }),
  queue: new SqsIngestQueue(config.ingestQueueUrl),
  publicBaseUrl: config.publicBaseUrl,
  now: () => new Date(),
  budgetMs: Number.isFinite(budgetMs) && budgetMs > 0 ? budgetMs : 1500,
  log,
  lastKnown: new Map(),
};

export const handler = middy<HttpEvent, HttpResult>()
  .use(httpProblems())
  // logEvent: false: voice requests carry caller numbers.
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .handler(async (event) => {
    const answer = await answerCarrierVoice(
      {
        carrier: voiceCarrierOfRoute(event),
        method: event.requestContext.http.method,
        accountId: event.pathParameters?.accountId,
        headers: event.headers ?? {},
        rawPath: event.rawPath,
        rawQueryString: event.rawQueryString ?? '',
        query: event.queryStringParameters ?? {},
        body: rawBody(event),
      },
      deps,
    );
    return { statusCode: 200, headers: { 'content-type': answer.contentType, 'cache-control': 'no-store' }, body: answer.body };
  });
