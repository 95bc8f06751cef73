/**
 * Every dispute refusal answers with its own problem type (a client branches on the type, not the detail), and with
 * the status these refusals have always had: conflicts with the stored dispute 409, refusals of the request 422.
 */
import { describe, expect, it } from 'vitest';
import { problemResponse } from '../../../shared/adapters/http/problems';
import { refusalError } from '../../../shared/app/disputes/refusals';
import type { Dispute, DisputeRefusal } from '../../../shared/domain/disputes/disputes';

const existing = { callId: 'twilio:CA1', disputeId: 'dispute:twilio:CA1', status: 'open' } as Dispute;

const cases: readonly [DisputeRefusal, number, string][] = [
  [{ kind: 'charge_reversed', callId: 'twilio:CA1', reversalEntryId: 'reversal:twilio:CA1:1', priorCallId: null }, 409, 'charge-reversed'],
  [{ kind: 'not_billed', callId: 'twilio:CA1' }, 422, 'not-billed'],
  [{ kind: 'already_disputed', existing }, 409, 'already-disputed'],
  [{ kind: 'reason_not_allowed', reason: 'fraud', allowed: ['robocall'] }, 422, 'reason-not-allowed'],
  [{ kind: 'outside_window', deadline: '2026-12-10T15:00:00.000Z', disputeWindowDays: 7 }, 422, 'outside-window'],
  [{ kind: 'already_resolved', existing: { ...existing, status: 'accepted' } as Dispute }, 409, 'already-resolved'],
  [{ kind: 'credit_out_of_range', creditCents: 5001, chargeCents: 5000 }, 422, 'credit-out-of-range'],
];

describe('dispute refusals', () => {
  it.each(cases)('%o answers %i with its own type', (refusal, status, slug) => {
    const res = problemResponse(refusalError(refusal), '/v1/calls/twilio:CA1/disputes');
    expect(res.statusCode).toBe(status);
    expect(JSON.parse(String(res.body))).toMatchObject({ type: `https://callledger.dev/problems/${slug}`, status });
  });

  it('no two refusals share a type', () => {
    expect(new Set(cases.map(([r]) => refusalError(r).code)).size).toBe(cases.length);
  });

  it('keeps the fields a client corrects', () => {
    expect(refusalError(cases[3]![0]).errors).toEqual([{ field: 'reason', message: 'must be one of robocall' }]);
    expect(refusalError(cases[6]![0]).errors).toEqual([{ field: 'creditCents', message: 'must be between 1 and 5000' }]);
    expect(refusalError(cases[4]![0]).detail).toBe('The dispute window (7 days) closed at 2026-12-10T15:00:00.000Z.');
  });
});
