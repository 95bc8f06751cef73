/**
 * Network claims: postback parameters from a query, a form or JSON; each claim field read from its mapped parameter
 * with a precise error naming the parameter (never the value); money as exact integer cents from decimal text; and
 * the fold of one call's postbacks, which ignores order and duplicates.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EVENT_NAMES,
  foldClaim,
  foldClaims,
  networkCallerKey,
  parsePostback,
  postbackParams,
  type NetworkPostback,
  type PostbackParams,
} from '../../../shared/domain/networks/claims';
import { effectiveFields, type FieldMapping } from '../../../shared/domain/networks/registration';

const callerKey = networkCallerKey('test-caller-hash-key');
const ctx = { receivedAt: '2026-11-24T16:05:00.000Z', callerKey };
const RETREAVER = effectiveFields('retreaver', { startedAt: { param: 'start_time', token: null } });

function params(query: string): PostbackParams {
  const r = postbackParams({ query, contentType: null, body: '' });
  if (!r.ok) throw new Error('params');
  return r.params;
}

function parse(query: string, mapping: FieldMapping = RETREAVER) {
  return parsePostback(mapping, params(query), ctx);
}

function ok(query: string, mapping: FieldMapping = RETREAVER): NetworkPostback {
  const r = parse(query, mapping);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.postback;
}

describe('postback parameters', () => {
  it('merge the query string and a form body', () => {
    const r = postbackParams({ query: '?call_uuid=a&x=1', contentType: 'application/x-www-form-urlencoded; charset=utf-8', body: 'x=2&revenue=1.00' });
    expect(r.ok && Object.fromEntries(r.params)).toEqual({ call_uuid: ['a'], x: ['1', '2'], revenue: ['1.00'] });
  });

  it('flatten a JSON object (nested keys joined with dots, numbers and booleans as text, null absent)', () => {
    const r = postbackParams({ query: '', contentType: 'application/json', body: '{"call":{"id":"c1","tags":["a","b"]},"amount":12.5,"ok":true,"none":null}' });
    expect(r.ok && Object.fromEntries(r.params)).toEqual({ 'call.id': ['c1'], 'call.tags': ['a', 'b'], amount: ['12.5'], ok: ['true'] });
  });

  it('take a GET pixel without a body or a type', () => {
    expect(postbackParams({ query: 'a=1', contentType: null, body: '' }).ok).toBe(true);
  });

  it('refuse bodies that are not a form or a JSON object', () => {
    expect(postbackParams({ query: '', contentType: 'application/json', body: '{"a":' })).toMatchObject({ ok: false, code: 'body_malformed' });
    expect(postbackParams({ query: '', contentType: 'application/json', body: '[1,2]' })).toMatchObject({ ok: false, code: 'body_malformed' });
    expect(postbackParams({ query: '', contentType: 'text/plain', body: 'a=1' })).toMatchObject({ ok: false, code: 'unsupported_media_type' });
    expect(postbackParams({ query: '', contentType: null, body: 'a=1' })).toMatchObject({ ok: false, code: 'unsupported_media_type' });
  });
});

describe('parsing a postback', () => {
  it('reads every mapped field', () => {
    const p = ok(
      'call_uuid=c-1&caller_id=15125550111&called_number=%2B15125550199&start_time=2026-11-24T10:00:00-06:00&call_duration=95&affiliate_id=AF-1&sub_id=s1&revenue=%241%2C234.50&converted=Yes&event=ANSWERED',
    );
    expect(p).toEqual({
      networkCallId: 'c-1',
      callerKey: callerKey('+15125550111'),
      destination: '+15125550199',
      startedAt: '2026-11-24T16:00:00.000Z',
      durationSec: 95,
      publisher: 'AF-1',
      subSource: 's1',
      payoutCents: 123450,
      converted: true,
      event: 'connected',
      receivedAt: ctx.receivedAt,
    });
  });

  it('gives one caller key to every format of one number, none to a withheld caller', () => {
    const keys = ['%2B15125550111', '15125550111', '(512)%20555-0111', '512.555.0111'].map((c) => ok(`call_uuid=c&caller_id=${c}`).callerKey);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(ok('call_uuid=c&caller_id=anonymous').callerKey).toBeNull();
    expect(ok('call_uuid=c&caller_id=Restricted').callerKey).toBeNull();
    expect(ok('call_uuid=c').callerKey).toBeNull();
  });

  it('takes an unreplaced token or an empty value as absent', () => {
    const p = ok('call_uuid=c&call_duration=[call_duration]&revenue=&affiliate_id=[affiliate_id]&converted=%5Bconverted%5D');
    expect([p.durationSec, p.payoutCents, p.publisher, p.converted]).toEqual([null, null, null, null]);
  });

  it('accepts a value repeated identically and refuses two different ones', () => {
    expect(ok('call_uuid=c&revenue=1.00&revenue=1.00').payoutCents).toBe(100);
    const r = parse('call_uuid=c&revenue=1.00&revenue=2.00');
    expect(r).toEqual({ ok: false, errors: [{ field: 'revenue', message: 'payout: given more than once with different values' }] });
  });

  it('requires the network call id, in the path-id grammar', () => {
    expect(parse('caller_id=15125550111')).toEqual({ ok: false, errors: [{ field: 'call_uuid', message: 'callId: required (the network call id)' }] });
    expect(parse(`call_uuid=${'x'.repeat(129)}`)).toEqual({ ok: false, errors: [{ field: 'call_uuid', message: 'callId: must be 1 to 128 visible ASCII characters' }] });
    expect(parsePostback({}, params('a=1'), ctx)).toEqual({ ok: false, errors: [{ field: '(mapping)', message: 'callId: the registration maps no parameter to the network call id' }] });
  });

  it('names every bad field by its parameter, never quoting the value', () => {
    const r = parse('call_uuid=c&called_number=5125550&start_time=2026-11-24T10:00:00&call_duration=86401&revenue=12.505&converted=maybe&event=transferred&affiliate_id=a%0Ab');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.field)).toEqual(['called_number', 'start_time', 'call_duration', 'revenue', 'converted', 'event', 'affiliate_id']);
    expect(JSON.stringify(r.errors)).not.toMatch(/5125550|12\.505|maybe|transferred/);
  });

  it('reads times with a zone, epoch seconds and epoch milliseconds; refuses a time without a zone', () => {
    expect(ok('call_uuid=c&start_time=2026-11-24%2016:00:00Z').startedAt).toBe('2026-11-24T16:00:00.000Z');
    expect(ok('call_uuid=c&start_time=1795536000').startedAt).toBe('2026-11-24T16:00:00.000Z');
    expect(ok('call_uuid=c&start_time=1795536000250').startedAt).toBe('2026-11-24T16:00:00.250Z');
    expect(parse('call_uuid=c&start_time=2026-11-24T16:00:00').ok).toBe(false);
    expect(parse('call_uuid=c&start_time=2026-02-30T16:00:00Z').ok).toBe(false);
  });

  it('reads durations as whole seconds, a decimal part dropped', () => {
    expect(ok('call_uuid=c&call_duration=95.7').durationSec).toBe(95);
    expect(ok('call_uuid=c&call_duration=0').durationSec).toBe(0);
    expect(ok('call_uuid=c&call_duration=86400').durationSec).toBe(86400);
    for (const bad of ['-3', '1e3', 'abc', '86401']) expect(parse(`call_uuid=c&call_duration=${bad}`).ok).toBe(false);
  });

  it('reads amounts as exact cents and refuses fractions of a cent, negatives and exponents', () => {
    const cents = (v: string) => ok(`call_uuid=c&revenue=${encodeURIComponent(v)}`).payoutCents;
    expect(['12.5', '12.50', '12.500', '$12.50', '12.5 USD'].map(cents)).toEqual([1250, 1250, 1250, 1250, 1250]);
    expect(cents('0.07')).toBe(7);
    expect(cents('1,234,567.89')).toBe(123456789);
    expect(cents('20')).toBe(2000);
    for (const bad of ['12.505', '-1.00', '(1.00)', '1e3', '0x10', '12,34', 'NaN', '1.2.3']) expect(parse(`call_uuid=c&revenue=${encodeURIComponent(bad)}`).ok).toBe(false);
  });

  it('reads any whole-cent amount exactly from its decimal text (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        const text = `${Math.floor(n / 100)}.${String(n % 100).padStart(2, '0')}`;
        expect(ok(`call_uuid=c&revenue=${text}`).payoutCents).toBe(n);
      }),
    );
  });

  it('reads JSON number amounts of up to 15 digits exactly (property)', () => {
    const mapping = effectiveFields('generic', { callId: { param: 'id', token: null }, payout: { param: 'amount', token: null } });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999_999_999 }), (n) => {
        const r = postbackParams({ query: '', contentType: 'application/json', body: `{"id":"c","amount":${n / 100}}` });
        if (!r.ok) throw new Error('params');
        const p = parsePostback(mapping, r.params, ctx);
        expect(p.ok && p.postback.payoutCents).toBe(n);
      }),
    );
  });

  it('reads the converted flag in its usual spellings', () => {
    for (const [v, want] of [['yes', true], ['TRUE', true], ['1', true], ['y', true], ['No', false], ['false', false], ['0', false], ['N', false]] as const) {
      expect(ok(`call_uuid=c&converted=${v}`).converted).toBe(want);
    }
  });

  it('maps every platform event name, in any case', () => {
    for (const [name, event] of Object.entries(EVENT_NAMES)) expect(ok(`call_uuid=c&event=${name.toUpperCase()}`).event).toBe(event);
  });
});

const pb = (over: Partial<NetworkPostback>): NetworkPostback => ({
  networkCallId: 'c-1',
  callerKey: null,
  destination: null,
  startedAt: null,
  durationSec: null,
  publisher: null,
  subSource: null,
  payoutCents: null,
  converted: null,
  event: null,
  receivedAt: '2026-11-24T16:05:00.000Z',
  ...over,
});

describe('folding postbacks into one claim', () => {
  it('keeps the largest duration and amount, the earliest reported start, every event in lifecycle order', () => {
    const claim = foldClaim([
      pb({ event: 'completed', durationSec: 187, payoutCents: 0, receivedAt: '2026-11-24T16:03:12.000Z', startedAt: '2026-11-24T16:00:01.000Z' }),
      pb({ event: 'incoming', durationSec: 0, receivedAt: '2026-11-24T16:00:02.000Z', startedAt: '2026-11-24T16:00:00.000Z' }),
      pb({ event: 'payout', payoutCents: 4500, receivedAt: '2026-11-24T16:10:00.000Z' }),
    ]);
    expect(claim).toMatchObject({
      durationSec: 187,
      payoutCents: 4500,
      startedAt: '2026-11-24T16:00:00.000Z',
      startSource: 'reported',
      events: ['incoming', 'completed', 'payout'],
      firstReceivedAt: '2026-11-24T16:00:02.000Z',
      lastReceivedAt: '2026-11-24T16:10:00.000Z',
      deliveries: 3,
      counted: true,
    });
  });

  it('estimates the start from the earliest delivery, less the duration when it reports the end', () => {
    expect(foldClaim([pb({ event: 'completed', durationSec: 60, receivedAt: '2026-11-24T16:05:00.000Z' })]).startedAt).toBe('2026-11-24T16:04:00.000Z');
    expect(foldClaim([pb({ event: 'connected', durationSec: 60, receivedAt: '2026-11-24T16:05:00.000Z' })]).startedAt).toBe('2026-11-24T16:05:00.000Z');
    const both = foldClaim([pb({ event: 'incoming', receivedAt: '2026-11-24T16:00:30.000Z' }), pb({ event: 'finalized', durationSec: 600, receivedAt: '2026-11-24T16:10:00.000Z' })]);
    expect([both.startedAt, both.startSource]).toEqual(['2026-11-24T16:00:00.000Z', 'estimated']);
  });

  it('says whether the network counts the call: a yes or a converted event, else a no, else the amount', () => {
    const counted = (...ps: Partial<NetworkPostback>[]) => foldClaim(ps.map(pb)).counted;
    expect(counted({ converted: false }, { converted: true })).toBe(true);
    expect(counted({ converted: false }, { event: 'converted' })).toBe(true);
    expect(counted({ converted: false, payoutCents: 2000 })).toBe(false);
    expect(counted({ payoutCents: 2000 })).toBe(true);
    expect(counted({ payoutCents: 0 })).toBe(false);
    expect(counted({ event: 'completed' })).toBeNull();
  });

  it('flags fields on which postbacks disagree, keeping the smallest value', () => {
    const claim = foldClaim([pb({ publisher: 'B', subSource: 's' }), pb({ publisher: 'A', subSource: 's' }), pb({ callerKey: 'k1' }), pb({ callerKey: 'k2' })]);
    expect(claim.conflicts).toEqual(['caller', 'publisher']);
    expect([claim.publisher, claim.callerKey, claim.subSource]).toEqual(['A', 'k1', 's']);
  });

  it('refuses no postbacks or postbacks of two calls; foldClaims groups by call', () => {
    expect(() => foldClaim([])).toThrow(RangeError);
    expect(() => foldClaim([pb({}), pb({ networkCallId: 'c-2' })])).toThrow(RangeError);
    expect(foldClaims([pb({ networkCallId: 'b' }), pb({ networkCallId: 'a' }), pb({ networkCallId: 'b', payoutCents: 5 })]).map((c) => [c.networkCallId, c.deliveries])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('is the same claim whatever the order and however many duplicates arrive (property)', () => {
    const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
    const postback = fc.record({
      callerKey: nullable(fc.constantFrom('k1', 'k2')),
      destination: nullable(fc.constantFrom('+15125550199', '+15125550198')),
      startedAt: nullable(fc.constantFrom('2026-11-24T16:00:00.000Z', '2026-11-24T16:00:03.000Z')),
      durationSec: nullable(fc.nat({ max: 900 })),
      publisher: nullable(fc.constantFrom('A', 'B')),
      subSource: nullable(fc.constantFrom('s1', 's2')),
      payoutCents: nullable(fc.nat({ max: 10_000 })),
      converted: nullable(fc.boolean()),
      event: nullable(fc.constantFrom('incoming', 'connected', 'completed', 'converted', 'payout', 'finalized', 'recording', 'error' as const)),
      receivedAt: fc.integer({ min: 0, max: 3_600_000 }).map((ms) => new Date(Date.parse('2026-11-24T16:00:00.000Z') + ms).toISOString()),
    });
    fc.assert(
      fc.property(
        fc
          .array(postback, { minLength: 1, maxLength: 8 })
          .chain((ps) => fc.tuple(fc.constant(ps), fc.shuffledSubarray(ps)))
          .chain(([ps, dups]) => {
            const delivered = [...ps, ...dups];
            return fc.tuple(fc.constant(ps), fc.shuffledSubarray(delivered, { minLength: delivered.length, maxLength: delivered.length }));
          }),
        ([ps, delivered]) => {
          // Any order of the postbacks with any of them delivered twice: the claim of the postbacks once, in order.
          expect(foldClaim(delivered.map(pb))).toEqual(foldClaim(ps.map(pb)));
        },
      ),
    );
  });
});
