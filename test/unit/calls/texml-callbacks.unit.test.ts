/**
 * TeXML's own callbacks (call progress, a dialled <Number>'s statusCallback, the recordingStatusCallback) reach the
 * ledger through POST /webhooks/telnyx/{accountId}: form-encoded, Ed25519-signed over `timestamp|body` like Call
 * Control's JSON, mapped to the canonical CallEvent under the TeXML CallSid (the voice URL's call id), the dialled
 * leg's routing context applied only when its `st` authenticates it, nothing written on any refusal.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { statusOf } from '../../../shared/adapters/http/problems';
import { ingestCarrierWebhook, type CarrierIngestDeps, type CarrierWebhookRequest } from '../../../shared/app/calls/carrier-ingest';
import type { DialLegEvent } from '../../../shared/app/calls/ports';
import type { Log, Telemetry } from '../../../shared/app/kernel/ports';
import type { Account } from '../../../shared/domain/catalog/types';
import type { IngestMessage } from '../../../shared/domain/calls/events';
import { parseTexmlCallback } from '../../../shared/domain/calls/providers/texml';
import { parseForm } from '../../../shared/domain/calls/providers/twilio';
import { eventsPath } from '../../../shared/domain/callflow/state';
import { voiceStateKey } from '../../../shared/domain/callflow/state';
import { FIXTURE_ACCOUNT_ID, testKeys } from '../../../events/carrier-fixtures';
import { signTelnyx } from '../../../events/carrier-signing';

const log: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const noTelemetry: Telemetry = {
  webhookAccepted: () => {},
  webhookRejected: () => {},
  callRated: () => {},
  ingestBatchProcessed: () => {},
  callAccountConflict: () => {},
  recordingStored: () => {},
  recordingFetchFailed: () => {},
};
const tk = testKeys('telnyx');
const HASH_KEY = 'deployment-caller-hash-key';
const NOW_SEC = 1_795_533_000;
const ctx = { accountId: FIXTURE_ACCOUNT_ID, receivedAt: '2026-11-24T02:13:17.000Z' };
const PARENT = 'v3:parent-leg-0001';
const CHILD = 'v3:child-leg-0002';

const account: Account = {
  accountId: FIXTURE_ACCOUNT_ID,
  name: 'Acme',
  timeZone: 'America/Chicago',
  currency: 'USD',
  twilio: { accountSid: `AC${'a'.repeat(32)}`, authTokenSecret: 'twilio/acme/auth-token' },
  telnyx: { publicKeySecrets: ['telnyx/acme/public-key'] },
};

function harness() {
  const sent: IngestMessage[] = [];
  const legs: DialLegEvent[] = [];
  const deps: CarrierIngestDeps = {
    config: { getAccount: async (id) => (id === FIXTURE_ACCOUNT_ID ? account : null) },
    secrets: { getSecret: async (name) => (name === 'telnyx/acme/public-key' ? tk.account.publicKey : Promise.reject(new Error(name))) },
    queue: { send: async (m) => void sent.push(m) },
    publicBaseUrl: 'https://hooks.example.com',
    now: () => new Date(NOW_SEC * 1000),
    telemetry: noTelemetry,
    log,
    legs: { dialLeg: async (e) => void legs.push(e) },
    callerHashKey: async () => HASH_KEY,
  };
  return { deps, sent, legs };
}

/** A TeXML callback as Telnyx posts it: form body, signed now; `pathAndQuery` as CallLedger wrote it. */
function request(params: Record<string, string>, pathAndQuery = `/webhooks/telnyx/${FIXTURE_ACCOUNT_ID}`, sign = true): CarrierWebhookRequest {
  const body = new URLSearchParams(params).toString();
  const [rawPath, rawQueryString = ''] = pathAndQuery.split('?') as [string, string?];
  return {
    carrier: 'telnyx',
    method: 'POST',
    accountId: FIXTURE_ACCOUNT_ID,
    rawPath,
    rawQueryString,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(sign ? signTelnyx(tk.account.privateKeyPem, body, NOW_SEC) : {}) },
    body: Buffer.from(body, 'utf8'),
  };
}

const outcome = (req: CarrierWebhookRequest, deps: CarrierIngestDeps) =>
  ingestCarrierWebhook(req, deps).then(
    (a) => ({ status: 200, kind: a.kind }),
    (e: { code?: string; errors?: unknown }) => ({ status: statusOf(e), slug: e.code, errors: e.errors }),
  );

/** The dialled leg's statusCallback URL exactly as the TeXML voice URL writes it (machine.ts dialVerb). */
function legPath(parent: string, targetId: string, pos = 1): string {
  const stateKey = voiceStateKey(HASH_KEY, FIXTURE_ACCOUNT_ID);
  return eventsPath({ provider: 'telnyx', accountId: FIXTURE_ACCOUNT_ID, callId: `telnyx:${parent}`, stateKey }, [
    ['leg', 'dial'],
    ['route', 'default'],
    ['pos', String(pos)],
    ['target', targetId],
  ]);
}

const childCompleted = {
  AccountSid: 'telnyx-account',
  CallSid: CHILD,
  ParentCallSid: PARENT,
  CallStatus: 'completed',
  CallDuration: '187',
  From: '+15125550100',
  To: '+15125550141',
  Direction: 'outbound-dial',
  CallbackSource: 'call-progress-events',
  SequenceNumber: '3',
  Timestamp: '2026-11-24 02:13:10.731479Z',
};

const recording = {
  AccountSid: 'telnyx-account',
  CallSid: PARENT,
  RecordingSid: '35094891-3290-4142-b2c2-b2eda57534cf',
  RecordingStatus: 'completed',
  RecordingUrl: 'https://media.example.com/telnyx/recordings/35094891.wav?X-Amz-Signature=abc',
  RecordingDuration: '185',
  RecordingChannels: '2',
  RecordingSource: 'DialVerb',
};

describe('parseTexmlCallback', () => {
  it('a dialled leg’s status callback is the child leg of the caller’s call, its talk time and its own time', () => {
    const out = parseTexmlCallback(parseForm(new URLSearchParams(childCompleted).toString()), ctx);
    expect(out).toMatchObject({
      kind: 'event',
      event: {
        kind: 'call.status',
        provider: 'telnyx',
        callId: `telnyx:${CHILD}`,
        parentCallId: `telnyx:${PARENT}`,
        eventId: `telnyx:${CHILD}:status:completed`,
        status: 'completed',
        direction: 'outbound-dial',
        durationSec: 187,
        sequenceNumber: 3,
        occurredAt: '2026-11-24T02:13:10.731Z',
      },
    });
  });

  it('the caller’s own progress callback folds into the call the voice URL named (telnyx:<CallSid>)', () => {
    const { ParentCallSid: _p, Direction: _d, ...own } = { ...childCompleted, CallSid: PARENT };
    const out = parseTexmlCallback(parseForm(new URLSearchParams({ ...own, Direction: 'inbound' }).toString()), ctx);
    expect(out).toMatchObject({ kind: 'event', event: { callId: `telnyx:${PARENT}`, parentCallId: null, direction: 'inbound', durationSec: 187 } });
  });

  it('a recording status callback is the recording of the call it names', () => {
    const out = parseTexmlCallback(parseForm(new URLSearchParams(recording).toString()), ctx);
    expect(out).toEqual({
      kind: 'event',
      event: {
        kind: 'recording.status',
        provider: 'telnyx',
        accountId: FIXTURE_ACCOUNT_ID,
        callId: `telnyx:${PARENT}`,
        eventId: `telnyx:${PARENT}:recording:${recording.RecordingSid}:completed`,
        occurredAt: ctx.receivedAt,
        receivedAt: ctx.receivedAt,
        sequenceNumber: null,
        recordingId: recording.RecordingSid,
        recordingStatus: 'completed',
        recordingUrl: recording.RecordingUrl,
        recordingDurationSec: 185,
      },
    });
  });

  it('bad fields are refused by name, never by value', () => {
    const out = parseTexmlCallback(parseForm(new URLSearchParams({ ...childCompleted, CallStatus: 'exploded', CallDuration: 'long', Timestamp: 'soon' }).toString()), ctx);
    expect(out.kind).toBe('refused');
    if (out.kind !== 'refused') return;
    expect(out.errors.map((e) => e.field).sort()).toEqual(['CallDuration', 'CallStatus', 'Timestamp']);
    expect(JSON.stringify(out)).not.toContain('+15125550100');
    const repeated = parseTexmlCallback({ ...parseForm(new URLSearchParams(childCompleted).toString()), CallStatus: ['completed', 'busy'] }, ctx);
    expect(repeated).toMatchObject({ kind: 'refused', errors: [{ field: 'CallStatus' }] });
  });

  it('total: any form gives an event or a refusal, never a throw', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('CallSid', 'CallStatus', 'From', 'To', 'CallDuration', 'RecordingSid', 'RecordingStatus', 'Timestamp', 'x'), fc.string()), (params) => {
        const out = parseTexmlCallback(params, ctx);
        expect(['event', 'refused']).toContain(out.kind);
      }),
    );
  });
});

describe('POST /webhooks/telnyx/{accountId} with TeXML callbacks', () => {
  it('a signed form callback is enqueued (it was a 415 when only Call Control JSON was read)', async () => {
    const h = harness();
    expect(await outcome(request(recording), h.deps)).toEqual({ status: 200, kind: 'accepted' });
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]!.event).toMatchObject({ kind: 'recording.status', callId: `telnyx:${PARENT}` });
    expect(h.sent[0]!.raw).toMatchObject({ contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams(recording).toString() });
  });

  it('a dialled leg’s callback applies its lease and audit after it is durable, on the caller’s call', async () => {
    const h = harness();
    expect(await outcome(request(childCompleted, legPath(PARENT, 'agents')), h.deps)).toEqual({ status: 200, kind: 'accepted' });
    expect(h.sent.map((m) => m.event.callId)).toEqual([`telnyx:${CHILD}`]);
    expect(h.legs).toEqual([
      { accountId: FIXTURE_ACCOUNT_ID, callId: `telnyx:${PARENT}`, targetId: 'agents', route: 'default', position: 1, status: 'completed', durationSec: 187, atMs: NOW_SEC * 1000 },
    ]);
  });

  it('a duplicated delivery carries the same eventId (the writer’s no-op), whatever the order of the legs', async () => {
    const h = harness();
    const ringing = { ...childCompleted, CallStatus: 'ringing', CallDuration: '', SequenceNumber: '1' };
    for (const p of [childCompleted, ringing, childCompleted]) await outcome(request(p, legPath(PARENT, 'agents')), h.deps);
    expect(h.sent.map((m) => m.event.eventId)).toEqual([`telnyx:${CHILD}:status:completed`, `telnyx:${CHILD}:status:ringing`, `telnyx:${CHILD}:status:completed`]);
  });

  it('a routing context that does not authenticate (moved to another target or call) is a 400 naming st, nothing written', async () => {
    const h = harness();
    const moved = legPath(PARENT, 'agents').replace('target=agents', 'target=overflow');
    expect(await outcome(request(childCompleted, moved), h.deps)).toMatchObject({ status: 400, errors: [{ field: 'st' }] });
    const otherCall = legPath('v3:someone-else', 'agents');
    expect(await outcome(request(childCompleted, otherCall), h.deps)).toMatchObject({ status: 400, errors: [{ field: 'st' }] });
    const bare = `/webhooks/telnyx/${FIXTURE_ACCOUNT_ID}?leg=dial&route=default&pos=1&target=agents`;
    expect(await outcome(request(childCompleted, bare), h.deps)).toMatchObject({ status: 400, errors: [{ field: 'st' }] });
    expect(h.sent).toEqual([]);
    expect(h.legs).toEqual([]);
  });

  it('unsigned, tampered or malformed: 403 / 400, nothing written; another content type is 415 naming both', async () => {
    const h = harness();
    expect(await outcome(request(childCompleted, undefined, false), h.deps)).toMatchObject({ status: 403, slug: 'bad-signature' });
    const signed = request(childCompleted);
    const tampered = { ...signed, body: Buffer.from(signed.body.toString('utf8').replace('187', '987')) };
    expect(await outcome(tampered, h.deps)).toMatchObject({ status: 403, slug: 'bad-signature' });
    expect(await outcome(request({ ...childCompleted, CallStatus: 'exploded' }), h.deps)).toMatchObject({ status: 400, errors: [{ field: 'CallStatus' }] });
    const xml = { ...signed, headers: { ...signed.headers, 'content-type': 'text/xml' } };
    const refused = await ingestCarrierWebhook(xml, h.deps).catch((e: unknown) => e as { status?: number; detail?: string });
    expect(statusOf(refused)).toBe(415);
    expect(h.sent).toEqual([]);
    expect(h.legs).toEqual([]);
  });
});
