import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { callTimes, foldCall, slotName } from '../../../shared/domain/calls/fold';
import { chargeEntry, entryTotals } from '../../../shared/domain/ledger/entries';
import { campaignFromSeed } from '../../../shared/domain/catalog/config';
import { REASON_CODES, type PriorBilled } from '../../../shared/domain/rating/decision';
import { callFactsFrom, rateCall } from '../../../shared/domain/rating/rules';
import type { CallEvent, CallStatus, CallStatusEvent } from '../../../shared/domain/calls/events';
import type { FlatCampaign, AssignedNumber } from '../../../shared/domain/catalog/types';

const campaign: FlatCampaign = {
  accountId: 'acme',
  campaignId: 'roofing-tx',
  name: 'Roofing',
  vertical: 'home_services',
  terms: { version: 3, priceCents: 4500, bufferSec: 90, duplicateWindowHours: 72 },
};
const assignment: AssignedNumber = {
  accountId: 'acme',
  number: '+15125550101',
  campaignId: 'roofing-tx',
  publisherId: 'pub-a',
  subSource: 'google',
};

function statusEvent(status: CallStatus, over: Partial<CallStatusEvent> = {}): CallStatusEvent {
  return {
    kind: 'call.status',
    eventId: `twilio:CA1:status:${status}`,
    provider: 'twilio',
    accountId: 'acme',
    callId: 'twilio:CA1',
    occurredAt: '2026-11-24T10:05:00.000Z',
    receivedAt: '2026-11-24T10:05:01.000Z',
    sequenceNumber: null,
    status,
    direction: 'inbound',
    from: '+12125550123',
    to: '+15125550101',
    durationSec: status === 'completed' ? 300 : 0,
    answeredBy: null,
    stirVerstat: null,
    digits: null,
    fromState: null,
    fromZip: null,
    fromCountry: null,
    parentCallId: null,
    ...over,
  };
}

const startMs = Date.parse('2026-11-24T10:00:00.000Z');
/** The one rating, given a seed-shaped campaign (one terms version, no hours, no geography) and no block match. */
const rate = (terminal: CallStatusEvent, priorBilled: PriorBilled | null = null, c: FlatCampaign | null = campaign, a: AssignedNumber | null = assignment) => {
  const config = c === null ? null : campaignFromSeed(c);
  return rateCall({ call: callFactsFrom(terminal), startedAtMs: startMs, assignment: a, campaign: config, termsVersions: config?.termsVersions ?? [], priorBilled, blocked: null });
};

describe('rateCall, rule by rule', () => {
  it('bills a connected call at or over the buffer at the campaign price, naming the terms version', () => {
    const d = rate(statusEvent('completed', { durationSec: 90 }));
    expect(d).toMatchObject({ billable: true, amountCents: 4500, reasons: [], termsVersion: 3, publisherId: 'pub-a', subSource: 'google' });
    expect(d.rules.map((r) => r.rule)).toEqual(REASON_CODES.filter((r) => r !== 'outside_window' && r !== 'over_cap'));
    expect(d.rules.every((r) => r.passed)).toBe(true);
  });

  it('unknown_number when the dialled number is not assigned, and evaluates nothing else', () => {
    const d = rate(statusEvent('completed'), null, null, null);
    expect(d).toMatchObject({ billable: false, amountCents: 0, reasons: ['unknown_number'], campaignId: null, termsVersion: null });
    expect(d.rules).toHaveLength(1);
  });

  it.each(['busy', 'no-answer', 'failed', 'canceled'] as const)('not_connected for %s', (status) => {
    const d = rate(statusEvent(status));
    expect(d.reasons).toEqual(['not_connected']);
    expect(d.amountCents).toBe(0);
  });

  it('below_buffer one second under the buffer, with the inputs that decided it', () => {
    const d = rate(statusEvent('completed', { durationSec: 89 }));
    expect(d.reasons).toEqual(['below_buffer']);
    expect(d.rules.find((r) => r.rule === 'below_buffer')!.inputs).toEqual({ durationBasis: 'total', billableSec: 89, totalSec: 89, talkSec: null, bufferSec: 90 });
  });

  it('duplicate_caller inside the window on either side, not at its edge', () => {
    const windowMs = 72 * 3_600_000;
    expect(rate(statusEvent('completed'), { callId: 'twilio:CA0', billedStartMs: startMs - windowMs + 1 }).reasons).toEqual(['duplicate_caller']);
    expect(rate(statusEvent('completed'), { callId: 'twilio:CA9', billedStartMs: startMs + 60_000 }).reasons).toEqual(['duplicate_caller']);
    expect(rate(statusEvent('completed'), { callId: 'twilio:CA0', billedStartMs: startMs - windowMs }).billable).toBe(true);
  });

  it('lists every failing rule, primary first', () => {
    const d = rate(statusEvent('completed', { durationSec: 10 }), { callId: 'twilio:CA0', billedStartMs: startMs });
    expect(d.reasons).toEqual(['below_buffer', 'duplicate_caller']);
  });
});

describe('rateCall properties', () => {
  const arbCall = fc.record({
    status: fc.constantFrom<CallStatus>('completed', 'busy', 'no-answer', 'failed', 'canceled'),
    durationSec: fc.integer({ min: 0, max: 3600 }),
    priorOffsetMin: fc.option(fc.integer({ min: -10_000, max: 10_000 })),
  });

  it('raising the buffer never makes a non-billable call billable', () => {
    fc.assert(
      fc.property(arbCall, fc.integer({ min: 0, max: 900 }), fc.integer({ min: 0, max: 900 }), (c, b1, b2) => {
        const [low, high] = b1 <= b2 ? [b1, b2] : [b2, b1];
        const terminal = statusEvent(c.status, { durationSec: c.durationSec });
        const prior = c.priorOffsetMin === null ? null : { callId: 'x', billedStartMs: startMs + c.priorOffsetMin * 60_000 };
        const at = (bufferSec: number) => rate(terminal, prior, { ...campaign, terms: { ...campaign.terms, bufferSec } });
        if (!at(low).billable) expect(at(high).billable).toBe(false);
      }),
    );
  });

  it('amount is a positive integer exactly when billable', () => {
    fc.assert(
      fc.property(arbCall, fc.integer({ min: 1, max: 1_000_000 }), (c, priceCents) => {
        const d = rate(statusEvent(c.status, { durationSec: c.durationSec }), null, { ...campaign, terms: { ...campaign.terms, priceCents } });
        expect(Number.isSafeInteger(d.amountCents)).toBe(true);
        expect(d.amountCents).toBe(d.billable ? priceCents : 0);
        expect(d.billable).toBe(d.reasons.length === 0);
      }),
    );
  });
});

describe('foldCall', () => {
  const ringing = statusEvent('ringing', { durationSec: null, occurredAt: '2026-11-24T10:00:00.000Z' });
  const completed = statusEvent('completed');
  const recording: CallEvent = {
    kind: 'recording.status',
    eventId: 'twilio:CA1:recording:RE1:completed',
    provider: 'twilio',
    accountId: 'acme',
    callId: 'twilio:CA1',
    occurredAt: '2026-11-24T10:05:10.000Z',
    receivedAt: '2026-11-24T10:05:11.000Z',
    sequenceNumber: null,
    recordingId: 'RE1',
    recordingStatus: 'completed',
    recordingUrl: 'http://127.0.0.1/r',
    recordingDurationSec: 295,
  };

  it('is the same view for every order and any duplication of the events', () => {
    const reference = foldCall([ringing, completed, recording]);
    expect(reference.status).toBe('completed');
    expect(reference.terminal).toEqual(completed);
    expect(reference.recordings).toEqual([recording]);
    fc.assert(
      fc.property(
        fc
          .array(fc.constantFrom<CallEvent>(ringing, completed, recording), { maxLength: 12 })
          .chain((extra) => {
            const all = [...extra, ringing, completed, recording];
            return fc.shuffledSubarray(all, { minLength: all.length });
          }),
        (events) => {
          expect(foldCall(events)).toEqual(reference);
        },
      ),
    );
  });

  it('prefers completed over another terminal status', () => {
    expect(foldCall([statusEvent('busy'), completed]).terminal?.status).toBe('completed');
    expect(foldCall([completed, statusEvent('no-answer')]).terminal?.status).toBe('completed');
  });

  it('has no terminal event before one arrives', () => {
    const v = foldCall([ringing, recording]);
    expect(v.terminal).toBeNull();
    expect(v.status).toBe('ringing');
  });

  it('names one slot per distinct event', () => {
    expect(slotName(completed)).toBe('s_completed');
    expect(slotName({ ...statusEvent('in-progress'), digits: '1' })).toBe('s_in-progress_gather');
    expect(slotName(recording)).toBe('r_RE1_completed');
  });

  it('derives start and end from the terminal event alone', () => {
    expect(callTimes(completed)).toEqual({
      startedAt: '2026-11-24T10:00:00.000Z',
      endedAt: '2026-11-24T10:05:00.000Z',
      durationSec: 300,
      startedAtMs: startMs,
    });
  });
});

describe('ledger entries', () => {
  it('builds a charge with a deterministic id and the call start as its effective time', () => {
    const decision = rate(statusEvent('completed'));
    const e = chargeEntry({ accountId: 'acme', callId: 'twilio:CA1', decision, startedAt: '2026-11-24T10:00:00.000Z', createdAt: 'now' });
    expect(e).toMatchObject({ entryId: 'charge:twilio:CA1', type: 'charge', amountCents: 4500, termsVersion: 3, effectiveAt: '2026-11-24T10:00:00.000Z' });
  });

  it('refuses to charge a non-billable call', () => {
    const decision = rate(statusEvent('busy'));
    expect(() => chargeEntry({ accountId: 'acme', callId: 'twilio:CA1', decision, startedAt: 'x', createdAt: 'y' })).toThrow(/not billable/);
  });

  it('totals equal the sum of the entries', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100_000 })), (amounts) => {
        const t = entryTotals(amounts.map((amountCents) => ({ type: 'charge' as const, amountCents })));
        expect(t.chargesCents).toBe(amounts.reduce((s, a) => s + a, 0));
        expect(t.netCents).toBe(t.chargesCents + t.creditsCents);
        expect(t.count).toBe(amounts.length);
      }),
    );
  });
});
