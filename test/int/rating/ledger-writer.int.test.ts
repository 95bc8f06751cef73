/**
 * processIngestBatch against DynamoDB Local + fauxqs: the rating transaction, duplicates, redeliveries,
 * the archive and recording jobs.
 */
import { WINDOW_HORIZON_MS } from '../../../shared/domain/rating/duplicate-window';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ddbStats } from '../../../shared/adapters/platform/aws';
import { eventAtRest } from '../../../shared/adapters/calls/call-item';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { callerHash } from '../../../shared/domain/calls/caller';
import type { LedgerEntry } from '../../../shared/domain/ledger/entries';
import { entryHash } from '../../../shared/domain/ledger/tamper';
import {
  createTenant,
  freshNumber,
  hex32,
  ledgerItemsOf,
  lifecycle,
  listKeys,
  readArchive,
  receiveAll,
  recordingEvent,
  records,
  scanTable,
  startCoreEnv,
  statusEvent,
  type CoreEnv,
} from '../../support/writer-fixtures';

let env: CoreEnv;
beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-20T15:00:00.000Z');

describe('processIngestBatch (DynamoDB Local + fauxqs)', () => {
  it('rates a billable call: one charge, the rated call item, the duplicate marker', async () => {
    const t = await createTenant(env.config);
    const caller = freshNumber();
    const call = lifecycle({ accountId: t.account.accountId, from: caller, to: t.numbers.billable.number, startMs: T0, durationSec: 240 });

    const result = await processIngestBatch(records(call.events), env.writerDeps);
    expect(result.failedMessageIds).toEqual([]);

    const ledger = await ledgerItemsOf(env, t.account.accountId);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({
      pk: `ACCT#${t.account.accountId}`,
      sk: `2026-11-20T15:00:00.000Z#charge:${call.callId}`,
      entryId: `charge:${call.callId}`,
      type: 'charge',
      amountCents: 4500,
      currency: 'USD',
      callId: call.callId,
      accountId: t.account.accountId,
      publisherId: t.numbers.billable.publisherId,
      subSource: 'search',
      campaignId: t.campaign.campaignId,
      termsVersion: 1,
      effectiveAt: '2026-11-20T15:00:00.000Z',
    });
    // Stored with the hash of its own content (tamper evidence).
    const { pk: _pk, sk: _sk, contentHash, ...entry } = ledger[0]!;
    expect(contentHash).toBe(entryHash(entry as unknown as LedgerEntry));

    const stored = await env.calls.getCall(call.callId, { consistent: true });
    expect(stored).toMatchObject({
      callId: call.callId,
      accountId: t.account.accountId,
      startedAt: '2026-11-20T15:00:00.000Z',
      endedAt: '2026-11-20T15:04:00.000Z',
      durationSec: 240,
      recording: null,
    });
    expect(stored?.rating).toMatchObject({ billable: true, amountCents: 4500, reasons: [] });
    // Every delivered event is in its slot, and reads back equal to what was written but for the caller's number
    // (never stored in a slot) and location (terminal slot only).
    expect([...(stored?.events ?? [])].sort((a, b) => a.eventId.localeCompare(b.eventId))).toEqual(
      [...call.events].map(eventAtRest).sort((a, b) => a.eventId.localeCompare(b.eventId)),
    );

    const hash = callerHash(env.callerHashKey, caller);
    const marker = (await scanTable(env, env.names.mainTable)).find((i) => i.pk === `DUP#${t.account.accountId}#${t.campaign.campaignId}#${hash}`);
    // The caller's duplicate window (duplicate-marker.ts): version 1, the call billed at its price, its 72 h window.
    expect(marker).toMatchObject({ v: 1, c: [{ i: call.callId, s: T0, w: 72, p: 4500, b: true, n: 1 }] });
    expect(marker?.ttl).toBe(Math.ceil((T0 + 72 * HOUR + WINDOW_HORIZON_MS + 24 * HOUR) / 1000));
    // The number is on the call item only sealed (call detail); the marker only has the hash.
    expect(JSON.stringify(marker)).not.toContain(caller);
  });

  it('a billable call whose events share a batch costs one DynamoDB request', async () => {
    const t = await createTenant(env.config);
    const call = lifecycle({ accountId: t.account.accountId, from: freshNumber(), to: t.numbers.billable.number, startMs: T0, durationSec: 300 });
    const all = records(call.events);
    // Warm the configuration cache with another call to the same number, then measure.
    const warm = lifecycle({ accountId: t.account.accountId, from: freshNumber(), to: t.numbers.billable.number, startMs: T0, durationSec: 5 });
    await processIngestBatch(records(warm.events), env.writerDeps);

    ddbStats.reset();
    expect((await processIngestBatch(all, env.writerDeps)).failedMessageIds).toEqual([]);
    const { requests, writeUnits, awsWriteUnits } = ddbStats;
    expect(requests).toBe(1);
    expect(writeUnits).toBeGreaterThan(0);
    // By AWS's rules: call item update 2 + charge 2 + marker 2 (transactional, each under 1 KB) + gsi1 put 1
    // + the charge's keys in the ledger's createdAt index 1 + the call entering gsi2 (connected calls
    // by caller, keys only) 1 and gsi3 (calls by campaign) 1; gsi4 (every rated call by caller hash, keys
    // only: deletion requests) 1.
    expect(awsWriteUnits).toBe(11);
    console.log(`billable call, 3 events in one batch: ${requests} DynamoDB request(s), ${awsWriteUnits} WCU by AWS's rules (DynamoDB Local reports ${writeUnits})`);
  });

  it('concurrent duplicate deliveries of a completed call write exactly one charge', async () => {
    const t = await createTenant(env.config);
    const call = lifecycle({ accountId: t.account.accountId, from: freshNumber(), to: t.numbers.billable.number, startMs: T0, durationSec: 200 });
    const completed = call.events.at(-1)!;
    const batches = Array.from({ length: 8 }, (_, i) => records(i % 2 === 0 ? [completed] : call.events));

    const results = await Promise.all(batches.map((b) => processIngestBatch(b, env.writerDeps)));
    expect(results.flatMap((r) => r.failedMessageIds)).toEqual([]);

    const ledger = await ledgerItemsOf(env, t.account.accountId);
    expect(ledger.map((e) => e.callId)).toEqual([call.callId]);
    const stored = await env.calls.getCall(call.callId, { consistent: true });
    expect(stored?.rating?.billable).toBe(true);
    expect(stored?.events).toHaveLength(3);
  });

  it('rates the same caller inside the window as duplicate_caller, outside it as billable again', async () => {
    const t = await createTenant(env.config, { duplicateWindowHours: 24 });
    const caller = freshNumber();
    const acct = t.account.accountId;
    const first = lifecycle({ accountId: acct, from: caller, to: t.numbers.billable.number, startMs: T0, durationSec: 200 });
    const repeat = lifecycle({ accountId: acct, from: caller, to: t.numbers.second.number, startMs: T0 + 2 * HOUR, durationSec: 200 });
    const later = lifecycle({ accountId: acct, from: caller, to: t.numbers.billable.number, startMs: T0 + 25 * HOUR, durationSec: 200 });

    expect((await processIngestBatch(records(first.events), env.writerDeps)).failedMessageIds).toEqual([]);
    expect((await processIngestBatch(records(repeat.events), env.writerDeps)).failedMessageIds).toEqual([]);
    expect((await processIngestBatch(records(later.events), env.writerDeps)).failedMessageIds).toEqual([]);

    const dup = await env.calls.getCall(repeat.callId, { consistent: true });
    expect(dup?.rating).toMatchObject({ billable: false, amountCents: 0, reasons: ['duplicate_caller'], publisherId: t.numbers.second.publisherId });
    expect(dup?.rating?.recorded.priorBilled).toEqual({ callId: first.callId, billedStartMs: T0 });

    const ledger = await ledgerItemsOf(env, acct);
    expect(ledger.map((e) => e.callId).sort()).toEqual([first.callId, later.callId].sort());
  });

  it('rates non-billable calls with their reasons and writes no ledger entry', async () => {
    const t = await createTenant(env.config, { bufferSec: 90 });
    const acct = t.account.accountId;
    const short = lifecycle({ accountId: acct, from: freshNumber(), to: t.numbers.billable.number, startMs: T0, durationSec: 30 });
    const busy = lifecycle({ accountId: acct, from: freshNumber(), to: t.numbers.billable.number, startMs: T0, durationSec: 0, final: 'busy' });
    const unknown = lifecycle({ accountId: acct, from: freshNumber(), to: freshNumber(), startMs: T0, durationSec: 300 });
    const anonymous = lifecycle({ accountId: acct, from: 'anonymous', to: t.numbers.billable.number, startMs: T0, durationSec: 300 });

    const result = await processIngestBatch(records([...short.events, ...busy.events, ...unknown.events, ...anonymous.events]), env.writerDeps);
    expect(result.failedMessageIds).toEqual([]);

    const rating = async (callId: string) => (await env.calls.getCall(callId, { consistent: true }))?.rating;
    expect(await rating(short.callId)).toMatchObject({ billable: false, reasons: ['below_buffer'] });
    expect(await rating(busy.callId)).toMatchObject({ billable: false, reasons: ['not_connected'] });
    expect(await rating(unknown.callId)).toMatchObject({ billable: false, reasons: ['unknown_number'], campaignId: null });
    // Terms stored before withheldCallerId existed bill a withheld caller (once per window: it has an identity too).
    expect(await rating(anonymous.callId)).toMatchObject({ billable: true, reasons: [] });
    expect((await ledgerItemsOf(env, acct)).map((e) => e.callId)).toEqual([anonymous.callId]);
  });

  it('a redelivery of an already rated call is a no-op', async () => {
    const t = await createTenant(env.config);
    const call = lifecycle({ accountId: t.account.accountId, from: freshNumber(), to: t.numbers.billable.number, startMs: T0, durationSec: 120 });
    await processIngestBatch(records(call.events), env.writerDeps);
    const before = await env.calls.getCall(call.callId, { consistent: true });
    const ratedBefore = env.writerDeps.rated.length;

    // Redelivered with new receivedAt values (a Twilio retry is a new HTTP request).
    const again = call.events.map((e) => ({ ...e, receivedAt: new Date(Date.now() + 60_000).toISOString() }));
    expect((await processIngestBatch(records(again), env.writerDeps)).failedMessageIds).toEqual([]);

    const after = await env.calls.getCall(call.callId, { consistent: true });
    expect(after).toEqual(before);
    expect(env.writerDeps.rated.length).toBe(ratedBefore);
    expect(await ledgerItemsOf(env, t.account.accountId)).toHaveLength(1);
  });

  it('archives the batch per account and day, and queues completed recordings', async () => {
    const t = await createTenant(env.config);
    const acct = t.account.accountId;
    const call = lifecycle({ accountId: acct, from: freshNumber(), to: t.numbers.billable.number, startMs: T0, durationSec: 120 });
    const recordingSid = `RE${hex32()}`;
    const recording = recordingEvent({
      accountId: acct,
      callSid: call.callSid,
      recordingSid,
      recordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${t.account.twilio!.accountSid}/Recordings/${recordingSid}`,
      occurredAt: new Date(T0 + 121_000).toISOString(),
      durationSec: 118,
    });
    await receiveAll(env, env.names.recordingsQueueUrl); // drain jobs of earlier tests
    const batch = records([recording, ...call.events]);
    expect((await processIngestBatch(batch, env.writerDeps)).failedMessageIds).toEqual([]);

    const keys = await listKeys(env, env.names.archiveBucket, `raw/${acct}/`);
    expect(keys).toHaveLength(1);
    const today = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
    expect(keys[0]).toMatch(new RegExp(`^raw/${acct}/${today}/[0-9a-f]{32}\\.jsonl\\.gz$`));
    const archived = await readArchive(env, keys[0]!);
    expect(archived.map((m) => m.event.eventId).sort()).toEqual(batch.map((r) => JSON.parse(r.body).event.eventId).sort());

    const jobs = (await receiveAll(env, env.names.recordingsQueueUrl)).map((b) => JSON.parse(b));
    expect(jobs).toEqual([
      { v: 1, accountId: acct, callId: call.callId, recordingId: recordingSid, recordingUrl: recording.recordingUrl, recordingDurationSec: 118 },
    ]);
  });

  it('fails only the malformed message; the call that belongs to another account is refused, not retried', async () => {
    const a = await createTenant(env.config);
    const b = await createTenant(env.config);
    const callSid = `CA${hex32()}`;
    const ok = statusEvent({ accountId: a.account.accountId, callSid, status: 'ringing', from: freshNumber(), to: a.numbers.billable.number, occurredAt: new Date(T0).toISOString() });
    await processIngestBatch(records([ok]), env.writerDeps);

    const other = lifecycle({ accountId: a.account.accountId, from: freshNumber(), to: a.numbers.billable.number, startMs: T0, durationSec: 100 });
    const hijack = { ...ok, accountId: b.account.accountId, status: 'completed' as const, eventId: `${ok.callId}:status:completed`, durationSec: 100 };
    const batch = [...records(other.events), ...records([hijack]), { messageId: 'garbage', body: '{"v":1,"event":{}}' }];
    const result = await processIngestBatch(batch, env.writerDeps);

    expect(result.failedMessageIds).toEqual(['garbage']);
    expect((await env.calls.getCall(ok.callId, { consistent: true }))?.accountId).toBe(a.account.accountId);
    expect((await env.calls.getCall(ok.callId, { consistent: true }))?.rating).toBeNull();
    expect(await ledgerItemsOf(env, b.account.accountId)).toEqual([]);
    expect(await ledgerItemsOf(env, a.account.accountId)).toHaveLength(1);
  });
});
