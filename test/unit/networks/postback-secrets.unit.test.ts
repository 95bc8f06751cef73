/**
 * Postback secrets and the source-IP allow-list: secrets are ≥ 256 random bits in base64url, rotation keeps the
 * previous secret valid until a stated instant and no longer, any other string is refused, the URL carries the ids
 * encoded and the tokens unencoded, and CIDRs of both families allow exactly their addresses.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ipAllowList, isCidr, parseCidr } from '../../../shared/domain/networks/ip-allow';
import { effectiveFields } from '../../../shared/domain/networks/registration';
import { RotateSecretSchema } from '../../../shared/domain/networks/registration-schema';
import {
  DEFAULT_ROTATION_OVERLAP_SEC,
  generateSecret,
  initialSecrets,
  isSecretShape,
  matchSecret,
  postbackPath,
  postbackUrl,
  postbackUrlTemplate,
  rotateSecrets,
} from '../../../shared/domain/networks/secrets';

const T0 = Date.parse('2026-11-24T16:00:00.000Z');
const bytes = (fill: number) => new Uint8Array(32).fill(fill);

describe('postback secrets', () => {
  it('are 256 bits or more of the given bytes, base64url without padding', () => {
    const s = generateSecret(bytes(0xfb));
    expect(s).toBe(Buffer.from(bytes(0xfb)).toString('base64url'));
    expect(s).toHaveLength(43);
    expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(isSecretShape(s)).toBe(true);
    expect(generateSecret(new Uint8Array(48))).toHaveLength(64);
    expect(() => generateSecret(new Uint8Array(31))).toThrow(RangeError);
    expect(isSecretShape('short')).toBe(false);
    expect(isSecretShape(`${s}=`)).toBe(false);
  });

  it('match the current secret only, before any rotation', () => {
    const state = initialSecrets(generateSecret(bytes(1)));
    expect(matchSecret(state, state.current, T0)).toBe('current');
    expect(matchSecret(state, generateSecret(bytes(2)), T0)).toBeNull();
    expect(matchSecret(state, '', T0)).toBeNull();
    expect(matchSecret(state, state.current.slice(0, -1), T0)).toBeNull();
    expect(matchSecret(state, `${state.current}x`, T0)).toBeNull();
  });

  it('keep the previous secret valid during the overlap and not a millisecond after', () => {
    const old = generateSecret(bytes(1));
    const next = generateSecret(bytes(2));
    const rotated = rotateSecrets(initialSecrets(old), next, T0, 3600);
    expect(rotated.previous).toEqual({ secret: old, validUntil: '2026-11-24T17:00:00.000Z' });
    expect(rotated.rotatedAt).toBe('2026-11-24T16:00:00.000Z');
    expect(matchSecret(rotated, next, T0)).toBe('current');
    expect(matchSecret(rotated, old, T0 + 3_599_999)).toBe('previous');
    expect(matchSecret(rotated, old, T0 + 3_600_000)).toBeNull();
    expect(matchSecret(rotated, next, T0 + 3_600_000)).toBe('current');
  });

  it('default to a week of overlap; a second rotation drops the oldest; zero overlap keeps none', () => {
    const [a, b, c] = [1, 2, 3].map((n) => generateSecret(bytes(n))) as [string, string, string];
    const once = rotateSecrets(initialSecrets(a), b, T0);
    expect(Date.parse(once.previous!.validUntil) - T0).toBe(DEFAULT_ROTATION_OVERLAP_SEC * 1000);
    const twice = rotateSecrets(once, c, T0 + 1000);
    expect(matchSecret(twice, a, T0 + 2000)).toBeNull();
    expect(matchSecret(twice, b, T0 + 2000)).toBe('previous');
    expect(rotateSecrets(initialSecrets(a), b, T0, 0).previous).toBeNull();
    expect(() => rotateSecrets(initialSecrets(a), b, T0, -1)).toThrow(RangeError);
    expect(() => rotateSecrets(initialSecrets(a), b, T0, 1.5)).toThrow(RangeError);
  });

  it('take the rotation overlap from a body, a week by default, at most 90 days', () => {
    expect(RotateSecretSchema.parse({})).toEqual({ overlapSec: DEFAULT_ROTATION_OVERLAP_SEC });
    expect(RotateSecretSchema.parse({ overlapSec: 0 })).toEqual({ overlapSec: 0 });
    expect(RotateSecretSchema.safeParse({ overlapSec: 90 * 86_400 + 1 }).success).toBe(false);
    expect(RotateSecretSchema.safeParse({ overlapSec: 1.5 }).success).toBe(false);
  });

  it('refuse every string but the live ones (property)', () => {
    const state = rotateSecrets(initialSecrets(generateSecret(randomBytes(32))), generateSecret(randomBytes(32)), T0, 60);
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.integer({ min: 0, max: 120_000 }), (guess, after) => {
        fc.pre(guess !== state.current && guess !== state.previous!.secret);
        expect(matchSecret(state, guess, T0 + after)).toBeNull();
      }),
    );
  });

  it('build the postback URL with encoded ids and the secret as a path segment', () => {
    const secret = generateSecret(bytes(7));
    expect(postbackPath('acme roofing', 'ringba/main', secret)).toBe(`/webhooks/networks/acme%20roofing/ringba%2Fmain/${secret}`);
    expect(postbackUrl('https://api.example.com/', 'acme', 'rgb', secret)).toBe(`https://api.example.com/webhooks/networks/acme/rgb/${secret}`);
  });

  it('build the pixel URL template from the mapping, tokens unencoded, one event per pixel', () => {
    const secret = generateSecret(bytes(7));
    const url = postbackUrlTemplate('https://api.example.com', { accountId: 'acme', networkId: 'rgb', secret }, effectiveFields('ringba', {}), 'converted');
    expect(url).toBe(
      `https://api.example.com/webhooks/networks/acme/rgb/${secret}?call_id=[Call:InboundCallId]&caller=[tag:InboundNumber:Number]&publisher=[tag:Publisher:Name]&sub_id=[tag:Publisher:SubId]&revenue=[Call:ConversionAmount]&event=converted`,
    );
    const bare = postbackUrlTemplate('https://api.example.com', { accountId: 'acme', networkId: 'g', secret }, effectiveFields('generic', { callId: { param: 'id', token: null } }));
    expect(bare).toBe(`https://api.example.com/webhooks/networks/acme/g/${secret}`);
  });
});

describe('source-IP allow-list', () => {
  it('allows every source when empty, and none when every entry is unusable', () => {
    expect(ipAllowList([]).allows('198.51.100.7')).toBe(true);
    expect(ipAllowList(['not-a-cidr']).allows('198.51.100.7')).toBe(false);
  });

  it('allows exactly the addresses of its IPv4 and IPv6 ranges', () => {
    const list = ipAllowList(['203.0.113.0/24', '198.51.100.7', '2001:db8:abcd::/48']);
    expect(list.allows('203.0.113.0')).toBe(true);
    expect(list.allows('203.0.113.255')).toBe(true);
    expect(list.allows('203.0.114.0')).toBe(false);
    expect(list.allows('198.51.100.7')).toBe(true);
    expect(list.allows('198.51.100.8')).toBe(false);
    expect(list.allows('2001:db8:abcd:ffff::1')).toBe(true);
    expect(list.allows('2001:db8:abce::1')).toBe(false);
    expect(list.allows('2001:0db8:abcd:0000:0000:0000:0000:0001')).toBe(true);
  });

  it('reads an IPv4-mapped IPv6 source as its IPv4 address', () => {
    expect(ipAllowList(['203.0.113.0/24']).allows('::ffff:203.0.113.9')).toBe(true);
    expect(ipAllowList(['203.0.113.0/24']).allows('::ffff:203.0.114.9')).toBe(false);
  });

  it('never allows a source that is not an address', () => {
    const list = ipAllowList(['0.0.0.0/0', '::/0']);
    for (const bad of ['', 'localhost', '203.0.113', '203.0.113.9:443', ' 203.0.113.9']) expect(list.allows(bad)).toBe(false);
    expect(list.allows('203.0.113.9')).toBe(true);
    expect(list.allows('2001:db8::1')).toBe(true);
  });

  it('parses CIDRs and says why one is not', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('2001:db8::')).toEqual({ address: '2001:db8::', prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/8/8', '::/129', 'fe80::1%eth0/64', 'example.com/24', '10.0.0.0/']) expect(isCidr(bad)).toBe(false);
  });

  it('agrees with a bit-by-bit prefix comparison on IPv4 (property)', () => {
    const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4(), (net, prefix, source) => {
        const inside = Math.floor(toInt(net) / 2 ** (32 - prefix)) === Math.floor(toInt(source) / 2 ** (32 - prefix));
        expect(ipAllowList([`${net}/${prefix}`]).allows(source)).toBe(inside);
      }),
    );
  });
});
