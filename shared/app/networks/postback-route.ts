/**
 * A network's postback or pixel URL: served by its own function (functions/ingest-network.ts), which checks the secret
 * segment of the path itself (postback-ingest.ts) and answers 204 once the claim is durable. Declared here like every
 * route (shared/app/kernel/route.ts), so API Gateway, the local stack and the OpenAPI document take it from one place.
 */
import * as z from 'zod';
import { externalRoute, type RouteDoc } from '../kernel/route';
import { PostbackForm } from './networks-schemas';

export const POSTBACK_ROUTES: readonly RouteDoc[] = [
  externalRoute({
    method: 'ANY',
    path: '/webhooks/networks/{accountId}/{networkId}/{secret}',
    fn: 'ingestNetwork',
    summary:
      'A network’s postback or pixel (Ringba, Retreaver, TrackDrive, generic): tokens in the query, a form or a JSON body. 204 once durable in SQS; 404 for an unknown account, network or secret (nothing written), 403 source address outside the allow-list, 400 a bad token (named)',
    auth: 'none',
    anyMethods: ['get', 'post'],
    requestForm: PostbackForm,
    request: z.record(z.string(), z.unknown()).describe('A JSON object; nested keys are read with dots'),
    responses: { 204: { description: 'Accepted' } },
    problems: [400, 403, 404, 405, 413, 415],
  }),
];
