/**
 * The API Lambda's router: the declared route tables (shared/app/http/routes.ts) mounted behind the authentication
 * each declaration demands, and dispatch on method and path. API Gateway has already matched the path; the local
 * adapter and tests send the same events. A few lines here instead of @middy/http-router: that one pulled `node:http` and
 * its dependencies into the cold start.
 */
import type { ApiKeyRecord, ConfigStore } from '../../app/kernel/ports';
import { notFound } from '../../app/kernel/errors';
import { requireAdmin, type Route, type RouteDoc, type RouteRequest, type RouteResponse } from '../../app/kernel/route';
import { checkPathParameters } from '../../app/kernel/query';
import { authenticate, header, json, rawBody, type HttpEvent, type HttpResult } from './http';
import { MethodNotAllowedError, problemResponse } from './problems';

export type RouteHandler = (event: HttpEvent, params: Readonly<Record<string, string>>) => Promise<HttpResult>;

/** A route's request: plain data, no API Gateway types in shared/app. */
function routeRequest(event: HttpEvent, params: Readonly<Record<string, string>>): RouteRequest {
  return {
    pathParameters: params,
    query: event.queryStringParameters ?? {},
    body: rawBody(event).toString('utf8'),
    contentType: header(event, 'content-type'),
    accept: header(event, 'accept'),
    idempotencyKey: header(event, 'idempotency-key'),
  };
}

/** JSON through `json`; anything else (CSV), or text already encoded, as is and never cached unless it says so. */
function routeResult(res: RouteResponse): HttpResult {
  if (res.encoded !== true && (res.contentType === undefined || res.contentType === 'application/json')) return json(res.status, res.body, res.headers);
  return { statusCode: res.status, headers: { 'cache-control': 'no-store', ...res.headers, 'content-type': res.contentType ?? 'application/json' }, body: String(res.body) };
}

/** The caller of a route as its declaration demands: nobody (`none`), any key (`bearer`), an admin key (`admin`). */
async function principalOf(auth: RouteDoc['auth'], event: HttpEvent, keys: Pick<ConfigStore, 'getApiKey'>): Promise<ApiKeyRecord | null> {
  if (auth === 'none') return null;
  const principal = await authenticate(event, keys);
  return auth === 'admin' ? requireAdmin(principal) : principal;
}

/** One route's handler: the caller its declaration demands, then the route; a route carrying PII names its template. */
function mounted<D>(r: Route<D, ApiKeyRecord | null>, deps: D, keys: Pick<ConfigStore, 'getApiKey'>): RouteHandler {
  if (r.auth === 'signature') throw new Error(`route ${r.method} ${r.path}: a signature route is served by its own function`);
  return async (event, params) => {
    try {
      return routeResult(await r.handle(await principalOf(r.auth, event, keys), routeRequest(event, params), deps));
    } catch (err) {
      if (r.pathCarriesPii === true) return problemResponse(err, r.path);
      throw err;
    }
  };
}

/** The dependencies the handlers of a route table get. */
export type DepsOf<T> = T extends readonly Route<infer D, infer _P>[] ? D : never;

/**
 * Every route of the tables, by `METHOD path`, behind the authentication its declaration demands (keys from `keys`);
 * each table's handlers get its entry of `deps` (one per table, checked by the compiler).
 */
export function mount<T extends Readonly<Record<string, readonly Route<never, never>[]>>>(
  tables: T,
  deps: { readonly [K in keyof T]: DepsOf<T[K]> },
  keys: Pick<ConfigStore, 'getApiKey'>,
): Record<string, RouteHandler> {
  const handlers: Record<string, RouteHandler> = {};
  for (const [name, routes] of Object.entries(tables)) {
    for (const r of routes as readonly Route<unknown, ApiKeyRecord | null>[]) {
      const key = `${r.method} ${r.path}`;
      if (key in handlers) throw new Error(`route ${key} is declared twice`);
      handlers[key] = mounted(r, deps[name as keyof T], keys);
    }
  }
  return handlers;
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
export function createRouter(catalog: readonly Pick<RouteDoc, 'method' | 'path'>[], handlers: Readonly<Record<string, RouteHandler>>): (event: HttpEvent) => Promise<HttpResult> {
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
