/**
 * Recordings of every carrier: which URL is fetched with which credentials (pure rules and the fetch use case with
 * in-memory ports), the per-carrier host allow-list (a carrier's credentials never go to another carrier's host),
 * and its configuration (CARRIER_RECORDING_HOSTS, validated at cold start).
 */
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../shared/adapters/platform/env';
import { RecordingFetchError, S3RecordingStore } from '../../../shared/adapters/recordings/recordings';
import { fetchRecording, parseRecordingJob, type FetchRecordingDeps } from '../../../shared/app/recordings/fetch-recording';
import type { Log, StoredCall, Telemetry } from '../../../shared/app/kernel/ports';
import type { Account } from '../../../shared/domain/catalog/types';
import { authorizationOf, mediaTarget, providerOfCallId, vonageMediaJwt, type MediaCredentials } from '../../../shared/domain/recordings/media-auth';
import { CARRIER_RECORDING_HOSTS_DEFAULT } from '../../../infra/resources';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_PEM = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

describe('media-auth rules', () => {
  it("Twilio's media is the URL plus .wav; the carriers' URL is fetched as sent, its extension kept", () => {
    expect(mediaTarget('twilio', 'https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1')).toEqual({ url: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1.wav', ext: 'wav' });
    expect(mediaTarget('telnyx', 'https://s3.amazonaws.com/b/r.wav?X-Amz-Expires=600')).toEqual({ url: 'https://s3.amazonaws.com/b/r.wav?X-Amz-Expires=600', ext: 'wav' });
    expect(mediaTarget('vonage', 'https://api.nexmo.com/v1/files/c9d8')).toEqual({ url: 'https://api.nexmo.com/v1/files/c9d8', ext: 'mp3' });
    expect(mediaTarget('plivo', 'https://media.plivo.com/v1/Account/MA/Recording/f8.mp3')).toMatchObject({ ext: 'mp3' });
  });

  it('credentials become the Authorization header (none for a presigned URL)', () => {
    expect(authorizationOf({ kind: 'basic', username: 'MA1', password: 'tok' })).toBe(`Basic ${Buffer.from('MA1:tok').toString('base64')}`);
    expect(authorizationOf({ kind: 'bearer', token: 'a.b.c' })).toBe('Bearer a.b.c');
    expect(authorizationOf({ kind: 'none' })).toBeNull();
  });

  it('the provider of a call id is its prefix, only for the four carriers', () => {
    expect(['twilio:CA1', 'telnyx:7f3c-1', 'vonage:CON-1', 'plivo:c5a1', 'bandwidth:c-1', 'nocolon'].map(providerOfCallId)).toEqual(['twilio', 'telnyx', 'vonage', 'plivo', null, null]);
  });

  it("the Vonage media JWT is RS256 under the application's key, names the application and expires in 300 s", () => {
    const jwt = vonageMediaJwt(PRIVATE_PEM, 'app-1', 1_800_000_000, 'j1');
    const [h, c, s] = jwt.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(c, 'base64url').toString())).toEqual({ application_id: 'app-1', iat: 1_800_000_000, exp: 1_800_000_300, jti: 'j1' });
    expect(verify('sha256', Buffer.from(`${h}.${c}`), createPublicKey(publicKey.export({ format: 'pem', type: 'spki' })), Buffer.from(s, 'base64url'))).toBe(true);
  });
});

describe('fetchRecording per carrier', () => {
  const log: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
  const telemetry = { recordingStored: () => {}, recordingFetchFailed: () => {} } as unknown as Telemetry;
  const account: Account = {
    accountId: 'acme',
    name: 'Acme',
    timeZone: 'UTC',
    currency: 'USD',
    twilio: { accountSid: `AC${'a'.repeat(32)}`, authTokenSecret: 'twilio/acme/auth-token' },
    telnyx: { publicKeySecrets: ['telnyx/acme/public-key'] },
    vonage: { apiKey: 'k', applicationId: 'app-1', signatureSecretSecrets: ['vonage/acme/sig'], privateKeySecret: 'vonage/acme/private-key' },
    plivo: { authId: 'MAACME', authTokenSecrets: ['plivo/acme/token', 'plivo/acme/token-old'] },
  };
  const SECRETS: Record<string, string> = { 'vonage/acme/private-key': PRIVATE_PEM, 'plivo/acme/token': 'plivo-current', 'plivo/acme/token-old': 'plivo-old' };
  function run(callId: string, recordingUrl: string, acct: Account = account) {
    const downloads: { url: string; provider: string; credentials: MediaCredentials; key: string }[] = [];
    const call: StoredCall = { callId, accountId: 'acme', events: [], rating: null, ratedAt: null, startedAt: null, endedAt: null, durationSec: null, recording: null };
    const deps: FetchRecordingDeps = {
      calls: { getCall: async () => call, setRecording: async () => {} },
      config: { getAccount: async () => acct },
      secrets: { getSecret: async (n) => SECRETS[n] ?? Promise.reject(new Error(`no secret ${n}`)) },
      media: { store: async (a) => (downloads.push(a), { sha256: 'f'.repeat(64), bytes: 1, contentType: 'audio/mpeg' }) },
      now: () => new Date('2026-11-24T03:00:00.000Z'),
      telemetry,
      log,
    };
    const job = parseRecordingJob(JSON.stringify({ v: 1, accountId: 'acme', callId, recordingId: 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e', recordingUrl, recordingDurationSec: 10 }));
    return { done: fetchRecording(job, deps), downloads };
  }

  it('Telnyx: the presigned URL, no credentials', async () => {
    const r = run('telnyx:7f3c', 'https://s3.amazonaws.com/rec/b1.wav?X-Amz-Signature=x');
    expect(await r.done).toBe('stored');
    expect(r.downloads).toEqual([{ url: 'https://s3.amazonaws.com/rec/b1.wav?X-Amz-Signature=x', provider: 'telnyx', credentials: { kind: 'none' }, key: 'recordings/acme/telnyx:7f3c.wav', tags: expect.any(Object) }]);
  });

  it("Vonage: a bearer JWT for the account's application; without a private key the job fails (retried, then dead-lettered)", async () => {
    const r = run('vonage:CON-1', 'https://api.nexmo.com/v1/files/c9d8');
    expect(await r.done).toBe('stored');
    const credentials = r.downloads[0]!.credentials as { kind: 'bearer'; token: string };
    expect(credentials.kind).toBe('bearer');
    expect(JSON.parse(Buffer.from(credentials.token.split('.')[1]!, 'base64url').toString())).toMatchObject({ application_id: 'app-1', iat: 1_795_489_200 });
    expect(r.downloads[0]!.key).toBe('recordings/acme/vonage:CON-1.mp3');
    const { privateKeySecret: _none, ...noKey } = account.vonage!;
    await expect(run('vonage:CON-1', 'https://api.nexmo.com/v1/files/c9d8', { ...account, vonage: noKey }).done).rejects.toThrow(/no Vonage private key/);
  });

  it('Plivo: basic auth with the Auth ID and the first (current) auth token', async () => {
    const r = run('plivo:c5a1', 'https://media.plivo.com/v1/Account/MAACME/Recording/f8.mp3');
    expect(await r.done).toBe('stored');
    expect(r.downloads[0]).toMatchObject({ provider: 'plivo', credentials: { kind: 'basic', username: 'MAACME', password: 'plivo-current' }, key: 'recordings/acme/plivo:c5a1.mp3' });
  });
});

describe('per-carrier media hosts', () => {
  const store = new S3RecordingStore({
    bucket: 'b',
    allowedHosts: ['api.twilio.com'],
    carrierHosts: { telnyx: ['s3.amazonaws.com'], vonage: ['api.nexmo.com'], plivo: ['media.plivo.com'] },
  });
  const none: MediaCredentials = { kind: 'none' };

  it("refuses a carrier's recording on a host allowed only for another provider, before any request", async () => {
    for (const [provider, url] of [
      ['plivo', 'https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1.wav'],
      ['twilio', 'https://media.plivo.com/v1/Account/MA/Recording/f8.mp3'],
      ['vonage', 'https://media.plivo.com/v1/files/x'],
      ['telnyx', 'https://evil.example/r.wav'],
    ] as const) {
      await expect(store.store({ url, provider, credentials: none, key: 'k' }), `${provider} ${url}`).rejects.toThrow(RecordingFetchError);
    }
    const noCarriers = new S3RecordingStore({ bucket: 'b', allowedHosts: ['api.twilio.com'] });
    await expect(noCarriers.store({ url: 'https://media.plivo.com/x.mp3', provider: 'plivo', credentials: none, key: 'k' })).rejects.toThrow(/not allowed/);
  });

  it('CARRIER_RECORDING_HOSTS defaults to each carrier\'s public media hosts, and is validated at cold start', () => {
    expect(loadConfig(['carrierRecordingHosts'], {})).toEqual({ carrierRecordingHosts: CARRIER_RECORDING_HOSTS_DEFAULT });
    expect(loadConfig(['carrierRecordingHosts'], { CARRIER_RECORDING_HOSTS: '{"telnyx":["S3.amazonaws.com"],"vonage":["127.0.0.1:4100"],"plivo":["media.plivo.com"]}' })).toEqual({
      carrierRecordingHosts: { telnyx: ['s3.amazonaws.com'], vonage: ['127.0.0.1:4100'], plivo: ['media.plivo.com'] },
    });
    for (const bad of ['not json', '{"telnyx":["a"],"vonage":["b"]}', '{"telnyx":[],"vonage":["b"],"plivo":["c"]}', '{"telnyx":["a b"],"vonage":["b"],"plivo":["c"]}']) {
      expect(() => loadConfig(['carrierRecordingHosts'], { CARRIER_RECORDING_HOSTS: bad }), bad).toThrow(ConfigError);
    }
  });
});
