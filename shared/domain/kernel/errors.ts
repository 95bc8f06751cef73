/**
 * Domain errors: what went wrong, as data — a kind (the class of failure a caller can act on) and a stable
 * snake_case or kebab-case code (the specific rule that refused), with a human detail and the fields at fault.
 * They know nothing of HTTP: shared/adapters/http/problems.ts is the one table from kinds to statuses, and the code
 * becomes the problem `type`, so a client can branch on the exact refusal.
 */

export type ErrorKind =
  | 'invalid_input'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'too_large'
  | 'unsupported'
  | 'not_acceptable'
  | 'refused'
  | 'unavailable'
  | 'not_implemented';

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly errors?: readonly FieldError[],
    options?: ErrorOptions,
  ) {
    super(detail, options);
    this.name = new.target.name;
  }
}

/** zod issues → field errors (`path.to.field: message`), without echoing input values (they may be PII). */
export function fieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FieldError[] {
  return issues.map((i) => ({ field: i.path.map(String).join('.') || '(root)', message: i.message }));
}
