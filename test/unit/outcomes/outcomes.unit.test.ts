/**
 * CRM outcomes, pure parts (shared/domain/outcomes/outcomes.ts, outcomes-schema.ts): the line schema, the JSON and CSV
 * envelopes with their line numbers, the matching rule over candidate calls, the match plan, idempotency and
 * supersession; and the reports' credit grouping (shared/adapters/reports/campaign-calls.ts creditsByCall).
 */
import { describe, expect, it } from 'vitest';
import { creditsByCall } from '../../../shared/adapters/reports/campaign-calls';
import type { CreditEntry, LedgerEntry } from '../../../shared/domain/ledger/entries';
import {
  anchorOf,
  applyOutcomeLine,
  chooseCallerMatch,
  effectiveLookBackDays,
  lookBackWindow,
  outcomeView,
  planMatch,
  reportInForce,
  type CandidateCall,
  type OutcomeLine,
  type OutcomeRecord,
} from '../../../shared/domain/outcomes/outcomes';
import { outcomeLinesFromCsv, outcomeLinesFromJson, validateOutcomeLine } from '../../../shared/domain/outcomes/outcomes-schema';
import { DomainError } from '../../../shared/domain/kernel/errors';

const MALFORMED = expect.objectContaining({ kind: 'invalid_input', code: 'malformed-request', title: 'Malformed request' });

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-10T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('outcome line schema', () => {
  const base = { externalId: 'crm-1', callerNumber: '(512) 555-0101', occurredAt: '2026-03-10T12:00:00Z', status: 'booked' };

  it('accepts a caller line, defaults the amounts to 0 and takes a bare CallSid as a Twilio call id', () => {
    expect(validateOutcomeLine(base)).toEqual({ ok: true, value: { ...base, revenueCents: 0, marginCents: 0 } });
    const sid = `CA${'ab'.repeat(16)}`;
    const byId = validateOutcomeLine({ externalId: 'crm-2', callId: sid, occurredAt: '2026-03-10T07:00:00-05:00', status: 'closed', revenueCents: 120000, marginCents: -500 });
    expect(byId).toMatchObject({ ok: true, value: { callId: `twilio:${sid}`, revenueCents: 120000, marginCents: -500 } });
  });

  it('names every bad field without repeating a value', () => {
    const bad = validateOutcomeLine({ externalId: 'has space', occurredAt: '2026-03-10 12:00', status: 'won', revenueCents: 12.5, extra: 1, callerNumber: '+15125550101' });
    expect(bad.ok).toBe(false);
    const fields = !bad.ok ? bad.errors.map((e) => e.field).sort() : [];
    expect(fields).toEqual(['(root)', 'externalId', 'occurredAt', 'revenueCents', 'status'].sort());
    expect(JSON.stringify(bad)).not.toContain('5550101');
  });

  it('needs a callId or a caller number', () => {
    const bad = validateOutcomeLine({ externalId: 'x', occurredAt: '2026-03-10T12:00:00Z', status: 'lost' });
    expect(bad).toEqual({ ok: false, errors: [{ field: 'callerNumber', message: 'callId, or callerNumber (with occurredAt), is required' }] });
  });
});

describe('request envelopes', () => {
  it('JSON: one object is line 1; {outcomes} lines are 1-based positions; more than 1000 is a 400', () => {
    expect(outcomeLinesFromJson({ externalId: 'a' })).toEqual([{ line: 1, value: { externalId: 'a' } }]);
    expect(outcomeLinesFromJson({ outcomes: [{ a: 1 }, { b: 2 }] })).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 2, value: { b: 2 } },
    ]);
    expect(() => outcomeLinesFromJson({ outcomes: Array.from({ length: 1001 }, () => ({})) })).toThrow(MALFORMED);
    expect(() => outcomeLinesFromJson({ outcomes: [] })).toThrow(MALFORMED);
    expect(() => outcomeLinesFromJson({ outcomes: [{}], more: 1 })).toThrow(MALFORMED);
    expect(() => outcomeLinesFromJson([{}])).toThrow(MALFORMED);
  });

  it('CSV: loose header names, record numbers as line numbers, blank lines skipped, integers converted', () => {
    const csv = [
      'External ID,caller_number,Occurred-At,STATUS,revenue cents,marginCents',
      'crm-1,+15125550101,2026-03-10T12:00:00Z,booked,45000,9000',
      '',
      '"crm,2",5125550102,2026-03-10T13:00:00Z,won,12.50,',
    ].join('\r\n');
    const lines = outcomeLinesFromCsv(csv);
    expect(lines).toEqual([
      { line: 2, value: { externalId: 'crm-1', callerNumber: '+15125550101', occurredAt: '2026-03-10T12:00:00Z', status: 'booked', revenueCents: 45000, marginCents: 9000 } },
      { line: 4, value: { externalId: 'crm,2', callerNumber: '5125550102', occurredAt: '2026-03-10T13:00:00Z', status: 'won', revenueCents: '12.50' } },
    ]);
    expect(validateOutcomeLine(lines[0]!.value).ok).toBe(true);
    const bad = validateOutcomeLine(lines[1]!.value);
    expect(!bad.ok && bad.errors.map((e) => e.field).sort()).toEqual(['revenueCents', 'status']);
  });

  it('CSV: an unknown, repeated or missing column refuses the upload (422) with the column named', () => {
    const refusal = (csv: string) => {
      try {
        outcomeLinesFromCsv(csv);
      } catch (err) {
        expect(err).toBeInstanceOf(DomainError);
        expect(err).toMatchObject({ kind: 'refused', code: 'unprocessable', title: 'Unprocessable request' });
        return (err as DomainError).errors;
      }
      throw new Error('no refusal');
    };
    expect(refusal('externalId,callId,occurredAt,status,revenu\nx,twilio:CA1,2026-03-10T12:00:00Z,booked,1')).toEqual([
      { field: 'header.5', message: '"revenu" is not a known column (externalId, callId, callerNumber, occurredAt, status, revenueCents, marginCents)' },
    ]);
    expect(refusal('externalId,status,status\nx,booked,booked')).toEqual([
      { field: 'header.3', message: 'repeats column status' },
      { field: 'header', message: 'needs a occurredAt column' },
      { field: 'header', message: 'needs a callId or a callerNumber column' },
    ]);
    expect(refusal('')).toEqual([{ field: 'csv', message: 'is empty' }]);
    expect(refusal('externalId,callId,occurredAt,status\n\n')).toEqual([{ field: 'csv', message: 'has no rows' }]);
  });

  it('CSV: a row with more cells than the header names the extra cell', () => {
    const [line] = outcomeLinesFromCsv('externalId,callId,occurredAt,status\nx,twilio:CA1,2026-03-10T12:00:00Z,booked,oops');
    const checked = validateOutcomeLine(line!.value);
    expect(!checked.ok && checked.errors.map((e) => e.field)).toEqual(['(root)']);
  });
});

describe('matching by caller and time (rule 2)', () => {
  const call = (callId: string, startMs: number, connected = true): CandidateCall => ({ callId, startedAt: iso(startMs), connected });

  it('picks the most recent connected call that started at or before the anchor, within the look-back', () => {
    const candidates = [
      call('twilio:CAold', T0 - 3 * 3_600_000),
      call('twilio:CAlatest', T0 - 3_600_000),
      call('twilio:CAbusy', T0 - 1_800_000, false),
      call('twilio:CAafter', T0 + 60_000),
    ];
    expect(chooseCallerMatch(candidates, iso(T0), 30)).toBe('twilio:CAlatest');
  });

  it('bounds are inclusive: a call at the anchor and one exactly lookBackDays before both qualify; earlier does not', () => {
    expect(chooseCallerMatch([call('twilio:CAat', T0)], iso(T0), 30)).toBe('twilio:CAat');
    expect(chooseCallerMatch([call('twilio:CAedge', T0 - 30 * DAY)], iso(T0), 30)).toBe('twilio:CAedge');
    expect(chooseCallerMatch([call('twilio:CAolder', T0 - 30 * DAY - 1)], iso(T0), 30)).toBeNull();
    expect(chooseCallerMatch([call('twilio:CAolder', T0 - 30 * DAY - 1)], iso(T0), 31)).toBe('twilio:CAolder');
    expect(chooseCallerMatch([], iso(T0), 30)).toBeNull();
  });

  it('a tie on the start goes to the greater callId, whatever the order given', () => {
    const a = call('twilio:CAaaa', T0 - 1000);
    const b = call('twilio:CAbbb', T0 - 1000);
    expect(chooseCallerMatch([a, b], iso(T0), 30)).toBe('twilio:CAbbb');
    expect(chooseCallerMatch([b, a], iso(T0), 30)).toBe('twilio:CAbbb');
  });

  it('the window the index is queried with is [anchor − days, anchor]', () => {
    expect(lookBackWindow(iso(T0), 30)).toEqual({ fromIso: iso(T0 - 30 * DAY), toIso: iso(T0) });
  });

  it('look-back: the request, else a valid account setting, else 30 days', () => {
    expect(effectiveLookBackDays(7, 90)).toBe(7);
    expect(effectiveLookBackDays(undefined, 90)).toBe(90);
    expect(effectiveLookBackDays(undefined, 0)).toBe(30);
    expect(effectiveLookBackDays(undefined, '90')).toBe(30);
    expect(effectiveLookBackDays(undefined, undefined)).toBe(30);
  });
});

// ------------------------------------------------------------------ plan, idempotency, supersession

const ctx = (ms: number) => ({ accountId: 'acct-1', by: 'crm (admin)', nowIso: iso(ms) });

function line(overrides: Partial<OutcomeLine> = {}): OutcomeLine {
  return {
    line: 1,
    externalId: 'crm-1',
    callId: null,
    callerHash: 'h1',
    occurredAt: iso(T0),
    status: 'booked',
    revenueCents: 45_000,
    marginCents: 9_000,
    ...overrides,
  };
}

function stored(l: OutcomeLine, match: { callId: string; match: 'call_id' | 'caller_time' } | null): OutcomeRecord {
  return applyOutcomeLine(null, l, match, ctx(T0 + 1000)).record;
}

describe('match plan (rules 1, 3, 4)', () => {
  it('a new outcome: by its callId, else by caller and time anchored at its occurredAt', () => {
    expect(planMatch(null, line({ callId: 'twilio:CA1' }))).toEqual({ kind: 'call_id', callId: 'twilio:CA1' });
    expect(planMatch(null, line())).toEqual({ kind: 'caller_time', callerHash: 'h1', anchorAt: iso(T0) });
  });

  it('a matched outcome keeps its call unless another callId, or (caller-time) another caller, is named', () => {
    const byCaller = stored(line(), { callId: 'twilio:CA1', match: 'caller_time' });
    expect(planMatch(byCaller, line({ status: 'closed', occurredAt: iso(T0 + 5 * DAY) }))).toEqual({ kind: 'keep' });
    expect(planMatch(byCaller, line({ callerHash: null }))).toEqual({ kind: 'keep' });
    expect(planMatch(byCaller, line({ callerHash: 'h2', occurredAt: iso(T0 + DAY) }))).toEqual({ kind: 'caller_time', callerHash: 'h2', anchorAt: iso(T0) });
    expect(planMatch(byCaller, line({ callId: 'twilio:CA1' }))).toEqual({ kind: 'keep' });
    expect(planMatch(byCaller, line({ callId: 'twilio:CA2' }))).toEqual({ kind: 'call_id', callId: 'twilio:CA2' });
    const byId = stored(line({ callId: 'twilio:CA1' }), { callId: 'twilio:CA1', match: 'call_id' });
    expect(planMatch(byId, line({ callerHash: 'h9' }))).toEqual({ kind: 'keep' });
  });

  it('an unmatched outcome is retried on every line, anchored at the earliest occurredAt reported', () => {
    const unmatched = stored(line({ occurredAt: iso(T0) }), null);
    const later = line({ status: 'closed', occurredAt: iso(T0 + 10 * DAY) });
    expect(planMatch(unmatched, later)).toEqual({ kind: 'caller_time', callerHash: 'h1', anchorAt: iso(T0) });
    expect(anchorOf(unmatched, line({ occurredAt: iso(T0 - DAY) }))).toBe(iso(T0 - DAY));
    expect(planMatch(unmatched, line())).toEqual({ kind: 'caller_time', callerHash: 'h1', anchorAt: iso(T0) });
  });

  it('nothing to match with: none', () => {
    expect(planMatch(null, line({ callerHash: null }))).toEqual({ kind: 'none' });
  });
});

describe('idempotency and supersession', () => {
  it('creates with one report, the outcome on its call, and a view without the caller hash', () => {
    const applied = applyOutcomeLine(null, line(), { callId: 'twilio:CA1', match: 'caller_time' }, ctx(T0 + 1000));
    expect(applied.result).toBe('created');
    expect(applied.record).toMatchObject({ status: 'booked', revenueCents: 45_000, callId: 'twilio:CA1', match: 'caller_time', matchedAt: iso(T0 + 1000), rev: 1, callerHash: 'h1' });
    expect(applied.record.history).toEqual([{ status: 'booked', revenueCents: 45_000, marginCents: 9_000, occurredAt: iso(T0), receivedAt: iso(T0 + 1000), by: 'crm (admin)' }]);
    expect(applied.setCall).toEqual({
      callId: 'twilio:CA1',
      outcome: { externalId: 'crm-1', status: 'booked', revenueCents: 45_000, marginCents: 9_000, occurredAt: iso(T0), match: 'caller_time' },
    });
    expect(applied.clearCallId).toBeNull();
    expect(JSON.stringify(outcomeView(applied.record))).not.toContain('h1');
  });

  it('the same report again (even an older one) changes nothing', () => {
    const first = stored(line(), { callId: 'twilio:CA1', match: 'caller_time' });
    const closed = applyOutcomeLine(first, line({ status: 'closed', occurredAt: iso(T0 + DAY), revenueCents: 50_000 }), 'keep', ctx(T0 + 2 * DAY)).record;
    for (const again of [line({ status: 'closed', occurredAt: iso(T0 + DAY), revenueCents: 50_000 }), line()]) {
      const applied = applyOutcomeLine(closed, again, 'keep', ctx(T0 + 3 * DAY));
      expect(applied.result).toBe('unchanged');
      expect(applied.record).toEqual(closed);
      expect(applied.setCall).toBeNull();
    }
  });

  it('a later status supersedes and is appended; a late-arriving older status is kept in history but not in force', () => {
    const booked = stored(line(), { callId: 'twilio:CA1', match: 'caller_time' });
    const closed = applyOutcomeLine(booked, line({ status: 'closed', occurredAt: iso(T0 + DAY), revenueCents: 50_000 }), 'keep', ctx(T0 + 2 * DAY));
    expect(closed.result).toBe('updated');
    expect(closed.record).toMatchObject({ status: 'closed', revenueCents: 50_000, occurredAt: iso(T0 + DAY), rev: 2, matchedAt: iso(T0 + 1000) });
    expect(closed.record.history.map((h) => h.status)).toEqual(['booked', 'closed']);
    expect(closed.setCall?.outcome.status).toBe('closed');

    const lateLost = applyOutcomeLine(closed.record, line({ status: 'lost', occurredAt: iso(T0 + 12 * 3_600_000), revenueCents: 0 }), 'keep', ctx(T0 + 3 * DAY));
    expect(lateLost.result).toBe('updated');
    expect(lateLost.record.status).toBe('closed');
    expect(lateLost.record.history.map((h) => h.status)).toEqual(['booked', 'closed', 'lost']);
    expect(lateLost.setCall).toBeNull(); // the outcome in force did not change: the call keeps its attribute
  });

  it('equal occurredAt: the report received last is in force', () => {
    const h = (status: 'booked' | 'lost', receivedAt: string) => ({ status, revenueCents: 0, marginCents: 0, occurredAt: iso(T0), receivedAt, by: 'x' });
    expect(reportInForce([h('booked', iso(T0)), h('lost', iso(T0 + 1))]).status).toBe('lost');
  });

  it('a re-point sets the new call and clears the old one; an unmatched outcome that now matches is updated', () => {
    const onOne = stored(line(), { callId: 'twilio:CA1', match: 'caller_time' });
    const moved = applyOutcomeLine(onOne, line({ callId: 'twilio:CA2' }), { callId: 'twilio:CA2', match: 'call_id' }, ctx(T0 + DAY));
    expect(moved.result).toBe('updated');
    expect(moved.record).toMatchObject({ callId: 'twilio:CA2', match: 'call_id', matchedAt: iso(T0 + DAY), history: onOne.history });
    expect(moved.setCall?.callId).toBe('twilio:CA2');
    expect(moved.clearCallId).toBe('twilio:CA1');

    const unmatched = stored(line(), null);
    expect(unmatched).toMatchObject({ callId: null, match: null, matchedAt: null });
    const stillNot = applyOutcomeLine(unmatched, line(), null, ctx(T0 + DAY));
    expect(stillNot.result).toBe('unchanged');
    const found = applyOutcomeLine(unmatched, line(), { callId: 'twilio:CA3', match: 'caller_time' }, ctx(T0 + DAY));
    expect(found.result).toBe('updated');
    expect(found.record).toMatchObject({ callId: 'twilio:CA3', rev: 2, history: unmatched.history });
    expect(found.setCall?.callId).toBe('twilio:CA3');
  });
});

describe('credits by call (reports)', () => {
  const credit = (callId: string, amountCents: number): CreditEntry => ({
    entryId: `credit:${callId}`,
    type: 'credit',
    amountCents,
    currency: 'USD',
    callId,
    accountId: 'a',
    publisherId: 'p',
    subSource: null,
    campaignId: 'c',
    termsVersion: 1,
    effectiveAt: iso(T0),
    createdAt: iso(T0),
    disputeId: `dispute:${callId}`,
    correctsEntryId: `charge:${callId}`,
  });

  it('sums credits per call and ignores charges', () => {
    const charge: LedgerEntry = { ...credit('twilio:CA1', 4500), type: 'charge', entryId: 'charge:twilio:CA1' } as unknown as LedgerEntry;
    const map = creditsByCall([charge, credit('twilio:CA1', -1500), credit('twilio:CA1', -500), credit('twilio:CA2', -4500)]);
    expect([...map.entries()]).toEqual([
      ['twilio:CA1', { creditsCents: -2000, disputed: true }],
      ['twilio:CA2', { creditsCents: -4500, disputed: true }],
    ]);
  });
});
