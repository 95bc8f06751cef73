/**
 * The routes every caller may use without a key: the API's own OpenAPI document and which dependency answers.
 */
import * as z from 'zod';
import { checkHealth, type HealthDeps, type HealthReport } from './health';
import { route, type Route } from './route';

const AnyObject = z.record(z.string(), z.unknown());

const HealthReportSchema = z
  .object({
    status: z.enum(['ok', 'degraded']),
    components: z.record(z.string(), z.enum(['up', 'down'])).describe('dynamodb, sqs, s3 (locally also the SQS pollers)'),
    failures: z.record(z.string(), z.string()).optional().describe('Why each down component is down: timeout, throttled, unavailable, network, error'),
  })
  .meta({ id: 'HealthReport' });

export interface ServiceRouteDeps {
  readonly health: HealthDeps;
  /** Seconds a degraded answer tells the client to wait. */
  readonly retryAfterSec: number;
  /** Told of a degraded answer (the operator's log). */
  readonly degraded: (report: HealthReport) => void;
  /** The OpenAPI document, as JSON text (it depends only on the code: built once). */
  readonly openApiJson: () => string;
}

export const SERVICE_ROUTES: readonly Route<ServiceRouteDeps, null>[] = [
  route<ServiceRouteDeps, Record<never, never>, null>({
    method: 'GET',
    path: '/v1/openapi.json',
    summary: 'This document',
    auth: 'none',
    responses: { 200: { description: 'OpenAPI 3.1', schema: AnyObject } },
    problems: [],
    dependencies: false,
    handle: async (_principal, _req, deps) => ({
      status: 200,
      body: deps.openApiJson(),
      contentType: 'application/json',
      headers: { 'cache-control': 'public, max-age=300' },
      encoded: true,
    }),
  }),
  route<ServiceRouteDeps, Record<never, never>, null>({
    method: 'GET',
    path: '/health',
    summary: 'Which component answers: one cheap request to each, each cut off after 2 s',
    auth: 'none',
    responses: {
      200: { description: 'Every component answered', schema: HealthReportSchema },
      503: { description: 'A component did not answer (named in `failures`); with Retry-After', schema: HealthReportSchema, retryAfter: true },
    },
    problems: [],
    dependencies: false,
    handle: async (_principal, _req, deps) => {
      const report = await checkHealth(deps.health);
      if (report.status === 'ok') return { status: 200, body: report };
      deps.degraded(report);
      return { status: 503, body: report, headers: { 'retry-after': String(deps.retryAfterSec) } };
    },
  }),
];
