/**
 * A DomainError answers like the Problem it replaces: the status of its kind, the problem `type` from its code, its
 * title, detail and field errors, with phone numbers masked as in every problem; unauthenticated asks for a bearer
 * key and unavailable says when to retry.
 */
import { describe, expect, it } from 'vitest';
import { problemResponse } from '../../../shared/adapters/http/problems';
import { DomainError, type ErrorKind } from '../../../shared/domain/kernel/errors';

const body = (res: ReturnType<typeof problemResponse>) => JSON.parse(String(res.body));

describe('problemResponse renders a DomainError', () => {
  it('with the status of its kind and the type of its code', () => {
    const statuses: Record<ErrorKind, number> = {
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
    for (const [kind, status] of Object.entries(statuses) as [ErrorKind, number][]) {
      const res = problemResponse(new DomainError(kind, 'some-rule', 'Some rule', 'It refused.'), '/v1/x');
      expect(res.statusCode).toBe(status);
      expect(res.headers?.['content-type']).toBe('application/problem+json');
      if (kind !== 'unavailable') expect(body(res)).toEqual({ type: 'https://callledger.dev/problems/some-rule', title: 'Some rule', status, detail: 'It refused.', instance: '/v1/x' });
    }
  });

  it('carries field errors and masks phone numbers as every problem does', () => {
    const err = new DomainError('invalid_input', 'malformed-request', 'Malformed request', 'Unknown caller +15125550101.', [{ field: '+15125550101', message: 'is not known' }]);
    expect(body(problemResponse(err, '/v1/blocked-callers/%2B15125550101'))).toEqual({
      type: 'https://callledger.dev/problems/malformed-request',
      title: 'Malformed request',
      status: 400,
      detail: 'Unknown caller {number}.',
      instance: '/v1/blocked-callers/{number}',
      errors: [{ field: '{number}', message: 'is not known' }],
    });
  });

  it('writes a snake_case code as a kebab-case type', () => {
    expect(body(problemResponse(new DomainError('refused', 'credit_out_of_range', 'Credit out of range', 'Too much.'))).type).toBe('https://callledger.dev/problems/credit-out-of-range');
  });

  it('asks for a bearer key when unauthenticated, and says when to retry when unavailable', () => {
    expect(problemResponse(new DomainError('unauthenticated', 'unauthorized', 'Unauthorized', 'No key.')).headers?.['www-authenticate']).toBe('Bearer');
    const res = problemResponse(new DomainError('unavailable', 'service-unavailable', 'Service unavailable', 'Later.'));
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe('5');
  });
});

describe('the refusals that were classes of their own keep their answers as DomainErrors', () => {
  it('406 not-acceptable, 501 not-implemented, 503 legal-hold-pending (with Retry-After, as every 503)', async () => {
    const { notAcceptable, notImplemented } = await import('../../../shared/app/kernel/errors');
    const { legalHoldPending } = await import('../../../shared/app/privacy/privacy');
    const cases = [
      [notAcceptable(['application/json']), 406, 'not-acceptable', 'Not acceptable'],
      [notImplemented('Not yet.'), 501, 'not-implemented', 'Not implemented'],
      [legalHoldPending('Repeat the request.'), 503, 'legal-hold-pending', 'Legal hold not applied yet'],
    ] as const;
    for (const [err, status, slug, title] of cases) {
      expect(err).toBeInstanceOf(DomainError);
      const res = problemResponse(err, '/v1/x');
      expect(res.statusCode).toBe(status);
      expect(body(res)).toMatchObject({ type: `https://callledger.dev/problems/${slug}`, title, status });
    }
    expect(problemResponse(legalHoldPending('Repeat the request.')).headers?.['retry-after']).toBe('5');
  });
});
