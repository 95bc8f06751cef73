/**
 * The errors the use cases raise, as DomainErrors with the stable codes clients already branch on (each code is
 * the problem `type` slug it has always answered with), and the one table from error kinds to HTTP statuses.
 *
 * The table lives here, not in the HTTP adapter alone, because a few answers report one outcome per line of a batch
 * (consent records, CRM outcomes, invoice disputes, QA disputes) and each line says the status its error would
 * have had on its own: the use case builds that line, and the use cases may not import adapters.
 * shared/adapters/http/problems.ts renders every error with this table.
 */
import { DomainError, type ErrorKind, type FieldError } from '../../domain/kernel/errors';
import { PROBLEM_BASE } from '../../domain/kernel/problems';

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
  not_acceptable: 406,
  refused: 422,
  unavailable: 503,
  not_implemented: 501,
};

/** An error a caller is told about: every DomainError (anything else is a bug or a failing dependency). */
export function isCallerError(err: unknown): err is DomainError {
  return err instanceof DomainError;
}

/** What a caller is told about an error, before masking: its status, problem type, title, detail and fields. */
export interface ErrorView {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly errors?: readonly FieldError[];
}

export function errorView(err: DomainError): ErrorView {
  const status = STATUS_OF_KIND[err.kind];
  const slug = err.code.replace(/_/g, '-');
  return { status, type: `${PROBLEM_BASE}${slug}`, title: err.title, detail: err.detail, ...(err.errors && err.errors.length > 0 ? { errors: err.errors } : {}) };
}

// ------------------------------------------------------------------ the generic codes

export function invalidInput(detail: string, errors?: readonly FieldError[]): DomainError {
  return new DomainError('invalid_input', 'malformed-request', 'Malformed request', detail, errors);
}

export function forbidden(detail: string): DomainError {
  return new DomainError('forbidden', 'forbidden', 'Forbidden', detail);
}

export function notFound(detail: string): DomainError {
  return new DomainError('not_found', 'not-found', 'Not found', detail);
}

export function conflict(detail: string): DomainError {
  return new DomainError('conflict', 'conflict', 'Conflict', detail);
}

export function unprocessable(detail: string, errors?: readonly FieldError[]): DomainError {
  return new DomainError('refused', 'unprocessable', 'Unprocessable request', detail, errors);
}

export function payloadTooLarge(limitBytes: number): DomainError {
  // Grouped digits: a bare run of 7+ digits is masked as a possible phone number (maskPhoneNumbers).
  return new DomainError('too_large', 'payload-too-large', 'Payload too large', `The body is larger than ${limitBytes.toLocaleString('en-US')} bytes.`);
}

export function unsupportedMediaType(got: string | undefined, expected: readonly string[]): DomainError {
  return new DomainError('unsupported', 'unsupported-media-type', 'Unsupported media type', `Content-Type ${got ? `'${got}'` : '(none)'} is not accepted; send ${expected.join(' or ')}.`);
}

/** None of the media types the request accepts is one the resource is offered in. */
export function notAcceptable(offered: readonly string[]): DomainError {
  return new DomainError('not_acceptable', 'not_acceptable', 'Not acceptable', `This resource is available as ${offered.join(' or ')}; adjust the Accept header.`);
}

/** The operation exists in the contract but is not served by this deployment yet. */
export function notImplemented(detail: string): DomainError {
  return new DomainError('not_implemented', 'not_implemented', 'Not implemented', detail);
}
