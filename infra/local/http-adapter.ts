/**
 * The local stand-in for API Gateway (HTTP API, payload format 2.0): a node:http server that matches the
 * route table of infra/resources.ts, turns each request into the event API Gateway would send, calls the
 * very handler Lambda runs, and writes its result back the way API Gateway does.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { FunctionDef, FunctionId, RouteDef } from '../resources';
import { maskPhoneNumbers } from '../../shared/domain/kernel/problems';
import { invokeHandler } from './invoke';

/** Re-exported for the tests and tools that build a context of their own. */
export { lambdaContext } from './invoke';

export type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

/** `up`, or why the component is down. */
export type ComponentHealth = 'up' | { readonly down: string };

export interface HttpAdapterOptions {
  /** 0: a free port. */
  readonly port: number;
  readonly routes: readonly RouteDef[];
  readonly functions: Readonly<Record<FunctionId, FunctionDef>>;
  /** Returns the handler of a function; called on the first request that needs it, then cached. */
  readonly loadHandler: (fn: FunctionId) => Promise<HttpHandler>;
  /** Checks for `GET /health`: every component must answer `up` for a 200. */
  readonly health: Readonly<Record<string, () => Promise<ComponentHealth>>>;
  /** Handler crashes and other adapter diagnostics. */
  readonly log?: (line: string) => void;
}

export interface HttpAdapter {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  stop(): Promise<void>;
}

/** API Gateway's payload limit for HTTP APIs. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
/**
 * How much of an oversized body is still read, and discarded, after the limit: a body that ends within it is answered
 * 413 on a connection that stays usable (an unread remainder would be parsed as the next request, or reset with the
 * socket under a keep-alive client's next request). Beyond it the 413 says `Connection: close` and the connection is
 * closed once it is written: a client streaming without end is not read forever.
 */
export const MAX_DRAIN_BYTES = 10 * 1024 * 1024;
const ACCOUNT_ID = '000000000000';
const API_ID = 'local';

interface CompiledRoute {
  readonly route: RouteDef;
  readonly pattern: RegExp;
  readonly params: readonly string[];
  /** Literal segments first, then `{param}`, then `{proxy+}`: API Gateway picks the most specific match. */
  readonly rank: number[];
}

/** Compiles `/v1/calls/{callId}` (and greedy `{proxy+}`) into a matcher. */
export function compileRoute(route: RouteDef): CompiledRoute {
  const params: string[] = [];
  const rank: number[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      const param = /^\{([A-Za-z0-9_]+)(\+?)\}$/.exec(segment);
      if (!param) {
        rank.push(0);
        return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }
      params.push(param[1]!);
      rank.push(param[2] ? 2 : 1);
      return param[2] ? '(.+)' : '([^/]+)';
    })
    .join('/');
  return { route, pattern: new RegExp(`^${source}$`), params, rank };
}

function moreSpecific(a: CompiledRoute, b: CompiledRoute): number {
  for (let i = 0; i < Math.min(a.rank.length, b.rank.length); i++) {
    if (a.rank[i] !== b.rank[i]) return a.rank[i]! - b.rank[i]!;
  }
  if (a.rank.length !== b.rank.length) return b.rank.length - a.rank.length;
  // An explicit method beats ANY on the same path.
  return (a.route.method === 'ANY' ? 1 : 0) - (b.route.method === 'ANY' ? 1 : 0);
}

export interface RouteMatch {
  readonly route: RouteDef;
  readonly pathParameters: Record<string, string> | undefined;
}

export function createRouter(routes: readonly RouteDef[]): (method: string, path: string) => RouteMatch | undefined {
  const compiled = routes.map(compileRoute).sort(moreSpecific);
  return (method, path) => {
    for (const candidate of compiled) {
      if (candidate.route.method !== 'ANY' && candidate.route.method !== method) continue;
      const match = candidate.pattern.exec(path);
      if (!match) continue;
      const pathParameters: Record<string, string> = {};
      candidate.params.forEach((name, i) => {
        pathParameters[name] = safeDecode(match[i + 1]!);
      });
      return { route: candidate.route, pathParameters: candidate.params.length ? pathParameters : undefined };
    }
    return undefined;
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Bodies API Gateway passes as text; everything else (form posts included) arrives base64-encoded. */
export function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/xml' ||
    type.endsWith('+xml') ||
    type === 'application/javascript'
  );
}

/** `12/Mar/2020:19:03:58 +0000`, the format of `requestContext.time`. */
function clfTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(
    date.getUTCMinutes(),
  )}:${pad(date.getUTCSeconds())} +0000`;
}

export interface RawRequest {
  readonly method: string;
  /** Path and query exactly as sent (`/v1/calls?x=1`). */
  readonly url: string;
  readonly httpVersion: string;
  /** Node's lower-cased header object. */
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  readonly sourceIp: string;
}

/** Builds the API Gateway HTTP API v2.0 event for a matched request. */
export function buildEvent(req: RawRequest, match: RouteMatch, now: Date = new Date()): APIGatewayProxyEventV2 {
  const queryStart = req.url.indexOf('?');
  const rawPath = queryStart === -1 ? req.url : req.url.slice(0, queryStart);
  const rawQueryString = queryStart === -1 ? '' : req.url.slice(queryStart + 1);

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'cookie') continue;
    // API Gateway joins repeated headers with commas.
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${req.sourceIp}` : req.sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  const cookieHeader = req.headers.cookie;
  const cookies = cookieHeader
    ? cookieHeader
        .split(';')
        .map((c) => c.trim())
        .filter(Boolean)
    : undefined;

  let queryStringParameters: Record<string, string> | undefined;
  if (rawQueryString) {
    queryStringParameters = {};
    for (const [key, value] of new URLSearchParams(rawQueryString)) {
      // Repeated keys are comma-joined, as API Gateway does.
      queryStringParameters[key] = key in queryStringParameters ? `${queryStringParameters[key]},${value}` : value;
    }
  }

  const hasBody = req.body.length > 0;
  const text = isTextContentType(headers['content-type']);
  const requestId = randomUUID();
  const method = req.method.toUpperCase();
  return {
    version: '2.0',
    routeKey: `${match.route.method} ${match.route.path}`,
    rawPath,
    rawQueryString,
    cookies,
    headers,
    queryStringParameters,
    pathParameters: match.pathParameters,
    requestContext: {
      accountId: ACCOUNT_ID,
      apiId: API_ID,
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0]!.split(':')[0]!,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: `${match.route.method} ${match.route.path}`,
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now.getTime(),
    },
    body: hasBody ? (text ? req.body.toString('utf8') : req.body.toString('base64')) : undefined,
    isBase64Encoded: hasBody && !text,
  };
}

/**
 * Turns a handler result into the HTTP response. A structured result (`statusCode` present) is used as is;
 * anything else is what API Gateway infers: 200, JSON.
 */
export function toResponse(result: APIGatewayProxyResultV2): {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
} {
  if (result !== null && typeof result === 'object' && 'statusCode' in result && typeof result.statusCode === 'number') {
    const structured = result as APIGatewayProxyStructuredResultV2;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(structured.headers ?? {})) headers[name.toLowerCase()] = String(value);
    const raw = structured.body ?? '';
    return {
      statusCode: structured.statusCode!,
      headers,
      cookies: structured.cookies ?? [],
      body: structured.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8'),
    };
  }
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    body: Buffer.from(typeof result === 'string' ? result : JSON.stringify(result), 'utf8'),
  };
}

function sendJson(res: ServerResponse, statusCode: number, body: unknown, contentType = 'application/json'): void {
  const payload = JSON.stringify(body);
  res.writeHead(statusCode, { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

/** `instance` is the request path: as the functions do (shared/adapters/http/problems.ts), no phone number of it is repeated. */
function problem(res: ServerResponse, status: number, slug: string, title: string, detail: string, instance: string): void {
  sendJson(res, status, { type: `https://callledger.dev/problems/${slug}`, title, status, detail, instance: maskPhoneNumbers(instance) }, 'application/problem+json');
}

function payloadTooLarge(res: ServerResponse, path: string, close: boolean): void {
  // Node.js closes the connection once a response carrying `Connection: close` is written.
  if (close) res.setHeader('connection', 'close');
  problem(res, 413, 'payload-too-large', 'Payload Too Large', `Request bodies are limited to ${MAX_BODY_BYTES} bytes`, path);
}

type BodyRead = { readonly body: Buffer } | { readonly tooLarge: 'drained' | 'close' };

function declaredLength(req: IncomingMessage): number | null {
  const value = Number(req.headers['content-length']);
  return Number.isFinite(value) ? value : null;
}

/**
 * The request body, up to MAX_BODY_BYTES. An oversized one is read on to its end and discarded (`drained`) when it
 * ends within MAX_DRAIN_BYTES more; a longer one is `close`: answered once that much has been read, the connection
 * closed after the answer. Even a body declared longer is read that far first: answered before the client is done
 * sending, it would see a broken pipe instead of the 413 (measured with node:http). Never a `break` out of the
 * stream: that destroys the request, and with it the socket.
 */
function readBody(req: IncomingMessage): Promise<BodyRead> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      chunks.length = 0;
      if (size > MAX_BODY_BYTES + MAX_DRAIN_BYTES) {
        req.off('data', onData);
        // Still flowing (discarding) until the socket closes, so the client is not blocked before it reads the 413.
        req.resume();
        resolveBody({ tooLarge: 'close' });
      }
    };
    req.on('data', onData);
    req.once('end', () => resolveBody(size > MAX_BODY_BYTES ? { tooLarge: 'drained' } : { body: Buffer.concat(chunks) }));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('the client closed the connection before the body ended'));
    });
  });
}

export async function startHttpAdapter(opts: HttpAdapterOptions): Promise<HttpAdapter> {
  const log = opts.log ?? (() => {});
  const route = createRouter(opts.routes);
  const handlers = new Map<FunctionId, Promise<HttpHandler>>();
  const handlerFor = (fn: FunctionId) => {
    let handler = handlers.get(fn);
    if (!handler) {
      handler = opts.loadHandler(fn);
      // A failed load (syntax error, missing env) is retried on the next request instead of cached.
      handler.catch(() => handlers.delete(fn));
      handlers.set(fn, handler);
    }
    return handler;
  };

  const health = async (res: ServerResponse) => {
    const names = Object.keys(opts.health);
    const results = await Promise.all(
      names.map((name) => opts.health[name]!().catch((err: unknown): ComponentHealth => ({ down: err instanceof Error ? err.message : String(err) }))),
    );
    const components: Record<string, string> = {};
    const failures: Record<string, string> = {};
    names.forEach((name, i) => {
      const result = results[i]!;
      components[name] = result === 'up' ? 'up' : 'down';
      if (result !== 'up') failures[name] = result.down;
    });
    const ok = Object.keys(failures).length === 0;
    sendJson(res, ok ? 200 : 503, ok ? { status: 'ok', components } : { status: 'degraded', components, failures });
  };

  const server = createServer(async (req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    try {
      if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) return await health(res);
      const match = route(req.method ?? 'GET', path);
      if (!match) return problem(res, 404, 'not-found', 'Not Found', `No route for ${req.method} ${maskPhoneNumbers(path)}`, path);
      const read = await readBody(req);
      if ('tooLarge' in read) return payloadTooLarge(res, path, read.tooLarge === 'close');
      const event = buildEvent(
        { method: req.method ?? 'GET', url, httpVersion: req.httpVersion, headers: req.headers, body: read.body, sourceIp: req.socket.remoteAddress ?? '127.0.0.1' },
        match,
      );
      const def = opts.functions[match.route.fn];
      const handler = await handlerFor(match.route.fn);
      let result: APIGatewayProxyResultV2;
      try {
        result = await invokeHandler(def, handler, event, event.requestContext.requestId);
      } catch (err) {
        // What API Gateway answers when the integration fails.
        log(`${def.id} failed on ${req.method} ${path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        return sendJson(res, 500, { message: 'Internal Server Error' });
      }
      const response = toResponse(result);
      const headers: Record<string, string | string[]> = { ...response.headers, 'content-length': String(response.body.length) };
      if (response.cookies.length) headers['set-cookie'] = response.cookies;
      res.writeHead(response.statusCode, headers);
      res.end(response.body);
    } catch (err) {
      log(`adapter error on ${req.method} ${path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal Server Error' });
      else res.destroy();
    }
  });
  // `Expect: 100-continue` (curl sends it for bodies over 1 MiB): a body declared too long is refused before it is sent.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = declaredLength(req);
    if (declared !== null && declared > MAX_BODY_BYTES) return payloadTooLarge(res, (req.url ?? '/').split('?')[0]!, true);
    res.writeContinue();
    server.emit('request', req, res);
  });
  // Idle keep-alive connections are closed after 65 s (API Gateway keeps them 60 s for its clients), not Node's 5 s:
  // a client that reuses a connection just as the server closes it gets ECONNRESET, and with a 5 s timeout a test's
  // first request after a few seconds' pause (a slow machine, the previous test's teardown) met that race. stop()
  // closes every connection, so keep-alive clients (benchmarks) never hold it open.
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      (stopped ??= new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      })),
  };
}
