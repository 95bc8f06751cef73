/**
 * Lambda: POST /voice/twilio/{accountId} — Twilio's Voice URL, and every Gather, Dial and whisper URL CallLedger
 * writes under it (shared/app/routing/voice-answer.ts). Answers TwiML (text/xml). Everything the decision reads is
 * cached per container (configuration, targets, block lists); the answer's write is one transaction.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../shared/adapters/platform/env';
import { header, rawBody, type HttpEvent, type HttpResult } from '../shared/adapters/http/http';
import { httpProblems } from '../shared/adapters/http/problems';
import { log, logger } from '../shared/adapters/platform/log';
import { ConfigRepo } from '../shared/adapters/calls/main-repo';
import { SqsIngestQueue } from '../shared/adapters/calls/queue';
import { SecretResolver } from '../shared/adapters/platform/secrets';
import { BlockRepo } from '../shared/adapters/blocklist/block-repo';
import { TargetRepo } from '../shared/adapters/routing/target-repo';
import { RoutingRepo } from '../shared/adapters/routing/routing-repo';
import { answerVoice, type VoiceDeps } from '../shared/app/routing/voice-answer';

const config = loadConfig(['mainTable', 'ingestQueueUrl', 'publicBaseUrl', 'secretsRef', 'callerHashKeyRef']);
/** The decision's budget (VOICE_DECISION_BUDGET_MS, default 1500 ms): well inside Twilio's 15 s, and a caller hears silence meanwhile. */
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
    const answer = await answerVoice(
      {
        method: event.requestContext.http.method,
        accountId: event.pathParameters?.accountId,
        rawPath: event.rawPath,
        rawQueryString: event.rawQueryString ?? '',
        query: event.queryStringParameters ?? {},
        contentType: header(event, 'content-type'),
        signature: header(event, 'x-twilio-signature'),
        body: rawBody(event),
      },
      deps,
    );
    return { statusCode: 200, headers: { 'content-type': answer.contentType, 'cache-control': 'no-store' }, body: answer.body };
  });
