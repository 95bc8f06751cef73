/**
 * Pure parts of the adapters: config parsing, secret resolution, HTTP helpers and the one problem mapping,
 * slot encoding, cursors, archive keys.
 */
import { thrown, PROBLEM } from '../../support/problems';
import { describe, expect, it } from 'vitest';
import { archiveGroups, archiveKey } from '../../../shared/adapters/calls/archive';
import { decodeCursor, encodeCursor } from '../../../shared/adapters/http/cursor';
import { ConfigError, loadConfig } from '../../../shared/adapters/platform/env';
import { authenticate, header, rawBody, sha256Hex } from '../../../shared/adapters/http/http';
import { problemResponse } from '../../../shared/adapters/http/problems';
import { decodeCallerTraits, decodeSlot, encodeCallerTraits, encodeSlot } from '../../../shared/adapters/calls/call-item';
import { assertAllowedRecordingUrl, RecordingFetchError } from '../../../shared/adapters/recordings/recordings';
import { envNameForSecret, secretRefFor, SecretNotFound, SecretResolver } from '../../../shared/adapters/platform/secrets';
import { slotName } from '../../../shared/domain/calls/fold';
import { BadRequest, MethodNotAllowed } from '../../../shared/domain/kernel/problems';
import type { CallEvent, CallStatusEvent, IngestMessage, RecordingStatusEvent } from '../../../shared/domain/calls/events';
import { unmarshall } from '@aws-sdk/util-dynamodb';

describe('loadConfig', () => {
  const good = {
    MAIN_TABLE: 'cl-main',
    LEDGER_TABLE: 'cl-ledger',
    INGEST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/ingest',
    PUBLIC_BASE_URL: 'https://hooks.example.com/',
    CALLER_HASH_KEY_REF: 'ssm:/callledger/dev/caller-hash-key',
    SECRETS_REF: 'ssm:/callledger/dev/',
  };

  it('parses the requested settings (trailing slash of the public URL dropped, hosts defaulted)', () => {
    const config = loadConfig(['mainTable', 'publicBaseUrl', 'secretsRef', 'callerHashKeyRef', 'recordingUrlAllowedHosts'], good);
    expect(config).toEqual({
      mainTable: 'cl-main',
      publicBaseUrl: 'https://hooks.example.com',
      secretsRef: 'ssm:/callledger/dev/',
      callerHashKeyRef: 'ssm:/callledger/dev/caller-hash-key',
      recordingUrlAllowedHosts: ['api.twilio.com'],
    });
    expect(loadConfig(['recordingUrlAllowedHosts'], { RECORDING_URL_ALLOWED_HOSTS: ' api.twilio.com, 127.0.0.1:4100 ' })).toEqual({
      recordingUrlAllowedHosts: ['api.twilio.com', '127.0.0.1:4100'],
    });
  });

  it('names every missing or invalid variable in one error', () => {
    let error: unknown;
    try {
      loadConfig(['mainTable', 'ingestQueueUrl', 'publicBaseUrl', 'secretsRef', 'archiveBucket'], {
        MAIN_TABLE: '',
        INGEST_QUEUE_URL: 'not a url',
        PUBLIC_BASE_URL: 'ftp://x',
        SECRETS_REF: 'vault:',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    for (const name of ['MAIN_TABLE: missing', 'INGEST_QUEUE_URL', 'PUBLIC_BASE_URL', 'SECRETS_REF', 'ARCHIVE_BUCKET: missing']) {
      expect(issues).toContain(name);
    }
    expect((error as ConfigError).issues).toHaveLength(5);
  });
});

describe('SecretResolver', () => {
  it('maps names to env vars and SSM parameters', () => {
    expect(envNameForSecret('twilio/acme-roofing/auth-token')).toBe('SECRET_TWILIO_ACME_ROOFING_AUTH_TOKEN');
    expect(secretRefFor('env:', 'twilio/acme/auth-token')).toBe('env:SECRET_TWILIO_ACME_AUTH_TOKEN');
    expect(secretRefFor('ssm:/callledger/prod/', 'twilio/acme/auth-token')).toBe('ssm:/callledger/prod/twilio/acme/auth-token');
  });

  it('reads env secrets and fails clearly when one is missing', async () => {
    const resolver = new SecretResolver({ prefix: 'env:', env: { SECRET_TWILIO_ACME_AUTH_TOKEN: 'tok', HASH_KEY: 'k' } });
    expect(await resolver.getSecret('twilio/acme/auth-token')).toBe('tok');
    expect(await resolver.resolve('env:HASH_KEY')).toBe('k');
    await expect(resolver.getSecret('twilio/other/auth-token')).rejects.toBeInstanceOf(SecretNotFound);
  });

  it('caches SSM reads for five minutes', async () => {
    let now = 0;
    const reads: string[] = [];
    const resolver = new SecretResolver({
      prefix: 'ssm:/callledger/dev/',
      now: () => now,
      readSsm: async (name) => {
        reads.push(name);
        return `v${reads.length}`;
      },
    });
    expect(await resolver.getSecret('twilio/acme/auth-token')).toBe('v1');
    now = 299_999;
    expect(await resolver.getSecret('twilio/acme/auth-token')).toBe('v1');
    now = 300_001;
    expect(await resolver.getSecret('twilio/acme/auth-token')).toBe('v2');
    expect(reads).toEqual(['/callledger/dev/twilio/acme/auth-token', '/callledger/dev/twilio/acme/auth-token']);
  });
});

describe('http helpers', () => {
  it('decodes base64 bodies and looks headers up case-insensitively', () => {
    expect(rawBody({ body: Buffer.from('a=1&b=%2B').toString('base64'), isBase64Encoded: true } as never).toString()).toBe('a=1&b=%2B');
    expect(rawBody({ body: 'a=1', isBase64Encoded: false } as never).toString()).toBe('a=1');
    expect(rawBody({ isBase64Encoded: false } as never).length).toBe(0);
    expect(header({ headers: { 'X-Twilio-Signature': 'sig' } }, 'x-twilio-signature')).toBe('sig');
    expect(header({ headers: {} }, 'content-type')).toBeUndefined();
  });

  it('renders problems as problem+json and unknown errors as a generic 500', () => {
    const bad = problemResponse(new BadRequest('Bad.', [{ field: 'from', message: 'must be a date' }]), '/v1/ledger');
    expect(bad.statusCode).toBe(400);
    expect(bad.headers?.['content-type']).toBe('application/problem+json');
    expect(JSON.parse(String(bad.body))).toEqual({
      type: 'https://callledger.dev/problems/malformed-request',
      title: 'Malformed request',
      status: 400,
      detail: 'Bad.',
      instance: '/v1/ledger',
      errors: [{ field: 'from', message: 'must be a date' }],
    });
    expect(problemResponse(new MethodNotAllowed(['POST'])).headers?.allow).toBe('POST');

    const boom = problemResponse(new Error('ConditionalCheckFailed on table cl-main with key CALL#x'));
    expect(boom.statusCode).toBe(500);
    expect(String(boom.body)).not.toContain('cl-main');
    expect(JSON.parse(String(boom.body))).toMatchObject({ status: 500, title: 'Internal Server Error' });
  });

  it('authenticates bearer keys by their sha256', async () => {
    const keys = { getApiKey: async (h: string) => (h === sha256Hex('secret-key') ? { accountId: 'acme', role: 'analyst' as const } : null) };
    expect(await authenticate({ headers: { Authorization: 'Bearer secret-key' } }, keys)).toEqual({ accountId: 'acme', role: 'analyst' });
    await expect(authenticate({ headers: {} }, keys)).rejects.toMatchObject({ kind: 'unauthenticated', code: 'unauthorized' });
    await expect(authenticate({ headers: { authorization: 'Basic abc' } }, keys)).rejects.toMatchObject({ kind: 'unauthenticated', code: 'unauthorized' });
    await expect(authenticate({ headers: { authorization: 'Bearer other' } }, keys)).rejects.toMatchObject({ kind: 'unauthenticated', code: 'unauthorized' });
  });
});

describe('call item slots', () => {
  const callId = 'twilio:CA0123456789abcdef0123456789abcdef';
  const status: CallStatusEvent = {
    kind: 'call.status',
    eventId: `${callId}:status:completed`,
    provider: 'twilio',
    accountId: 'acme',
    callId,
    occurredAt: '2026-11-24T02:13:17.000Z',
    receivedAt: '2026-11-24T02:13:18.000Z',
    sequenceNumber: null,
    status: 'completed',
    direction: 'inbound',
    from: '+15125550123',
    to: '+15125550101',
    durationSec: 184,
    answeredBy: null,
    stirVerstat: null,
    digits: null,
    fromState: 'TX',
    fromZip: null,
    fromCountry: 'US',
    parentCallId: null,
  };
  const recording: RecordingStatusEvent = {
    kind: 'recording.status',
    eventId: 'foreign-id-without-call-prefix',
    provider: 'twilio',
    accountId: 'acme',
    callId,
    occurredAt: '2026-11-24T02:13:17.000Z',
    receivedAt: '2026-11-24T02:13:18.000Z',
    sequenceNumber: 4,
    recordingId: 'RE0123456789abcdef0123456789abcdef',
    recordingStatus: 'completed',
    recordingUrl: null,
    recordingDurationSec: 12,
  };

  const roundTrip = (event: CallEvent) => decodeSlot(slotName(event), unmarshall(encodeSlot(event).M!), 'acme', callId);
  /**
   * What a slot keeps of an event: never the caller's number (read back as ''), the caller's location only on
   * the call's own terminal slots.
   */
  const atRest = (event: CallEvent): CallEvent =>
    event.kind === 'recording.status'
      ? event
      : {
          ...event,
          from: '',
          ...(event.parentCallId === null && ['completed', 'busy', 'no-answer', 'failed', 'canceled'].includes(event.status)
            ? {}
            : { fromState: null, fromZip: null, fromCountry: null }),
        };

  it('round-trips events exactly, but for the caller, while storing neither ids, nulls nor what the slot name says', () => {
    for (const event of [status, recording]) {
      const stored = JSON.stringify(encodeSlot(event));
      expect(stored).not.toContain('NULL');
      expect(stored).not.toContain('acme');
      expect(stored).not.toContain('twilio');
      expect(stored).not.toContain('completed');
      expect(roundTrip(event)).toEqual(atRest(event));
    }
    // Times as epoch ms, receivedAt as the delay after occurredAt.
    expect(encodeSlot(status).M).toMatchObject({ o: { N: String(Date.parse(status.occurredAt)) }, r: { N: '1000' } });
  });

  it('keeps what it cannot derive: foreign event ids, non-canonical times, gather digits, another provider', () => {
    const odd: CallStatusEvent = {
      ...status,
      status: 'in-progress',
      digits: '1#',
      eventId: `${callId}:status:in-progress:gather`,
      occurredAt: '2026-11-24T02:13:17Z',
      sequenceNumber: 0,
      durationSec: 0,
    };
    expect(slotName(odd)).toBe('s_in-progress_gather');
    expect(roundTrip(odd)).toEqual(atRest(odd));
    expect(JSON.stringify(encodeSlot(odd))).not.toContain('gather');
    for (const event of [{ ...recording, receivedAt: recording.occurredAt }, { ...status, eventId: 'custom' }, { ...odd, receivedAt: 'x' }]) {
      expect(roundTrip(event)).toEqual(atRest(event));
    }
    expect(encodeSlot({ ...recording, receivedAt: recording.occurredAt }).M).not.toHaveProperty('r');
  });

  it('never stores the caller number; location only on the own terminal slot; a legacy clear `f` is still read', () => {
    const national = '5125550123';
    const ringing: CallStatusEvent = { ...status, status: 'ringing', eventId: `${callId}:status:ringing`, durationSec: null, fromZip: '78704' };
    const leg: CallStatusEvent = { ...status, callId: 'twilio:CAchild', eventId: 'twilio:CAchild:status:completed', parentCallId: callId, fromZip: '78704' };
    for (const event of [status, { ...status, fromZip: '78704' }, ringing, leg]) {
      const stored = JSON.stringify(encodeSlot(event));
      expect(stored).not.toContain(national);
      // A child leg is read back on its parent's item (its call id is the parent's there).
      if (event !== leg) expect(roundTrip(event)).toEqual(atRest(event));
    }
    expect(decodeSlot(slotName(leg), unmarshall(encodeSlot(leg).M!), 'acme', callId)).toMatchObject({ from: '', fromZip: null, parentCallId: callId });
    expect(JSON.stringify(encodeSlot({ ...status, fromZip: '78704' }))).toContain('78704');
    expect(JSON.stringify(encodeSlot(ringing))).not.toContain('78704');
    expect(JSON.stringify(encodeSlot(leg))).not.toContain('78704');
    // An item written before the change kept `f`: its events read back with the number.
    const legacy = { ...unmarshall(encodeSlot(status).M!), f: status.from };
    expect(decodeSlot(slotName(status), legacy, 'acme', callId)).toEqual(status);
  });

  it('stores the caller traits as one short string and reads back exactly them', () => {
    const traits = [
      { numberClass: 'valid', areaCode: '512', numberBlock: '6:AbCdEfGhIjKlMn_-' },
      { numberClass: 'unallocatable', areaCode: null, numberBlock: '7:0123456789abcdef' },
      { numberClass: 'invalid', areaCode: null, numberBlock: null },
      { numberClass: 'withheld', areaCode: null, numberBlock: null },
    ] as const;
    for (const t of traits) expect(decodeCallerTraits(encodeCallerTraits(t).S)).toEqual(t);
    expect(encodeCallerTraits(traits[0]).S).toBe('v:512:6:AbCdEfGhIjKlMn_-');
    for (const bad of [undefined, 7, '', 'x:512:', 'v:5125:']) expect(decodeCallerTraits(bad)).toBeNull();
  });

  it('stores a recording URL without the recording id it ends in', () => {
    const twilioUrl = `https://api.twilio.com/2010-04-01/Accounts/AC${'0'.repeat(32)}/Recordings/${recording.recordingId}`;
    const withUrl = { ...recording, recordingUrl: twilioUrl };
    expect(JSON.stringify(encodeSlot(withUrl))).not.toContain(recording.recordingId);
    expect(roundTrip(withUrl)).toEqual(withUrl);
    const other = { ...recording, recordingUrl: 'http://127.0.0.1:4100/media/x' };
    expect(roundTrip(other)).toEqual(other);
  });
});

describe('cursors', () => {
  it('round-trip and are bound to the partition they were issued for', () => {
    const cursor = encodeCursor({ pk: 'ACCT#a', sk: '2026#x' });
    expect(decodeCursor(cursor, ['pk', 'sk'], { name: 'pk', value: 'ACCT#a' })).toEqual({ pk: { S: 'ACCT#a' }, sk: { S: '2026#x' } });
    expect(thrown(() => decodeCursor(cursor, ['pk', 'sk'], { name: 'pk', value: 'ACCT#b' }))).toMatchObject(PROBLEM.BadRequest);
    expect(thrown(() => decodeCursor('!!!', ['pk', 'sk'], { name: 'pk', value: 'ACCT#a' }))).toMatchObject(PROBLEM.BadRequest);
    expect(thrown(() => decodeCursor(encodeCursor({ pk: 'ACCT#a' }), ['pk', 'sk'], { name: 'pk', value: 'ACCT#a' }))).toMatchObject(PROBLEM.BadRequest);
  });
});

describe('archive keys', () => {
  it('groups a batch per account and UTC day of receipt', () => {
    const msg = (accountId: string, receivedAt: string) => ({ v: 1, event: { accountId }, raw: { receivedAt } }) as unknown as IngestMessage;
    const groups = archiveGroups('b1', [
      msg('acme', '2026-11-23T23:59:59.999Z'),
      msg('acme', '2026-11-24T00:00:00.000Z'),
      msg('zeta', '2026-11-24T10:00:00.000Z'),
      msg('acme', '2026-11-24T05:00:00.000Z'),
    ]);
    expect([...groups].map(([k, v]) => [k, v.length])).toEqual([
      ['raw/acme/2026/11/23/b1.jsonl.gz', 1],
      ['raw/acme/2026/11/24/b1.jsonl.gz', 2],
      ['raw/zeta/2026/11/24/b1.jsonl.gz', 1],
    ]);
    expect(archiveKey('acme', '2026-01-02T03:04:05.000Z', 'x')).toBe('raw/acme/2026/01/02/x.jsonl.gz');
  });
});

describe('recording URL guard', () => {
  it('allows only listed hosts, https (http on loopback), no embedded credentials', () => {
    const hosts = ['api.twilio.com', '127.0.0.1:4100'];
    expect(assertAllowedRecordingUrl('https://api.twilio.com/2010-04-01/x.wav', hosts).host).toBe('api.twilio.com');
    expect(assertAllowedRecordingUrl('http://127.0.0.1:4100/x.wav', hosts).port).toBe('4100');
    for (const bad of ['http://api.twilio.com/x', 'https://api.twilio.com.evil.com/x', 'https://evil.com/x', 'https://u:p@api.twilio.com/x', 'http://127.0.0.1:9999/x', 'nope']) {
      expect(() => assertAllowedRecordingUrl(bad, hosts), bad).toThrow(RecordingFetchError);
    }
  });
});
