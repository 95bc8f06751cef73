import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadRequest, Unprocessable } from '../../../shared/domain/kernel/problems';
import {
  appendVersion,
  contractPrices,
  fromFlatTerms,
  priceFor,
  termsInForce,
  withTermsDefaults,
  type ContractTerms,
  type TermsVersion,
} from '../../../shared/domain/terms/terms';
import { GeographySchema, HoursOfOperationSchema, parseTermsChange } from '../../../shared/domain/terms/terms-schema';

const base: ContractTerms = {
  priceCents: 1500,
  bufferSec: 60,
  durationBasis: 'total',
  qualification: null,
  duplicateWindowHours: 72,
  duplicateScope: 'campaign',
  priceBands: [],
  overrides: [],
  withheldCallerId: 'non_billable',
};
const T0 = Date.parse('2026-11-01T00:00:00.000Z');
const HOUR = 3_600_000;

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof BadRequest || err instanceof Unprocessable) return (err.errors ?? []).map((e) => e.field);
    throw err;
  }
  throw new Error('expected a problem');
}

describe('terms change schema', () => {
  it('fills the documented defaults', () => {
    expect(parseTermsChange({ terms: { priceCents: 4500, bufferSec: 90, duplicateWindowHours: 72 } })).toEqual({
      effectiveFrom: null,
      terms: { ...base, priceCents: 4500, bufferSec: 90 },
    });
  });

  it('fills the same defaults without zod (withTermsDefaults: the ledger writer read path) and keeps given fields', () => {
    const issue2 = { priceCents: 4500, bufferSec: 90, duplicateWindowHours: 72 };
    // One default differs on purpose: a stored version that predates withheldCallerId meant withheld callers bill;
    // a new change that leaves it out gets non_billable.
    expect(withTermsDefaults(issue2)).toEqual({ ...parseTermsChange({ terms: issue2 }).terms, withheldCallerId: 'billable' });
    const full: ContractTerms = {
      ...base,
      durationBasis: 'talk',
      qualification: { acceptedDigits: ['1'] },
      duplicateScope: 'account',
      priceBands: [{ fromSec: 120, priceCents: 2000 }],
      overrides: [{ when: { kind: 'tag', tag: 'vip' }, priceCents: 3000 }],
    };
    expect(withTermsDefaults(full)).toEqual(full);
  });

  it('names every bad field', () => {
    const fields = fieldsOf(() =>
      parseTermsChange({
        effectiveFrom: 'tomorrow',
        terms: {
          priceCents: 45.5,
          bufferSec: 90,
          durationBasis: 'billsec',
          duplicateWindowHours: 72,
          priceBands: [
            { fromSec: 120, priceCents: 3500 },
            { fromSec: 100, priceCents: 2000 },
            { fromSec: 30, priceCents: 1000 },
          ],
          overrides: [
            { when: { kind: 'ivr', digits: '2' }, priceCents: 6000 },
            { when: { kind: 'ivr', digits: '2' }, priceCents: 7000 },
            { when: { kind: 'tag', tag: 'Spanish!' }, priceCents: 7000 },
          ],
        },
      }),
    );
    expect(fields).toEqual(
      expect.arrayContaining(['effectiveFrom', 'terms.priceCents', 'terms.durationBasis', 'terms.overrides.2.when.tag']),
    );
  });

  it('refuses bands out of order, bands below the buffer and repeated overrides', () => {
    const fields = fieldsOf(() =>
      parseTermsChange({
        terms: {
          priceCents: 1500,
          bufferSec: 90,
          duplicateWindowHours: 72,
          priceBands: [
            { fromSec: 120, priceCents: 3500 },
            { fromSec: 100, priceCents: 2000 },
            { fromSec: 30, priceCents: 1000 },
          ],
          overrides: [
            { when: { kind: 'ivr', digits: '2' }, priceCents: 6000 },
            { when: { kind: 'ivr', digits: '2' }, priceCents: 7000 },
          ],
        },
      }),
    );
    expect(fields).toEqual(['terms.priceBands.1.fromSec', 'terms.priceBands.2.fromSec', 'terms.priceBands.2.fromSec', 'terms.overrides.1.when']);
  });

  it('validates geography and hours', () => {
    expect(GeographySchema.safeParse({ states: ['TX'], areaCodes: ['512'] }).success).toBe(true);
    expect(GeographySchema.safeParse({}).success).toBe(false);
    expect(GeographySchema.safeParse({ states: ['XX'] }).success).toBe(false);
    expect(GeographySchema.safeParse({ areaCodes: ['112'] }).success).toBe(false);
    expect(HoursOfOperationSchema.safeParse({ timeZone: 'America/Chicago', windows: [{ day: 'mon', open: '08:00', close: '24:00' }] }).success).toBe(true);
    expect(HoursOfOperationSchema.safeParse({ timeZone: 'America/Chicago', windows: [{ day: 'mon', open: '18:00', close: '08:00' }] }).success).toBe(false);
    expect(HoursOfOperationSchema.safeParse({ timeZone: 'Mars/Olympus', windows: [{ day: 'mon', open: '08:00', close: '09:00' }] }).success).toBe(false);
  });
});

describe('versions', () => {
  it('numbers versions and takes effect now when no instant is given', () => {
    const a = appendVersion([], { effectiveFrom: null, terms: base }, T0);
    expect(a.version).toMatchObject({ version: 1, effectiveFrom: '2026-11-01T00:00:00.000Z', createdAt: '2026-11-01T00:00:00.000Z' });
    const b = appendVersion(a.versions, { effectiveFrom: '2026-11-02T00:00:00+02:00', terms: { ...base, priceCents: 2000 } }, T0 + HOUR);
    expect(b.version).toMatchObject({ version: 2, effectiveFrom: '2026-11-01T22:00:00.000Z', priceCents: 2000 });
    expect(b.versions).toHaveLength(2);
  });

  it('refuses an effective instant in the past with 422 naming the field', () => {
    const err = (() => {
      try {
        appendVersion([], { effectiveFrom: '2026-10-31T23:59:59.999Z', terms: base }, T0);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(Unprocessable);
    expect((err as Unprocessable).kind).toBe('refused');
    expect((err as Unprocessable).detail).toMatch(/in the past/);
    expect((err as Unprocessable).errors).toEqual([{ field: 'effectiveFrom', message: 'must be at or after 2026-11-01T00:00:00.000Z' }]);
    expect(() => appendVersion([], { effectiveFrom: '2026-11-01T00:00:00.000Z', terms: base }, T0)).not.toThrow();
  });

  it('rates under the version in force; a later change can supersede a scheduled one', () => {
    const v1 = appendVersion([], { effectiveFrom: null, terms: base }, T0).versions;
    const v2 = appendVersion(v1, { effectiveFrom: new Date(T0 + 48 * HOUR).toISOString(), terms: base }, T0 + HOUR).versions;
    const v3 = appendVersion(v2, { effectiveFrom: new Date(T0 + 24 * HOUR).toISOString(), terms: base }, T0 + 2 * HOUR).versions;
    expect(termsInForce(v3, T0 - 1)).toBeNull();
    expect(termsInForce(v3, T0)?.version).toBe(1);
    expect(termsInForce(v3, T0 + 24 * HOUR - 1)?.version).toBe(1);
    expect(termsInForce(v3, T0 + 24 * HOUR)?.version).toBe(3);
    expect(termsInForce(v3, T0 + 72 * HOUR)?.version).toBe(3);
  });

  it('maps issue-2 terms onto the full contract', () => {
    expect(fromFlatTerms({ version: 3, priceCents: 4500, bufferSec: 90, duplicateWindowHours: 72 }, 'e', 'c')).toEqual({
      ...base,
      priceCents: 4500,
      bufferSec: 90,
      version: 3,
      effectiveFrom: 'e',
      createdAt: 'c',
      // Issue-2 terms predate the term: withheld callers billed under them.
      withheldCallerId: 'billable',
    });
  });

  /** A history of appends at non-decreasing "now", each effective now or later. */
  const arbHistory = fc.array(
    fc.record({ advanceMin: fc.integer({ min: 0, max: 600 }), delayMin: fc.option(fc.integer({ min: 0, max: 3000 })) }),
    { minLength: 1, maxLength: 12 },
  );

  function build(history: { advanceMin: number; delayMin: number | null }[], onAppend?: (before: readonly TermsVersion[], nowMs: number, after: readonly TermsVersion[]) => void) {
    let versions: readonly TermsVersion[] = [];
    let now = T0;
    for (const h of history) {
      now += h.advanceMin * 60_000;
      const effectiveFrom = h.delayMin === null ? null : new Date(now + h.delayMin * 60_000).toISOString();
      const next = appendVersion(versions, { effectiveFrom, terms: { ...base, priceCents: 100 + versions.length } }, now).versions;
      onAppend?.(versions, now, next);
      versions = next;
    }
    return versions;
  }

  it('property: exactly one version governs every instant after the first takes effect', () => {
    fc.assert(
      fc.property(arbHistory, fc.integer({ min: -60, max: 20_000 }), (history, atMin) => {
        const versions = build(history);
        const at = T0 + atMin * 60_000;
        const eligible = versions.filter((v) => Date.parse(v.effectiveFrom) <= at);
        const inForce = termsInForce(versions, at);
        if (eligible.length === 0) {
          expect(inForce).toBeNull();
          return;
        }
        // Unique: the one eligible version that no higher-numbered eligible version supersedes.
        const unsuperseded = eligible.filter((v) => !eligible.some((w) => w.version > v.version));
        expect(unsuperseded).toHaveLength(1);
        expect(inForce).toEqual(unsuperseded[0]);
        expect(new Set(versions.map((v) => v.version)).size).toBe(versions.length);
      }),
    );
  });

  it('property: appending never changes which version governed a past instant', () => {
    fc.assert(
      fc.property(arbHistory, fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 10 }), (history, instants) => {
        build(history, (before, nowMs, after) => {
          for (const m of instants) {
            const at = T0 + m * 60_000;
            if (at < nowMs) expect(termsInForce(after, at)).toEqual(termsInForce(before, at));
          }
        });
      }),
    );
  });
});

describe('priceFor', () => {
  const banded: ContractTerms = {
    ...base,
    priceCents: 1500,
    bufferSec: 60,
    priceBands: [
      { fromSec: 90, priceCents: 2000 },
      { fromSec: 120, priceCents: 3500 },
    ],
    overrides: [
      { when: { kind: 'ivr', digits: '2' }, priceCents: 6000 },
      { when: { kind: 'tag', tag: 'spanish' }, priceCents: 5000 },
      { when: { kind: 'tag', tag: 'vip' }, priceCents: 9000 },
    ],
  };

  it('uses the base price below the first band, then $20 for 90-119 s and $35 from 120 s', () => {
    expect(priceFor(banded, 89, null)).toEqual({ priceCents: 1500, source: { kind: 'base' } });
    expect(priceFor(banded, 90, null)).toEqual({ priceCents: 2000, source: { kind: 'band', fromSec: 90 } });
    expect(priceFor(banded, 119, null).priceCents).toBe(2000);
    expect(priceFor(banded, 120, null)).toEqual({ priceCents: 3500, source: { kind: 'band', fromSec: 120 } });
    expect(priceFor(banded, 7200, '1').priceCents).toBe(3500);
  });

  it('an override beats the bands; the first matching override wins', () => {
    expect(priceFor(banded, 300, '2')).toEqual({ priceCents: 6000, source: { kind: 'override', index: 0, when: { kind: 'ivr', digits: '2' } } });
    expect(priceFor(banded, 300, null, ['vip', 'spanish']).priceCents).toBe(5000);
    expect(priceFor(banded, 300, '2', ['vip']).priceCents).toBe(6000);
    expect(priceFor(banded, 300, '22').priceCents).toBe(3500);
  });

  it('property: the price is always one of the contract prices', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.option(fc.constantFrom('1', '2', '3')), fc.subarray(['spanish', 'vip', 'x']), (sec, digits, tags) => {
        expect(contractPrices(banded).has(priceFor(banded, sec, digits, tags).priceCents)).toBe(true);
      }),
    );
  });
});
