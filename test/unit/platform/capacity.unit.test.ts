/**
 * The AWS capacity model (shared/adapters/platform/dynamodb/capacity.ts) against the published size rules, with worked examples,
 * and the compact rating and recording encodings of the call item (shared/adapters/calls/call-item.ts).
 */
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { decodeRating, decodeRecording, encodeRating, encodeRecording } from '../../../shared/adapters/calls/call-item';
import { estimateWcu, gsiWcu, itemSizeBytes, updateWcu, valueBytes, type IndexShape, type Item } from '../../../shared/adapters/platform/dynamodb/capacity';
import { campaignFromSeed } from '../../../shared/domain/catalog/config';
import { recordedRating, type RecordedRating } from '../../../shared/domain/rating/decision';
import { callFactsFrom, rateCall, type CallSignal, type RatingInput } from '../../../shared/domain/rating/rules';
import type { CallStatusEvent } from '../../../shared/domain/calls/events';
import type { FlatCampaign, AssignedNumber } from '../../../shared/domain/catalog/types';

describe('item size (AWS "Item sizes and formats")', () => {
  it('strings: UTF-8 bytes of name and value', () => {
    expect(itemSizeBytes({ pk: { S: 'CALL#x' } })).toBe(2 + 6);
    // "é" is two bytes in UTF-8, "€" three.
    expect(itemSizeBytes({ né: { S: '€1' } })).toBe(3 + 4);
  });

  it('numbers: 1 byte per two significant digits + 1; leading and trailing zeros do not count', () => {
    expect(valueBytes({ N: '4500' })).toBe(2); // "45": 1 + 1
    expect(valueBytes({ N: '300' })).toBe(2); // "3"
    expect(valueBytes({ N: '12345' })).toBe(4); // 3 + 1
    expect(valueBytes({ N: '-0.00125' })).toBe(3); // "125": 2 + 1
    expect(valueBytes({ N: '1763996400000' })).toBe(5); // "17639964": 4 + 1
    expect(valueBytes({ N: '0' })).toBe(1);
  });

  it('binary: raw bytes; boolean and null: 1 byte', () => {
    expect(itemSizeBytes({ h: { B: new Uint8Array(32) } })).toBe(1 + 32);
    expect(itemSizeBytes({ billable: { BOOL: true }, x: { NULL: true } })).toBe(8 + 1 + 1 + 1);
  });

  it('maps and lists: 3 bytes + each element (a map element with its key) + 1 byte per element', () => {
    // rating = { v: 1, b: 90 }: 6 (name) + 3 + (1 + 2 + 1) + (1 + 2 + 1)
    expect(itemSizeBytes({ rating: { M: { v: { N: '1' }, b: { N: '90' } } } })).toBe(6 + 3 + 4 + 4);
    expect(itemSizeBytes({ l: { L: [{ S: 'ab' }, { BOOL: false }] } })).toBe(1 + 3 + (2 + 1) + (1 + 1));
    expect(itemSizeBytes({ m: { M: {} } })).toBe(1 + 3);
    expect(itemSizeBytes({ ss: { SS: ['a', 'bc'] } })).toBe(2 + 3);
  });
});

describe('write units', () => {
  const sized = (bytes: number): Item => ({ pk: { S: 'x'.repeat(bytes - 2) } }); // 2 bytes of name

  it('standard writes cost 1 WCU per KB rounded up, transactional writes 2', () => {
    expect(estimateWcu(sized(100))).toBe(1);
    expect(estimateWcu(sized(1024))).toBe(1);
    expect(estimateWcu(sized(1025))).toBe(2);
    expect(estimateWcu(sized(1024), { transactional: true })).toBe(2);
    expect(estimateWcu(sized(1498), { transactional: true })).toBe(4);
  });

  it('an update is charged on the larger of the item before and after', () => {
    expect(updateWcu(null, sized(900))).toBe(1);
    expect(updateWcu(sized(1500), sized(900))).toBe(2);
    expect(updateWcu(sized(900), sized(1100), { transactional: true })).toBe(4);
  });

  it('worked example: the rating transaction of a billable call', () => {
    // Call item 816 B, charge 398 B, marker 176 B, all transactional (2 WCU per KB each) + gsi1 put (1 per KB).
    const gsi: IndexShape = { partitionKey: 'gsi1pk', sortKey: 'gsi1sk', projected: 'ALL', tableKeys: ['pk', 'sk'] };
    const before: Item = { pk: { S: 'CALL#x' }, s_ringing: { S: 'r'.repeat(150) } };
    const after: Item = { ...before, gsi1pk: { S: 'ACCT#a' }, gsi1sk: { S: 't#x' }, rest: { S: 'y'.repeat(624) } };
    expect(itemSizeBytes(before)).toBe(8 + 159);
    expect(itemSizeBytes(after)).toBe(167 + 12 + 9 + 4 + 624);
    const total = updateWcu(before, after, { transactional: true }) + estimateWcu(sized(398), { transactional: true }) + estimateWcu(sized(176), { transactional: true }) + gsiWcu(before, after, gsi);
    expect(total).toBe(2 + 2 + 2 + 1);
  });
});

describe('global secondary index writes', () => {
  const all: IndexShape = { partitionKey: 'gpk', sortKey: 'gsk', projected: 'ALL', tableKeys: ['pk'] };
  const keysOnly: IndexShape = { ...all, projected: [] };
  const base: Item = { pk: { S: 'p' }, big: { S: 'b'.repeat(1500) } };
  const indexed: Item = { ...base, gpk: { S: 'A' }, gsk: { S: '1' } };

  it('nothing while the item has no index key; a put when it gains one, sized by the projection', () => {
    expect(gsiWcu(null, base, all)).toBe(0);
    expect(gsiWcu(base, indexed, all)).toBe(2); // the whole 1.5 KB item is projected
    expect(gsiWcu(base, indexed, keysOnly)).toBe(1); // keys only: a few bytes
  });

  it('an update when a projected attribute changes, none when only unprojected ones do', () => {
    const changed: Item = { ...indexed, extra: { S: 'e' } };
    expect(gsiWcu(indexed, changed, all)).toBe(2);
    expect(gsiWcu(indexed, changed, keysOnly)).toBe(0);
    expect(gsiWcu(indexed, { ...indexed }, all)).toBe(0);
    expect(gsiWcu(indexed, changed, { ...all, projected: ['extra'] })).toBe(1);
  });

  it('a delete and a put when the index key changes; a delete when it goes', () => {
    expect(gsiWcu(indexed, { ...indexed, gsk: { S: '2' } }, keysOnly)).toBe(2);
    expect(gsiWcu(indexed, base, keysOnly)).toBe(1);
  });
});

describe('the stored rating', () => {
  const campaign: FlatCampaign = {
    accountId: 'acme',
    campaignId: 'roofing-tx',
    name: 'Roof',
    vertical: 'home',
    terms: { version: 3, priceCents: 4500, bufferSec: 90, duplicateWindowHours: 72 },
  };
  const assignment: AssignedNumber = { accountId: 'acme', number: '+15125550101', campaignId: 'roofing-tx', publisherId: 'pub-a', subSource: 'search' };
  const terminal: CallStatusEvent = {
    kind: 'call.status',
    eventId: 'twilio:CA1:status:completed',
    provider: 'twilio',
    accountId: 'acme',
    callId: 'twilio:CA1',
    occurredAt: '2026-11-24T15:15:00.000Z',
    receivedAt: '2026-11-24T15:15:00.200Z',
    sequenceNumber: 0,
    status: 'completed',
    direction: 'inbound',
    from: '+15125550142',
    to: '+15125550101',
    durationSec: 300,
    answeredBy: null,
    stirVerstat: null,
    digits: null,
    fromState: 'TX',
    fromZip: '78704',
    fromCountry: 'US',
    parentCallId: null,
  };
  const startedAtMs = Date.parse('2026-11-24T15:10:00.000Z');
  const config = campaignFromSeed(campaign);
  /** A case: the terminal event, and the rating input the writer builds from it (and what it found elsewhere). */
  const input = ({ event = terminal, talkSec, ...over }: Partial<RatingInput> & { event?: CallStatusEvent; talkSec?: number } = {}) => ({
    event,
    rated: {
      call: callFactsFrom(event, talkSec === undefined ? {} : { talkSec }),
      startedAtMs,
      assignment,
      campaign: config,
      termsVersions: config.termsVersions,
      priorBilled: null,
      blocked: null,
      ...over,
    } satisfies RatingInput,
  });
  const cases = {
    billable: input(),
    'below buffer': input({ event: { ...terminal, durationSec: 30 } }),
    busy: input({ event: { ...terminal, status: 'busy', durationSec: 0 } }),
    duplicate: input({ priorBilled: { callId: 'twilio:CA0', billedStartMs: startedAtMs - 3_600_000 } }),
    'unknown number': input({ assignment: null, campaign: null, termsVersions: [] }),
    'campaign gone': input({ campaign: null, termsVersions: [] }),
    blocked: input({ blocked: { blockId: 'blk-1' } }),
    'talk measured': input({ talkSec: 240 }),
    'signals flagged': input({ quality: { signals: ['robocall_suspect', 'dnc_listed'], blockSignals: ['dnc_listed'] } }),
  };
  const factsOf = (d: ReturnType<typeof rateCall>) => ({
    billable: d.billable,
    amountCents: d.amountCents,
    campaignId: d.campaignId,
    publisherId: d.publisherId,
    subSource: d.subSource,
  });

  for (const [name, { event, rated }] of Object.entries(cases)) {
    it(`restores what the item records of the decision, and the rating gives it again from that: ${name}`, () => {
      const decision = rateCall(rated);
      const stored = unmarshall(encodeRating(decision).M!);
      const decoded = decodeRating(stored, factsOf(decision));
      expect(decoded).toEqual(recordedRating(decision));
      // The explanation (GET /v1/calls/{id}/rating) rates the call again from the recorded inputs: the same decision.
      const again = rateCall({
        ...rated,
        call: callFactsFrom(event, decoded.recorded.talkSec === undefined ? {} : { talkSec: decoded.recorded.talkSec }),
        priorBilled: decoded.recorded.priorBilled ?? null,
        blocked: decoded.recorded.blockId === undefined ? null : { blockId: decoded.recorded.blockId },
        quality: rated.quality ? { signals: (decoded.recorded.signals ?? []) as CallSignal[], blockSignals: rated.quality.blockSignals } : rated.quality,
      });
      expect(again).toEqual(decision);
    });
  }

  it('reads a rating map written by every earlier version (fields it did not use are absent)', () => {
    const facts = { billable: false, amountCents: 0, campaignId: 'roofing-tx', publisherId: 'pub-a', subSource: null };
    const legacy = { x: 'duplicate_caller', v: 3, b: 90, h: 72, pc: 'twilio:CA0', ps: startedAtMs - 60_000 };
    expect(decodeRating(legacy, facts)).toEqual<RecordedRating>({
      ...facts,
      reasons: ['duplicate_caller'],
      termsVersion: 3,
      recorded: { bufferSec: 90, duplicateWindowHours: 72, priorBilled: { callId: 'twilio:CA0', billedStartMs: startedAtMs - 60_000 } },
    });
    const unknown = { x: 'unknown_number', ac: 'gone' };
    expect(decodeRating(unknown, { ...facts, campaignId: null, publisherId: null })).toEqual<RecordedRating>({
      ...facts,
      campaignId: null,
      publisherId: null,
      reasons: ['unknown_number'],
      termsVersion: null,
      recorded: { assignedCampaignId: 'gone' },
    });
  });

  it('is small: a billable decision is a few bytes beyond its name', () => {
    const decision = rateCall(cases.billable.rated);
    expect(itemSizeBytes({ rating: encodeRating(decision) })).toBeLessThanOrEqual(24);
    expect(JSON.stringify(decision).length).toBeGreaterThan(300);
  });
});

describe('the stored recording', () => {
  it('round-trips, with the sha256 as 32 raw bytes', () => {
    const recording = {
      recordingId: `RE${'a'.repeat(32)}`,
      key: 'recordings/acme/twilio:CA1.wav',
      sha256: 'ab'.repeat(32),
      bytes: 4_736_044,
      durationSec: 296,
      contentType: 'audio/x-wav',
      storedAt: '2026-11-24T15:15:09.000Z',
    };
    const encoded = encodeRecording(recording);
    expect((encoded.M!.h!.B as Uint8Array).byteLength).toBe(32);
    expect(decodeRecording(unmarshall(encoded.M!))).toEqual(recording);
    expect(decodeRecording(unmarshall(encodeRecording({ ...recording, durationSec: null, storedAt: 'late' }).M!))).toEqual({
      ...recording,
      durationSec: null,
      storedAt: 'late',
    });
  });
});
