/**
 * Lambda: the read API (the routes of infra/resources.ts ROUTES with fn 'api'), bearer API key auth.
 */
import middy from '@middy/core';
import httpRouterHandler, { type Route } from '@middy/http-router';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { ROUTES } from '../infra/resources';
import { MethodNotAllowed, NotFound } from '../shared/domain/problems';
import { loadConfig } from '../shared/adapters/env';
import { authenticate, httpProblems, json, type HttpEvent, type HttpResult } from '../shared/adapters/http';
import { LedgerRepo } from '../shared/adapters/ledger-repo';
import { logger } from '../shared/adapters/log';
import { CallRepo, ConfigRepo } from '../shared/adapters/main-repo';
import { S3RecordingMedia } from '../shared/adapters/recordings';
import { getCallDetail, listCallsPage, listLedgerPage, type ReadApiDeps } from '../shared/app/read-api';

const config = loadConfig(['mainTable', 'ledgerTable', 'recordingsBucket']);

const keys = new ConfigRepo({ mainTable: config.mainTable });
const deps: ReadApiDeps = {
  calls: new CallRepo({ mainTable: config.mainTable }),
  ledger: new LedgerRepo({ ledgerTable: config.ledgerTable }),
  // Presigning only: the API never downloads, so no host allow-list applies.
  media: new S3RecordingMedia({ bucket: config.recordingsBucket, allowedHosts: [] }),
};

type Handler = (event: HttpEvent) => Promise<HttpResult>;

function pathParam(event: HttpEvent, name: string): string {
  const raw = event.pathParameters?.[name] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const handlers: Record<string, Handler> = {
  'GET /v1/calls/{callId}': async (event) => json(200, await getCallDetail(await authenticate(event, keys), pathParam(event, 'callId'), deps)),
  'GET /v1/calls': async (event) => json(200, await listCallsPage(await authenticate(event, keys), event.queryStringParameters ?? {}, deps)),
  'GET /v1/ledger': async (event) => json(200, await listLedgerPage(await authenticate(event, keys), event.queryStringParameters ?? {}, deps)),
};

const apiRoutes = ROUTES.filter((r) => r.fn === 'api');
const routes: Route<HttpEvent, APIGatewayProxyResultV2>[] = apiRoutes.map((r) => {
  const handler = handlers[`${r.method} ${r.path}`];
  if (handler === undefined) throw new Error(`no handler for route ${r.method} ${r.path}`);
  return { method: r.method, path: r.path, handler };
});

/** 405 when the path exists with another method, else 404. */
function notFound({ method, path }: { method: string; path: string }): never {
  const allowed = apiRoutes
    .filter((r) => new RegExp(`^${r.path.replace(/\{[^/]+\}/g, '[^/]+')}/?$`).test(path))
    .map((r) => r.method);
  if (allowed.length > 0) throw new MethodNotAllowed(allowed);
  throw new NotFound(`No route for ${method} ${path}.`);
}

export const handler = middy<HttpEvent, HttpResult>()
  .use(httpProblems())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(httpRouterHandler<HttpEvent, APIGatewayProxyResultV2>({ routes, notFoundResponse: notFound }) as unknown as Handler);
