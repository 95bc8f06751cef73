/**
 * Lambda: the read and management API, every route of shared/app/http/routes.ts that the `api` function serves. The
 * composition root: it builds the container's adapters once (shared/adapters/http/deps.ts: one configuration cache,
 * one secret cache, each route table's dependencies) and mounts every table on the router of
 * shared/adapters/http/router.ts, which enforces each declaration's `auth` (none, bearer key, admin key).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../shared/adapters/platform/env';
import type { HttpEvent, HttpResult } from '../shared/adapters/http/http';
import { createRouter, mount } from '../shared/adapters/http/router';
import { httpProblems } from '../shared/adapters/http/problems';
import { logger } from '../shared/adapters/platform/log';
import { apiDeps } from '../shared/adapters/http/deps';
import { API_ROUTE_TABLES, ROUTE_DECLARATIONS } from '../shared/app/http/routes';

const config = loadConfig(['mainTable', 'ledgerTable', 'aggregatesTable', 'recordingsBucket', 'callerHashKeyRef', 'anchorsBucket', 'archiveBucket', 'piiKeyRef', 'ingestQueueUrl']);
const { keys, tables } = apiDeps(config);
const handlers = mount(API_ROUTE_TABLES, tables, keys);

const route = createRouter(
  ROUTE_DECLARATIONS.filter((r) => (r.fn ?? 'api') === 'api'),
  handlers,
);

export const handler = middy<HttpEvent, HttpResult>()
  .use(httpProblems())
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .handler(route);
