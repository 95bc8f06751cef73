/**
 * What a rejected call answers, whoever threw it: the RFC 9457 body the HTTP
 * adapter renders, unmasked. Tests assert statuses, types and bodies through it, not error classes.
 */
import { expect } from 'vitest';
import { problemBodyOf } from '../../shared/adapters/http/problems';
import { isCallerError } from '../../shared/app/kernel/errors';
import type { ProblemBody } from '../../shared/domain/kernel/problems';

/** The problem body of the error `run` throws; fails the test when it does not throw one a caller is told about. */
export async function rejection(run: Promise<unknown> | (() => Promise<unknown>)): Promise<ProblemBody> {
  try {
    await (typeof run === 'function' ? run() : run);
  } catch (err) {
    expect(isCallerError(err), `not a caller error: ${String(err)}`).toBe(true);
    return problemBodyOf(err as Parameters<typeof problemBodyOf>[0]);
  }
  throw new Error('expected a rejection');
}

/** The problem type of a slug. */
export function problemType(slug: string): string {
  return `https://callledger.dev/problems/${slug}`;
}

/** The problem body of the error `run` throws synchronously. */
export function thrown(run: () => unknown): ProblemBody {
  try {
    run();
  } catch (err) {
    expect(isCallerError(err), `not a caller error: ${String(err)}`).toBe(true);
    return problemBodyOf(err as Parameters<typeof problemBodyOf>[0]);
  }
  throw new Error('expected a throw');
}

/** The answers the generic problems give, to match a `rejection` or `thrown` body against. */
export const PROBLEM = {
  Problem: {},
  BadRequest: { status: 400, type: problemType('malformed-request') },
  Forbidden: { status: 403 },
  NotFound: { status: 404, type: problemType('not-found') },
  Conflict: { status: 409, type: problemType('conflict') },
  PayloadTooLarge: { status: 413, type: problemType('payload-too-large') },
  UnsupportedMediaType: { status: 415, type: problemType('unsupported-media-type') },
  Unprocessable: { status: 422, type: problemType('unprocessable') },
} as const;
