/**
 * API Gateway HTTP API (payload format 2.0) helpers, and THE one place where errors become HTTP responses:
 * a Problem renders as RFC 9457 application/problem+json; a failing dependency (dependency-failure.ts) is a 503
 * with Retry-After; anything else is a bug, logged in full and answered with a generic 500 that reveals nothing
 * about the internals.
 */
import { createHash } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DomainError, type ErrorKind } from '../../domain/kernel/errors';
import { maskedProblemBody, maskPhoneNumbers, MethodNotAllowed, Problem, problemBody, ServiceUnavailable, Unauthorized } from '../../domain/kernel/problems';
import type { ApiKeyRecord, ConfigStore } from '../../app/kernel/ports';
import { dependencyFailure } from '../platform/dependency-failure';
import { log } from '../platform/log';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** The request body exactly as sent (API Gateway base64-encodes bodies it considers binary). */
export function rawBody(event: HttpEvent): Buffer {
  if (event.body === undefined || event.body === null) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/** Case-insensitive header lookup (HTTP API lower-cases names, but local adapters and tests may not). */
export function header(event: Pick<HttpEvent, 'headers'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === wanted) return v;
  return undefined;
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

export function noContent(): HttpResult {
  return { statusCode: 204, headers: {}, body: '' };
}

/**
/**
 * Seconds a client is told to wait after a dependency failure: past the SDK's own retries (docs/ARCHITECTURE.md,
 * "Time budgets") a throttled or restarting dependency needs seconds, not milliseconds.
 */
export const DEPENDENCY_RETRY_AFTER_SEC = 5;

/** The HTTP status of each kind of domain error: the class of failure a client can act on. */
export const STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  invalid_input: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  too_large: 413,
  unsupported: 415,
  refused: 422,
  unavailable: 503,
};

/**
 * A DomainError as the Problem it answers as: the status of its kind, the problem `type` from its code (kebab-case,
 * as every problem type is), its title, detail and field errors unchanged.
 */
function asProblem(err: DomainError): Problem {
  if (err.kind === 'unavailable') return new ServiceUnavailable(DEPENDENCY_RETRY_AFTER_SEC, err.detail);
  return new Problem(STATUS_OF_KIND[err.kind], err.code.replace(/_/g, '-'), err.title, err.detail, err.errors);
}

/**
 * Maps any thrown value to a response. Only Problems carry their details out, and nothing shaped like a phone number
 * does (domain/problems.ts `maskedProblemBody`): the request path and parameter names are the client's text.
 */
export function problemResponse(err: unknown, instance?: string): HttpResult {
  const challenge = err instanceof DomainError && err.kind === 'unauthenticated';
  if (err instanceof DomainError) err = asProblem(err);
  const failure = err instanceof Problem ? null : dependencyFailure(err);
  if (failure !== null) {
    // Which component failed and how, for the operator; the answer itself names none.
    log.error('dependency unavailable', { ...failure });
    err = new ServiceUnavailable(DEPENDENCY_RETRY_AFTER_SEC);
  }
  if (err instanceof Problem) {
    const headers: Record<string, string> = { 'content-type': 'application/problem+json', 'cache-control': 'no-store' };
    if (err instanceof MethodNotAllowed) headers.allow = err.allowed.join(', ');
    if (err instanceof Unauthorized || challenge) headers['www-authenticate'] = 'Bearer';
    if (err instanceof ServiceUnavailable) headers['retry-after'] = String(err.retryAfterSec);
    if (err.status >= 500 && failure === null) log.error('problem', { slug: err.slug, detail: err.detail });
    return { statusCode: err.status, headers, body: JSON.stringify(maskedProblemBody(problemBody(err, instance))) };
  }
  log.error('unhandled error', { error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err) });
  return {
    statusCode: 500,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
    body: JSON.stringify({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: 'The request could not be processed. It has been logged.',
      ...(instance ? { instance: maskPhoneNumbers(instance) } : {}),
    }),
  };
}

/**
 * middy middleware: renders errors with `problemResponse`. `use()` it FIRST: onError middlewares run in reverse
 * order and this one answers (ending the chain), so Powertools' metrics/logger onError hooks must run before it.
 */
export function httpProblems(): MiddlewareObj<HttpEvent, HttpResult> {
  return {
    name: 'httpProblems',
    onError: (request) => problemResponse(request.error, request.event?.rawPath),
  };
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** `Authorization: Bearer <key>` → the key's account and role. 401 without a key or with an unknown one. */
export async function authenticate(event: Pick<HttpEvent, 'headers'>, config: Pick<ConfigStore, 'getApiKey'>): Promise<ApiKeyRecord> {
  const value = header(event, 'authorization');
  const match = value === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!match?.[1]) throw new Unauthorized();
  const record = await config.getApiKey(sha256Hex(match[1]));
  if (record === null) throw new Unauthorized('The API key is not valid.');
  return record;
}
