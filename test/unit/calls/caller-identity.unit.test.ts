/**
 * Caller identity (shared/domain/calls/caller.ts): one pure function from what the provider sent as the caller to the
 * identity every match hashes; the withheld rule (rating-v2.ts `caller_id_withheld`) and its term; the explanation's
 * inputs. Properties (fast-check): the canonical form is stable under the formatting of one number, distinct numbers
 * never share it, and the kinds' forms never meet.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  callerHash,
  callerIdentity,
  identityHash,
  isWithheldCallerId,
  normaliseNumber,
  typedCallerIdentity,
  WITHHELD_CALLER_IDS,
  WITHHELD_IDENTITY,
} from '../../../shared/domain/calls/caller';
import { callerNumberClass } from '../../../shared/domain/quality/caller-traits';
import { rateCall, type RatingInput } from '../../../shared/domain/rating/rules';
import { type CallFacts } from '../../../shared/domain/rating/decision';
import { storedTermsVersion, withTermsDefaults, type TermsVersion } from '../../../shared/domain/terms/terms';
import { parseTermsChange } from '../../../shared/domain/terms/terms-schema';
import { asCampaign } from '../../../shared/domain/catalog/config';
import { REASON_CODES } from '../../../shared/domain/rating/decision';
import { type Campaign } from '../../../shared/domain/catalog/types';
import { type Provider } from '../../../shared/domain/calls/events';
import { openApiDocument } from '../../../shared/adapters/http/openapi';
import { BadRequest } from '../../../shared/domain/kernel/problems';

const KEY = 'unit-test-caller-hash-key';

describe('callerIdentity', () => {
  it('gives every caller id an identity: valid numbers, other digits, addresses, and one withheld identity', () => {
    const cases: [string, string, string][] = [
      ['+15125550101', 'e164', '+15125550101'],
      ['(512) 555-0101', 'e164', '+15125550101'],
      ['tel:+1-512-555-0101', 'e164', '+15125550101'],
      ['sip:+15125550101@pstn.example.com;transport=tls', 'e164', '+15125550101'],
      ['+442071838750', 'e164', '+442071838750'],
      // Digits outside the numbering plan (exchange 0xx, NPA 999, NPA 200), and too short: still one caller each.
      ['+17370123456', 'number', '+17370123456'],
      ['+19995550000', 'number', '+19995550000'],
      ['+12005550100', 'number', '+12005550100'],
      ['+1512555014', 'number', '+1512555014'],
      ['5', 'number', 'digits:5'],
      ['sip:alice@Example.COM:5060;transport=udp', 'address', 'addr:sip:alice@example.com'],
      ['client:alice', 'address', 'addr:client:alice'],
      ['anonymous', 'withheld', 'withheld'],
      ['Anonymous', 'withheld', 'withheld'],
      ['restricted', 'withheld', 'withheld'],
      ['unknown', 'withheld', 'withheld'],
      ['', 'withheld', 'withheld'],
      ['   ', 'withheld', 'withheld'],
      // Twilio: "a string that contains anonymous, unknown, or other descriptions".
      ['Private Caller', 'withheld', 'withheld'],
      // The keypad spellings <Dial> legs used until 2022-11 (ANONYMOUS, RESTRICTED).
      ['+266696687', 'withheld', 'withheld'],
      ['+7378742833', 'withheld', 'withheld'],
      ['sip:anonymous@anonymous.invalid', 'withheld', 'withheld'],
      ['client:Anonymous', 'withheld', 'withheld'],
    ];
    for (const [sent, kind, canonical] of cases) {
      expect(callerIdentity(sent), JSON.stringify(sent)).toMatchObject({ kind, canonical });
    }
  });

  it('keeps the hash of a valid number what it was before identities existed (stored hashes keep matching)', () => {
    expect(identityHash(KEY, callerIdentity('+1 (512) 555-0101'))).toBe(callerHash(KEY, '+15125550101'));
    expect(normaliseNumber('+1 (512) 555-0101')).toBe('+15125550101');
    expect(normaliseNumber('+17370123456')).toBeNull();
  });

  it('is the one place the number class comes from (quality signals share it)', () => {
    for (const sent of ['+15125550101', '+17370123456', '+1512555014', 'anonymous', 'client:alice', '', '+266696687']) {
      expect(callerNumberClass(sent), sent).toBe(callerIdentity(sent).numberClass);
    }
    expect(callerIdentity('+17370123456').numberClass).toBe('unallocatable');
    expect(callerIdentity('client:alice').numberClass).toBe('invalid');
    expect(isWithheldCallerId('')).toBe(true);
    expect(WITHHELD_CALLER_IDS.twilio?.numbers).toContain('+266696687');
  });

  it("a provider without a row of its own gets the privacy words and free text, not Twilio's keypad numbers", () => {
    const other = 'telnyx' as Provider;
    for (const sent of ['Private', 'RESTRICTED', 'sip:anonymous@carrier.example', '']) expect(callerIdentity(sent, other).kind, sent).toBe('withheld');
    expect(callerIdentity('+266696687', other)).toMatchObject({ kind: 'number', canonical: '+266696687' });
    expect(callerIdentity('+15125550101', other)).toMatchObject({ kind: 'e164', canonical: '+15125550101' });
  });

  const area = fc.integer({ min: 200, max: 999 }).map(String);
  const three = fc.integer({ min: 0, max: 999 }).map((n) => String(n).padStart(3, '0'));
  const four = fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0'));
  /** Any NANP-shaped number, valid or not (exchange 0xx/1xx, NPA N00…). */
  const nanp = fc.tuple(area, three, four);
  const formats: readonly ((a: string, b: string, c: string) => string)[] = [
    (a, b, c) => `+1${a}${b}${c}`,
    (a, b, c) => `1${a}${b}${c}`,
    (a, b, c) => `${a}${b}${c}`,
    (a, b, c) => `(${a}) ${b}-${c}`,
    (a, b, c) => `+1 ${a} ${b} ${c}`,
    (a, b, c) => `+1.${a}.${b}.${c}`,
    (a, b, c) => `1-${a}-${b}-${c}`,
    (a, b, c) => ` +1 (${a}) ${b}-${c} `,
    (a, b, c) => `tel:+1${a}${b}${c}`,
    (a, b, c) => `sip:+1${a}${b}${c}@trunk.example.com`,
  ];

  it('property: one number in any formatting has one canonical form, +1 and its ten digits, valid or not', () => {
    fc.assert(
      fc.property(nanp, ([a, b, c]) => {
        const forms = formats.map((f) => callerIdentity(f(a, b, c)));
        for (const id of forms) expect(id.canonical).toBe(`+1${a}${b}${c}`);
        expect(new Set(forms.map((id) => id.kind)).size).toBe(1);
      }),
      { numRuns: 500 },
    );
  });

  it('property: formatting inserted into any international digit string leaves its identity unchanged', () => {
    const digits = fc.stringMatching(/^[1-9]\d{6,14}$/);
    const sep = fc.constantFrom(' ', '-', '.', '');
    fc.assert(
      fc.property(digits, fc.array(sep, { minLength: 15, maxLength: 15 }), (d, seps) => {
        const formatted = `+${[...d].map((ch, i) => ch + (seps[i] ?? '')).join('')}`;
        expect(callerIdentity(formatted)).toEqual(callerIdentity(`+${d}`));
      }),
      { numRuns: 500 },
    );
  });

  it('property: distinct numbers never share an identity or a hash', () => {
    fc.assert(
      fc.property(nanp, nanp, fc.constantFrom(...formats), fc.constantFrom(...formats), ([a1, b1, c1], [a2, b2, c2], f1, f2) => {
        fc.pre(`${a1}${b1}${c1}` !== `${a2}${b2}${c2}`);
        const x = callerIdentity(f1(a1, b1, c1));
        const y = callerIdentity(f2(a2, b2, c2));
        expect(x.canonical).not.toBe(y.canonical);
        expect(identityHash(KEY, x)).not.toBe(identityHash(KEY, y));
      }),
      { numRuns: 500 },
    );
    const valid = ['+15125550101', '+442071838750', '+33142685300', '+4930901820', '+61293744000', '+81332143333', '+5511987654321'];
    expect(new Set(valid.map((v) => identityHash(KEY, callerIdentity(v)))).size).toBe(valid.length);
  });

  it('property: the kinds never meet; whatever is sent, a withheld marker is the one shared identity', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 24 }), fc.stringMatching(/^\+?[\d ()-]{0,16}$/), fc.constantFrom('sip:', 'client:', 'tel:').chain((p) => fc.string({ maxLength: 16 }).map((s) => p + s))), (sent) => {
        const id = callerIdentity(sent);
        const shape = id.canonical === 'withheld' ? 'withheld' : id.canonical.startsWith('addr:') ? 'address' : id.canonical.startsWith('digits:') || /^\+\d+$/.test(id.canonical) ? 'digits' : 'other';
        expect(shape, JSON.stringify(sent)).toBe(id.kind === 'withheld' ? 'withheld' : id.kind === 'address' ? 'address' : 'digits');
        if (id.kind === 'withheld') expect(id).toEqual(WITHHELD_IDENTITY);
        if (id.kind === 'e164') expect(id.numberClass).toBe('valid');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('typedCallerIdentity (numbers people type: block list, DNC, consent, outcomes, deletions, invoices)', () => {
  it('takes a number or other digits as the writer identifies them, refuses a withheld marker apart from a typo', () => {
    expect(typedCallerIdentity('(737) 012-3456')).toMatchObject({ kind: 'number', canonical: '+17370123456' });
    expect(typedCallerIdentity('+1512555014')).toMatchObject({ kind: 'number', canonical: '+1512555014' });
    for (const marker of ['anonymous', 'Restricted', 'unknown caller', '+266696687']) expect(typedCallerIdentity(marker), marker).toBe('withheld');
    for (const typo of ['', 'hello', '12', 'sip:alice@example.com', 'client:bob', '5']) expect(typedCallerIdentity(typo), typo).toBe('not_a_number');
  });
});

// ------------------------------------------------------------------ the rule and its term

const START = Date.parse('2026-11-24T16:00:00.000Z');
const call: CallFacts = {
  status: 'completed',
  from: 'anonymous',
  to: '+15125550199',
  totalSec: 200,
  talkSec: null,
  answeredBy: null,
  digits: null,
  fromState: null,
  fromZip: null,
  tags: [],
};

function terms(withheldCallerId?: 'billable' | 'non_billable'): TermsVersion {
  const parsed = parseTermsChange({ terms: { priceCents: 4500, bufferSec: 90, duplicateWindowHours: 24, ...(withheldCallerId ? { withheldCallerId } : {}) } }).terms;
  return { ...parsed, version: 1, effectiveFrom: '2026-11-01T00:00:00.000Z', createdAt: '2026-11-01T00:00:00.000Z' };
}

function input(over: Partial<CallFacts>, versions: readonly TermsVersion[], extra: Partial<RatingInput> = {}): RatingInput {
  return {
    call: { ...call, ...over },
    startedAtMs: START,
    assignment: { accountId: 'a', number: call.to, campaignId: 'c', publisherId: 'p', subSource: null },
    campaign: { campaignId: 'c', hours: null, geography: null },
    termsVersions: versions,
    priorBilled: null,
    blocked: null,
    ...extra,
  };
}

describe('rule caller_id_withheld and the term withheldCallerId', () => {
  it('sits after out_of_geo and before duplicate_caller in the documented order', () => {
    const i = REASON_CODES.indexOf('caller_id_withheld');
    expect(REASON_CODES[i - 1]).toBe('out_of_geo');
    expect(REASON_CODES[i + 1]).toBe('duplicate_caller');
  });

  it('a new terms change defaults to non_billable: a withheld caller is not billed, whatever its form', () => {
    expect(terms().withheldCallerId).toBe('non_billable');
    for (const from of ['anonymous', 'restricted', 'unknown', '', '+266696687']) {
      const d = rateCall(input({ from }, [terms()]));
      expect(d, JSON.stringify(from)).toMatchObject({ billable: false, amountCents: 0, reasons: ['caller_id_withheld'] });
      expect(d.rules.find((r) => r.rule === 'caller_id_withheld')).toEqual({
        rule: 'caller_id_withheld',
        passed: false,
        inputs: { callerIdWithheld: true, withheldCallerId: 'non_billable' },
      });
    }
    // A caller with digits outside the plan is not withheld: it bills (once per window, by its identity).
    expect(rateCall(input({ from: '+17370123456' }, [terms()]))).toMatchObject({ billable: true, amountCents: 4500 });
  });

  it('billable: the rule passes, so the duplicate rule decides (a prior marker of the shared identity makes it a duplicate)', () => {
    expect(rateCall(input({}, [terms('billable')]))).toMatchObject({ billable: true, reasons: [] });
    const dup = rateCall(input({}, [terms('billable')], { priorBilled: { callId: 'twilio:CAprior', billedStartMs: START - 3_600_000 } }));
    expect(dup).toMatchObject({ billable: false, reasons: ['duplicate_caller'] });
  });

  it('reads the class the rating recorded for a call read back from its item (no number in the slots)', () => {
    expect(rateCall(input({ from: '', callerNumberClass: 'valid' }, [terms()])).billable).toBe(true);
    expect(rateCall(input({ from: '', callerNumberClass: 'withheld' }, [terms()])).reasons).toEqual(['caller_id_withheld']);
  });

  it('is versioned: a later version can change it; a stored version that predates it still means what it meant (billable)', () => {
    const v1 = terms('billable');
    const v2 = { ...terms('non_billable'), version: 2, effectiveFrom: '2026-11-24T00:00:00.000Z' };
    expect(rateCall({ ...input({}, [v1, v2]), startedAtMs: Date.parse('2026-11-23T12:00:00.000Z') }).billable).toBe(true);
    expect(rateCall(input({}, [v1, v2])).reasons).toEqual(['caller_id_withheld']);

    const { withheldCallerId: _omitted, ...old } = terms();
    const stored = old as unknown as TermsVersion;
    expect(storedTermsVersion(stored).withheldCallerId).toBe('billable');
    expect(withTermsDefaults({ priceCents: 100, bufferSec: 0, duplicateWindowHours: 0 }).withheldCallerId).toBe('billable');
    const campaign = { accountId: 'a', campaignId: 'c', name: '', vertical: '', geography: null, hours: null, termsVersions: [stored], rev: 1, updatedAt: '' } as unknown as Campaign;
    expect(asCampaign(campaign).termsVersions[0]!.withheldCallerId).toBe('billable');
    expect(rateCall(input({}, asCampaign(campaign).termsVersions)).billable).toBe(true);
  });

  it('is part of the terms contract: validated on write, in the OpenAPI term schema with its enum and default', () => {
    expect(() => parseTermsChange({ terms: { priceCents: 100, bufferSec: 0, duplicateWindowHours: 0, withheldCallerId: 'sometimes' } })).toThrow(BadRequest);
    const doc = openApiDocument() as { components: { schemas: Record<string, { properties: Record<string, { enum?: string[]; default?: string }> }> } };
    expect(doc.components.schemas.TermsVersion!.properties.withheldCallerId).toMatchObject({ enum: ['non_billable', 'billable'], default: 'non_billable' });
    expect(JSON.stringify(doc)).toContain('caller_id_withheld');
  });
});
