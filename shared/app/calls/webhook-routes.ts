/**
 * The provider webhooks: each served by its own function (functions/ingest-twilio.ts), which verifies the provider's
 * signature over the raw request itself and answers 204 once the event is durable. Declared here like every route, so
 * API Gateway, the local stack and the OpenAPI document all take them from one place; they have no handler here.
 */
import * as z from 'zod';
import { externalRoute, type RouteDoc } from '../kernel/route';

/** What Twilio posts: its voice status and recording status callback parameters (a repeated parameter is a list). */
const TwilioCallback = z
  .object({ AccountSid: z.string(), CallSid: z.string() })
  .catchall(z.union([z.string(), z.array(z.string())]))
  .describe('Twilio voice status or recording status callback parameters');

export const WEBHOOK_ROUTES: readonly RouteDoc[] = [
  externalRoute({
    method: 'ANY',
    path: '/webhooks/twilio/{accountId}',
    fn: 'ingestTwilio',
    summary: 'Twilio voice status and recording status callbacks (form-encoded, X-Twilio-Signature). 204 once durable in SQS.',
    auth: 'signature',
    requestForm: TwilioCallback,
    headers: [{ name: 'X-Twilio-Signature', required: true, description: "HMAC-SHA1 of the public URL and the sorted parameters under the account's auth token" }],
    responses: { 204: { description: 'Accepted' } },
    problems: [400, 403, 404, 405, 413, 415],
  }),
];
