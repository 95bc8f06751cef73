import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyEventV2, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../../infra/resources';
import { fakeRecordingBytes, fakeRecordingDurationSec } from '../../../infra/local/fake-media';
import { runFileContents } from '../../../infra/local/run-file';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { handler as echo } from '../../support/echo-handler';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * The stack wired with stand-in handlers: the ingest stand-in enqueues the request body with the SDK exactly as
 * a handler would (configuration from process.env), the consumers record what they get.
 */
describe('startLocalStack', () => {
  let stack: LocalStack;
  const consumed: { fn: string; bodies: string[] }[] = [];
  const envBefore = { main: process.env[ENV.mainTable], region: process.env.AWS_REGION };

  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      quiet: true,
      pollersPerQueue: 1,
      handlers: {
        api: echo,
        ingestTwilio: async (event: APIGatewayProxyEventV2) => {
          const sqs = new SQSClient({ endpoint: process.env.AWS_ENDPOINT_URL_SQS });
          await sqs.send(new SendMessageCommand({ QueueUrl: process.env[ENV.ingestQueueUrl], MessageBody: event.body ?? '' }));
          sqs.destroy();
          return { statusCode: 204 };
        },
        ledgerWriter: async (event: SQSEvent) => {
          consumed.push({ fn: 'ledgerWriter', bodies: event.Records.map((r) => r.body) });
          return { batchItemFailures: [] };
        },
        recordingFetcher: async (event: SQSEvent) => {
          consumed.push({ fn: 'recordingFetcher', bodies: event.Records.map((r) => r.body) });
        },
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('sets the handler environment of docs/CONTRACTS.md, with generated secrets', () => {
    const { env, names, secrets, seed } = stack;
    expect(env).toMatchObject({
      [ENV.mainTable]: names.mainTable,
      [ENV.ledgerTable]: names.ledgerTable,
      [ENV.ingestQueueUrl]: names.ingestQueueUrl,
      [ENV.recordingsQueueUrl]: names.recordingsQueueUrl,
      [ENV.archiveBucket]: names.archiveBucket,
      [ENV.recordingsBucket]: names.recordingsBucket,
      [ENV.publicBaseUrl]: stack.baseUrl,
      [ENV.secretsRef]: 'env:',
      [ENV.callerHashKeyRef]: 'env:CALLER_HASH_KEY',
      CALLER_HASH_KEY: secrets.callerHashKey,
      RECORDING_URL_ALLOWED_HOSTS: '127.0.0.1,localhost',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
    });
    // The demo seed's account: authTokenSecret twilio/acme-roofing/auth-token.
    expect(seed.accounts[0]!.twilio!.authTokenSecret).toBe('twilio/acme-roofing/auth-token');
    expect(env.SECRET_TWILIO_ACME_ROOFING_AUTH_TOKEN).toBe(secrets.twilioAuthTokens['acme-roofing']);
    expect(secrets.twilioAuthTokens['acme-roofing']).toMatch(/^[0-9a-f]{32}$/);
    expect(secrets.apiKeys.map((k) => k.label)).toEqual(['demo-admin', 'demo-analyst']);
    for (const [name, value] of Object.entries(env)) expect(process.env[name]).toBe(value);
  });

  it('loads the seed in the main-table layout, API keys as sha256 only', async () => {
    const get = async (pk: string, sk: string) =>
      (await stack.clients.dynamodb.send(new GetItemCommand({ TableName: stack.names.mainTable, Key: { pk: { S: pk }, sk: { S: sk } } }))).Item;
    const account = unmarshall((await get('ACCT#acme-roofing', 'ACCOUNT'))!);
    expect(account).toMatchObject({ accountId: 'acme-roofing', currency: 'USD', twilio: { accountSid: stack.seed.accounts[0]!.twilio!.accountSid } });
    expect(unmarshall((await get('ACCT#acme-roofing', 'CAMP#roofing-tx'))!)).toMatchObject({
      termsVersions: [expect.objectContaining({ version: 1, priceCents: 4500, bufferSec: 90 })],
    });
    expect(unmarshall((await get('NUM#+15125550302', 'NUM'))!)).toMatchObject({
      accountId: 'acme-roofing',
      assignments: [expect.objectContaining({ publisherId: 'pub-midway', subSource: null })],
    });
    const admin = stack.secrets.apiKeys.find((k) => k.role === 'admin')!;
    expect(unmarshall((await get(`APIKEY#${sha256(admin.key)}`, 'APIKEY'))!)).toEqual({
      pk: `APIKEY#${sha256(admin.key)}`,
      sk: 'APIKEY',
      accountId: 'acme-roofing',
      role: 'admin',
      label: 'demo-admin',
    });
    const all = await stack.clients.dynamodb.send(new ScanCommand({ TableName: stack.names.mainTable }));
    const dump = JSON.stringify(all.Items);
    for (const k of stack.secrets.apiKeys) expect(dump).not.toContain(k.key);
    const s = stack.seed;
    expect(all.Count).toBe(s.accounts.length + s.publishers.length + s.campaigns.length + s.trackingNumbers.length + s.apiKeys.length);
  });

  it('routes HTTP to the function and SQS to its consumer; waitForIdle drains', async () => {
    const health = await fetch(`${stack.baseUrl}/health`);
    expect(health.status).toBe(200);
    const res = await fetch(`${stack.baseUrl}/webhooks/twilio/acme-roofing`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'CallSid=CA1&CallStatus=ringing',
    });
    expect(res.status).toBe(204);
    await stack.waitForIdle(10_000);
    // API Gateway delivered the form base64-encoded; the stand-in forwarded the event body as is.
    expect(consumed).toEqual([{ fn: 'ledgerWriter', bodies: [Buffer.from('CallSid=CA1&CallStatus=ringing').toString('base64')] }]);
    expect(stack.pollerStats().ingest).toMatchObject({ received: 1, succeeded: 1, failed: 0, inFlight: 0 });

    const api = await fetch(`${stack.baseUrl}/v1/calls/twilio%3ACA1`);
    expect(((await api.json()) as { event: APIGatewayProxyEventV2 }).event.pathParameters).toEqual({ callId: 'twilio:CA1' });
  });

  it('serves recordings from the fake media host with the account credentials only', async () => {
    const account = stack.seed.accounts[0]!;
    const url = stack.media.recordingUrl(account.twilio!.accountSid, 'RE0123456789abcdef0123456789abcdef');
    expect(url.startsWith(stack.mediaBaseUrl)).toBe(true);
    const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

    expect((await fetch(`${url}.wav`)).status).toBe(401);
    expect((await fetch(`${url}.wav`, { headers: basic(account.twilio!.accountSid, 'wrong') })).status).toBe(401);
    const ok = await fetch(`${url}.wav`, { headers: basic(account.twilio!.accountSid, stack.secrets.twilioAuthTokens[account.accountId]!) });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('audio/x-wav');
    const bytes = Buffer.from(await ok.arrayBuffer());
    expect(sha256(bytes)).toBe(sha256(fakeRecordingBytes('RE0123456789abcdef0123456789abcdef')));
    expect(stack.media.requestsFor('RE0123456789abcdef0123456789abcdef')).toBe(3);
    expect(stack.media.stats()).toMatchObject({ served: 1, unauthorized: 2 });

    stack.media.failNext('RE0123456789abcdef0123456789abcdef', 1, 503);
    expect((await fetch(url, { headers: basic(account.twilio!.accountSid, stack.secrets.twilioAuthTokens[account.accountId]!) })).status).toBe(503);
  });

  it('writes the run file contents for tools that drive a running stack', () => {
    const run = runFileContents(stack, 4242);
    expect(run).toEqual({
      baseUrl: stack.baseUrl,
      mediaBaseUrl: stack.mediaBaseUrl,
      pid: 4242,
      endpoints: stack.endpoints,
      names: stack.names,
      apiKeys: stack.secrets.apiKeys,
      twilio: { 'acme-roofing': { accountSid: stack.seed.accounts[0]!.twilio!.accountSid, authToken: stack.secrets.twilioAuthTokens['acme-roofing'] } },
      // The demo seed sets no carrier: nothing generated.
      carriers: { values: {}, telnyxSigningKeys: {}, vonagePublicKeys: {} },
    });
  });

  it('stop() ends everything, restores process.env, and is idempotent', async () => {
    const port = new URL(stack.env.AWS_ENDPOINT_URL_DYNAMODB!).port;
    await Promise.all([stack.stop(), stack.stop()]);
    expect(process.env[ENV.mainTable]).toBe(envBefore.main);
    expect(process.env.AWS_REGION).toBe(envBefore.region);
    await expect(fetch(`${stack.baseUrl}/health`)).rejects.toThrow();
    let jvms = '';
    try {
      jvms = execFileSync('pgrep', ['-f', `DynamoDBLocal.jar.* port=${port}$`], { encoding: 'utf8' });
    } catch {
      // none
    }
    expect(jvms).toBe('');
  });
});

describe('fakeRecordingBytes', () => {
  it('is a valid 8 kHz mono 16-bit PCM WAV of 2–4 s, deterministic per RecordingSid', () => {
    const a = fakeRecordingBytes('REaaaa');
    expect(a.equals(fakeRecordingBytes('REaaaa'))).toBe(true);
    expect(a.equals(fakeRecordingBytes('REbbbb'))).toBe(false);
    expect(a.toString('ascii', 0, 4)).toBe('RIFF');
    expect(a.readUInt32LE(4)).toBe(a.length - 8);
    expect(a.toString('ascii', 8, 16)).toBe('WAVEfmt ');
    expect(a.readUInt16LE(20)).toBe(1);
    expect(a.readUInt16LE(22)).toBe(1);
    expect(a.readUInt32LE(24)).toBe(8000);
    expect(a.readUInt16LE(34)).toBe(16);
    expect(a.toString('ascii', 36, 40)).toBe('data');
    const seconds = a.readUInt32LE(40) / 16000;
    expect(seconds).toBe(fakeRecordingDurationSec('REaaaa'));
    expect([2, 3, 4]).toContain(seconds);
  });
});
