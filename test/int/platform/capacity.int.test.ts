/**
 * What a billable call costs in DynamoDB by AWS's accounting, measured on the items the writer really stores.
 *
 * The call is the demo's shape, parsed from the Twilio fixtures (events/fixtures/twilio): a Texas caller, the
 * incoming-call webhook (ringing, with SHAKEN/STIR and geo fields), the completed status callback (300 s) and a
 * completed recording. The writer processes them against DynamoDB Local; the test reads the stored items back
 * raw, prices each write with AWS's published rules (shared/adapters/platform/dynamodb/capacity.ts), and checks the issue's target
 * (≤ 8 WCU and ≤ 2 requests per billable call: ringing merge + rating transaction + gsi1; plus, since the ledger
 * sealer, 1 WCU for the charge's keys in the ledger's createdAt index: 9; plus, since outcomes and reports
 *, 1 WCU each for the call entering gsi2 (connected calls by caller, KEYS_ONLY) and gsi3 (calls by
 * campaign, ALL): 11; with gsi4, every rated call by caller hash, KEYS_ONLY: 12), that ddbStats' model agrees, and that the items are what docs/CONTRACTS.md says.
 *
 * The reports' indexes also cost bytes: gsi2pk and gsi3pk add ~130 B to the call item (their sort key is gsi1sk, shared). The
 * rated item stays under 1 KB (945 B with the recording's slot already merged), but a demo-shaped call with its
 * stored recording no longer does (~1.1 KB): from then on each write of it costs 2 WCU on the table and 2 on each
 * ALL index (gsi1, gsi3), so the fetcher's setRecording is 6 WCU where it was 2.
 *
 * Caller at rest: the slots no longer carry the number (`f`) and only the terminal slot the caller's
 * location; the item gains the caller traits `ct` (~26 B). Measured: rated 829 B (983 B with the recording's slot),
 * 1170 B with the stored recording, against 846 / 1000 / 1187 B for the same item stored the old way: WCU unchanged.
 */
import { readFileSync } from 'node:fs';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ddbStats } from '../../../shared/adapters/platform/aws';
import { WINDOW_HORIZON_MS } from '../../../shared/domain/rating/duplicate-window';
import { estimateWcu, gsiWcu, itemSizeBytes, updateWcu, type IndexShape, type Item } from '../../../shared/adapters/platform/dynamodb/capacity';
import { LEDGER_BY_CREATED_AT } from '../../../shared/adapters/ledger/ledger-repo';
import { mainKeys } from '../../../shared/adapters/calls/main-repo';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { callerHash } from '../../../shared/domain/calls/caller';
import { parseForm, parseTwilioEvent } from '../../../shared/domain/calls/providers/twilio';
import { entryHash } from '../../../shared/domain/ledger/tamper';
import type { CallEvent, CallStatusEvent } from '../../../shared/domain/calls/events';
import type { ChargeEntry } from '../../../shared/domain/ledger/entries';
import { eventAtRest } from '../../../shared/adapters/calls/call-item';
import { createTenant, freshNumber, hex32, records, startCoreEnv, type CoreEnv, type Tenant } from '../../support/writer-fixtures';

let env: CoreEnv;
beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

const GSI1: IndexShape = { partitionKey: 'gsi1pk', sortKey: 'gsi1sk', projected: 'ALL', tableKeys: ['pk', 'sk'] };
const GSI2: IndexShape = { partitionKey: 'gsi2pk', sortKey: 'gsi1sk', projected: [], tableKeys: ['pk', 'sk'] };
const GSI3: IndexShape = { partitionKey: 'gsi3pk', sortKey: 'gsi1sk', projected: 'ALL', tableKeys: ['pk', 'sk'] };
// Every rated call of a caller (deletion requests), on the item's existing callerHash; KEYS_ONLY.
const GSI4: IndexShape = { partitionKey: 'callerHash', sortKey: 'gsi1sk', projected: [], tableKeys: ['pk', 'sk'] };
/** What a write of the call item costs on its indexes. */
const indexWcu = (before: Item | null, after: Item | null) =>
  gsiWcu(before, after, GSI1) + gsiWcu(before, after, GSI2) + gsiWcu(before, after, GSI3) + gsiWcu(before, after, GSI4);
const TX = { transactional: true };

function fixture(name: string): Record<string, string> {
  return parseForm(readFileSync(new URL(`../../../events/fixtures/twilio/${name}`, import.meta.url), 'utf8').trim()) as Record<string, string>;
}

/** The demo's three webhooks for one call of tenant `t`: ringing, completed after 300 s, the recording. */
function demoCall(t: Tenant) {
  const callSid = `CA${hex32()}`;
  const recordingSid = `RE${hex32()}`;
  const caller = freshNumber();
  const accountSid = t.account.twilio!.accountSid;
  const to = t.numbers.billable.number;
  const call = { CallSid: callSid, AccountSid: accountSid, From: caller, Caller: caller, To: to, Called: to };
  const endedAt = new Date('2026-11-24T15:15:00.000Z');
  const ctx = (receivedAt: Date) => ({ accountId: t.account.accountId, receivedAt: receivedAt.toISOString() });
  const ringing = parseTwilioEvent({ ...fixture('incoming-ringing.form'), ...call }, ctx(new Date(endedAt.getTime() - 305_000)));
  const completed = parseTwilioEvent(
    { ...fixture('status-completed.form'), ...call, CallDuration: '300', Duration: '5', Timestamp: endedAt.toUTCString() },
    ctx(new Date(endedAt.getTime() + 180)),
  );
  const recording = parseTwilioEvent(
    {
      ...fixture('recording-completed.form'),
      CallSid: callSid,
      AccountSid: accountSid,
      RecordingSid: recordingSid,
      RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${accountSid}/Recordings/${recordingSid}`,
      RecordingDuration: '296',
    },
    ctx(new Date(endedAt.getTime() + 2_400)),
  );
  return { callId: `twilio:${callSid}`, caller, ringing, completed, recording };
}

async function rawItem(table: string, key: Record<string, string>): Promise<Item | null> {
  const out = await env.clients.dynamodb.send(new GetItemCommand({ TableName: table, Key: marshall(key), ConsistentRead: true }));
  return (out.Item as Item | undefined) ?? null;
}

/** Processes one batch and returns the requests and AWS-model WCU that ddbStats counted for it. */
async function process(events: readonly CallEvent[]): Promise<{ requests: number; awsWriteUnits: number }> {
  ddbStats.reset();
  expect((await processIngestBatch(records(events), env.writerDeps)).failedMessageIds).toEqual([]);
  return { requests: ddbStats.requests, awsWriteUnits: ddbStats.awsWriteUnits };
}

/** The call item as the writer stored it before caller numbers were sealed: the number in every status slot, every slot located, no `ct`. */
function preIssue6Shape(item: Item, caller: string, ringing: CallStatusEvent): Item {
  const { ct: _ct, ...rest } = item;
  const out: Item = { ...rest };
  for (const [attr, value] of Object.entries(item)) {
    if (!attr.startsWith('s_') || value.M === undefined) continue;
    const located = attr === 's_ringing' ? { s: ringing.fromState, z: ringing.fromZip, c: ringing.fromCountry } : {};
    const extra = Object.fromEntries(Object.entries(located).flatMap(([k, v]) => (v === null ? [] : [[k, { S: v }]])));
    out[attr] = { M: { ...value.M, f: { S: caller }, ...extra } };
  }
  return out;
}

function sizes(item: Item | null): number {
  return item === null ? 0 : itemSizeBytes(item);
}

describe('capacity of a billable call, by AWS accounting', () => {
  for (const order of ['recording after completed', 'recording before completed'] as const) {
    it(`ringing merge + rating transaction + gsi1-4 + ledger index ≤ 12 WCU in ≤ 2 requests (${order})`, async () => {
      const t = await createTenant(env.config, { priceCents: 4500, bufferSec: 90, duplicateWindowHours: 72 });
      const c = demoCall(t);
      const acct = t.account.accountId;
      // Warm the configuration cache (a busy writer has it warm): the rating's reads are not what is measured.
      await env.config.getTrackingNumber(t.numbers.billable.number);
      await env.config.getCampaign(acct, t.campaign.campaignId);
      // …and the account's block list (one Query per account and minute: block-repo.ts).
      await env.writerDeps.blocks?.blockedCaller(acct, callerHash(env.callerHashKey, c.caller), Date.now());
      // …and the account (its quality settings: one cached read per account, like the campaign).
      await env.config.getAccount(acct);
      // …its publisher (does it need consent evidence?) and whether it has DNC lists (one Query per account and minute).
      await env.config.getPublisher(acct, t.numbers.billable.publisherId);
      await env.writerDeps.dnc?.dncListed(acct, callerHash(env.callerHashKey, c.caller), Date.now());
      const callKey = mainKeys.call(c.callId);

      const ringingStats = await process([c.ringing]);
      const afterRinging = await rawItem(env.names.mainTable, callKey);
      let beforeRating = afterRinging;
      let recordingMerge: { requests: number; awsWriteUnits: number } | null = null;
      if (order === 'recording before completed') {
        recordingMerge = await process([c.recording]);
        beforeRating = await rawItem(env.names.mainTable, callKey);
      }
      const ratingStats = await process([c.completed]);
      const afterRating = (await rawItem(env.names.mainTable, callKey))!;
      const charge = (await rawItem(env.names.ledgerTable, {
        pk: `ACCT#${acct}`,
        sk: `2026-11-24T15:10:00.000Z#charge:${c.callId}`,
      }))!;
      const hash = callerHash(env.callerHashKey, c.caller);
      const marker = (await rawItem(env.names.mainTable, mainKeys.duplicate(acct, t.campaign.campaignId, hash)))!;
      expect(charge).not.toBeNull();
      expect(marker).not.toBeNull();

      // AWS's price of each write, from the stored items.
      const ringingWcu = updateWcu(null, afterRinging!) + indexWcu(null, afterRinging);
      const rating = {
        call: updateWcu(beforeRating, afterRating, TX),
        charge: estimateWcu(charge, TX),
        marker: estimateWcu(marker, TX),
        gsi1: gsiWcu(beforeRating, afterRating, GSI1),
        gsi2: gsiWcu(beforeRating, afterRating, GSI2),
        gsi3: gsiWcu(beforeRating, afterRating, GSI3),
        gsi4: gsiWcu(beforeRating, afterRating, GSI4),
        ledgerIndex: gsiWcu(null, charge, LEDGER_BY_CREATED_AT),
      };
      const total = ringingWcu + rating.call + rating.charge + rating.marker + rating.gsi1 + rating.gsi2 + rating.gsi3 + rating.gsi4 + rating.ledgerIndex;
      console.log(
        `billable call (${order}): call item ${sizes(afterRinging)} B after ringing, ${sizes(afterRating)} B rated; ` +
          `charge ${sizes(charge)} B; marker ${sizes(marker)} B → ringing ${ringingWcu} + call ${rating.call} + charge ${rating.charge} + ` +
          `marker ${rating.marker} + gsi1 ${rating.gsi1} + gsi2 ${rating.gsi2} + gsi3 ${rating.gsi3} + gsi4 ${rating.gsi4} + ledger index ${rating.ledgerIndex} = ${total} WCU in ${ringingStats.requests + ratingStats.requests} requests`,
      );
      expect(itemSizeBytes(afterRating)).toBeLessThanOrEqual(1024);
      // The slots no longer carry the caller's number (nor the ringing slot its location); the item gained
      // the caller traits `ct` instead. The same item as it was stored before (clear `f` in every status slot,
      // location on the ringing slot too, no `ct`) was larger: the change costs no byte.
      const before6 = preIssue6Shape(afterRating, c.caller, c.ringing as CallStatusEvent);
      console.log(`caller at rest (${order}): rated call item ${sizes(afterRating)} B; the same with the number in its slots ${sizes(before6)} B`);
      expect(itemSizeBytes(afterRating)).toBeLessThan(itemSizeBytes(before6));
      expect(rating).toEqual({ call: 2, charge: 2, marker: 2, gsi1: 1, gsi2: 1, gsi3: 1, gsi4: 1, ledgerIndex: 1 });
      expect(total).toBeLessThanOrEqual(12);
      expect(ringingStats.requests + ratingStats.requests).toBeLessThanOrEqual(2);
      // ddbStats prices the same writes the same way.
      expect(ringingStats.awsWriteUnits).toBe(ringingWcu);
      expect(ratingStats.awsWriteUnits).toBe(total - ringingWcu);

      // The recording: its slot merge (when it comes after rating, the rated item is in gsi1 and gsi3, which project
      // ALL; gsi2 is KEYS_ONLY and untouched), and the fetcher's setRecording.
      if (recordingMerge === null) recordingMerge = await process([c.recording]);
      ddbStats.reset();
      await env.calls.setRecording(c.callId, {
        recordingId: (c.recording as { recordingId: string }).recordingId,
        key: `recordings/${acct}/${c.callId}.wav`,
        sha256: 'ab'.repeat(32),
        bytes: 4_736_044,
        durationSec: 296,
        contentType: 'audio/x-wav',
        storedAt: '2026-11-24T15:15:09.000Z',
      });
      const final = (await rawItem(env.names.mainTable, callKey))!;
      console.log(
        `recording (${order}): slot merge ${recordingMerge.awsWriteUnits} WCU, setRecording ${ddbStats.awsWriteUnits} WCU; final call item ${sizes(final)} B ` +
          `(with the number in its slots ${sizes(preIssue6Shape(final, c.caller, c.ringing as CallStatusEvent))} B)`,
      );
      // The slot merge is 1 WCU on the table + 1 on each ALL index (gsi1, gsi3) while the item is under 1 KB, except
      // for a recording that arrived before rating, when the call was in no index yet. The stored recording takes the
      // item past 1 KB since the reports' index keys (measured 1132 B; it was 1003 B): setRecording is then 2 WCU on the
      // table + 2 on gsi1 + 2 on gsi3 (it was 1 + 1), and every later write of the call item (an outcome) costs the
      // same. Keeping it under 1 KB would need ~110 B off the item (e.g. the recording's S3 key, derivable from the
      // account and call ids); left for the owners of the call item.
      expect(itemSizeBytes(final)).toBeGreaterThan(1024);
      expect(itemSizeBytes(final)).toBeLessThanOrEqual(2048);
      expect(ddbStats.awsWriteUnits).toBe(6);
      expect(recordingMerge.awsWriteUnits).toBe(order === 'recording before completed' ? 1 : 3);

      // The items are what CONTRACTS.md says. The charge carries its content hash: every hashed field is the
      // expected value except `createdAt` (wall clock, pattern-checked), taken from the stored item.
      const storedCharge = unmarshall(charge);
      const expectedEntry: ChargeEntry = {
        entryId: `charge:${c.callId}`,
        type: 'charge',
        amountCents: 4500,
        currency: 'USD',
        callId: c.callId,
        accountId: acct,
        publisherId: t.numbers.billable.publisherId,
        subSource: 'search',
        campaignId: t.campaign.campaignId,
        termsVersion: 1,
        effectiveAt: '2026-11-24T15:10:00.000Z',
        createdAt: storedCharge.createdAt,
      };
      expect(storedCharge).toEqual({
        pk: `ACCT#${acct}`,
        sk: `2026-11-24T15:10:00.000Z#charge:${c.callId}`,
        ...expectedEntry,
        contentHash: entryHash(expectedEntry),
      });
      expect(storedCharge.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      // The hash is 64 hex characters; with it the charge must still fit one transactional write (≤ 1 KB).
      expect(storedCharge.contentHash).toMatch(/^[0-9a-f]{64}$/);
      expect(itemSizeBytes(charge)).toBeLessThanOrEqual(1024);
      const billedStartMs = Date.parse('2026-11-24T15:10:00.000Z');
      // The caller's duplicate window (duplicate-marker.ts): one candidate, billed; a first-time caller's marker is
      // still one transactional write unit pair (187 B; the one-start marker it replaced was 158 B).
      expect(unmarshall(marker)).toEqual({
        pk: `DUP#${acct}#${t.campaign.campaignId}#${hash}`,
        sk: 'DUP',
        v: 1,
        c: [{ i: c.callId, s: billedStartMs, w: 72, p: 4500, b: true, n: 1 }],
        ttl: Math.ceil((billedStartMs + 72 * 3_600_000 + WINDOW_HORIZON_MS + 86_400_000) / 1000),
      });
      const call = unmarshall(afterRating);
      const slots = Object.keys(call).filter((k) => k.startsWith('s_') || k.startsWith('r_'));
      expect(slots.sort()).toEqual(
        ['s_completed', 's_ringing', ...(order === 'recording before completed' ? [`r_${(c.recording as { recordingId: string }).recordingId}_completed`] : [])].sort(),
      );
      expect(call).toMatchObject({
        pk: `CALL#${c.callId}`,
        sk: 'CALL',
        accountId: acct,
        startedAt: '2026-11-24T15:10:00.000Z',
        endedAt: '2026-11-24T15:15:00.000Z',
        durationSec: 300,
        billable: true,
        amountCents: 4500,
        campaignId: t.campaign.campaignId,
        publisherId: t.numbers.billable.publisherId,
        subSource: 'search',
        callerHash: hash,
        // The number itself only encrypted (AES-256-GCM, bound to account and call: pii-cipher.ts).
        callerEnc: expect.stringMatching(/^v1:/),
        // …and what later steps need of the caller instead of it: class, area code, keyed number block (call-item.ts).
        ct: expect.stringMatching(/^v:\d{3}:6:[A-Za-z0-9_-]{16}$/),
        gsi1pk: `ACCT#${acct}`,
        gsi1sk: `2026-11-24T15:10:00.000Z#${c.callId}`,
        // The caller index (connected calls) and the campaign index share gsi1sk as their sort key.
        gsi2pk: `CALLER#${acct}#${hash}`,
        gsi3pk: `CAMP#${acct}#${t.campaign.campaignId}`,
      });
      expect(call.gsi2sk).toBeUndefined();
      expect(call.gsi3sk).toBeUndefined();
      for (const slot of slots) expect(afterRating[slot]?.M, slot).toBeDefined();
      expect(afterRating.rating?.M).toBeDefined();

      // And the repository reads back what was delivered, but for the caller, with what the rating recorded.
      const stored = await env.calls.getCall(c.callId, { consistent: true });
      const byId = (events: readonly CallEvent[]) => [...events].sort((x, y) => x.eventId.localeCompare(y.eventId));
      expect(byId(stored!.events)).toEqual(byId([c.ringing, c.completed, c.recording].map(eventAtRest)));
      expect(JSON.stringify(afterRating)).not.toContain(c.caller.slice(2));
      expect(stored!.rating).toEqual({
        billable: true,
        amountCents: 4500,
        reasons: [],
        campaignId: t.campaign.campaignId,
        publisherId: t.numbers.billable.publisherId,
        subSource: 'search',
        termsVersion: 1,
        // The terms figures the rules used; no prior call, no refusal, no block, no talk time, no signals.
        recorded: { bufferSec: 90, duplicateWindowHours: 72 },
      });
    });
  }

  it('a repeat caller: requests and write units of each rating (in order, a duplicate, again after the window, a late earlier call)', async () => {
    const t = await createTenant(env.config, { priceCents: 4500, bufferSec: 90, duplicateWindowHours: 72 });
    const acct = t.account.accountId;
    await env.config.getTrackingNumber(t.numbers.billable.number);
    await env.config.getTrackingNumber(t.numbers.second.number);
    await env.config.getCampaign(acct, t.campaign.campaignId);
    await env.config.getAccount(acct);
    await env.config.getPublisher(acct, t.numbers.billable.publisherId);
    await env.config.getPublisher(acct, t.numbers.second.publisherId);
    const caller = freshNumber();
    await env.writerDeps.blocks?.blockedCaller(acct, callerHash(env.callerHashKey, caller), Date.now());
    await env.writerDeps.dnc?.dncListed(acct, callerHash(env.callerHashKey, caller), Date.now());
    const base = Date.parse('2026-11-20T15:00:00.000Z');
    /** One completed 300 s call of the caller to publisher A's or B's number, its final event alone in a batch. */
    const completed = (startMs: number, to: string): CallEvent => {
      const callSid = `CA${hex32()}`;
      const call = { CallSid: callSid, AccountSid: t.account.twilio!.accountSid, From: caller, Caller: caller, To: to, Called: to };
      const endedAt = new Date(startMs + 300_000);
      return parseTwilioEvent(
        { ...fixture('status-completed.form'), ...call, CallDuration: '300', Duration: '5', Timestamp: endedAt.toUTCString() },
        { accountId: acct, receivedAt: new Date(endedAt.getTime() + 180).toISOString() },
      );
    };
    const steps = {
      first: await process([completed(base + 10 * 3_600_000, t.numbers.billable.number)]),
      duplicate: await process([completed(base + 20 * 3_600_000, t.numbers.billable.number)]),
      afterWindow: await process([completed(base + 100 * 3_600_000, t.numbers.billable.number)]),
      lateEarlier: await process([completed(base + 90 * 3_600_000, t.numbers.second.number)]),
    };
    console.log(
      `repeat caller: ${Object.entries(steps)
        .map(([k, v]) => `${k} ${v.requests} requests / ${v.awsWriteUnits} WCU`)
        .join('; ')}`,
    );
    // A first-time caller: one transaction. A repeat caller: the optimistic transaction is cancelled and returns the
    // marker, the second commits (a duplicate now writes the marker too: it is a candidate the window must keep). A
    // late earlier call adds the later call's re-rating and its reversal to the same transaction.
    expect(steps.first.requests).toBe(1);
    expect(steps.duplicate.requests).toBe(2);
    expect(steps.afterWindow.requests).toBe(2);
    // The late earlier call reads the later call it reverses with the marker (1 TransactGetItems) before the transaction.
    expect(steps.lateEarlier.requests).toBe(3);
  });
});
