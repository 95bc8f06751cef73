/**
 * The API Lambda's router: route tables mounted behind bearer-key authentication, and dispatch on method and path
 * against the route catalog (infra/resources.ts ROUTES). API Gateway has already matched the path; the local adapter
 * and tests send the same events. A few lines here instead of @middy/http-router: that one pulled `node:http` and
 * its dependencies into the cold start.
 */
import type { ApiKeyRecord, ConfigStore } from '../../app/kernel/ports';
import { invalidInput, notFound, unsupportedMediaType } from '../../app/kernel/errors';
import { checkPathParameters } from '../../app/kernel/query';
import { authenticate, header, json, rawBody, type HttpEvent, type HttpResult } from './http';
import { MethodNotAllowedError, problemResponse } from './problems';

export type RouteHandler = (event: HttpEvent, params: Readonly<Record<string, string>>) => Promise<HttpResult>;

/** A JSON request body: 415 unless the content type is JSON, 400 unless it parses. */
export function jsonBody(event: HttpEvent): unknown {
  const type = header(event, 'content-type');
  if (type === undefined || !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) throw unsupportedMediaType(type, ['application/json']);
  try {
    return JSON.parse(rawBody(event).toString('utf8'));
  } catch {
    throw invalidInput('The body is not valid JSON.');
  }
}

/** A route table's request: plain data, no API Gateway types in shared/app (each table reads what it needs). */
function routeRequest(event: HttpEvent, params: Readonly<Record<string, string>>) {
  return {
    pathParameters: params,
    query: event.queryStringParameters ?? {},
    body: rawBody(event).toString('utf8'),
    contentType: header(event, 'content-type'),
    accept: header(event, 'accept'),
    idempotencyKey: header(event, 'idempotency-key'),
  };
}

interface TableResponse {
  readonly status: number;
  readonly body: unknown;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** JSON through `json`; anything else (CSV) as text, never cached. */
function routeResult(res: TableResponse): HttpResult {
  return res.contentType === undefined || res.contentType === 'application/json'
    ? json(res.status, res.body, res.headers)
    : { statusCode: res.status, headers: { 'cache-control': 'no-store', ...res.headers, 'content-type': res.contentType }, body: String(res.body) };
}

export interface RouteTable<Req, D> {
  readonly routes: readonly { readonly method: string; readonly path: string; handle(principal: ApiKeyRecord, req: Req, deps: D): Promise<TableResponse> }[];
  readonly deps: D;
  /** Its paths or bodies may carry caller numbers: a problem names the route template as `instance`, not the path. */
  readonly pathCarriesPii?: boolean;
}

/** Mounts a route table into `handlers`, each route behind bearer-key authentication against `keys`. */
export function mount<Req, D>(handlers: Record<string, RouteHandler>, keys: Pick<ConfigStore, 'getApiKey'>, table: RouteTable<Req, D>): void {
  for (const r of table.routes) {
    handlers[`${r.method} ${r.path}`] = async (event, params) => {
      try {
        const principal = await authenticate(event, keys);
        return routeResult(await r.handle(principal, routeRequest(event, params) as Req, table.deps));
      } catch (err) {
        if (table.pathCarriesPii === true) return problemResponse(err, r.path);
        throw err;
      }
    };
  }
}

/** A path segment percent-decoded, or null when it is not valid percent-encoded UTF-8. */
function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/**
 * The dispatcher of a catalog's routes: 405 when the path exists with another method, else 404. Every catalog route
 * must have a handler (checked at load: a route without one is a deployment bug).
 */
export function createRouter(catalog: readonly { readonly method: string; readonly path: string }[], handlers: Readonly<Record<string, RouteHandler>>): (event: HttpEvent) => Promise<HttpResult> {
  const routes = catalog.map((r) => {
    const handler = handlers[`${r.method} ${r.path}`];
    if (handler === undefined) throw new Error(`no handler for route ${r.method} ${r.path}`);
    const params: string[] = [];
    const source = r.path.replace(/\{([^/}]+)\}/g, (_, name: string) => {
      params.push(name);
      return '([^/]+)';
    });
    return { method: r.method, pattern: new RegExp(`^${source}/?$`), params, handler };
  });
  return async (event) => {
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
      // One id grammar for every path parameter, before any handler (and so any read) runs.
      return r.handler(event, checkPathParameters(Object.fromEntries(r.params.map((name, i) => [name, decode(match[i + 1]!)]))));
    }
    if (allowed.length > 0) throw new MethodNotAllowedError(allowed);
    throw notFound(`No route for ${method} ${path}.`);
  };
}
