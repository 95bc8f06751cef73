/**
 * A route, declared once, next to the use cases it calls: method, path, the function that serves it, who may call it,
 * how its query is parsed, what it answers (schemas, media types, problems) and its handler. From these declarations
 * alone come the API Lambda's mount and dispatch (shared/adapters/http/router.ts), the OpenAPI document
 * (shared/adapters/http/openapi.ts) and the catalog API Gateway and the local stack route (infra/routes.ts).
 * Plain data and functions: no API Gateway type reaches shared/app.
 */
import type * as z from 'zod';
import type { ApiKeyRecord } from './ports';
import { forbidden } from './errors';
import { parseQuery, type QueryOf, type QueryParams, type QueryRules } from './query';

export type Method = 'GET' | 'POST' | 'PUT' | 'ANY';

/**
 * Who may call it: `none` (anyone), `bearer` (any API key of the account), `admin` (an admin key; an analyst key is a
 * 403 before its request is examined), `signature` (a provider webhook: the function serving it verifies the
 * provider's signature itself). The API Lambda's mount enforces `bearer` and `admin` from the declaration.
 */
export type Auth = 'none' | 'bearer' | 'admin' | 'signature';

/** The Lambda serving a route (an id of infra/resources.ts FUNCTIONS). */
export type RouteFunction = 'api' | 'ingestTwilio' | 'ingestCarrier' | 'ingestNetwork' | 'voiceTwilio' | 'voiceCarrier';

/** A request header the route reads, documented. */
export interface HeaderDoc {
  readonly name: string;
  readonly required?: boolean;
  readonly description?: string;
}

/** One documented answer: JSON per `schema`, or text of the media types in `text`. */
export interface ResponseDoc {
  readonly description: string;
  readonly schema?: z.ZodType;
  readonly text?: Readonly<Record<string, string>>;
  /** The answer carries Retry-After. */
  readonly retryAfter?: boolean;
}

/** What a route declares besides its handler: where it is, who may call it, what it reads and answers. */
export interface RouteDoc {
  readonly method: Method;
  /** API Gateway HTTP API path template, e.g. `/v1/calls/{callId}`. */
  readonly path: string;
  /** Default `api`. */
  readonly fn?: RouteFunction;
  readonly auth: Auth;
  readonly summary: string;
  /**
   * The query's rules, in documentation order: the route's handler gets the query parsed by them (unknown, bad or
   * missing required parameters are one 400), and the document gives each parameter its rule's schema. Absent: the
   * route does not read its query.
   */
  readonly query?: QueryRules;
  readonly headers?: readonly HeaderDoc[];
  /** The application/json request body. */
  readonly request?: z.ZodType;
  /** Request bodies of other media types (text/csv): media type → what the text is. */
  readonly requestText?: Readonly<Record<string, string>>;
  /** An application/x-www-form-urlencoded request body. */
  readonly requestForm?: z.ZodType;
  readonly responses: Readonly<Record<number, ResponseDoc>>;
  /** The problem statuses it can answer besides 400 for a bad path or query parameter and 503 (added for it). */
  readonly problems: readonly number[];
  /** For an `ANY` route: the methods it documents (default POST only); its GET has no request body. */
  readonly anyMethods?: readonly ('get' | 'post')[];
  /** False for the routes that call no dependency; every other one may answer 503. */
  readonly dependencies?: false;
  /** Its path or body may carry caller numbers: a problem names the route template as `instance`, not the path. */
  readonly pathCarriesPii?: boolean;
}

/** A route's request: plain data (path parameters already decoded and checked). */
export interface RouteRequest {
  readonly pathParameters: Readonly<Record<string, string>>;
  readonly query: QueryParams;
  /** The body as UTF-8 text ('' when none). */
  readonly body: string;
  readonly contentType: string | undefined;
  readonly accept?: string | undefined;
  readonly idempotencyKey?: string | undefined;
}

/** A route's answer: `body` as JSON (default) or, with another `contentType`, as its text; `text`: already encoded. */
export interface RouteResponse {
  readonly status: number;
  readonly body: unknown;
  /** Default application/json. */
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** `body` is already the text of `contentType` (even JSON): sent as is. */
  readonly encoded?: true;
}

/** A route the API Lambda serves. `P`: the caller, an API key (`null` for `auth: 'none'`). */
export interface Route<D, P = ApiKeyRecord> extends RouteDoc {
  handle(principal: P, req: RouteRequest, deps: D): Promise<RouteResponse>;
}

/** A declaration: a route whose handler also gets the query parsed by its `query` rules. */
export interface RouteDeclaration<D, R extends QueryRules, P> extends Omit<RouteDoc, 'query'> {
  readonly query?: R;
  handle(principal: P, req: RouteRequest, deps: D, query: QueryOf<R>): Promise<RouteResponse>;
}

/**
 * Declares a route: the handler runs once the caller has the declared role and the query has passed the declared
 * rules (so a route cannot parse what it does not document, nor document what it does not parse). The mount checks the
 * role too, before anything else; checking it here as well keeps an `admin` route closed to an analyst key whoever
 * calls its handler (a test, a tool).
 */
export function route<D, R extends QueryRules = Record<never, never>, P = ApiKeyRecord>(declaration: RouteDeclaration<D, R, P>): Route<D, P> {
  const { handle, query, auth } = declaration;
  return {
    ...declaration,
    handle: async (principal, req, deps) => {
      if (auth === 'admin') requireAdmin(principal as ApiKeyRecord);
      return handle(principal, req, deps, query === undefined ? ({} as QueryOf<R>) : parseQuery(query, req.query));
    },
  };
}

/** A route a function other than the API serves (a provider webhook): declared for the catalog and the document. */
export function externalRoute(declaration: RouteDoc & { readonly fn: Exclude<RouteFunction, 'api'> }): RouteDoc {
  return declaration;
}

/** 403 for a read-only key: the mount calls it for `auth: 'admin'` before the request is read, so an analyst learns nothing from a 400. */
export function requireAdmin(principal: ApiKeyRecord): ApiKeyRecord {
  if (principal.role !== 'admin') throw forbidden(`This API key (role ${principal.role}) is read-only; changes need an admin key.`);
  return principal;
}
