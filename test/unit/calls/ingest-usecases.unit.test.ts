/**
 * Use cases with in-memory ports: the order of the ingest checks, archive-first batch handling, the
 * recording fetcher's idempotency.
 */
import { describe, expect, it } from 'vitest';
import { fetchRecording, type FetchRecordingDeps } from '../../../shared/app/recordings/fetch-recording';
import { ingestWebhook, type IngestDeps, type WebhookRequest } from '../../../shared/app/calls/ingest';
import type { Log, StoredCall, Telemetry } from '../../../shared/app/kernel/ports';
import type { RecordingJob } from '../../../shared/app/recordings/ports';
import { processIngestBatch, type ProcessIngestDeps } from '../../../shared/app/rating/process-ingest-batch';
import { twilioSignature } from '../../../shared/domain/calls/providers/twilio';
import type { Account } from '../../../shared/domain/catalog/types';
import type { IngestMessage } from '../../../shared/domain/calls/events';
import { statusOf } from '../../../shared/adapters/http/problems';

const log: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
function telemetry() {
  const seen = { accepted: 0, rejected: [] as string[], fetchFailures: 0 };
  const t: Telemetry = {
    webhookAccepted: () => void (seen.accepted += 1),
    webhookRejected: (r) => void seen.rejected.push(r),
    callRated: () => {},
    ingestBatchProcessed: () => {},
    callAccountConflict: () => {},
    recordingStored: () => {},
    recordingFetchFailed: () => void (seen.fetchFailures += 1),
  };
  return { t, seen };
}

const account: Account = {
  accountId: 'acme',
  name: 'Acme',
  timeZone: 'America/Chicago',
  currency: 'USD',
  twilio: { accountSid: `AC${'a'.repeat(32)}`, authTokenSecret: 'twilio/acme/auth-token' },
};
const TOKEN = 'token-123';
const BASE = 'https://hooks.example.com';

describe('ingestWebhook check order', () => {
  const sent: IngestMessage[] = [];
  const { t, seen } = telemetry();
  const deps: IngestDeps = {
    config: { getAccount: async (id) => (id === 'acme' ? account : null) },
    secrets: { getSecret: async () => TOKEN },
    queue: { send: async (m) => void sent.push(m) },
    publicBaseUrl: BASE,
    now: () => new Date('2026-11-24T02:13:18.000Z'),
    telemetry: t,
    log,
  };
  const params = {
    AccountSid: account.twilio!.accountSid,
    CallSid: `CA${'b'.repeat(32)}`,
    CallStatus: 'ringing',
    From: '+15125550123',
    To: '+15125550101',
  };
  const signed = (p: Record<string, string>, path = '/webhooks/twilio/acme') => twilioSignature(TOKEN, `${BASE}${path}`, p);
  const req = (over: Partial<WebhookRequest> = {}, p: Record<string, string> = params): WebhookRequest => ({
    method: 'POST',
    accountId: 'acme',
    rawPath: '/webhooks/twilio/acme',
    rawQueryString: '',
    contentType: 'application/x-www-form-urlencoded',
    signature: signed(p),
    body: Buffer.from(new URLSearchParams(p).toString()),
    ...over,
  });
  const status = (r: WebhookRequest) => ingestWebhook(r, deps).then(() => 204, (e: unknown) => statusOf(e));

  it('applies 405 → 415 → 413 → 404 → 403 → 403 → 400 in that order', async () => {
    const huge = Buffer.alloc(64 * 1024 + 1, 'a');
    expect(await status(req({ method: 'PUT', contentType: 'application/json', body: huge, accountId: 'nobody' }))).toBe(405);
    expect(await status(req({ contentType: 'text/plain', body: huge, accountId: 'nobody' }))).toBe(415);
    expect(await status(req({ body: huge, accountId: 'nobody' }))).toBe(413);
    expect(await status(req({ accountId: 'nobody', signature: undefined }))).toBe(404);
    expect(await status(req({ accountId: 'Bad/Id' }))).toBe(404);
    // A bad signature wins over malformed parameters: unauthenticated senders learn nothing about validation.
    const malformed = { ...params, CallStatus: 'nope', AccountSid: `AC${'c'.repeat(32)}` };
    expect(await status(req({ signature: 'forged' }, malformed))).toBe(403);
    expect(seen.rejected.at(-1)).toBe('bad-signature');
    expect(await status(req({}, malformed))).toBe(403);
    expect(seen.rejected.at(-1)).toBe('forbidden');
    expect(await status(req({}, { ...params, CallStatus: 'nope' }))).toBe(400);
    expect(sent).toEqual([]);
    expect(seen.accepted).toBe(0);
  });

  it('accepts a charset parameter and exactly 64 KiB, and signs the query string too', async () => {
    const padded = { ...params };
    const base = new URLSearchParams({ ...padded, Pad: '' }).toString().length;
    const exact = { ...padded, Pad: 'x'.repeat(64 * 1024 - base) };
    expect(Buffer.byteLength(new URLSearchParams(exact).toString())).toBe(64 * 1024);
    expect(await status(req({ contentType: 'Application/X-WWW-Form-Urlencoded; charset=UTF-8' }, exact))).toBe(204);
    const withQuery = req({ rawQueryString: 'x=1', signature: signed(params, '/webhooks/twilio/acme?x=1') });
    expect(await status(withQuery)).toBe(204);
    expect(await status({ ...withQuery, rawQueryString: '' })).toBe(403);
    expect(sent).toHaveLength(2);
    expect(sent[0]!.raw.receivedAt).toBe('2026-11-24T02:13:18.000Z');
  });
});

describe('an account without Twilio settings, or without its secret yet', () => {
  const sent: IngestMessage[] = [];
  const telnyxOnly: Account = { accountId: 'telnyx-only', name: 'Telnyx only', timeZone: 'America/Chicago', currency: 'USD', telnyx: { publicKeySecrets: ['telnyx/telnyx-only/public-key'] } };
  const params = { AccountSid: `AC${'a'.repeat(32)}`, CallSid: `CA${'b'.repeat(32)}`, CallStatus: 'ringing', From: '+15125550123', To: '+15125550101' };
  const deps = (secret: () => Promise<string>): IngestDeps => ({
    config: { getAccount: async (id) => (id === 'telnyx-only' ? telnyxOnly : id === 'acme' ? account : null) },
    secrets: { getSecret: secret },
    queue: { send: async (m) => void sent.push(m) },
    publicBaseUrl: BASE,
    now: () => new Date('2026-11-24T02:13:18.000Z'),
    telemetry: telemetry().t,
    log,
  });
  const req = (accountId: string): WebhookRequest => ({
    method: 'POST',
    accountId,
    rawPath: `/webhooks/twilio/${accountId}`,
    rawQueryString: '',
    contentType: 'application/x-www-form-urlencoded',
    signature: twilioSignature(TOKEN, `${BASE}/webhooks/twilio/${accountId}`, params),
    body: Buffer.from(new URLSearchParams(params).toString()),
  });
  const notConfigured = async (): Promise<string> => {
    throw Object.assign(new Error('secret not found: env:SECRET_TWILIO_ACME_AUTH_TOKEN'), { name: 'SecretNotFound' });
  };

  it('answers 404, as an unknown account, when the account has no Twilio settings (another carrier only)', async () => {
    const answer = await ingestWebhook(req('telnyx-only'), deps(async () => TOKEN)).then(() => 204, (e: unknown) => statusOf(e));
    expect(answer).toBe(404);
    expect(sent).toEqual([]);
  });

  it('answers 503 (Twilio retries), not a 500, when the named auth token does not exist yet', async () => {
    const err = await ingestWebhook(req('acme'), deps(notConfigured)).then(() => null, (e: unknown) => e);
    expect(statusOf(err)).toBe(503);
    expect((err as { retryAfterSec?: number }).retryAfterSec).toBe(60);
    expect(sent).toEqual([]);
  });
});

describe('processIngestBatch', () => {
  it('fails the whole batch, writing nothing, when the archive fails', async () => {
    const writes: string[] = [];
    const deps = {
      calls: { mergeEvents: async () => void writes.push('merge') },
      archive: { archiveBatch: async () => Promise.reject(new Error('S3 down')) },
      telemetry: telemetry().t,
      log,
    } as unknown as ProcessIngestDeps;
    const message: IngestMessage = {
      v: 1,
      event: {
        kind: 'call.status', eventId: 'twilio:CA1:status:ringing', provider: 'twilio', accountId: 'acme', callId: 'twilio:CA1',
        occurredAt: '2026-11-24T02:13:17.000Z', receivedAt: '2026-11-24T02:13:18.000Z', sequenceNumber: null, status: 'ringing',
        direction: 'inbound', from: '+15125550123', to: '+15125550101', durationSec: null, answeredBy: null, stirVerstat: null,
        digits: null, fromState: null, fromZip: null, fromCountry: null, parentCallId: null,
      },
      raw: { contentType: 'application/x-www-form-urlencoded', body: '', receivedAt: '2026-11-24T02:13:18.000Z' },
    };
    const result = await processIngestBatch(
      [
        { messageId: 'm1', body: JSON.stringify(message) },
        { messageId: 'm2', body: 'not json' },
      ],
      deps,
    );
    expect([...result.failedMessageIds].sort()).toEqual(['m1', 'm2']);
    expect(writes).toEqual([]);
  });
});

describe('processIngestBatch rating loop (in-memory store)', () => {
  const campaign = { accountId: 'acme', campaignId: 'roof', name: 'Roof', vertical: 'home', terms: { version: 2, priceCents: 4500, bufferSec: 60, duplicateWindowHours: 24 } };
  const number = { accountId: 'acme', number: '+15125550101', campaignId: 'roof', publisherId: 'pub', subSource: null };
  const completed: IngestMessage = {
    v: 1,
    event: {
      kind: 'call.status', eventId: 'twilio:CA2:status:completed', provider: 'twilio', accountId: 'acme', callId: 'twilio:CA2',
      occurredAt: '2026-11-24T02:13:17.000Z', receivedAt: '2026-11-24T02:13:18.000Z', sequenceNumber: null, status: 'completed',
      direction: 'inbound', from: '+15125550123', to: '+15125550101', durationSec: 120, answeredBy: null, stirVerstat: null,
      digits: null, fromState: null, fromZip: null, fromCountry: null, parentCallId: null,
    },
    raw: { contentType: 'application/x-www-form-urlencoded', body: '', receivedAt: '2026-11-24T02:13:18.000Z' },
  };
  type Outcome = Awaited<ReturnType<ProcessIngestDeps['calls']['commitRating']>>;

  function run(outcomes: Outcome[], nonBillable: Outcome[] = [{ outcome: 'committed' }]) {
    const calls: string[] = [];
    const sleeps: number[] = [];
    const deps = {
      calls: {
        commitRating: async (a: { entry: { amountCents: number } | null; window: unknown }) => {
          calls.push(`rating:${a.entry?.amountCents ?? 'duplicate'}:${a.window === null ? 'no-marker' : 'marker'}`);
          return outcomes.shift()!;
        },
        commitNonBillable: async (a: { rated: { decision: { reasons: readonly string[] } } }) => {
          calls.push(`nonbillable:${a.rated.decision.reasons.join(',')}`);
          return nonBillable.shift()!;
        },
        mergeEvents: async () => void calls.push('merge'),
      },
      config: { getTrackingNumber: async () => number, getCampaign: async () => campaign, getAccount: async () => null, getPublisher: async () => null },
      archive: { archiveBatch: async () => {} },
      recordingJobs: { send: async () => {} },
      callerHashKey: async () => 'k',
      now: () => new Date('2026-11-24T03:00:00.000Z'),
      telemetry: telemetry().t,
      log,
      sleep: async (ms: number) => void sleeps.push(ms),
    } as unknown as ProcessIngestDeps;
    return { deps, calls, sleeps };
  }

  it('retries a TransactionConflict with backoff, then commits', async () => {
    const { deps, calls, sleeps } = run([{ outcome: 'conflict' }, { outcome: 'conflict' }, { outcome: 'committed' }]);
    expect(await processIngestBatch([{ messageId: 'm', body: JSON.stringify(completed) }], deps)).toEqual({ failedMessageIds: [] });
    expect(calls).toEqual(['rating:4500:marker', 'rating:4500:marker', 'rating:4500:marker']);
    expect(sleeps).toHaveLength(2);
  });

  it('plans again from the marker a cancelled transaction returned (a duplicate), and merges only when already rated', async () => {
    const billedStartMs = Date.parse('2026-11-24T01:00:00.000Z');
    const window = {
      state: { version: 1, calls: [{ callId: 'twilio:CA1', startMs: billedStartMs, windowMs: 72 * 3_600_000, priceCents: 4500, billed: true, charges: 1 }], horizonMs: null },
      stored: { kind: 'versioned', version: 1 },
    } as const;
    const dup = run([{ outcome: 'window_changed', window }, { outcome: 'committed' }]);
    expect(await processIngestBatch([{ messageId: 'm', body: JSON.stringify(completed) }], dup.deps)).toEqual({ failedMessageIds: [] });
    expect(dup.calls).toEqual(['rating:4500:marker', 'rating:duplicate:marker']);

    const rated = run([{ outcome: 'already_rated' }]);
    expect(await processIngestBatch([{ messageId: 'm', body: JSON.stringify(completed) }], rated.deps)).toEqual({ failedMessageIds: [] });
    expect(rated.calls).toEqual(['rating:4500:marker', 'merge']);
  });

  it('fails the message back to SQS when conflicts do not settle', async () => {
    const { deps } = run(Array.from({ length: 6 }, () => ({ outcome: 'conflict' }) as Outcome));
    expect(await processIngestBatch([{ messageId: 'm', body: JSON.stringify(completed) }], deps)).toEqual({ failedMessageIds: ['m'] });
  });
});

describe('fetchRecording', () => {
  const job: RecordingJob = {
    v: 1,
    accountId: 'acme',
    callId: 'twilio:CA1',
    recordingId: `RE${'d'.repeat(32)}`,
    recordingUrl: 'https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE',
    recordingDurationSec: 42,
  };
  function deps(call: StoredCall | null) {
    const downloads: unknown[] = [];
    const stored: unknown[] = [];
    const { t } = telemetry();
    const d: FetchRecordingDeps = {
      calls: { getCall: async () => call, setRecording: async (_id, r) => void stored.push(r) },
      config: { getAccount: async () => account },
      secrets: { getSecret: async () => TOKEN },
      media: {
        store: async (args) => {
          downloads.push(args);
          return { sha256: 'f'.repeat(64), bytes: 1234, contentType: 'audio/x-wav' };
        },
      },
      now: () => new Date('2026-11-24T03:00:00.000Z'),
      telemetry: t,
      log,
    };
    return { d, downloads, stored };
  }
  const call = (recordingId: string | null): StoredCall => ({
    callId: 'twilio:CA1', accountId: 'acme', events: [], rating: null, ratedAt: null, startedAt: null, endedAt: null, durationSec: null,
    recording: recordingId === null ? null : { recordingId, key: 'k', sha256: 'x', bytes: 1, durationSec: 1, contentType: 'audio/x-wav', storedAt: 'x' },
  });

  it('downloads the .wav with the account credentials and records it on the call', async () => {
    const { d, downloads, stored } = deps(call(null));
    expect(await fetchRecording(job, d)).toBe('stored');
    // Stored with the account's retention class (default 365 days) as object tags, not held.
    expect(downloads).toEqual([
      {
        url: `${job.recordingUrl}.wav`,
        provider: 'twilio',
        credentials: { kind: 'basic', username: account.twilio!.accountSid, password: TOKEN },
        key: 'recordings/acme/twilio:CA1.wav',
        tags: { 'retention-class': 'd365', expiry: 'd365' },
      },
    ]);
    expect(stored).toEqual([
      { recordingId: job.recordingId, key: 'recordings/acme/twilio:CA1.wav', sha256: 'f'.repeat(64), bytes: 1234, durationSec: 42, contentType: 'audio/x-wav', storedAt: '2026-11-24T03:00:00.000Z' },
    ]);
  });

  it('skips a recording that is already stored, and refuses another account’s call', async () => {
    const same = deps(call(job.recordingId));
    expect(await fetchRecording(job, same.d)).toBe('skipped');
    expect(same.downloads).toEqual([]);
    const foreign = deps({ ...call(null), accountId: 'zeta' });
    await expect(fetchRecording(job, foreign.d)).rejects.toThrow(/another account/);
    expect(foreign.downloads).toEqual([]);
  });
});
