import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { callerHash, maskNumber, normaliseNumber } from '../../../shared/domain/calls/caller';
import { BadRequest } from '../../../shared/domain/kernel/problems';
import { parseSeed } from '../../../shared/domain/catalog/seed';

describe('caller numbers', () => {
  it('normalises dialable numbers to E.164 and refuses withheld or invalid ones', () => {
    expect(normaliseNumber('+1 (512) 555-0101')).toBe('+15125550101');
    expect(normaliseNumber('5125550101')).toBe('+15125550101');
    expect(normaliseNumber('+442071838750')).toBe('+442071838750');
    for (const raw of ['anonymous', 'Unknown', 'client:alice', 'sip:bob@example.com', '', '+1555', '+10000000000']) {
      expect(normaliseNumber(raw)).toBeNull();
    }
  });

  it('hashes with the key: the same number under another key is unrelated', () => {
    const a = callerHash('k1', '+15125550101');
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(callerHash('k1', '+15125550101')).toBe(a);
    expect(callerHash('k2', '+15125550101')).not.toBe(a);
    expect(a).not.toContain('5125550101');
  });

  it('masks the middle digits', () => {
    expect(maskNumber('+15125550101')).toBe('+1512•••0101');
  });
});

describe('seed', () => {
  const demo = JSON.parse(readFileSync(new URL('../../../events/seed/demo.json', import.meta.url), 'utf8'));

  it('accepts the demo seed', () => {
    const seed = parseSeed(demo);
    expect(seed.trackingNumbers.length).toBeGreaterThan(0);
  });

  it('names the path of every problem', () => {
    const bad = structuredClone(demo);
    bad.campaigns[0].terms.priceCents = 45.5;
    bad.trackingNumbers[0].publisherId = 'pub-nobody';
    bad.trackingNumbers[1].number = '5125550102';
    try {
      parseSeed(bad);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BadRequest);
      const fields = (err as BadRequest).errors!.map((e) => e.field);
      expect(fields).toEqual(
        expect.arrayContaining(['campaigns.0.terms.priceCents', 'trackingNumbers.1.number']),
      );
    }
  });

  it('checks references once the shapes are valid', () => {
    const bad = structuredClone(demo);
    bad.trackingNumbers[0].publisherId = 'pub-nobody';
    bad.trackingNumbers[1].number = bad.trackingNumbers[0].number;
    expect(() => parseSeed(bad)).toThrow(/trackingNumbers\.0\.publisherId names no publisher.*trackingNumbers\.1\.number is assigned twice/);
  });
});
