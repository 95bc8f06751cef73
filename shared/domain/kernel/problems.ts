/**
 * The refusals every entry point shares, as DomainErrors: each says what went wrong as a kind and a stable code
 * (the problem `type` slug clients branch on), never how HTTP spells it. shared/app/kernel/errors.ts holds the one
 * table from kinds to statuses and shared/adapters/http/problems.ts renders them as RFC 9457 problem details.
 * Below them: the rule that no phone number leaves in what a refusal says.
 */
import { DomainError, type FieldError } from './errors';

export { fieldErrors, type FieldError } from './errors';

export const PROBLEM_BASE = 'https://callledger.dev/problems/';

/** An RFC 9457 problem body: the shape a refusal is told in, whatever carries it. */
export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  readonly errors?: readonly FieldError[];
}

export class BadRequest extends DomainError {
  constructor(detail: string, errors?: readonly FieldError[]) {
    super('invalid_input', 'malformed-request', 'Malformed request', detail, errors);
  }
}

export class Unauthorized extends DomainError {
  constructor(detail = 'A valid bearer API key is required.') {
    super('unauthenticated', 'unauthorized', 'Unauthorized', detail);
  }
}

export class Forbidden extends DomainError {
  constructor(detail: string, slug = 'forbidden') {
    super('forbidden', slug, slug === 'bad-signature' ? 'Bad signature' : 'Forbidden', detail);
  }
}

export class NotFound extends DomainError {
  constructor(detail: string) {
    super('not_found', 'not-found', 'Not found', detail);
  }
}

/** The request's method is not one the resource takes: `allowed` are the ones it does. */
export class MethodNotAllowed extends DomainError {
  constructor(readonly allowed: readonly string[]) {
    super('method_not_allowed', 'method-not-allowed', 'Method not allowed', `Allowed: ${allowed.join(', ')}.`);
  }
}

export class Conflict extends DomainError {
  constructor(detail: string) {
    super('conflict', 'conflict', 'Conflict', detail);
  }
}

export class PayloadTooLarge extends DomainError {
  constructor(readonly limitBytes: number) {
    // Grouped digits: a bare run of 7+ digits is masked as a possible phone number (maskPhoneNumbers).
    super('too_large', 'payload-too-large', 'Payload too large', `The body is larger than ${limitBytes.toLocaleString('en-US')} bytes.`);
  }
}

export class UnsupportedMediaType extends DomainError {
  constructor(got: string | undefined, readonly expected: readonly string[]) {
    super('unsupported', 'unsupported-media-type', 'Unsupported media type', `Content-Type ${got ? `'${got}'` : '(none)'} is not accepted; send ${expected.join(' or ')}.`);
  }
}

export class Unprocessable extends DomainError {
  constructor(detail: string, errors?: readonly FieldError[]) {
    super('refused', 'unprocessable', 'Unprocessable request', detail, errors);
  }
}

/**
 * A dependency (storage, queue) is failing or not answering, so the request may succeed later, after
 * `retryAfterSec` seconds. Never for bad input or a bug.
 */
export class ServiceUnavailable extends DomainError {
  constructor(
    readonly retryAfterSec: number,
    detail = `The service could not reach a component it depends on. Retry after ${retryAfterSec} s.`,
  ) {
    super('unavailable', 'service-unavailable', 'Service unavailable', detail);
  }
}

// ---------------------------------------------------------------- phone numbers never leave in a problem

/** The placeholder a number-shaped text is replaced with. */
export const MASKED_NUMBER = '{number}';

/** 7–15 digits (E.164 has at most 15), optionally after `+` or its percent-encoding, not part of a longer word. */
const DIGIT_RUN = /(?<![\p{L}\p{N}_])(?:\+|%2[Bb])?\d{7,15}(?![\p{L}\p{N}_])/gu;
/** A path segment written the ways phone numbers are: digits with `+ ( ) - .` and spaces, raw or percent-encoded. */
const NUMBER_SEGMENT = /^(?:[\d+().\- ]|%2[Bb]|%20|%28|%29)+$/;

/** A path with every segment that spells a phone number (7+ digits) replaced. */
function maskPath(path: string): string {
  return path
    .split('/')
    .map((segment) => (NUMBER_SEGMENT.test(segment) && (segment.replace(/%2[Bb]|%2[0-9]/g, '').match(/\d/g)?.length ?? 0) >= 7 ? MASKED_NUMBER : segment))
    .join('/');
}

/**
 * Caller numbers are personal data and the same path shapes carry tracking numbers and callers, so no problem may
 * carry anything shaped like a phone number: in a path (the `instance`, or a path quoted in a detail) every segment
 * that spells one, and anywhere a run of 7–15 digits, becomes `{number}`. Problems are written by this code and
 * never need a bare 7-digit figure; dates, amounts and ids (letters around their digits) are untouched.
 */
export function maskPhoneNumbers(text: string): string {
  return text
    .split(/(\s+)/)
    .map((token) => (token.includes('/') ? maskPath(token) : token))
    .join('')
    .replace(DIGIT_RUN, MASKED_NUMBER);
}

/** The body as it may leave: `instance`, `detail` and the named fields with phone numbers masked. */
export function maskedProblemBody(body: ProblemBody): ProblemBody {
  return {
    ...body,
    detail: maskPhoneNumbers(body.detail),
    ...(body.instance === undefined ? {} : { instance: maskPhoneNumbers(body.instance) }),
    ...(body.errors === undefined ? {} : { errors: body.errors.map((e) => ({ field: maskPhoneNumbers(e.field), message: e.message })) }),
  };
}
