import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isValidPhoneNumber } from 'libphonenumber-js';
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { withoutContractCheck } from '../../contract/hooks';
import { campaignFromSeed } from '../../../shared/domain/catalog/config';
import { callFactsFrom, rateCall } from '../../../shared/domain/rating/rules';
import { type PriorBilled } from '../../../shared/domain/rating/decision';
import { parseForm, parseTwilioEvent, twilioSignature } from '../../../shared/domain/calls/providers/twilio';
import type { CallStatusEvent } from '../../../shared/domain/calls/events';
import {
  generateTraffic,
  PROFILES,
  rfc2822,
  send,
  summarise,
  type PublisherProfile,
  type TrafficOptions,
  type TrafficSeed,
  type WebhookRequest,
} from '../../../events/traffic';

const seed = JSON.parse(readFileSync('events/seed/demo.json', 'utf8')) as TrafficSeed;
const TOKEN = 'f3c1d2e4a5b6978812345678abcdef01';

function options(overrides: Partial<TrafficOptions> = {}): TrafficOptions {
  return {
    seed,
    authTokens: { 'acme-roofing': TOKEN },
    publicBaseUrl: 'https://hooks.example.test',
    mediaBaseUrl: 'http://127.0.0.1:4010',
    calls: 300,
    rngSeed: 7,
    startAt: '2026-11-02T13:00:00Z',
    ...overrides,
  };
}

const traffic = generateTraffic(options());
const campaign = seed.campaigns[0]!;

function paramsOf(r: WebhookRequest): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(r.body));
}

describe('generateTraffic: determinism', () => {
  it('gives byte-identical requests and the same truth for the same seed and start', () => {
    const again = generateTraffic(options());
    expect(again).toEqual(traffic);
  });

  it('changes with the PRNG seed and with the start time', () => {
    const otherSeed = generateTraffic(options({ rngSeed: 8 }));
    const otherStart = generateTraffic(options({ startAt: '2026-11-09T13:00:00Z' }));
    const sids = new Set(traffic.calls.map((c) => c.callSid));
    expect(otherSeed.calls.some((c) => sids.has(c.callSid))).toBe(false);
    expect(otherStart.calls.some((c) => sids.has(c.callSid))).toBe(false);
  });

  it('produces the requested number of calls inside the window', () => {
    expect(traffic.calls).toHaveLength(300);
    const start = Date.parse('2026-11-02T13:00:00Z');
    for (const c of traffic.calls) {
      expect(Date.parse(c.startedAt)).toBeGreaterThanOrEqual(start);
      expect(Date.parse(c.startedAt)).toBeLessThan(start + 36 * 3_600_000 + 60_000);
    }
    expect(generateTraffic(options({ calls: 0 }))).toEqual({ requests: [], calls: [] });
  });

  it('refuses a seed account without an auth token', () => {
    expect(() => generateTraffic(options({ authTokens: {} }))).toThrow(/acme-roofing/);
  });
});

describe('generateTraffic: signatures', () => {
  it('signs every request so that the official twilio helper accepts it', () => {
    for (const r of traffic.requests) {
      expect(r.url).toBe(`https://hooks.example.test${r.path}`);
      expect(twilio.validateRequest(TOKEN, r.headers['x-twilio-signature'], r.url, paramsOf(r))).toBe(true);
    }
  });

  it('would be rejected with another token or a tampered body', () => {
    const r = traffic.requests.find((x) => x.meta.kind === 'status' && x.meta.status === 'completed')!;
    expect(twilio.validateRequest('another-token', r.headers['x-twilio-signature'], r.url, paramsOf(r))).toBe(false);
    const tampered = { ...paramsOf(r), CallDuration: '999' };
    expect(twilio.validateRequest(TOKEN, r.headers['x-twilio-signature'], r.url, tampered)).toBe(false);
  });
});

describe('generateTraffic: call lifecycles', () => {
  const byCall = new Map<string, WebhookRequest[]>();
  for (const r of traffic.requests) byCall.set(r.meta.callSid, [...(byCall.get(r.meta.callSid) ?? []), r]);

  it('is sorted by delivery time and every request parses into a canonical event', () => {
    const times = traffic.requests.map((r) => r.meta.deliverAtMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    for (const r of traffic.requests) {
      expect(r.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
      const event = parseTwilioEvent(parseForm(r.body), { accountId: r.meta.accountId, receivedAt: '2026-11-02T13:00:00.000Z' });
      expect(event.callId).toBe(r.meta.callId);
      expect(event.kind).toBe(r.meta.kind === 'recording' ? 'recording.status' : 'call.status');
    }
  });

  it('gives each call one ringing webhook, one terminal callback and a recording only when connected', () => {
    for (const truth of traffic.calls) {
      const firsts = byCall.get(truth.callSid)!.filter((r) => !r.meta.redelivery);
      const incoming = firsts.filter((r) => r.meta.kind === 'incoming');
      const terminal = firsts.filter((r) => r.meta.kind === 'status');
      const recording = firsts.filter((r) => r.meta.kind === 'recording');
      expect(incoming).toHaveLength(1);
      expect(terminal).toHaveLength(1);
      expect(recording).toHaveLength(truth.recording ? 1 : 0);
      if (truth.recording) expect(truth.status).toBe('completed');

      const ring = paramsOf(incoming[0]!);
      expect(ring.CallStatus).toBe('ringing');
      expect(ring.StirVerstat).toBe(truth.stirVerstat);
      expect(ring.Timestamp).toBeUndefined();
      // CallToken is URL-encoded JSON inside the form value (double encoding, as Twilio sends it).
      expect(JSON.parse(decodeURIComponent(ring.CallToken!))).toHaveProperty('parentCallInfoToken');

      const end = paramsOf(terminal[0]!);
      expect(end.CallStatus).toBe(truth.status);
      expect(end.CallbackSource).toBe('call-progress-events');
      expect(end.SequenceNumber).toMatch(/^\d+$/);
      expect(end.Timestamp).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
      expect(Number(end.CallDuration)).toBe(truth.durationSec);
      expect(new Date(Date.parse(end.Timestamp!)).toISOString()).toBe(truth.endedAt);
      expect(Date.parse(end.Timestamp!) - truth.durationSec * 1000).toBe(Date.parse(truth.startedAt));
      if (truth.status === 'completed') {
        expect(truth.durationSec).toBeGreaterThan(0);
        expect(Number(end.Duration)).toBe(Math.ceil(truth.durationSec / 60));
      } else {
        expect(truth.durationSec).toBe(0);
        expect(end.Duration).toBeUndefined();
        expect(end.SipResponseCode).toMatch(/^\d{3}$/);
      }
      expect(end.From).toBe(truth.from);
      expect(end.To).toBe(truth.to);
      expect(isValidPhoneNumber(end.From!)).toBe(true);
      expect(end.FromState).toMatch(/^[A-Z]{2}$/);
      expect(end.FromZip).toMatch(/^\d{5}$/);

      if (truth.recording) {
        const rec = paramsOf(recording[0]!);
        expect(rec.RecordingStatus).toBe('completed');
        expect(rec.RecordingUrl).toBe(
          `http://127.0.0.1:4010/2010-04-01/Accounts/${seed.accounts[0]!.twilio!.accountSid}/Recordings/${truth.recording.recordingSid}`,
        );
        expect(Number(rec.RecordingDuration)).toBeLessThanOrEqual(truth.durationSec);
      }
    }
  });

  it('delivers retries as identical bytes and reorders the calls it says it reorders', () => {
    const redeliveries = traffic.requests.filter((r) => r.meta.redelivery);
    expect(redeliveries.length).toBe(traffic.calls.reduce((s, c) => s + c.delivery.redeliveries, 0));
    expect(redeliveries.length).toBeGreaterThan(0);
    for (const dup of redeliveries) {
      const first = traffic.requests.find((r) => !r.meta.redelivery && r.body === dup.body)!;
      expect(first.headers).toEqual(dup.headers);
      expect(first.meta.deliverAtMs).toBeLessThanOrEqual(dup.meta.deliverAtMs);
    }
    const reordered = traffic.calls.filter((c) => c.delivery.outOfOrder !== null);
    expect(reordered.length).toBeGreaterThan(0);
    for (const c of reordered) {
      const order = byCall.get(c.callSid)!.filter((r) => !r.meta.redelivery).map((r) => r.meta.kind);
      if (c.delivery.outOfOrder === 'completed-before-ringing') expect(order.indexOf('status')).toBeLessThan(order.indexOf('incoming'));
      else expect(order.indexOf('recording')).toBeLessThan(order.indexOf('status'));
    }
    const inOrder = generateTraffic(options({ delivery: { duplicateRate: 0, outOfOrderRate: 0 } }));
    expect(inOrder.requests.some((r) => r.meta.redelivery)).toBe(false);
    expect(inOrder.calls.every((c) => c.delivery.outOfOrder === null)).toBe(true);
  });

  it('formats Twilio timestamps as RFC 2822 in UTC', () => {
    expect(rfc2822(Date.parse('2025-06-03T15:09:45Z'))).toBe('Tue, 03 Jun 2025 15:09:45 +0000');
  });
});

describe('generateTraffic: ground truth', () => {
  it('agrees call by call with the domain rating fed the duplicate marker the ledger would hold', () => {
    // Replay the terminal callbacks in start order through parseTwilioEvent + rateCall, keeping one marker per
    // (campaign, caller) exactly as the ledger writer does.
    const markers = new Map<string, PriorBilled>();
    const terminals = traffic.requests.filter((r) => r.meta.kind === 'status' && !r.meta.redelivery);
    const byId = new Map(traffic.calls.map((c) => [c.callId, c]));
    const ordered = [...terminals].sort(
      (a, b) => Date.parse(byId.get(a.meta.callId)!.startedAt) - Date.parse(byId.get(b.meta.callId)!.startedAt),
    );
    for (const r of ordered) {
      const event = parseTwilioEvent(parseForm(r.body), { accountId: 'acme-roofing', receivedAt: '2026-11-05T00:00:00.000Z' }) as CallStatusEvent;
      const truth = byId.get(event.callId)!;
      const startedAtMs = Date.parse(event.occurredAt) - (event.durationSec ?? 0) * 1000;
      const assignment = seed.trackingNumbers.find((n) => n.number === event.to) ?? null;
      const key = `${campaign.campaignId}/${event.from}`;
      const config = campaignFromSeed(campaign);
      const decision = rateCall({
        call: callFactsFrom(event),
        startedAtMs,
        assignment,
        campaign: config,
        termsVersions: config.termsVersions,
        priorBilled: markers.get(key) ?? null,
        blocked: null,
      });
      if (decision.billable) markers.set(key, { callId: event.callId, billedStartMs: startedAtMs });
      expect({ billable: decision.billable, amountCents: decision.amountCents, reason: decision.reasons[0] ?? null }).toEqual({
        billable: truth.billable,
        amountCents: truth.amountCents,
        reason: truth.reason,
      });
      expect(decision.publisherId).toBe(truth.publisherId);
    }
  });

  it('bills at most one call per caller cluster, and points duplicates at a billed call of the same caller', () => {
    const billedPerCluster = new Map<string, number>();
    const byId = new Map(traffic.calls.map((c) => [c.callId, c]));
    for (const c of traffic.calls) {
      if (c.billable) billedPerCluster.set(c.callerCluster, (billedPerCluster.get(c.callerCluster) ?? 0) + 1);
      expect(c.amountCents).toBe(c.billable ? campaign.terms.priceCents : 0);
      if (c.reason === 'duplicate_caller') {
        const prior = byId.get(c.duplicateOf!)!;
        expect(prior.billable).toBe(true);
        expect(prior.from).toBe(c.from);
        expect(prior.callerCluster).toBe(c.callerCluster);
        expect(Math.abs(Date.parse(c.startedAt) - Date.parse(prior.startedAt))).toBeLessThan(
          campaign.terms.duplicateWindowHours * 3_600_000,
        );
      } else {
        expect(c.duplicateOf).toBeNull();
      }
    }
    expect([...billedPerCluster.values()].every((n) => n === 1)).toBe(true);
    // A cluster stays inside the duplicate window, so whichever eligible call the ledger sees first, one bills.
    const clusters = new Map<string, number[]>();
    for (const c of traffic.calls) clusters.set(c.callerCluster, [...(clusters.get(c.callerCluster) ?? []), Date.parse(c.startedAt)]);
    for (const starts of clusters.values()) {
      expect(Math.max(...starts) - Math.min(...starts)).toBeLessThan(campaign.terms.duplicateWindowHours * 3_600_000);
    }
  });

  it('applies the buffer inclusively: bufferSec bills, bufferSec − 1 does not', () => {
    const fixed = (sec: number): PublisherProfile => ({
      ...PROFILES.good,
      connectRate: 1,
      repeatCallerRate: 0,
      durations: [{ weight: 1, minSec: sec, maxSec: sec }],
    });
    const profiles = (sec: number) => Object.fromEntries(seed.publishers.map((p) => [p.publisherId, fixed(sec)]));
    const atBuffer = generateTraffic(options({ calls: 40, profiles: profiles(campaign.terms.bufferSec) }));
    const below = generateTraffic(options({ calls: 40, profiles: profiles(campaign.terms.bufferSec - 1) }));
    expect(atBuffer.calls.every((c) => c.billable && c.durationSec === campaign.terms.bufferSec)).toBe(true);
    expect(below.calls.every((c) => c.reason === 'below_buffer')).toBe(true);
  });

  it('summarises per publisher from the truth', () => {
    const rows = summarise(traffic.calls);
    expect(rows.map((r) => r.publisherId)).toEqual(['pub-bluesky', 'pub-callfarm', 'pub-midway']);
    for (const row of rows) {
      const calls = traffic.calls.filter((c) => c.publisherId === row.publisherId);
      expect(row.calls).toBe(calls.length);
      expect(row.billable + row.duplicates + row.belowBuffer + row.notConnected + row.unknownNumber).toBe(row.calls);
      expect(row.spendCents).toBe(row.billable * campaign.terms.priceCents);
    }
  });
});

describe('generateTraffic: publisher profiles', () => {
  const big = generateTraffic(options({ calls: 3000, spanHours: 48, rngSeed: 99 }));
  const stats = (publisherId: string) => {
    const calls = big.calls.filter((c) => c.publisherId === publisherId);
    const connected = calls.filter((c) => c.status === 'completed');
    const durations = connected.map((c) => c.durationSec).sort((a, b) => a - b);
    const buffer = campaign.terms.bufferSec;
    const callers = new Set(calls.map((c) => c.callerCluster));
    return {
      billableRate: calls.filter((c) => c.billable).length / calls.length,
      shortRate: connected.filter((c) => c.durationSec < 30).length / connected.length,
      justPastBufferRate: connected.filter((c) => c.durationSec >= buffer && c.durationSec <= buffer + 15).length / connected.length,
      repeatRate: 1 - callers.size / calls.length,
      duplicateRate: calls.filter((c) => c.reason === 'duplicate_caller').length / calls.length,
      medianSec: durations[Math.floor(durations.length / 2)]!,
      stirARate: calls.filter((c) => c.stirVerstat === 'TN-Validation-Passed-A').length / calls.length,
      share: calls.length / big.calls.length,
    };
  };
  const good = stats('pub-bluesky');
  const junk = stats('pub-callfarm');
  const mixed = stats('pub-midway');

  it('gives the good publisher mostly 2–8 minute calls and the best billable rate', () => {
    expect(good.medianSec).toBeGreaterThanOrEqual(120);
    expect(good.medianSec).toBeLessThanOrEqual(480);
    expect(good.billableRate).toBeGreaterThan(mixed.billableRate);
    expect(mixed.billableRate).toBeGreaterThan(junk.billableRate);
  });

  it('gives the junk publisher short hang-ups, just-past-buffer calls, repeat callers and duplicates', () => {
    expect(junk.shortRate).toBeGreaterThan(mixed.shortRate);
    expect(mixed.shortRate).toBeGreaterThan(good.shortRate);
    expect(junk.justPastBufferRate).toBeGreaterThan(2 * good.justPastBufferRate);
    expect(junk.repeatRate).toBeGreaterThan(2 * mixed.repeatRate);
    expect(mixed.repeatRate).toBeGreaterThan(good.repeatRate);
    expect(junk.duplicateRate).toBeGreaterThan(good.duplicateRate);
    expect(junk.stirARate).toBeLessThan(good.stirARate);
    expect(junk.share).toBeGreaterThan(good.share);
  });
});

describe('send', () => {
  async function withServer(status: (req: IncomingMessage, body: string) => number, fn: (baseUrl: string, seen: { headers: IncomingMessage['headers']; body: string }[]) => Promise<void>) {
    const seen: { headers: IncomingMessage['headers']; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        res.statusCode = status(req, body);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      // The echo server is not the API: no contract, and it counts what it receives.
      await withoutContractCheck(() => fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen));
    } finally {
      await new Promise((r) => server.close(r));
    }
  }

  it('posts every request with its headers and body and counts the answers', async () => {
    const requests = generateTraffic(options({ calls: 20 })).requests;
    await withServer(
      () => 204,
      async (baseUrl, seen) => {
        let progress = 0;
        const result = await send(requests, { baseUrl, concurrency: 4, onProgress: (done) => (progress = done) });
        expect(result.statusCounts).toEqual({ '204': requests.length });
        expect(result.unexpected).toEqual([]);
        expect(progress).toBe(requests.length);
        expect(seen).toHaveLength(requests.length);
        for (const r of requests) {
          const got = seen.find((s) => s.body === r.body)!;
          expect(got.headers['x-twilio-signature']).toBe(r.headers['x-twilio-signature']);
          expect(twilio.validateRequest(TOKEN, got.headers['x-twilio-signature'] as string, r.url, Object.fromEntries(new URLSearchParams(got.body)))).toBe(true);
        }
        expect(result.latencyMs.p50).toBeLessThanOrEqual(result.latencyMs.p99);
      },
    );
  });

  it('reports unexpected statuses and paces an open loop', async () => {
    const requests = generateTraffic(options({ calls: 5 })).requests.slice(0, 10);
    await withServer(
      (_req, body) => (body.includes('CallStatus=ringing') ? 403 : 204),
      async (baseUrl) => {
        const result = await send(requests, { baseUrl, concurrency: 10, ratePerSec: 100 });
        const ringing = requests.filter((r) => r.meta.status === 'ringing').length;
        expect(result.statusCounts['403']).toBe(ringing);
        // Completion order varies with concurrency: compare as sets.
        expect(result.unexpected.map((u) => u.index).sort((a, b) => a - b)).toEqual(
          requests.flatMap((r, i) => (r.meta.status === 'ringing' ? [i] : [])),
        );
        expect(result.unexpected.every((u) => u.status === 403)).toBe(true);
        // 10 requests at 100/s: the last one may not start before 90 ms.
        expect(result.elapsedMs).toBeGreaterThanOrEqual(85);
      },
    );
  });

  it('counts a refused connection as an error', async () => {
    const requests = generateTraffic(options({ calls: 1 })).requests.slice(0, 1);
    const result = await send(requests, { baseUrl: 'http://127.0.0.1:1', timeoutMs: 2000 });
    expect(result.statusCounts).toEqual({ error: 1 });
  });
});

describe('events/fixtures/twilio', () => {
  const dir = 'events/fixtures/twilio';

  it('holds the official signature vectors, which both the twilio helper and the domain reproduce', () => {
    const vectors = JSON.parse(readFileSync(`${dir}/signature-vectors.json`, 'utf8')) as {
      form: { authToken: string; url: string; params: Record<string, string | string[]>; signature: string }[];
      json: { authToken: string; url: string; signature: string }[];
    };
    expect(vectors.form.length).toBeGreaterThanOrEqual(6);
    for (const v of vectors.form) {
      expect(twilio.getExpectedTwilioSignature(v.authToken, v.url, v.params)).toBe(v.signature);
      expect(twilioSignature(v.authToken, v.url, v.params)).toBe(v.signature);
    }
    for (const v of vectors.json) expect(twilio.getExpectedTwilioSignature(v.authToken, v.url, {})).toBe(v.signature);
  });

  it('has request bodies that parse into the events their names say', () => {
    const expected: Record<string, { kind: string; status: string }> = {
      'incoming-ringing.form': { kind: 'call.status', status: 'ringing' },
      'status-completed.form': { kind: 'call.status', status: 'completed' },
      'status-busy.form': { kind: 'call.status', status: 'busy' },
      'status-no-answer.form': { kind: 'call.status', status: 'no-answer' },
      'recording-completed.form': { kind: 'recording.status', status: 'completed' },
    };
    const files = readdirSync(dir).filter((f) => f.endsWith('.form')).sort();
    expect(files).toEqual(Object.keys(expected).sort());
    for (const f of files) {
      const event = parseTwilioEvent(parseForm(readFileSync(`${dir}/${f}`, 'utf8').trim()), {
        accountId: 'acme-roofing',
        receivedAt: '2026-11-24T15:20:00.000Z',
      });
      expect({ kind: event.kind, status: event.kind === 'call.status' ? event.status : event.recordingStatus }).toEqual(expected[f]);
    }
  });
});
