/**
 * Lambda: the read API (the routes of infra/resources.ts ROUTES with fn 'api'), bearer API key auth.
 *
 * Routing is a few lines here instead of @middy/http-router: three GET routes do not need a router package, and
 * that one pulled `node:http` and its dependencies into the cold start. The path is matched against the route
 * templates (API Gateway has already matched it; the local adapter and tests send the same events).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { ROUTES } from '../infra/resources';
import { MethodNotAllowed, NotFound } from '../shared/domain/problems';
import { loadConfig } from '../shared/adapters/env';
import { authenticate, httpProblems, json, type HttpEvent, type HttpResult } from '../shared/adapters/http';
import { LedgerRepo } from '../shared/adapters/ledger-repo';
import { logger } from '../shared/adapters/log';
import { CallRepo, ConfigRepo } from '../shared/adapters/main-repo';
import { S3RecordingUrls } from '../shared/adapters/recording-urls';
import { getCallDetail, listCallsPage, listLedgerPage, type ReadApiDeps } from '../shared/app/read-api';

const config = loadConfig(['mainTable', 'ledgerTable', 'recordingsBucket']);

const keys = new ConfigRepo({ mainTable: config.mainTable });
const deps: ReadApiDeps = {
  calls: new CallRepo({ mainTable: config.mainTable }),
  ledger: new LedgerRepo({ ledgerTable: config.ledgerTable }),
  media: new S3RecordingUrls(config.recordingsBucket),
};

type RouteHandler = (event: HttpEvent, params: Readonly<Record<string, string>>) => Promise<HttpResult>;

const handlers: Record<string, RouteHandler> = {
  'GET /v1/calls/{callId}': async (event, params) => json(200, await getCallDetail(await authenticate(event, keys), params.callId ?? '', deps)),
  'GET /v1/calls': async (event) => json(200, await listCallsPage(await authenticate(event, keys), event.queryStringParameters ?? {}, deps)),
  'GET /v1/ledger': async (event) => json(200, await listLedgerPage(await authenticate(event, keys), event.queryStringParameters ?? {}, deps)),
};

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly params: readonly string[];
  readonly handler: RouteHandler;
}

const routes: readonly Route[] = ROUTES.filter((r) => r.fn === 'api').map((r) => {
  const handler = handlers[`${r.method} ${r.path}`];
  if (handler === undefined) throw new Error(`no handler for route ${r.method} ${r.path}`);
  const params: string[] = [];
  const source = r.path.replace(/\{([^/}]+)\}/g, (_, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { method: r.method, pattern: new RegExp(`^${source}/?$`), params, handler };
});

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Dispatches on method and path; 405 when the path exists with another method, else 404. */
async function route(event: HttpEvent): Promise<HttpResult> {
  const method = event.requestContext.http.method.toUpperCase();
  const path = event.rawPath;
  const allowed: string[] = [];
  for (const r of routes) {
    const match = r.pattern.exec(path);
    if (match === null) continue;
    if (r.method !== method && r.method !== 'ANY') {
      allowed.push(r.method);
      continue;
    }
    return r.handler(event, Object.fromEntries(r.params.map((name, i) => [name, decode(match[i + 1]!)])));
  }
  if (allowed.length > 0) throw new MethodNotAllowed(allowed);
  throw new NotFound(`No route for ${method} ${path}.`);
}

export const handler = middy<HttpEvent, HttpResult>()
  .use(httpProblems())
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .handler(route);
