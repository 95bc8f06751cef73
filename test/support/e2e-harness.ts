/**
 * Shared pieces of the end-to-end tests: a seed with a second account, Twilio as it calls the public webhook
 * (real form bodies, real X-Twilio-Signature, over HTTP), a buyer reading the API with a bearer key, and direct
 * looks into the emulators to prove what was (and was not) written.
 *
 * Every helper talks to a `LocalStack` booted by the test file; nothing here starts or stops anything.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { expect } from 'vitest';
import { ENV } from '../../infra/resources';
import { DEFAULT_SEED_FILE, type LocalStack } from '../../infra/local/stack';
import { rfc2822 } from '../../events/traffic';
import { twilioSignature } from '../../shared/domain/calls/providers/twilio';
import type { CallStatus } from '../../shared/domain/calls/events';

// ------------------------------------------------------------------------------------------------ seed

/** The demo account and what the tests know about it (events/seed/demo.json). */
export const ACME = {
  accountId: 'acme-roofing',
  campaignId: 'roofing-tx',
  priceCents: 4500,
  /** pub-bluesky / google-search */
  number: '+15125550101',
  publisherId: 'pub-bluesky',
  subSource: 'google-search',
  /** Same campaign, another publisher (pub-midway / comparison-site). */
  otherNumber: '+15125550301',
  otherPublisherId: 'pub-midway',
  otherSubSource: 'comparison-site',
  /** Assigned to nobody. */
  unassignedNumber: '+15125550999',
} as const;

/** A second buyer, so that account scoping can be tested. */
export const GLOBEX = {
  accountId: 'globex-hvac',
  accountSid: 'AC9a8b7c6d5e4f30211203f4e5d6c7b8a9',
  campaignId: 'hvac-fl',
  publisherId: 'pub-sunshine',
  subSource: 'display',
  number: '+13055550177',
  priceCents: 3100,
} as const;

export interface TempSeed {
  readonly file: string;
  cleanup(): Promise<void>;
}

/** events/seed/demo.json plus the GLOBEX account (its own publisher, campaign, number and admin key). */
export async function writeTwoAccountSeed(): Promise<TempSeed> {
  const demo = JSON.parse(await readFile(DEFAULT_SEED_FILE, 'utf8')) as Record<string, unknown[]>;
  const seed = {
    accounts: [
      ...demo.accounts!,
      {
        accountId: GLOBEX.accountId,
        name: 'Globex Heating & Air',
        timeZone: 'America/New_York',
        currency: 'USD',
        twilio: { accountSid: GLOBEX.accountSid, authTokenSecret: `twilio/${GLOBEX.accountId}/auth-token` },
      },
    ],
    apiKeys: [...demo.apiKeys!, { accountId: GLOBEX.accountId, role: 'admin', label: 'globex-admin' }],
    publishers: [...demo.publishers!, { accountId: GLOBEX.accountId, publisherId: GLOBEX.publisherId, name: 'Sunshine Media' }],
    campaigns: [
      ...demo.campaigns!,
      {
        accountId: GLOBEX.accountId,
        campaignId: GLOBEX.campaignId,
        name: 'AC repair, Florida',
        vertical: 'home_services',
        terms: { version: 1, priceCents: GLOBEX.priceCents, bufferSec: 60, duplicateWindowHours: 24 },
      },
    ],
    trackingNumbers: [
      ...demo.trackingNumbers!,
      { accountId: GLOBEX.accountId, number: GLOBEX.number, campaignId: GLOBEX.campaignId, publisherId: GLOBEX.publisherId, subSource: GLOBEX.subSource },
    ],
  };
  return writeSeed(seed);
}

/** Any seed (events/seed/demo.json's shape) written to a temporary file for `startLocalStack({ seedFile })`. */
export async function writeSeed(seed: unknown): Promise<TempSeed> {
  const dir = await mkdtemp(join(tmpdir(), 'callledger-e2e-'));
  const file = join(dir, 'seed.json');
  await writeFile(file, JSON.stringify(seed, null, 2));
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

// ------------------------------------------------------------------------------------------------ ids

function hex32(): string {
  return randomBytes(16).toString('hex');
}

export const newCallSid = (): string => `CA${hex32()}`;
export const newRecordingSid = (): string => `RE${hex32()}`;

/**
 * A fresh, valid US caller number per call. Area code 206 is used by neither the seed nor the traffic
 * generator, so a test's caller never collides with another call's duplicate-window marker.
 */
export function newCaller(): string {
  for (;;) {
    const exchange = 200 + Math.floor(Math.random() * 800);
    if (exchange % 100 === 11 || exchange === 555) continue;
    return `+1206${exchange}${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
  }
}

export const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

// ------------------------------------------------------------------------------------------------ Twilio

export type Form = [string, string][];

export interface CallSpec {
  readonly callSid: string;
  readonly from: string;
  readonly to: string;
}

/** Twilio, as it calls one account's webhook: signs every body with the account's auth token and the public URL. */
export class TwilioSender {
  readonly path: string;
  readonly url: string;

  constructor(
    private readonly stack: LocalStack,
    readonly accountId: string,
  ) {
    this.path = `/webhooks/twilio/${accountId}`;
    // The URL the ingest function verifies against (PUBLIC_BASE_URL), not necessarily where the stack listens.
    this.url = `${stack.env[ENV.publicBaseUrl] ?? stack.baseUrl}${this.path}`;
  }

  get accountSid(): string {
    const account = this.stack.seed.accounts.find((a) => a.accountId === this.accountId);
    if (!account) throw new Error(`no account ${this.accountId} in the seed`);
    return account.twilio!.accountSid;
  }

  get authToken(): string {
    const token = this.stack.secrets.twilioAuthTokens[this.accountId];
    if (!token) throw new Error(`no auth token for ${this.accountId}`);
    return token;
  }

  sign(form: Form, authToken = this.authToken): string {
    return twilioSignature(authToken, this.url, Object.fromEntries(form));
  }

  /**
   * The incoming-call request (no Timestamp: Twilio does not send one on the voice URL); `extra` adds parameters, e.g.
   * the INVITE's custom SIP headers of a call to a SIP domain (`SipHeader_X-…`), signed with the rest.
   */
  ringing(call: CallSpec, extra: Form = []): Form {
    return this.voice(call, 'ringing', [['StirVerstat', 'TN-Validation-Passed-A'], ...extra]);
  }

  /** The terminal status callback at `endMs`; CallDuration is `durationSec` for completed calls, else 0. */
  terminal(call: CallSpec, status: CallStatus, endMs: number, durationSec = 0): Form {
    return this.voice(call, status, [
      ['Timestamp', rfc2822(endMs)],
      ['CallbackSource', 'call-progress-events'],
      ['SequenceNumber', '0'],
      ['CallDuration', String(status === 'completed' ? durationSec : 0)],
      ...(status === 'completed' ? ([['Duration', String(Math.ceil(durationSec / 60))]] as Form) : []),
    ]);
  }

  /** The recording status callback (`completed`), RecordingUrl on the fake media host. */
  recording(call: CallSpec, recordingSid: string, atMs: number, durationSec: number): Form {
    return [
      ['AccountSid', this.accountSid],
      ['CallSid', call.callSid],
      ['RecordingSid', recordingSid],
      ['RecordingUrl', this.stack.media.recordingUrl(this.accountSid, recordingSid)],
      ['RecordingStatus', 'completed'],
      ['RecordingDuration', String(durationSec)],
      ['RecordingChannels', '2'],
      ['RecordingSource', 'DialVerb'],
      ['RecordingStartTime', rfc2822(atMs)],
      ['ErrorCode', '0'],
    ];
  }

  private voice(call: CallSpec, status: CallStatus, extra: Form): Form {
    return [
      ['AccountSid', this.accountSid],
      ['ApiVersion', '2010-04-01'],
      ['CallSid', call.callSid],
      ['CallStatus', status],
      ['Direction', 'inbound'],
      ['From', call.from],
      ['To', call.to],
      ['Caller', call.from],
      ['Called', call.to],
      ['FromState', 'WA'],
      ['FromZip', '98101'],
      ['FromCountry', 'US'],
      ...extra,
    ];
  }

  /** POSTs a signed form; returns the raw response. Options break one thing at a time. */
  async post(
    form: Form,
    opts: { body?: string; signature?: string | null; contentType?: string; method?: string; path?: string } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {
      'content-type': opts.contentType ?? 'application/x-www-form-urlencoded; charset=UTF-8',
      'user-agent': 'TwilioProxy/1.1',
    };
    const signature = opts.signature === undefined ? this.sign(form) : opts.signature;
    if (signature !== null) headers['x-twilio-signature'] = signature;
    const method = opts.method ?? 'POST';
    return fetch(`${this.stack.baseUrl}${opts.path ?? this.path}`, {
      method,
      headers,
      body: method === 'GET' || method === 'HEAD' ? undefined : (opts.body ?? new URLSearchParams(form).toString()),
    });
  }

  /** POSTs and requires Twilio's success answer: 204, empty body. */
  async deliver(form: Form): Promise<void> {
    const res = await this.post(form);
    const text = await res.text();
    expect(res.status, `webhook answered ${res.status}: ${text}`).toBe(204);
    expect(text).toBe('');
  }
}

// ------------------------------------------------------------------------------------------------ read API

export interface ApiResult<T = unknown> {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: T;
}

export async function apiGet<T = any>(stack: LocalStack, path: string, key: string | null, query: Record<string, string> = {}): Promise<ApiResult<T>> {
  const qs = new URLSearchParams(query).toString();
  const res = await fetch(`${stack.baseUrl}${path}${qs ? `?${qs}` : ''}`, {
    headers: key === null ? {} : { authorization: `Bearer ${key}` },
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), body: (text === '' ? null : JSON.parse(text)) as T };
}

export function apiKey(stack: LocalStack, accountId: string, role: 'admin' | 'analyst'): string {
  const key = stack.secrets.apiKeys.find((k) => k.accountId === accountId && k.role === role);
  if (!key) throw new Error(`no ${role} key for ${accountId}`);
  return key.key;
}

export const callPath = (callId: string): string => `/v1/calls/${encodeURIComponent(callId)}`;

/** Every page of GET /v1/ledger for the query. */
export async function allLedgerEntries(stack: LocalStack, key: string, query: Record<string, string> = {}): Promise<any[]> {
  const entries: any[] = [];
  let cursor: string | null = null;
  do {
    const res: ApiResult<any> = await apiGet(stack, '/v1/ledger', key, { ...query, limit: '100', ...(cursor ? { cursor } : {}) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    entries.push(...res.body.entries);
    cursor = res.body.cursor;
  } while (cursor);
  return entries;
}

/** A request with a body: `{ json }` is sent as application/json, `{ text, contentType }` as is (e.g. text/csv). */
export type ApiBody = { readonly json: unknown } | { readonly text: string; readonly contentType: string };

/** POST (or PUT) with a bearer key; the answer parsed as JSON when it has a body. */
export async function apiSend<T = any>(
  stack: LocalStack,
  method: 'POST' | 'PUT',
  path: string,
  key: string | null,
  body: ApiBody | null,
  query: Record<string, string> = {},
): Promise<ApiResult<T>> {
  const qs = new URLSearchParams(query).toString();
  const headers: Record<string, string> = key === null ? {} : { authorization: `Bearer ${key}` };
  let payload: string | undefined;
  if (body !== null && 'json' in body) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body.json);
  } else if (body !== null) {
    headers['content-type'] = body.contentType;
    payload = body.text;
  }
  const res = await fetch(`${stack.baseUrl}${path}${qs ? `?${qs}` : ''}`, { method, headers, body: payload });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), body: (text === '' ? null : JSON.parse(text)) as T };
}

/** Every page of GET /v1/disputes for the query. */
export async function allDisputes(stack: LocalStack, key: string, query: Record<string, string> = {}): Promise<any[]> {
  const disputes: any[] = [];
  let cursor: string | null = null;
  do {
    const res: ApiResult<any> = await apiGet(stack, '/v1/disputes', key, { ...query, limit: '100', ...(cursor ? { cursor } : {}) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    disputes.push(...res.body.disputes);
    cursor = res.body.cursor;
  } while (cursor);
  return disputes;
}

/** Every page of GET /v1/calls for the query, `pageSize` calls at a time. */
export async function allCalls(stack: LocalStack, key: string, query: Record<string, string> = {}, pageSize = 100): Promise<any[]> {
  const calls: any[] = [];
  let cursor: string | null = null;
  do {
    const res: ApiResult<any> = await apiGet(stack, '/v1/calls', key, { ...query, limit: String(pageSize), ...(cursor ? { cursor } : {}) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    calls.push(...res.body.calls);
    cursor = res.body.cursor;
  } while (cursor);
  return calls;
}

/** An RFC 9457 problem answer with the documented fields. */
export function expectProblem(res: ApiResult<any>, status: number, slug: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.contentType).toBe('application/problem+json');
  expect(res.body).toMatchObject({ type: `https://callledger.dev/problems/${slug}`, status });
  expect(typeof res.body.title).toBe('string');
  expect(res.body.title.length).toBeGreaterThan(0);
  expect(typeof res.body.detail).toBe('string');
  expect(res.body.detail.length).toBeGreaterThan(0);
}

export async function problemOf(res: Response): Promise<ApiResult<any>> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // left as text: expectProblem reports it
  }
  return { status: res.status, contentType: res.headers.get('content-type'), body };
}

// ------------------------------------------------------------------------------------------------ emulators

export async function scan(stack: LocalStack, table: string): Promise<Record<string, any>[]> {
  const items: Record<string, any>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const out = await stack.clients.dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true }));
    items.push(...(out.Items ?? []).map((i) => unmarshall(i)));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}

export const ledgerTable = (stack: LocalStack) => scan(stack, stack.names.ledgerTable);

export async function callItem(stack: LocalStack, callId: string): Promise<Record<string, any> | null> {
  const out = await stack.clients.dynamodb.send(
    new GetItemCommand({ TableName: stack.names.mainTable, Key: { pk: { S: `CALL#${callId}` }, sk: { S: 'CALL' } }, ConsistentRead: true }),
  );
  return out.Item ? unmarshall(out.Item) : null;
}

export async function bucketKeys(stack: LocalStack, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await stack.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    keys.push(...(out.Contents ?? []).map((o) => o.Key ?? ''));
    token = out.NextContinuationToken;
  } while (token);
  return keys.sort();
}

/** Visible + in flight + delayed messages of a queue. */
export async function queueDepth(stack: LocalStack, queueUrl: string): Promise<number> {
  const out = await stack.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const a = out.Attributes ?? {};
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
}
