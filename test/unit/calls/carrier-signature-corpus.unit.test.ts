/**
 * The held-out corpus of correctly and wrongly signed Telnyx, Vonage and Plivo requests. Every case states the
 * answer it must get (accept, or the precise refusal code), and both our verifier and the carrier's official
 * library (test/support/carrier-oracles.ts) must give it: ours by its code, the library by accept / refuse.
 */
import { createHmac, createPrivateKey, createPublicKey } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { signPlivo, signTelnyx, vonageJwt } from '../../../events/carrier-signing';
import { PLIVO_FIXTURE_URL, fixtureBody, stableUuid, testKeys } from '../../../events/carrier-fixtures';
import { verifyPlivoSignature, type FormParams } from '../../../shared/domain/calls/providers/plivo';
import { telnyxPublicKey, verifyTelnyxSignature } from '../../../shared/domain/calls/providers/telnyx';
import { SIGNATURE_REFUSAL_KIND, type SignatureRefusalCode } from '../../../shared/domain/calls/providers/verdicts';
import { verifyVonageSignature } from '../../../shared/domain/calls/providers/vonage';
import { parseForm } from '../../../shared/domain/calls/providers/twilio';
import { plivoOracle, telnyxOracle, vonageOracle } from '../../support/carrier-oracles';

type Expected = 'accept' | SignatureRefusalCode;

afterAll(() => {
  vi.useRealTimers();
});

function atTime(ms: number): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(ms);
}

// ------------------------------------------------------------------------------------------------ Telnyx

interface TelnyxCase {
  readonly name: string;
  readonly publicKeys: readonly string[];
  readonly headers: Record<string, string | undefined>;
  readonly body: string;
  readonly nowSec: number;
  readonly expected: Expected;
  /** The SDK takes only a base64 raw key; a case about our other accepted key formats has no oracle. */
  readonly oracle?: false;
}

function telnyxCases(): TelnyxCase[] {
  const k = testKeys('telnyx');
  const body = fixtureBody('telnyx', 'call-hangup-completed.json');
  const other = fixtureBody('telnyx', 'call-answered.json');
  const t = 1795533218;
  const good = signTelnyx(k.account.privateKeyPem, body, t);
  const sig = good['telnyx-signature-ed25519'];
  const base = { publicKeys: [k.account.publicKey], headers: good, body, nowSec: t };
  const flip = (s: string, i: number) => s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ 1) + s.slice(i + 1);
  const spki = createPublicKey(createPrivateKey(k.account.privateKeyPem)).export({ type: 'spki', format: 'der' }).toString('base64');
  const pem = createPublicKey(createPrivateKey(k.account.privateKeyPem)).export({ type: 'spki', format: 'pem' }).toString();
  return [
    { ...base, name: 'genuine', expected: 'accept' },
    { ...base, name: 'header names in capitals', headers: { 'Telnyx-Signature-Ed25519': sig, 'Telnyx-Timestamp': String(t) }, expected: 'accept' },
    { ...base, name: 'exactly 300 s old', nowSec: t + 300, expected: 'accept' },
    { ...base, name: '301 s old', nowSec: t + 301, expected: 'timestamp_stale' },
    { ...base, name: 'a day old (replayed capture)', nowSec: t + 86_400, expected: 'timestamp_stale' },
    { ...base, name: 'exactly 300 s in the future', nowSec: t - 300, expected: 'accept' },
    { ...base, name: '301 s in the future', nowSec: t - 301, expected: 'timestamp_future' },
    { ...base, name: 'tampered: duration stretched', body: body.replace('15:13:37.204559Z", "hangup_cause', '15:23:37.204559Z", "hangup_cause'), expected: 'signature_invalid' },
    { ...base, name: 'tampered: one bit of one byte', body: flip(body, 200), expected: 'signature_invalid' },
    { ...base, name: 'tampered: trailing newline', body: `${body}\n`, expected: 'signature_invalid' },
    { ...base, name: 're-serialised JSON (compact)', body: JSON.stringify(JSON.parse(body)), expected: 'signature_invalid' },
    { ...base, name: 're-serialised JSON (pretty)', body: JSON.stringify(JSON.parse(body), null, 2), expected: 'signature_invalid' },
    { ...base, name: 'another event’s signature on this body', headers: signTelnyx(k.account.privateKeyPem, other, t), expected: 'signature_invalid' },
    { ...base, name: 'signed by another key', headers: signTelnyx(k.other.privateKeyPem, body, t), expected: 'signature_invalid' },
    { ...base, name: 'key rotation: the new key among two', publicKeys: [k.other.publicKey, k.account.publicKey], expected: 'accept' },
    { ...base, name: 'key rotation: only the retired key', publicKeys: [k.other.publicKey], expected: 'signature_invalid' },
    { ...base, name: 'timestamp header changed after signing', headers: { ...good, 'telnyx-timestamp': String(t + 1) }, expected: 'signature_invalid' },
    { ...base, name: 'signature header missing', headers: { 'telnyx-timestamp': String(t) }, expected: 'signature_missing' },
    { ...base, name: 'signature header empty', headers: { ...good, 'telnyx-signature-ed25519': '' }, expected: 'signature_missing' },
    { ...base, name: 'timestamp header missing', headers: { 'telnyx-signature-ed25519': sig }, expected: 'timestamp_missing' },
    { ...base, name: 'timestamp with a fraction', headers: { ...good, 'telnyx-timestamp': `${t}.5` }, expected: 'timestamp_malformed' },
    { ...base, name: 'timestamp negative', headers: { ...good, 'telnyx-timestamp': `-${t}` }, expected: 'timestamp_malformed' },
    { ...base, name: 'signature not base64', headers: { ...good, 'telnyx-signature-ed25519': 'not a signature!' }, expected: 'signature_malformed' },
    { ...base, name: 'signature truncated', headers: { ...good, 'telnyx-signature-ed25519': Buffer.from(sig, 'base64').subarray(0, 63).toString('base64') }, expected: 'signature_malformed' },
    { ...base, name: 'signature in base64url', headers: { ...good, 'telnyx-signature-ed25519': Buffer.from(sig, 'base64').toString('base64url') }, expected: 'signature_malformed' },
    { ...base, name: 'empty body, genuine signature of it', body: '', headers: signTelnyx(k.account.privateKeyPem, '', t), expected: 'accept' },
    { ...base, name: 'account key unusable', publicKeys: ['not-a-key'], expected: 'credentials_unusable' },
    { ...base, name: 'account key as SPKI DER', publicKeys: [spki], expected: 'accept', oracle: false },
    { ...base, name: 'account key as PEM', publicKeys: [pem], expected: 'accept', oracle: false },
  ];
}

describe('Telnyx corpus', () => {
  const cases = telnyxCases();

  it('reads a key in the form Telnyx publishes (the SDK documentation’s example key) and refuses other text', () => {
    expect(telnyxPublicKey('eu2zvPjhY6odxV34Z/EsRiERvTodkev4Fq0SlK90Izg=')?.asymmetricKeyType).toBe('ed25519');
    for (const bad of ['', 'AAAA', 'eu2zvPjhY6odxV34Z/EsRiERvTodkev4Fq0SlK90Izg', Buffer.alloc(33).toString('base64')]) expect(telnyxPublicKey(bad)).toBeNull();
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const verdict = verifyTelnyxSignature({ publicKeys: c.publicKeys, headers: c.headers, body: Buffer.from(c.body, 'utf8'), nowMs: c.nowSec * 1000 });
    expect(verdict.ok ? 'accept' : verdict.code).toBe(c.expected);
    if (c.oracle !== false) {
      atTime(c.nowSec * 1000 + 999);
      expect(await telnyxOracle(c.publicKeys, c.headers, c.body)).toBe(c.expected === 'accept');
      vi.useRealTimers();
    }
  });
});

// ------------------------------------------------------------------------------------------------ Vonage

interface VonageCase {
  readonly name: string;
  readonly secrets: readonly string[];
  readonly headers: Record<string, string | undefined>;
  readonly body: string;
  readonly nowSec: number;
  readonly expectedApiKey?: string;
  readonly expected: Expected;
}

function vonageCases(): VonageCase[] {
  const k = testKeys('vonage');
  const body = fixtureBody('vonage', 'completed.json');
  const iat = 1795533218;
  const claims = { iat, jti: stableUuid('corpus'), api_key: k.apiKey, application_id: k.applicationId };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const good = vonageJwt(k.signatureSecret, body, claims);
  const [h, c, s] = good.split('.') as [string, string, string];
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const decoded = JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>;
  const base = { secrets: [k.signatureSecret], headers: bearer(good), body, nowSec: iat };
  const hs512 = (() => {
    const input = `${b64({ alg: 'HS512', typ: 'JWT' })}.${c}`;
    return `${input}.${createHmac('sha512', k.signatureSecret).update(input).digest('base64url')}`;
  })();
  return [
    { ...base, name: 'genuine', expected: 'accept' },
    { ...base, name: 'genuine, header name in capitals', headers: { Authorization: `Bearer ${good}` }, expected: 'accept' },
    { ...base, name: 'iat exactly 300 s ago', nowSec: iat + 300, expected: 'accept' },
    { ...base, name: 'iat 301 s ago', nowSec: iat + 301, expected: 'timestamp_stale' },
    { ...base, name: 'iat a week ago (replayed capture)', nowSec: iat + 7 * 86_400, expected: 'timestamp_stale' },
    { ...base, name: 'iat 301 s in the future', nowSec: iat - 301, expected: 'timestamp_future' },
    { ...base, name: 'iat exactly 300 s in the future', nowSec: iat - 300, expected: 'accept' },
    { ...base, name: 'tampered body: duration', body: body.replace('"duration": "217"', '"duration": "2170"'), expected: 'payload_hash_mismatch' },
    { ...base, name: 'tampered body: trailing space', body: `${body} `, expected: 'payload_hash_mismatch' },
    { ...base, name: 're-serialised JSON', body: JSON.stringify(JSON.parse(body)), expected: 'payload_hash_mismatch' },
    { ...base, name: 'signed with another secret', headers: bearer(vonageJwt(k.otherSignatureSecret, body, claims)), expected: 'signature_invalid' },
    { ...base, name: 'secret rotation: signed with the previous secret, both configured', secrets: [k.signatureSecret, k.previousSignatureSecret], headers: bearer(vonageJwt(k.previousSignatureSecret, body, claims)), expected: 'accept' },
    { ...base, name: 'secret rotation: previous secret already removed', headers: bearer(vonageJwt(k.previousSignatureSecret, body, claims)), expected: 'signature_invalid' },
    { ...base, name: 'alg none, no signature', headers: bearer(`${b64({ alg: 'none', typ: 'JWT' })}.${c}.`), expected: 'alg_not_allowed' },
    { ...base, name: 'alg none, the HS256 signature kept', headers: bearer(`${b64({ alg: 'none', typ: 'JWT' })}.${c}.${s}`), expected: 'alg_not_allowed' },
    { ...base, name: 'alg "None"', headers: bearer(vonageJwt(k.signatureSecret, body, claims, { header: { alg: 'None' } })), expected: 'alg_not_allowed' },
    { ...base, name: 'alg HS512 with the right secret', headers: bearer(hs512), expected: 'alg_not_allowed' },
    { ...base, name: 'alg RS256 header over an HMAC signature (key confusion)', headers: bearer(vonageJwt(k.signatureSecret, body, claims, { header: { alg: 'RS256', typ: 'JWT' } })), expected: 'alg_not_allowed' },
    { ...base, name: 'signature changed', headers: bearer(`${h}.${c}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`), expected: 'signature_invalid' },
    { ...base, name: 'claims changed under the old signature', headers: bearer(`${h}.${b64({ ...decoded, api_key: 'ffffffff' })}.${s}`), expected: 'signature_invalid' },
    { ...base, name: 'payload_hash missing', headers: bearer(vonageJwt(k.signatureSecret, body, claims, { payloadHash: null })), expected: 'payload_hash_missing' },
    { ...base, name: 'payload_hash of another body', headers: bearer(vonageJwt(k.signatureSecret, body, claims, { payloadHash: '0'.repeat(64) })), expected: 'payload_hash_mismatch' },
    { ...base, name: 'iat missing', headers: bearer(vonageJwt(k.signatureSecret, body, { ...claims, iat: undefined as unknown as number })), expected: 'timestamp_missing' },
    { ...base, name: 'iat a string', headers: bearer(vonageJwt(k.signatureSecret, body, { ...claims, iat: String(iat) as unknown as number })), expected: 'timestamp_malformed' },
    { ...base, name: 'exp passed', headers: bearer(vonageJwt(k.signatureSecret, body, { ...claims, exp: iat - 1 })), expected: 'token_expired' },
    { ...base, name: 'nbf not reached', headers: bearer(vonageJwt(k.signatureSecret, body, { ...claims, nbf: iat + 60 })), expected: 'token_not_yet_valid' },
    { ...base, name: 'another Vonage account’s api_key', expectedApiKey: 'ffffffff', expected: 'account_mismatch' },
    { ...base, name: 'the account’s own api_key', expectedApiKey: k.apiKey, expected: 'accept' },
    { ...base, name: 'Authorization missing', headers: {}, expected: 'signature_missing' },
    { ...base, name: 'Authorization: Basic', headers: { authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' }, expected: 'signature_malformed' },
    { ...base, name: 'bearer token not a JWT', headers: bearer('abc.def'), expected: 'signature_malformed' },
    { ...base, name: 'JWT header not JSON', headers: bearer(`bm90IGpzb24.${c}.${s}`), expected: 'signature_malformed' },
    { ...base, name: 'no secret configured', secrets: [''], expected: 'credentials_unusable' },
  ];
}

describe('Vonage corpus', () => {
  const cases = vonageCases();

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const body = Buffer.from(c.body, 'utf8');
    const expected = c.expectedApiKey === undefined ? undefined : { apiKey: c.expectedApiKey };
    const verdict = verifyVonageSignature({ signatureSecrets: c.secrets, headers: c.headers, body, nowMs: c.nowSec * 1000, expected });
    expect(verdict.ok ? 'accept' : verdict.code).toBe(c.expected);
    if (c.secrets.every((s) => s !== '')) {
      atTime(c.nowSec * 1000 + 999);
      expect(vonageOracle(c.secrets, c.headers, body, c.expectedApiKey)).toBe(c.expected === 'accept');
      vi.useRealTimers();
    }
  });
});

// ------------------------------------------------------------------------------------------------ Plivo

interface PlivoCase {
  readonly name: string;
  readonly tokens: readonly string[];
  readonly url: string;
  readonly params: FormParams;
  readonly headers: Record<string, string | undefined>;
  readonly expected: Expected;
}

function plivoCases(): PlivoCase[] {
  const k = testKeys('plivo');
  const body = fixtureBody('plivo', 'hangup.form');
  const params = parseForm(body);
  const nonce = '05429567804466091622';
  const url = PLIVO_FIXTURE_URL;
  const good = signPlivo([k.authToken], url, params, nonce);
  const both = signPlivo([k.previousAuthToken, k.authToken], url, params, nonce);
  const [oldSig, newSig] = both['x-plivo-signature-v3'].split(',') as [string, string];
  const base = { tokens: [k.authToken], url, params, headers: good };
  const withQuery = `${url}?campaign=roofing-tx&b=2`;
  return [
    { ...base, name: 'genuine', expected: 'accept' },
    { ...base, name: 'header names in capitals', headers: { 'X-Plivo-Signature-V3': good['x-plivo-signature-v3'], 'X-Plivo-Signature-V3-Nonce': nonce }, expected: 'accept' },
    { ...base, name: 'rotation: old and new signatures, we hold the new token', headers: both, expected: 'accept' },
    { ...base, name: 'rotation: old and new signatures, we still hold only the old token', tokens: [k.previousAuthToken], headers: both, expected: 'accept' },
    { ...base, name: 'rotation: new signature first', headers: { ...both, 'x-plivo-signature-v3': `${newSig},${oldSig}` }, expected: 'accept' },
    { ...base, name: 'rotation on our side: one signature, both tokens held', tokens: [k.previousAuthToken, k.authToken], expected: 'accept' },
    { ...base, name: 'rotation: neither signature is ours', tokens: [k.otherAuthToken], headers: both, expected: 'signature_invalid' },
    { ...base, name: 'rotation: a space after the comma is not Plivo’s format', headers: { ...both, 'x-plivo-signature-v3': `${oldSig}, ${newSig}` }, tokens: [k.authToken], expected: 'signature_invalid' },
    { ...base, name: 'signed with another token', tokens: [k.otherAuthToken], expected: 'signature_invalid' },
    { ...base, name: 'tampered: Duration', params: { ...params, Duration: '2170' }, expected: 'signature_invalid' },
    { ...base, name: 'tampered: CallStatus', params: { ...params, CallStatus: 'busy' }, expected: 'signature_invalid' },
    { ...base, name: 'tampered: parameter added', params: { ...params, BillDuration2: '1' }, expected: 'signature_invalid' },
    { ...base, name: 'tampered: parameter removed', params: Object.fromEntries(Object.entries(params).filter(([n]) => n !== 'To')), expected: 'signature_invalid' },
    { ...base, name: 'same values, another form encoding (+ as %20)', params: parseForm(body.replace(/\+/g, '%20')), expected: 'accept' },
    { ...base, name: 'another URL: http', url: url.replace('https:', 'http:'), expected: 'signature_invalid' },
    { ...base, name: 'another URL: trailing slash', url: `${url}/`, expected: 'signature_invalid' },
    { ...base, name: 'another URL: another account', url: url.replace('acme-roofing', 'acme-plumbing'), expected: 'signature_invalid' },
    { ...base, name: 'another URL: a query added', url: `${url}?x=1`, expected: 'signature_invalid' },
    { ...base, name: 'configured URL with a query, signed for it', url: withQuery, headers: signPlivo([k.authToken], withQuery, params, nonce), expected: 'accept' },
    { ...base, name: 'configured URL with a query, query reordered', url: `${url}?b=2&campaign=roofing-tx`, headers: signPlivo([k.authToken], withQuery, params, nonce), expected: 'accept' },
    { ...base, name: 'nonce changed', headers: { ...good, 'x-plivo-signature-v3-nonce': '05429567804466091623' }, expected: 'signature_invalid' },
    { ...base, name: 'nonce missing', headers: { 'x-plivo-signature-v3': good['x-plivo-signature-v3'] }, expected: 'nonce_missing' },
    { ...base, name: 'signature missing', headers: { 'x-plivo-signature-v3-nonce': nonce }, expected: 'signature_missing' },
    { ...base, name: 'signature of another callback', headers: signPlivo([k.authToken], url, parseForm(fixtureBody('plivo', 'answer.form')), nonce), expected: 'signature_invalid' },
    { ...base, name: 'no token configured', tokens: [''], expected: 'credentials_unusable' },
  ];
}

describe('Plivo corpus', () => {
  const cases = plivoCases();

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const verdict = verifyPlivoSignature({ authTokens: c.tokens, method: 'POST', url: c.url, params: c.params, headers: c.headers });
    expect(verdict.ok ? 'accept' : verdict.code).toBe(c.expected);
    if (c.tokens.every((t) => t !== '')) expect(plivoOracle(c.tokens, c.url, c.params, c.headers)).toBe(c.expected === 'accept');
  });
});

describe('refusal codes', () => {
  it('every code the corpus expects has a kind for the HTTP table', () => {
    const codes = [...telnyxCases(), ...vonageCases(), ...plivoCases()].map((c) => c.expected).filter((e) => e !== 'accept');
    for (const code of codes) expect(SIGNATURE_REFUSAL_KIND[code]).toBeDefined();
    expect(new Set(codes).size).toBeGreaterThanOrEqual(15);
  });
});
