/**
 * Where the suites' requests meet the contract (openapi-contract.ts). Three ways tests reach the API, one hook each:
 *
 * - over HTTP (`fetch`: the e2e harness, the int tests' helpers, the report CLI): `installContractFetch`, installed
 *   for every test file by test/contract/setup.ts; a response from an origin that serves `GET /v1/openapi.json` is
 *   checked against the document that origin serves;
 * - the api Lambda handler in process (`checkedApiHandler`): checked against the document the same handler serves;
 * - a route table called directly (`checkedRoute`): checked against `openApiDocument()`, what the handler serves.
 *
 * Mismatches are collected (openapi-contract.ts `report`) and fail the test that caused them (setup.ts).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { openApiDocument } from '../../shared/adapters/http/openapi';
import { problemResponse } from '../../shared/adapters/http/problems';
import { DomainError } from '../../shared/domain/kernel/errors';
import { OpenApiContract, report, type Exchange } from './openapi-contract';

const rawFetch: typeof fetch = globalThis.fetch.bind(globalThis);

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const API_PATH = /^\/(?:v1|webhooks)\//;

/** Per origin: the contract it serves, or null when it serves none (an echo handler, a fake media host). */
const byOrigin = new Map<string, Promise<OpenApiContract | null>>();

function contractOf(origin: string): Promise<OpenApiContract | null> {
  let contract = byOrigin.get(origin);
  if (contract === undefined) {
    contract = (async () => {
      try {
        const res = await rawFetch(`${origin}/v1/openapi.json`);
        if (res.status !== 200) return null;
        const document = (await res.json()) as { openapi?: unknown };
        return typeof document.openapi === 'string' && document.openapi.startsWith('3.1') ? OpenApiContract.load(document) : null;
      } catch {
        // A stack that was not up yet is asked again next time.
        byOrigin.delete(origin);
        return null;
      }
    })();
    byOrigin.set(origin, contract);
  }
  return contract;
}

/** What `fetch` puts on the wire for a body: its text and the content type it adds when the caller gave none. */
function bodyOf(body: unknown): { text: string | undefined; defaultType?: string } {
  if (body === undefined || body === null) return { text: undefined };
  if (typeof body === 'string') return { text: body, defaultType: 'text/plain;charset=UTF-8' };
  if (body instanceof URLSearchParams) return { text: body.toString(), defaultType: 'application/x-www-form-urlencoded;charset=UTF-8' };
  if (body instanceof ArrayBuffer) return { text: Buffer.from(body).toString('utf8') };
  if (ArrayBuffer.isView(body)) return { text: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8') };
  return { text: undefined };
}

/** Wraps `globalThis.fetch` so that every API exchange with a local stack is checked. Idempotent. */
export function installContractFetch(): void {
  if ((globalThis.fetch as { contractChecked?: boolean }).contractChecked === true) return;
  const checked = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const asRequest = input instanceof Request ? input : null;
    const url = new URL(asRequest?.url ?? String(input));
    if (!LOOPBACK.has(url.hostname) || !API_PATH.test(url.pathname)) return rawFetch(input, init);
    const method = init?.method ?? asRequest?.method ?? 'GET';
    const sent = bodyOf(init?.body);
    const headers: Record<string, string> = {};
    new Headers(init?.headers ?? asRequest?.headers).forEach((v, k) => (headers[k] = v));
    if (headers['content-type'] === undefined && sent.defaultType !== undefined) headers['content-type'] = sent.defaultType;
    const response = await rawFetch(input, init);
    const contract = await contractOf(url.origin);
    if (contract === null) return response;
    const text = await response.clone().text();
    const responseHeaders: Record<string, string> = {};
    response.headers.forEach((v, k) => (responseHeaders[k] = v));
    report(
      contract.check({
        method,
        path: url.pathname,
        query: url.search.replace(/^\?/, ''),
        headers,
        body: sent.text,
        response: { status: response.status, headers: responseHeaders, body: text },
      }),
    );
    return response;
  };
  Object.assign(checked, { contractChecked: true });
  globalThis.fetch = checked as typeof fetch;
}

/**
 * Runs `run` with the unchecked `fetch`: for a test whose server is not the API and counts every request it receives
 * (the contract's probe for `GET /v1/openapi.json` would be one of them).
 */
export async function withoutContractCheck<T>(run: () => Promise<T>): Promise<T> {
  const checked = globalThis.fetch;
  globalThis.fetch = rawFetch;
  try {
    return await run();
  } finally {
    globalThis.fetch = checked;
  }
}

// ------------------------------------------------------------------ in process

type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const OPENAPI_EVENT = {
  version: '2.0',
  routeKey: '$default',
  rawPath: '/v1/openapi.json',
  rawQueryString: '',
  headers: {},
  requestContext: { http: { method: 'GET', path: '/v1/openapi.json' } },
  isBase64Encoded: false,
} as unknown as APIGatewayProxyEventV2;

function stringHeaders(headers: Readonly<Record<string, unknown>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])));
}

/** The api handler, with every exchange checked against the document it serves itself. */
export function checkedApiHandler(handler: ApiHandler): ApiHandler {
  let contract: Promise<OpenApiContract> | undefined;
  return async (event, context) => {
    contract ??= handler(OPENAPI_EVENT, context).then((res) => OpenApiContract.load(JSON.parse(String(res.body))));
    const res = await handler(event, context);
    const [path, inlineQuery = ''] = event.rawPath.split('?', 2) as [string, string?];
    const query = event.rawQueryString || inlineQuery || new URLSearchParams(stringHeaders(event.queryStringParameters)).toString();
    const body = event.body === undefined || event.body === null ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    report(
      (await contract).check({
        method: event.requestContext.http.method,
        path,
        query,
        headers: stringHeaders(event.headers),
        body,
        response: { status: res.statusCode ?? 200, headers: stringHeaders(res.headers), body: res.body ?? '' },
      }),
    );
    return res;
  };
}

// ------------------------------------------------------------------ route tables

let inProcess: Promise<OpenApiContract> | undefined;

interface TableRequest {
  readonly pathParameters?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
  readonly contentType?: string | undefined;
  readonly accept?: string | undefined;
  readonly idempotencyKey?: string | undefined;
}

interface TableRoute<P, Req, D, Res> {
  readonly method: string;
  readonly path: string;
  handle(principal: P, req: Req, deps: D): Promise<Res>;
}

/**
 * A route-table entry whose answers (and thrown Problems, as the api handler renders them) are checked against the
 * document `GET /v1/openapi.json` serves. The principal stands for a valid bearer key.
 */
export function checkedRoute<P, Req extends TableRequest, D, Res extends { status: number; body: unknown; contentType?: string }>(
  route: TableRoute<P, Req, D, Res>,
): TableRoute<P, Req, D, Res> {
  return {
    method: route.method,
    path: route.path,
    async handle(principal, req, deps) {
      inProcess ??= OpenApiContract.load(openApiDocument());
      const path = route.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(req.pathParameters?.[name] ?? ''));
      const query = new URLSearchParams(Object.entries(req.query ?? {}).flatMap(([k, v]): [string, string][] => (v === undefined ? [] : [[k, v]]))).toString();
      const headers: Record<string, string> = { authorization: 'Bearer (the principal)' };
      if (req.contentType !== undefined) headers['content-type'] = req.contentType;
      if (req.accept !== undefined) headers.accept = req.accept;
      if (req.idempotencyKey !== undefined) headers['idempotency-key'] = req.idempotencyKey;
      const exchange = (status: number, contentType: string, body: string): Exchange => ({
        method: route.method,
        path,
        query,
        headers,
        body: req.body === '' ? undefined : req.body,
        response: { status, headers: { 'content-type': contentType }, body },
      });
      let res: Res;
      try {
        res = await route.handle(principal, req, deps);
      } catch (err) {
        if (err instanceof DomainError) {
          const answer = problemResponse(err, path);
          report((await inProcess).check(exchange(answer.statusCode ?? 500, 'application/problem+json', String(answer.body))));
        }
        throw err;
      }
      const contentType = res.contentType ?? 'application/json';
      const text = contentType === 'application/json' ? JSON.stringify(res.body) : String(res.body);
      report((await inProcess).check(exchange(res.status, contentType, text)));
      return res;
    },
  };
}
