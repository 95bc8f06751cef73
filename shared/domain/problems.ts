/**
 * One typed error hierarchy for everything a caller can get wrong, rendered as RFC 9457 problem details in
 * exactly one place (shared/adapters/http.ts). Anything that is not a Problem is a bug and becomes a generic 500.
 */

export const PROBLEM_BASE = 'https://callledger.dev/problems/';

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  readonly errors?: readonly FieldError[];
}

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly errors?: readonly FieldError[],
  ) {
    super(detail);
    this.name = new.target.name;
  }
}

export class BadRequest extends Problem {
  constructor(detail: string, errors?: readonly FieldError[]) {
    super(400, 'malformed-request', 'Malformed request', detail, errors);
  }
}

export class Unauthorized extends Problem {
  constructor(detail = 'A valid bearer API key is required.') {
    super(401, 'unauthorized', 'Unauthorized', detail);
  }
}

export class Forbidden extends Problem {
  constructor(detail: string, slug = 'forbidden') {
    super(403, slug, slug === 'bad-signature' ? 'Bad signature' : 'Forbidden', detail);
  }
}

export class NotFound extends Problem {
  constructor(detail: string) {
    super(404, 'not-found', 'Not found', detail);
  }
}

export class MethodNotAllowed extends Problem {
  constructor(readonly allowed: readonly string[]) {
    super(405, 'method-not-allowed', 'Method not allowed', `Allowed: ${allowed.join(', ')}.`);
  }
}

export class Conflict extends Problem {
  constructor(detail: string) {
    super(409, 'conflict', 'Conflict', detail);
  }
}

export class PayloadTooLarge extends Problem {
  constructor(readonly limitBytes: number) {
    super(413, 'payload-too-large', 'Payload too large', `The body is larger than ${limitBytes} bytes.`);
  }
}

export class UnsupportedMediaType extends Problem {
  constructor(got: string | undefined, readonly expected: readonly string[]) {
    super(
      415,
      'unsupported-media-type',
      'Unsupported media type',
      `Content-Type ${got ? `'${got}'` : '(none)'} is not accepted; send ${expected.join(' or ')}.`,
    );
  }
}

export class Unprocessable extends Problem {
  constructor(detail: string, errors?: readonly FieldError[]) {
    super(422, 'unprocessable', 'Unprocessable request', detail, errors);
  }
}

/**
 * A dependency (storage, queue) is failing or not answering, so the request may succeed later: answered with
 * `Retry-After` (seconds). Never for bad input (4xx) or a bug (500).
 */
export class ServiceUnavailable extends Problem {
  constructor(
    readonly retryAfterSec: number,
    detail = `The service could not reach a component it depends on. Retry after ${retryAfterSec} s.`,
  ) {
    super(503, 'service-unavailable', 'Service unavailable', detail);
  }
}

export function problemBody(p: Problem, instance?: string): ProblemBody {
  return {
    type: `${PROBLEM_BASE}${p.slug}`,
    title: p.title,
    status: p.status,
    detail: p.detail,
    ...(instance ? { instance } : {}),
    ...(p.errors && p.errors.length > 0 ? { errors: p.errors } : {}),
  };
}

/** zod issues → field errors (`path.to.field: message`), without echoing input values (they may be PII). */
export function fieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FieldError[] {
  return issues.map((i) => ({ field: i.path.map(String).join('.') || '(root)', message: i.message }));
}
