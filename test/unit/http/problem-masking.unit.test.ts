/**
 * No phone number leaves in a problem (shared/domain/kernel/problems.ts `maskPhoneNumbers`, applied where problems are
 * rendered, shared/adapters/http/problems.ts `problemResponse`): the request path (`instance`, or a path quoted in a detail)
 * and parameter names are the client's text and the same path shapes carry callers and tracking numbers, so every
 * number-shaped segment and every run of 7–15 digits becomes `{number}`; what problems legitimately say (dates,
 * amounts, ids with letters around their digits) is left as it is.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { problemResponse } from '../../../shared/adapters/http/problems';
import { BadRequest, maskPhoneNumbers, NotFound, PayloadTooLarge } from '../../../shared/domain/kernel/problems';

describe('maskPhoneNumbers', () => {
  it('masks numbers in paths, in any written form, and bare digit runs', () => {
    expect(maskPhoneNumbers('/v1/blocked-callers/%2B15125550101/history')).toBe('/v1/blocked-callers/{number}/history');
    expect(maskPhoneNumbers('No route for GET /v1/blocked-callers/%2B15125550101/history')).toBe('No route for GET /v1/blocked-callers/{number}/history');
    expect(maskPhoneNumbers('/v1/tracking-numbers/+15125550101')).toBe('/v1/tracking-numbers/{number}');
    expect(maskPhoneNumbers('/v1/x/%28512%29%20555-0101')).toBe('/v1/x/{number}');
    expect(maskPhoneNumbers('/v1/x/512.555.0101')).toBe('/v1/x/{number}');
    expect(maskPhoneNumbers('Invalid query parameters: +15125550101, 5125550101.')).toBe('Invalid query parameters: {number}, {number}.');
  });

  it('leaves dates, amounts, ids and short figures alone', () => {
    for (const text of [
      '/v1/calls/twilio:CA0123456789abcdef0123456789abcdef/rating',
      'effectiveFrom must be after 2026-06-15T12:01:00.000Z',
      'period 2026-06, 4500 cents, 65536 bytes, 366 days',
      '/v1/privacy/deletions/del_0123456789abcdef01234567',
      '/v1/pilots/pilot-0123456789abcdef01234567',
      'The body is larger than 5,242,880 bytes.',
    ]) {
      expect(maskPhoneNumbers(text)).toBe(text);
    }
  });

  it('no E.164 number survives, in a path or a detail, in any common form (property)', () => {
    const e164 = fc.tuple(fc.integer({ min: 1, max: 9 }), fc.stringMatching(/^\d{6,13}$/)).map(([cc, rest]) => `+${cc}${rest}`);
    const form = fc.constantFrom(
      (n: string) => `/v1/blocked-callers/${encodeURIComponent(n)}`,
      (n: string) => `/v1/tracking-numbers/${n}/assignments`,
      (n: string) => `/v1/calls/${n.slice(1)}`,
      (n: string) => `No route for PUT /v1/x/${encodeURIComponent(n)}/y`,
      (n: string) => `Invalid query parameters: ${n}.`,
      (n: string) => `/v1/x/${n.slice(0, 2)}%20(${n.slice(2, 5)})%20${n.slice(5)}`,
    );
    fc.assert(
      fc.property(e164, form, (n, write) => {
        const masked = maskPhoneNumbers(write(n));
        expect(masked.replace(/\D/g, '')).not.toContain(n.slice(-7));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('problemResponse', () => {
  const body = (res: ReturnType<typeof problemResponse>) => JSON.parse(String(res.body));

  it('masks instance, detail and field names of every problem, and the instance of a 500', () => {
    expect(body(problemResponse(new NotFound('No such tracking number.'), '/v1/tracking-numbers/%2B15125550101'))).toEqual({
      type: 'https://callledger.dev/problems/not-found',
      title: 'Not found',
      status: 404,
      detail: 'No such tracking number.',
      instance: '/v1/tracking-numbers/{number}',
    });
    const bad = body(problemResponse(new BadRequest('Invalid query parameters: +15125550101.', [{ field: '+15125550101', message: 'is not a known parameter' }]), '/v1/calls'));
    expect(bad.detail).toBe('Invalid query parameters: {number}.');
    expect(bad.errors).toEqual([{ field: '{number}', message: 'is not a known parameter' }]);
    expect(body(problemResponse(new Error('boom'), '/v1/blocked-callers/+15125550101')).instance).toBe('/v1/blocked-callers/{number}');
  });

  it('keeps the byte limit of a 413 readable (grouped, so it is no digit run)', () => {
    expect(body(problemResponse(new PayloadTooLarge(5 * 1024 * 1024))).detail).toBe('The body is larger than 5,242,880 bytes.');
  });
});
