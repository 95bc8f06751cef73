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
import { logger } from '../shared/adapters/platform/log';
import { voiceDeps } from '../shared/adapters/routing/deps';
import { answerVoice } from '../shared/app/routing/voice-answer';

const config = loadConfig(['mainTable', 'ingestQueueUrl', 'publicBaseUrl', 'secretsRef', 'callerHashKeyRef', 'voiceDecisionBudgetMs']);
// The decision's budget: VOICE_DECISION_BUDGET_MS (default 1500 ms, at least 50), validated with the rest at load.
const deps = voiceDeps(config);

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
