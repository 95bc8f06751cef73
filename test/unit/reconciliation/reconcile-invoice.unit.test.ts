import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normaliseNumber } from '../../../shared/domain/calls/caller';
import type { LedgerEntry } from '../../../shared/domain/ledger/entries';
import { parseCsv, parseInvoiceCsv, parseInvoiceTime, parseMoneyCents, type InvoiceLine } from '../../../shared/domain/reconciliation/invoice-csv';
import { disputeReasonFor, reconcileInvoice, type OurCall } from '../../../shared/domain/reconciliation/reconcile-invoice';
import { REASON_CODES } from '../../../shared/domain/rating/decision';

const TZ = 'America/Chicago';

describe('CSV and field parsing', () => {
  it('reads RFC 4180: quotes, doubled quotes, embedded newlines, CRLF, a BOM', () => {
    expect(parseCsv('\uFEFFa,"b,1","say ""hi"""\r\n"multi\nline",,x\n')).toEqual([
      ['a', 'b,1', 'say "hi"'],
      ['multi\nline', '', 'x'],
    ]);
    expect(parseCsv('a,b\n\nc,d')).toEqual([['a', 'b'], [''], ['c', 'd']]);
  });

  it('parses money exactly, without floats', () => {
    const dollars: [string, number | null][] = [
      ['$1,234.50', 123450],
      ['45', 4500],
      ['45.5', 4550],
      ['45.500', 4550],
      ['0.07', 7],
      ['(12.00)', -1200],
      ['-3.10', -310],
      ['$ 20 USD', 2000],
      ['45.505', null],
      ['1,23', null],
      ['12,3456.00', null],
      ['', null],
      ['abc', null],
      ['0.1e3', null],
    ];
    for (const [raw, cents] of dollars) expect([raw, parseMoneyCents(raw, 'dollars')]).toEqual([raw, cents]);
    expect(parseMoneyCents('4500', 'cents')).toBe(4500);
    expect(parseMoneyCents('45.00', 'cents')).toBeNull();
  });

  it('property: any integer number of cents written as dollars parses back exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), fc.boolean(), (cents, commas) => {
        const abs = Math.abs(cents);
        const whole = String(Math.floor(abs / 100));
        const grouped = commas ? whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',') : whole;
        const text = `${cents < 0 ? '-' : ''}$${grouped}.${String(abs % 100).padStart(2, '0')}`;
        expect(parseMoneyCents(text, 'dollars')).toBe(cents);
      }),
    );
  });

  it('parses invoice times: offsets, zone-less in the account zone, US style, epoch', () => {
    const at = (s: string) => {
      const ms = parseInvoiceTime(s, TZ);
      return ms === null ? null : new Date(ms).toISOString();
    };
    expect(at('2026-11-24T10:00:00Z')).toBe('2026-11-24T10:00:00.000Z');
    expect(at('2026-11-24T10:00:00.250+05:30')).toBe('2026-11-24T04:30:00.250Z');
    expect(at('2026-11-24 10:00')).toBe('2026-11-24T16:00:00.000Z');
    expect(at('11/24/2026 4:05:09 PM')).toBe('2026-11-24T22:05:09.000Z');
    expect(at('11/24/2026 12:00 AM')).toBe('2026-11-24T06:00:00.000Z');
    expect(at('1795536000')).toBe('2026-11-24T16:00:00.000Z');
    for (const bad of ['2026-02-30 10:00', '13/01/2026 10:00', '11/24/2026 13:00 PM', 'yesterday', '2026-11-24']) expect([bad, at(bad)]).toEqual([bad, null]);
  });

  it('finds the header under a preamble, in dollars or cents, and reports bad lines', () => {
    const csv = [
      'Invoice #1042,,',
      'Publisher: Lead Co,,',
      ',,',
      'Call SID,Caller ID,Call Start,Payout (USD)',
      'CA00000000000000000000000000000001,,,$45.00',
      ',+1 512 555 0123,2026-11-24 10:00:00,20',
      ',+15125550124,,20',
      'CA00000000000000000000000000000002,,,forty',
      ',,,',
    ].join('\n');
    const inv = parseInvoiceCsv(csv, TZ);
    expect(inv.amountUnit).toBe('dollars');
    expect(inv.lines).toEqual([
      { lineNo: 5, callId: 'CA00000000000000000000000000000001', caller: null, startMs: null, billedCents: 4500 },
      { lineNo: 6, callId: null, caller: '+1 512 555 0123', startMs: Date.parse('2026-11-24T16:00:00.000Z'), billedCents: 2000 },
    ]);
    expect(inv.errors).toEqual([
      { lineNo: 7, field: 'line', message: 'names neither a call id nor a caller and start time' },
      { lineNo: 8, field: 'amount', message: 'is not an amount in dollars' },
    ]);
    expect(parseInvoiceCsv('call_id,amount_cents\nx,4500', TZ)).toMatchObject({ amountUnit: 'cents', lines: [{ lineNo: 2, callId: 'x', billedCents: 4500 }] });
  });

  it('refuses a file with no recognisable header (422)', () => {
    expect(() => parseInvoiceCsv('foo,bar\n1,2', TZ)).toThrow(expect.objectContaining({ kind: 'refused', code: 'unprocessable', title: 'Unprocessable request' }));
    expect(() => parseInvoiceCsv('caller,amount\n+15125550123,45', TZ)).toThrow(/No invoice header/);
  });
});

// ------------------------------------------------------------------------------------------------ matching

const hashCaller = (raw: string) => {
  const e164 = normaliseNumber(raw);
  return e164 === null ? null : `h(${e164})`;
};
const T = Date.parse('2026-11-24T16:00:00.000Z');
const MIN = 60_000;

function call(n: number, over: Partial<OurCall> = {}): OurCall {
  return { callId: `twilio:CA${String(n).padStart(32, '0')}`, callerHash: `h(+1512555${String(n).padStart(4, '0')})`, startedAtMs: T + n * MIN, billable: true, reasons: [], ...over };
}
function charge(c: OurCall, amountCents: number): LedgerEntry {
  return {
    entryId: `charge:${c.callId}`,
    type: 'charge',
    amountCents,
    currency: 'USD',
    callId: c.callId,
    accountId: 'acme',
    publisherId: 'pub-a',
    subSource: null,
    campaignId: 'roofing-tx',
    termsVersion: 1,
    effectiveAt: new Date(c.startedAtMs).toISOString(),
    createdAt: new Date(c.startedAtMs).toISOString(),
  };
}
const credit = (c: OurCall, amountCents: number): LedgerEntry => ({
  ...charge(c, amountCents),
  entryId: `credit:${c.callId}`,
  type: 'credit',
  disputeId: `dispute:${c.callId}`,
  correctsEntryId: `charge:${c.callId}`,
});

describe('reconcileInvoice', () => {
  const calls = [
    call(1), // matched by id
    call(2), // matched by caller + time
    call(3, { billable: false, reasons: ['below_buffer'] }), // they billed a non-billable call
    call(4), // amount mismatch
    call(5), // fully credited, they billed it anyway
    call(6), // they did not bill it
    call(7, { billable: false, reasons: ['duplicate_caller'] }), // non-billable, they billed 0: fine
    call(8), // billed twice
  ];
  const entries = [
    charge(calls[0]!, 4500),
    charge(calls[1]!, 4500),
    charge(calls[3]!, 4500),
    charge(calls[4]!, 4500),
    credit(calls[4]!, -4500),
    charge(calls[5]!, 2000),
    charge(calls[7]!, 3500),
  ];
  const id = (n: number) => String(n).padStart(32, '0');
  const csv = [
    'call id,caller,start,amount',
    `CA${id(1)},,,45.00`,
    `,(512) 555-0002,2026-11-24T16:02:30Z,45.00`,
    `twilio:CA${id(3)},,,45`,
    `CA${id(4)},,,50.00`,
    `CA${id(5)},,,45.00`,
    `CA${id(7)},,,0`,
    `CA${id(8)},,,35`,
    `,+15125550008,2026-11-24T16:08:10Z,35`,
    `CA${'f'.repeat(32)},,,45`,
    `,+15125559999,2026-11-24T16:00:00Z,45`,
  ].join('\n');

  it('finds every planted discrepancy', () => {
    const report = reconcileInvoice(parseInvoiceCsv(csv, TZ), calls, entries, { toleranceSec: 180, hashCaller });
    expect(report.matched).toEqual([
      { lineNo: 2, callId: calls[0]!.callId, amountCents: 4500, matchedBy: 'call_id' },
      { lineNo: 3, callId: calls[1]!.callId, amountCents: 4500, matchedBy: 'caller_time' },
      { lineNo: 7, callId: calls[6]!.callId, amountCents: 0, matchedBy: 'call_id' },
      { lineNo: 8, callId: calls[7]!.callId, amountCents: 3500, matchedBy: 'call_id' },
    ]);
    expect(report.nonBillable).toEqual([
      { lineNo: 4, callId: calls[2]!.callId, billedCents: 4500, reasons: ['below_buffer'], disputeReason: 'below_buffer', matchedBy: 'call_id' },
    ]);
    expect(report.amountMismatches).toEqual([
      { lineNo: 5, callId: calls[3]!.callId, billedCents: 5000, ourNetCents: 4500, ourChargeCents: 4500, ourCreditCents: 0, ourReversalCents: 0, matchedBy: 'call_id' },
      { lineNo: 6, callId: calls[4]!.callId, billedCents: 4500, ourNetCents: 0, ourChargeCents: 4500, ourCreditCents: -4500, ourReversalCents: 0, matchedBy: 'call_id' },
    ]);
    expect(report.duplicateLines).toEqual([{ lineNo: 9, callId: calls[7]!.callId, firstLineNo: 8 }]);
    expect(report.missingOnOurSide).toEqual([
      { lineNo: 10, billedCents: 4500, reason: 'unknown_call_id' },
      { lineNo: 11, billedCents: 4500, reason: 'no_call_near_time' },
    ]);
    expect(report.missingOnTheirSide).toEqual([{ callId: calls[5]!.callId, ourNetCents: 2000 }]);
    expect(report.totals).toEqual({ billedCents: 4500 * 6 + 5000 + 3500 * 2, ourNetCents: 4500 * 3 + 2000 + 3500, differenceCents: 4500 * 6 + 5000 + 7000 - 19000 });
    expect(JSON.stringify(report)).not.toContain('555');
  });

  it('caller + time matching respects the tolerance and takes the closest pair', () => {
    const a = call(20, { startedAtMs: T });
    const b = call(21, { callerHash: a.callerHash, startedAtMs: T + 10 * MIN });
    const lines: InvoiceLine[] = [
      { lineNo: 2, callId: null, caller: '+15125550020', startMs: T + 9 * MIN, billedCents: 4500 },
      { lineNo: 3, callId: null, caller: '+15125550020', startMs: T + 2 * MIN, billedCents: 4500 },
    ];
    const r = reconcileInvoice({ lines, errors: [] }, [a, b], [charge(a, 4500), charge(b, 4500)], { toleranceSec: 600, hashCaller });
    expect(r.matched.map((m) => [m.lineNo, m.callId])).toEqual([
      [2, b.callId],
      [3, a.callId],
    ]);
    const tight = reconcileInvoice({ lines, errors: [] }, [a, b], [charge(a, 4500), charge(b, 4500)], { toleranceSec: 60, hashCaller });
    expect(tight.matched.map((m) => m.lineNo)).toEqual([2]);
    expect(tight.missingOnOurSide.map((m) => m.lineNo)).toEqual([3]);
    expect(tight.missingOnTheirSide.map((m) => m.callId)).toEqual([a.callId]);
  });

  it('maps every non-billable reason to a dispute reason', () => {
    expect(REASON_CODES.map(disputeReasonFor)).toEqual([
      'wrong_number',
      'other',
      'other',
      'robocall',
      'below_buffer',
      'not_qualified',
      'other',
      // caller_id_withheld: the terms say such calls do not bill; no fault of a kind a dispute names.
      'other',
      'repeat_caller',
      'fraud',
      // blocked_signal: the account blocks a junk signal found on the call.
      'fraud',
      // outside_window, over_cap: a pilot's own limits; nothing a publisher did wrong.
      'other',
      'other',
    ]);
  });

  it('property: every line lands in exactly one bucket, whatever the line order; every owed call is matched or missing', () => {
    const arbLine = fc.record({
      byId: fc.boolean(),
      n: fc.integer({ min: 0, max: 12 }),
      offsetSec: fc.integer({ min: -400, max: 400 }),
      billedCents: fc.constantFrom(0, 2000, 4500),
    });
    fc.assert(
      fc.property(
        fc.array(arbLine, { maxLength: 15 }),
        fc.array(fc.record({ billable: fc.boolean(), amount: fc.constantFrom(2000, 4500), credited: fc.boolean() }), { minLength: 10, maxLength: 10 }),
        fc.nat(),
        (spec, callSpec, seed) => {
          const ours = callSpec.map((c, i) => call(i, { billable: c.billable, reasons: c.billable ? [] : ['below_buffer'] }));
          const ledger = callSpec.flatMap((c, i) =>
            c.billable ? [charge(ours[i]!, c.amount), ...(c.credited ? [credit(ours[i]!, -c.amount)] : [])] : [],
          );
          const lines: InvoiceLine[] = spec.map((l, i) => ({
            lineNo: i + 2,
            callId: l.byId ? `twilio:CA${String(l.n).padStart(32, '0')}` : null,
            caller: l.byId ? null : `+1512555${String(l.n).padStart(4, '0')}`,
            startMs: l.byId ? null : T + l.n * MIN + l.offsetSec * 1000,
            billedCents: l.billedCents,
          }));
          const shuffled = [...lines].sort((x, y) => ((x.lineNo * 7919 + seed) % 101) - ((y.lineNo * 7919 + seed) % 101));
          const opts = { toleranceSec: 300, hashCaller };
          const r = reconcileInvoice({ lines, errors: [] }, ours, ledger, opts);
          expect(reconcileInvoice({ lines: shuffled, errors: [] }, ours, ledger, opts)).toEqual(r);
          const buckets = [r.matched, r.nonBillable, r.amountMismatches, r.duplicateLines, r.missingOnOurSide].flatMap((b) => b.map((x) => x.lineNo));
          expect(buckets.sort((a, b) => a - b)).toEqual(lines.map((l) => l.lineNo));
          const matchedCalls = [r.matched, r.nonBillable, r.amountMismatches].flatMap((b) => b.map((x) => x.callId));
          expect(new Set(matchedCalls).size).toBe(matchedCalls.length);
          for (const c of ours) {
            const net = ledger.filter((e) => e.callId === c.callId).reduce((s, e) => s + e.amountCents, 0);
            if (net > 0) expect(matchedCalls.includes(c.callId) !== r.missingOnTheirSide.some((m) => m.callId === c.callId)).toBe(true);
          }
        },
      ),
    );
  });
});
