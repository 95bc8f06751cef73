/**
 * Lambda: POST /voice/{telnyx,plivo}/{accountId}, GET|POST /voice/vonage/{accountId} — the voice URL of the carriers besides Twilio, and every Gather, Dial and
 * whisper URL CallLedger writes under it (shared/app/routing/voice-carriers.ts). One function for the carriers, as
 * their webhooks have (ingest-carrier.ts): the carrier comes from the route; the decision is Twilio's
 * (voice-answer.ts), the answer in the carrier's language. Kept apart from voice-twilio.ts so that it reads only the
 * carriers' secrets, never Twilio's.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../shared/adapters/platform/env';
import { noContent, rawBody, type HttpEvent, type HttpResult } from '../shared/adapters/http/http';
import { httpProblems } from '../shared/adapters/http/problems';
import { logger } from '../shared/adapters/platform/log';
import { voiceDeps } from '../shared/adapters/routing/deps';
import { voiceCarrierOfRoute } from '../shared/adapters/http/carrier-route';
import { answerCarrierVoice, type CarrierVoiceDeps } from '../shared/app/routing/voice-carriers';
import { RoutingRepo } from '../shared/adapters/routing/routing-repo';

const config = loadConfig(['mainTable', 'ingestQueueUrl', 'publicBaseUrl', 'secretsRef', 'callerHashKeyRef', 'voiceDecisionBudgetMs']);
// The decision's budget: VOICE_DECISION_BUDGET_MS (default 1500 ms, at least 50), validated with the rest at load.
// Vonage's dialled legs report to the connect's eventUrl, on this route: their leases and audit (RoutingRepo.dialLeg).
const deps: CarrierVoiceDeps = { ...voiceDeps(config), legs: new RoutingRepo({ mainTable: config.mainTable }) };

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
    // A dialled leg's state Vonage expects no NCCO for: acknowledged with no content.
    if (answer.noContent === true) return noContent();
    return { statusCode: 200, headers: { 'content-type': answer.contentType, 'cache-control': 'no-store' }, body: answer.body };
  });
