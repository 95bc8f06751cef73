/**
 * THE one place where errors become HTTP answers (RFC 9457 application/problem+json):
 * - a DomainError answers with the status of its kind (the table below) and `type` from its code;
 * - a failing dependency (platform/dependency-failure.ts) is a 503 with Retry-After, naming no component;
 * - anything else is a bug, logged in full and answered with a generic 500 that reveals nothing about the internals.
 * No phone number leaves in a problem (`maskedProblemBody`): the request path and parameter names are the client's text.
 * Statuses live here alone: the domain and the use cases say what went wrong, never how HTTP spells it.
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DomainError } from '../../domain/kernel/errors';
import { errorView } from '../../app/kernel/errors';
import { maskedProblemBody, maskPhoneNumbers, MethodNotAllowed, ServiceUnavailable, type ProblemBody } from '../../domain/kernel/problems';
import { dependencyFailure } from '../platform/dependency-failure';
import { log } from '../platform/log';

export { STATUS_OF_KIND } from '../../app/kernel/errors';

/**
 * Seconds a client is told to wait after a dependency failure: past the SDK's own retries (docs/ARCHITECTURE.md,
 * "Time budgets") a throttled or restarting dependency needs seconds, not milliseconds.
 */
export const DEPENDENCY_RETRY_AFTER_SEC = 5;

/**
 * The path exists with other methods: the answer names them in `Allow`. The one error class of this adapter: only the
 * router can tell that a path exists with other methods, a fact of HTTP routing that no use case decides.
 */
export class MethodNotAllowedError extends DomainError {
  constructor(readonly allowed: readonly string[]) {
    super('method_not_allowed', 'method-not-allowed', 'Method not allowed', `Allowed: ${allowed.join(', ')}.`);
  }
}

/** A dependency is failing or not answering: the request may succeed later (Retry-After). */
export function serviceUnavailable(retryAfterSec = DEPENDENCY_RETRY_AFTER_SEC): DomainError {
  return new DomainError('unavailable', 'service-unavailable', 'Service unavailable', `The service could not reach a component it depends on. Retry after ${retryAfterSec} s.`);
}

/** The headers an error's answer requires: `Allow` for 405, a bearer challenge for 401, `Retry-After` for 503. */
function headersOf(err: DomainError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (err instanceof MethodNotAllowed || err instanceof MethodNotAllowedError) headers.allow = err.allowed.join(', ');
  if (err.kind === 'unauthenticated') headers['www-authenticate'] = 'Bearer';
  if (err.kind === 'unavailable') headers['retry-after'] = String(err instanceof ServiceUnavailable ? err.retryAfterSec : DEPENDENCY_RETRY_AFTER_SEC);
  return headers;
}

/** The RFC 9457 body of a DomainError, unmasked (tests compare bodies; answers go through `problemResponse`). */
export function problemBodyOf(err: DomainError, instance?: string): ProblemBody {
  const { type, title, status, detail, errors } = errorView(err);
  return { type, title, status, detail, ...(instance ? { instance } : {}), ...(errors ? { errors } : {}) };
}

/** The status a thrown value answers with (500 for a bug). */
export function statusOf(err: unknown): number {
  if (err instanceof DomainError) return errorView(err).status;
  return dependencyFailure(err) === null ? 500 : 503;
}

const PROBLEM_HEADERS = { 'content-type': 'application/problem+json', 'cache-control': 'no-store' } as const;

/** Maps any thrown value to a response; only DomainErrors carry their details out, masked. */
export function problemResponse(err: unknown, instance?: string): APIGatewayProxyStructuredResultV2 {
  const known = err instanceof DomainError;
  const failure = known ? null : dependencyFailure(err);
  if (failure !== null) {
    // Which component failed and how, for the operator; the answer itself names none.
    log.error('dependency unavailable', { ...failure });
    err = serviceUnavailable();
  }
  if (err instanceof DomainError) {
    const body = problemBodyOf(err, instance);
    if (body.status >= 500 && failure === null) log.error('problem', { type: body.type, detail: body.detail });
    return { statusCode: body.status, headers: { ...PROBLEM_HEADERS, ...headersOf(err) }, body: JSON.stringify(maskedProblemBody(body)) };
  }
  log.error('unhandled error', { error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err) });
  return {
    statusCode: 500,
    headers: { ...PROBLEM_HEADERS },
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
export function httpProblems(options: { readonly instance?: string } = {}): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    name: 'httpProblems',
    // `instance`: a fixed route template for routes whose path is a credential (a network's postback secret).
    onError: (request) => problemResponse(request.error, options.instance ?? request.event?.rawPath),
  };
}
