/**
 * Caller numbers at rest and in answers ("PII"): the envelope (AES-256-GCM bound to account and call),
 * the local and KMS data-key providers, PII_KEY_REF validation, what each role sees on the call routes, and the
 * CDK key and grants.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildCallLedgerApp } from '../../../infra/stack';
import { describe, expect, it } from 'vitest';
import { AesGcmCallerCipher, KmsKeyProvider, LocalKeyProvider, UnknownPiiKey, callerCipherFor, type DataKeyStore, type KmsPort } from '../../../shared/adapters/privacy/pii-cipher';
import { ConfigError, loadConfig } from '../../../shared/adapters/platform/env';
import { cursorSealer } from '../../../shared/adapters/http/cursor';
import { callerForRole, formatEnvelope, parseEnvelope } from '../../../shared/domain/privacy/pii';
import { getCallDetail, listCallsPage, type ReadApiDeps } from '../../../shared/app/calls/read-api';
import type { ApiKeyRecord, StoredCall } from '../../../shared/app/kernel/ports';

const CALLER = '+15125550123';
const CTX = { accountId: 'acme-roofing', callId: 'twilio:CA0123456789abcdef0123456789abcdef' };
const localCipher = (key = randomBytes(32).toString('base64url')) => new AesGcmCallerCipher(new LocalKeyProvider(async () => key));

describe('caller envelope', () => {
  it('round-trips, in the v1:<keyId>:<iv>:<ciphertext+tag> form, without the number in clear', async () => {
    const cipher = localCipher();
    const sealed = await cipher.encryptCaller(CALLER, CTX);
    expect(sealed).toMatch(/^v1:L[A-Za-z0-9_-]{8}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('5125550123');
    expect(await cipher.decryptCaller(sealed, CTX)).toBe(CALLER);
    // Measured: 67 characters for a US number (callerE164 was 12): the rated call item stays under 1 KB.
    expect(sealed.length).toBeLessThanOrEqual(70);
    // A fresh IV per value: the same number twice gives two envelopes.
    expect(await cipher.encryptCaller(CALLER, CTX)).not.toBe(sealed);
  });

  it('does not open on another call or another account (AAD), nor when tampered with', async () => {
    const cipher = localCipher();
    const sealed = await cipher.encryptCaller(CALLER, CTX);
    await expect(cipher.decryptCaller(sealed, { ...CTX, callId: 'twilio:CAother' })).rejects.toThrow();
    await expect(cipher.decryptCaller(sealed, { ...CTX, accountId: 'globex-hvac' })).rejects.toThrow();
    const parts = parseEnvelope(sealed)!;
    const flipped = Buffer.from(parts.sealed, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    await expect(cipher.decryptCaller(formatEnvelope({ ...parts, sealed: flipped.toString('base64url') }), CTX)).rejects.toThrow();
    await expect(cipher.decryptCaller('+15125550123', CTX)).rejects.toThrow('not a caller envelope');
  });

  it('names its key: a value sealed under another local key is refused as an unknown key', async () => {
    const sealed = await localCipher().encryptCaller(CALLER, CTX);
    await expect(localCipher().decryptCaller(sealed, CTX)).rejects.toBeInstanceOf(UnknownPiiKey);
  });

  it('accepts a 32-byte local key as base64url or hex and refuses any other length', async () => {
    const hex = randomBytes(32).toString('hex');
    const sealed = await localCipher(hex).encryptCaller(CALLER, CTX);
    expect(await localCipher(hex).decryptCaller(sealed, CTX)).toBe(CALLER);
    await expect(localCipher(randomBytes(16).toString('base64url')).encryptCaller(CALLER, CTX)).rejects.toThrow('32 bytes');
  });

  it('parseEnvelope rejects anything but a well-formed v1 envelope', () => {
    expect(parseEnvelope('v1:Kabc:AAAA:BBBB')).toEqual({ keyId: 'Kabc', iv: 'AAAA', sealed: 'BBBB' });
    for (const bad of ['', CALLER, 'v2:K:AAAA:BBBB', 'v1:K:AAAA', 'v1:K:AA AA:BBBB', 'v1::AAAA:BBBB', 'v1:K:AAAA:BBBB:CCCC']) expect(parseEnvelope(bad), bad).toBeNull();
  });
});

/** KMS as the provider sees it: a data key is random bytes, its blob the key under a "master" XOR (opaque enough). */
function fakeKms(): KmsPort & { generated: number; decrypted: number } {
  const master = randomBytes(32);
  const xor = (b: Uint8Array) => Uint8Array.from(b, (v, i) => v ^ master[i]!);
  const kms = {
    generated: 0,
    decrypted: 0,
    generateDataKey: async () => {
      kms.generated += 1;
      const plaintext = randomBytes(32);
      return { plaintext, ciphertextBlob: xor(plaintext) };
    },
    decrypt: async (blob: Uint8Array) => {
      kms.decrypted += 1;
      return xor(blob);
    },
  };
  return kms;
}

function memoryStore(): DataKeyStore & { items: Map<string, Uint8Array> } {
  const items = new Map<string, Uint8Array>();
  return {
    items,
    putIfAbsent: async (keyId, blob) => (items.has(keyId) ? false : (items.set(keyId, blob), true)),
    get: async (keyId) => items.get(keyId) ?? null,
  };
}

describe('KMS data keys', () => {
  const day1 = new Date('2026-11-27T10:00:00Z');
  const day2 = new Date('2026-11-28T00:00:01Z');

  it('one data key per UTC day, stored KMS-encrypted and shared by every container', async () => {
    const kms = fakeKms();
    const store = memoryStore();
    let now = day1;
    const writer = new AesGcmCallerCipher(new KmsKeyProvider(kms, store, () => now));
    const a = await writer.encryptCaller(CALLER, CTX);
    const b = await writer.encryptCaller('+13055550177', CTX);
    expect(kms.generated).toBe(1);
    expect(parseEnvelope(a)?.keyId).toBe('K20261127');
    expect([...store.items.keys()]).toEqual(['K20261127']);
    expect(Buffer.from(store.items.get('K20261127')!)).toHaveLength(32);

    // Another container (the API) opens both with one KMS Decrypt, then from its cache.
    const reader = new AesGcmCallerCipher(new KmsKeyProvider(kms, store, () => now));
    expect(await reader.decryptCaller(a, CTX)).toBe(CALLER);
    expect(await reader.decryptCaller(b, CTX)).toBe('+13055550177');
    expect(kms.decrypted).toBe(1);

    // The next day brings a new key; the old values still open.
    now = day2;
    const c = await writer.encryptCaller(CALLER, CTX);
    expect(parseEnvelope(c)?.keyId).toBe('K20261128');
    expect(kms.generated).toBe(2);
    expect(await reader.decryptCaller(a, CTX)).toBe(CALLER);
    expect(await reader.decryptCaller(c, CTX)).toBe(CALLER);
  });

  it('a container that loses the race for the day key uses the winner', async () => {
    const kms = fakeKms();
    const store = memoryStore();
    const first = new KmsKeyProvider(kms, store, () => day1);
    const second = new KmsKeyProvider(kms, store, () => day1);
    // Both find no item, both generate; only the first put lands.
    const storeGet = store.get;
    let misses = 2;
    store.get = async (id) => (misses-- > 0 ? null : storeGet(id));
    const [k1, k2] = await Promise.all([first.currentKey(), second.currentKey()]);
    expect(k2.key.equals(k1.key)).toBe(true);
  });

  it('an unknown key id is refused', async () => {
    await expect(new KmsKeyProvider(fakeKms(), memoryStore()).keyById('K19990101')).rejects.toBeInstanceOf(UnknownPiiKey);
  });

  it('callerCipherFor: kms: refs use KMS data keys, secret refs a local key', async () => {
    const kms = fakeKms();
    const viaKms = callerCipherFor('kms:alias/callledger-pii', { secrets: { resolve: async () => 'unused' }, mainTable: 't', kms });
    expect(viaKms).toBeInstanceOf(AesGcmCallerCipher);
    const key = randomBytes(32).toString('base64url');
    const local = callerCipherFor('env:PII_KEY', { secrets: { resolve: async (ref) => (ref === 'env:PII_KEY' ? key : '') }, mainTable: 't' });
    expect(parseEnvelope(await local.encryptCaller(CALLER, CTX))?.keyId).toMatch(/^L/);
  });
});

describe('PII_KEY_REF', () => {
  it('accepts env:, ssm: and kms: (key ARN or alias) references', () => {
    for (const ref of ['env:PII_KEY', 'ssm:/callledger/dev/pii-key', 'kms:arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', 'kms:alias/callledger-pii']) {
      expect(loadConfig(['piiKeyRef'], { PII_KEY_REF: ref }).piiKeyRef).toBe(ref);
    }
  });

  it('refuses a missing or malformed reference, naming the variable', () => {
    for (const env of [{}, { PII_KEY_REF: 'kms:' }, { PII_KEY_REF: 'plain-key-material' }]) {
      expect(() => loadConfig(['piiKeyRef'], env)).toThrow(ConfigError);
      expect(() => loadConfig(['piiKeyRef'], env)).toThrow(/PII_KEY_REF/);
    }
  });
});

describe('caller numbers in call answers', () => {
  const admin: ApiKeyRecord = { accountId: CTX.accountId, role: 'admin', label: 'ops' };
  const analyst: ApiKeyRecord = { accountId: CTX.accountId, role: 'analyst', label: 'bi' };
  const base = (callId: string): StoredCall => ({
    callId,
    accountId: CTX.accountId,
    events: [],
    rating: null,
    ratedAt: null,
    startedAt: '2026-11-02T13:00:00.000Z',
    endedAt: null,
    durationSec: null,
    recording: null,
  });

  async function depsWith(calls: StoredCall[], pii = localCipher()): Promise<ReadApiDeps> {
    return {
      calls: {
        getCall: async (id) => calls.find((c) => c.callId === id) ?? null,
        listCalls: async () => ({ items: calls, cursor: null }),
      },
      ledger: { listEntries: async () => ({ items: [], cursor: null }), totals: async () => ({}) as never },
      media: { presignGet: async (key) => `https://example.test/${key}` },
      pii,
      cursors: cursorSealer(async () => 'test-cursor-secret'),
    };
  }

  async function sealedCall(pii: AesGcmCallerCipher, callId: string, e164: string): Promise<StoredCall> {
    return { ...base(callId), callerEnc: await pii.encryptCaller(e164, { accountId: CTX.accountId, callId }) };
  }

  it('GET /v1/calls/{callId}: the full number for admin keys, a mask for analyst keys', async () => {
    const pii = localCipher();
    const deps = await depsWith([await sealedCall(pii, 'twilio:CA1', CALLER)], pii);
    expect((await getCallDetail(admin, 'twilio:CA1', deps)).caller).toBe(CALLER);
    expect((await getCallDetail(analyst, 'twilio:CA1', deps)).caller).toBe('+1512•••0123');
  });

  it('GET /v1/calls: every call of the page masked for analyst keys, in full for admin keys', async () => {
    const pii = localCipher();
    const calls = [await sealedCall(pii, 'twilio:CA1', CALLER), await sealedCall(pii, 'twilio:CA2', '+13055550177'), base('twilio:CA3')];
    const deps = await depsWith(calls, pii);
    expect((await listCallsPage(analyst, {}, deps)).calls.map((c) => c.caller)).toEqual(['+1512•••0123', '+1305•••0177', null]);
    expect((await listCallsPage(admin, {}, deps)).calls.map((c) => c.caller)).toEqual([CALLER, '+13055550177', null]);
  });

  it('items rated before caller numbers were sealed (clear callerE164) still read, and are masked the same way', async () => {
    const deps = await depsWith([{ ...base('twilio:CA9'), callerE164: CALLER }]);
    expect((await getCallDetail(analyst, 'twilio:CA9', deps)).caller).toBe('+1512•••0123');
    expect((await getCallDetail(admin, 'twilio:CA9', deps)).caller).toBe(CALLER);
  });

  it('an envelope copied onto another call does not open', async () => {
    const pii = localCipher();
    const moved = { ...base('twilio:CA2'), callerEnc: (await sealedCall(pii, 'twilio:CA1', CALLER)).callerEnc };
    await expect(getCallDetail(admin, 'twilio:CA2', await depsWith([moved], pii))).rejects.toThrow();
  });

  it('callerForRole: nothing to show for an anonymous caller', () => {
    expect(callerForRole('admin', null)).toBeNull();
    expect(callerForRole('analyst', null)).toBeNull();
  });
});

describe('CDK: the PII key', () => {
  type Json = Record<string, any>;
  const CDK_JSON = JSON.parse(readFileSync(new URL('../../../cdk.json', import.meta.url), 'utf8')) as Json;

  function synth(env: string): Json {
    const outdir = mkdtempSync(path.join(tmpdir(), 'callledger-cdk-'));
    // With cdk-nag, as infra/app.ts builds it: an unacknowledged finding would fail this synthesis.
    const { app, stack } = buildCallLedgerApp({ outdir, context: { ...CDK_JSON.context, env, 'aws:cdk:bundling-stacks': [] } });
    return app.synth().getStackArtifact(stack.artifactId).template as Json;
  }

  /** KMS actions granted to each function (by its entry file's base name), on which resources. */
  function kmsGrants(template: Json): Map<string, { actions: string[]; resources: unknown[] }> {
    const resources = Object.entries(template.Resources as Json);
    const roleOf = new Map<string, string>();
    for (const [, r] of resources) {
      if (r.Type !== 'AWS::Lambda::Function' || typeof r.Properties.FunctionName !== 'string') continue;
      roleOf.set(r.Properties.Role['Fn::GetAtt'][0], r.Properties.FunctionName);
    }
    const grants = new Map<string, { actions: string[]; resources: unknown[] }>();
    for (const [, r] of resources) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      for (const role of r.Properties.Roles as Json[]) {
        const fn = roleOf.get(role.Ref);
        if (fn === undefined) continue;
        for (const st of r.Properties.PolicyDocument.Statement as Json[]) {
          const actions = ([] as string[]).concat(st.Action).filter((a) => a.startsWith('kms:'));
          if (actions.length === 0) continue;
          const g = grants.get(fn) ?? { actions: [], resources: [] };
          for (const a of actions) {
            g.actions.push(a);
            g.resources.push(st.Resource);
          }
          grants.set(fn, g);
        }
      }
    }
    return grants;
  }

  it('one rotating key; the writer may GenerateDataKey + Decrypt, the API only Decrypt, nobody else anything', () => {
    const template = Template.fromJSON(synth('dev'));
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, PendingWindowInDays: 30 });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: Match.stringLikeRegexp('-pii$') });
    const keyId = Object.keys(template.findResources('AWS::KMS::Key'))[0]!;
    const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };
    const short = (fn: string) => fn.replace(/^callledger-dev-/, '');
    const grants = [...kmsGrants(template.toJSON())];
    // On the PII key: exactly these (SSM SecureString reads elsewhere carry kms:Decrypt on the account's keys).
    const onKey = Object.fromEntries(
      grants
        .map(([fn, g]) => [short(fn), g.actions.filter((_, i) => JSON.stringify(g.resources[i]) === JSON.stringify(keyArn)).sort()] as const)
        .filter(([, actions]) => actions.length > 0),
    );
    expect(onKey).toEqual({ 'ledger-writer': ['kms:Decrypt', 'kms:GenerateDataKey'], api: ['kms:Decrypt'] });
    // Nobody may make data keys but the writer, on any key.
    expect(grants.filter(([, g]) => g.actions.some((a) => a !== 'kms:Decrypt')).map(([fn]) => short(fn))).toEqual(['ledger-writer']);
    // Every function is told to use it.
    for (const [, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
      if (typeof fn.Properties.FunctionName !== 'string') continue;
      expect(fn.Properties.Environment.Variables.PII_KEY_REF).toEqual({ 'Fn::Join': ['', ['kms:', { 'Fn::GetAtt': [keyId, 'Arn'] }]] });
    }
  });

  it('prod retains the key', () => {
    const template = Template.fromJSON(synth('prod'));
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('the KMS port over @aws-sdk/client-kms', () => {
  it('asks for an AES-256 data key of the configured key and decrypts blobs with it', async () => {
    const { DecryptCommand, GenerateDataKeyCommand } = await import('@aws-sdk/client-kms');
    const { kmsPortFromSdk } = await import('../../../shared/adapters/privacy/pii-cipher');
    const sent: unknown[] = [];
    const client = {
      send: async (command: unknown) => {
        sent.push(command);
        return command instanceof GenerateDataKeyCommand
          ? { Plaintext: new Uint8Array(32).fill(7), CiphertextBlob: new Uint8Array([1, 2, 3]) }
          : { Plaintext: new Uint8Array(32).fill(9) };
      },
    } as never;
    const port = await kmsPortFromSdk('arn:aws:kms:us-east-1:123456789012:key/abc', client);
    const key = await port.generateDataKey();
    expect(key.ciphertextBlob).toEqual(new Uint8Array([1, 2, 3]));
    expect(await port.decrypt(new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array(32).fill(9));
    expect(sent[0]).toBeInstanceOf(GenerateDataKeyCommand);
    expect((sent[0] as InstanceType<typeof GenerateDataKeyCommand>).input).toEqual({ KeyId: 'arn:aws:kms:us-east-1:123456789012:key/abc', KeySpec: 'AES_256' });
    expect(sent[1]).toBeInstanceOf(DecryptCommand);
  });
});
