/**
 * Observability: no caller number reaches a log line, whatever the use cases log (accepted and rejected webhooks,
 * rated and failing calls, failing recordings), and metrics are flushed without the "No application metrics"
 * warning while keeping the cold-start metric.
 *
 * Output is captured at the console: with POWERTOOLS_DEV=true (vitest.config.ts) Powertools writes to it.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { log, logger, redact } from '../../../shared/adapters/platform/log';
import { publishMetrics, telemetry } from '../../../shared/adapters/platform/metrics';
import { processRecordingBatch, type FetchRecordingDeps } from '../../../shared/app/recordings/fetch-recording';
import { ingestWebhook, type IngestDeps, type WebhookRequest } from '../../../shared/app/calls/ingest';
import { processIngestBatch, type ProcessIngestDeps } from '../../../shared/app/rating/process-ingest-batch';
import { twilioSignature } from '../../../shared/domain/calls/providers/twilio';
import type { Account } from '../../../shared/domain/catalog/types';
import type { IngestMessage } from '../../../shared/domain/calls/events';

const CALLER = '+15125550123';
/** The caller number in the formats it could take in a log line. */
const FORMS = ['+15125550123', '15125550123', '5125550123', '512-555-0123', '(512) 555-0123', '512.555.0123', '+1 512 555 0123'];

let lines: string[] = [];
beforeEach(() => {
  lines = [];
  for (const method of ['log', 'debug', 'info', 'warn', 'error', 'trace'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
  }
  logger.setLogLevel('DEBUG');
});
afterEach(() => {
  vi.restoreAllMocks();
  logger.setLogLevel('INFO');
});

function expectNoCallerNumber(): void {
  const output = lines.join('\n');
  for (const form of FORMS) expect(output, form).not.toContain(form);
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
const callSid = `CA${'b'.repeat(32)}`;

describe('logs never carry a caller number', () => {
  it('redact masks caller fields and number-shaped text at any depth, and leaves ids alone', () => {
    const ids = {
      callId: 'twilio:CA5125550123512555012351255501',
      hash: `5125550123${'a'.repeat(54)}`,
      at: '2026-11-24T15:10:00.000Z',
      epochMs: '1763996400000x',
    };
    const out = redact({
      ...ids,
      event: { from: CALLER },
      nested: { list: [{ note: `caller ${FORMS[4]} and ${FORMS[6]} and ${FORMS[1]} and ${FORMS[5]}` }], From: CALLER },
      error: new Error(`ValidationException: bad value ${CALLER}`),
    });
    const { callId, hash, at, epochMs, ...pii } = out;
    expect({ callId, hash, at, epochMs }).toEqual(ids);
    const text = JSON.stringify(pii);
    for (const form of FORMS) expect(text, form).not.toContain(form);
    expect(pii.event).toBe('[redacted]');
    expect((pii.error as { message: string }).message).toBe('ValidationException: bad value [redacted]');
  });

  it('ingest: accepted, forged, malformed and mis-addressed webhooks', async () => {
    const sent: IngestMessage[] = [];
    const deps: IngestDeps = {
      config: { getAccount: async (id) => (id === 'acme' ? account : null) },
      secrets: { getSecret: async () => TOKEN },
      queue: { send: async (m) => void sent.push(m) },
      publicBaseUrl: BASE,
      now: () => new Date('2026-11-24T15:10:00.000Z'),
      telemetry,
      log,
    };
    const params = { AccountSid: account.twilio!.accountSid, CallSid: callSid, CallStatus: 'ringing', From: CALLER, Caller: CALLER, To: '+15125550101' };
    const req = (p: Record<string, string>, over: Partial<WebhookRequest> = {}): WebhookRequest => ({
      method: 'POST',
      accountId: 'acme',
      rawPath: '/webhooks/twilio/acme',
      rawQueryString: '',
      contentType: 'application/x-www-form-urlencoded',
      signature: twilioSignature(TOKEN, `${BASE}/webhooks/twilio/acme`, p),
      body: Buffer.from(new URLSearchParams(p).toString()),
      ...over,
    });
    const settle = (r: WebhookRequest) => ingestWebhook(r, deps).catch(() => undefined);

    await settle(req(params));
    await settle(req(params, { signature: 'forged' }));
    await settle(req({ ...params, CallStatus: 'nope', CallDuration: CALLER }));
    await settle(req(params, { accountId: CALLER, rawPath: `/webhooks/twilio/${CALLER}` }));
    await settle(req(params, { accountId: '5125550123' }));

    expect(sent).toHaveLength(1);
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines.join('\n')).toContain(`twilio:${callSid}`);
    expectNoCallerNumber();
  });

  it('ledger writer: a rated call, a failing call and a malformed message', async () => {
    const event = (sid: string, status: 'ringing' | 'completed') => ({
      kind: 'call.status' as const,
      eventId: `twilio:${sid}:status:${status}`,
      provider: 'twilio' as const,
      accountId: 'acme',
      callId: `twilio:${sid}`,
      occurredAt: '2026-11-24T15:15:00.000Z',
      receivedAt: '2026-11-24T15:15:00.200Z',
      sequenceNumber: 0,
      status,
      direction: 'inbound' as const,
      from: CALLER,
      to: '+15125550101',
      durationSec: status === 'completed' ? 300 : null,
      answeredBy: null,
      stirVerstat: null,
      digits: null,
      fromState: 'TX',
      fromZip: '78704',
      fromCountry: 'US',
      parentCallId: null,
    });
    const message = (e: ReturnType<typeof event>): string =>
      JSON.stringify({ v: 1, event: e, raw: { contentType: 'application/x-www-form-urlencoded', body: `From=${encodeURIComponent(CALLER)}`, receivedAt: e.receivedAt } });
    const failing = `CA${'c'.repeat(32)}`;
    const deps = {
      calls: {
        commitRating: async () => ({ outcome: 'committed' }),
        commitNonBillable: async () => ({ outcome: 'committed' }),
        // An SDK error that quotes the value it choked on.
        mergeEvents: async () => Promise.reject(new Error(`One or more parameter values were invalid: ${CALLER}`)),
      },
      config: {
        getTrackingNumber: async () => ({ accountId: 'acme', number: '+15125550101', campaignId: 'roof', publisherId: 'pub', subSource: null }),
        getCampaign: async () => ({ accountId: 'acme', campaignId: 'roof', name: 'Roof', vertical: 'home', terms: { version: 1, priceCents: 4500, bufferSec: 90, duplicateWindowHours: 72 } }),
        getAccount: async () => null,
        getPublisher: async () => null,
      },
      archive: { archiveBatch: async () => {} },
      recordingJobs: { send: async () => {} },
      callerHashKey: async () => 'k',
      now: () => new Date('2026-11-24T15:16:00.000Z'),
      telemetry,
      log,
    } as unknown as ProcessIngestDeps;

    const result = await processIngestBatch(
      [
        { messageId: 'm1', body: message(event(callSid, 'completed')) },
        { messageId: 'm2', body: message(event(failing, 'ringing')) },
        { messageId: 'm3', body: `{"v":1,"event":{"from":"${CALLER}"}}` },
      ],
      deps,
    );
    expect([...result.failedMessageIds].sort()).toEqual(['m2', 'm3']);
    const output = lines.join('\n');
    expect(output).toContain('call rated');
    expect(output).toContain('call processing failed');
    expect(output).toContain('malformed ingest message');
    expectNoCallerNumber();
  });

  it('recording fetcher: a failing download', async () => {
    const deps = {
      calls: { getCall: async () => Promise.reject(new Error(`lookup failed for ${FORMS[3]}`)), setRecording: async () => {} },
      config: { getAccount: async () => account },
      secrets: { getSecret: async () => TOKEN },
      media: { store: async () => Promise.reject(new Error('unreachable')) },
      now: () => new Date(),
      telemetry,
      log,
    } as unknown as FetchRecordingDeps;
    const job = { v: 1, accountId: 'acme', callId: `twilio:${callSid}`, recordingId: `RE${'d'.repeat(32)}`, recordingUrl: 'https://api.twilio.com/x', recordingDurationSec: 3 };
    expect((await processRecordingBatch([{ messageId: 'r1', body: JSON.stringify(job) }], deps)).failedMessageIds).toEqual(['r1']);
    expect(lines.join('\n')).toContain('recording fetch failed');
    expectNoCallerNumber();
  });
});

describe('publishMetrics middleware', () => {
  const context = { functionName: 'callledger-dev-ingest' } as Context;
  const overrides = {
    // POWERTOOLS_DEV turns EMF output off; turn it back on to see what would reach CloudWatch.
    POWERTOOLS_METRICS_DISABLED: 'false',
    // Powertools counts cold starts of on-demand containers only (not provisioned concurrency).
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  };
  const previous: Record<string, string | undefined> = {};
  beforeEach(() => {
    for (const [k, v] of Object.entries(overrides)) {
      previous[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterEach(() => {
    for (const k of Object.keys(overrides)) {
      if (previous[k] === undefined) delete process.env[k];
      else process.env[k] = previous[k];
    }
  });

  const emf = () => lines.filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);

  it('publishes the cold start once, application metrics when there are some, and never warns about none', async () => {
    const metrics = new Metrics({ namespace: 'Test', serviceName: 'svc' });
    const mw = publishMetrics(metrics);
    const invoke = async (work: () => void, fail = false) => {
      const request = { context, event: {}, response: null, error: null, internal: {} } as never;
      await mw.before!(request);
      work();
      await (fail ? mw.onError! : mw.after!)(request);
    };

    await invoke(() => {}); // cold start, no application metrics (e.g. a rejected webhook)
    expect(emf()).toEqual([expect.objectContaining({ ColdStart: 1, function_name: 'callledger-dev-ingest' })]);

    lines = [];
    await invoke(() => metrics.addMetric('WebhooksAccepted', MetricUnit.Count, 1));
    expect(emf()).toEqual([expect.objectContaining({ WebhooksAccepted: 1 })]);
    expect(emf()[0]).not.toHaveProperty('ColdStart');

    lines = [];
    await invoke(() => {});
    await invoke(() => metrics.addMetric('IngestMessagesFailed', MetricUnit.Count, 2), true);
    expect(emf()).toEqual([expect.objectContaining({ IngestMessagesFailed: 2 })]);
    expect(lines.filter((l) => !l.includes('"_aws"'))).toEqual([]);
    expect(metrics.hasStoredMetrics()).toBe(false);
  });
});
