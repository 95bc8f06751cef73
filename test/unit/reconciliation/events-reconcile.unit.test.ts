import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ledgerRangeOf, reconcile, type ApiCall, type ApiLedgerEntry, type PlayedRange } from '../../../events/reconcile';
import { ledgerSortKey } from '../../../shared/domain/ledger/entries';
import { generateTraffic, summarise, type CallTruth, type TrafficSeed } from '../../../events/traffic';

const seed = JSON.parse(readFileSync('events/seed/demo.json', 'utf8')) as TrafficSeed;
const { calls: truth } = generateTraffic({
  seed,
  authTokens: { 'acme-roofing': 'token' },
  publicBaseUrl: 'http://127.0.0.1:3000',
  mediaBaseUrl: 'http://127.0.0.1:3001',
  calls: 400,
  rngSeed: 11,
  startAt: '2026-11-02T13:00:00Z',
});

/** What a correct ledger would answer for a truth row. */
function apiCall(t: CallTruth, over: Partial<ApiCall> = {}): ApiCall {
  return {
    callId: t.callId,
    accountId: t.accountId,
    campaignId: t.campaignId,
    publisherId: t.publisherId,
    subSource: t.subSource,
    status: t.status,
    durationSec: t.durationSec,
    billable: t.billable,
    amountCents: t.amountCents,
    reasons: t.reason ? [t.reason] : [],
    startedAt: t.startedAt,
    endedAt: t.endedAt,
    recording: t.recording ? { sha256: 'ab'.repeat(32), bytes: 1000, url: 'http://x' } : null,
    ...over,
  };
}

function entry(c: ApiCall): ApiLedgerEntry {
  return { entryId: `charge:${c.callId}`, type: 'charge', amountCents: c.amountCents, callId: c.callId, publisherId: c.publisherId!, campaignId: c.campaignId! };
}

const perfect = truth.map((t) => apiCall(t));
const perfectEntries = perfect.filter((c) => c.billable).map(entry);

describe('reconcile', () => {
  it('accepts a ledger that matches the truth, and reports the same rows', () => {
    const r = reconcile(truth, perfect, perfectEntries);
    expect(r.differences).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.actual).toEqual(summarise(truth));
    expect(r.expected).toEqual(summarise(truth));
  });

  it('ignores calls and entries that belong to other runs', () => {
    const foreign: ApiCall = { ...perfect.find((c) => c.billable)!, callId: 'twilio:CA' + 'f'.repeat(32) };
    expect(reconcile(truth, [...perfect, foreign], [...perfectEntries, entry(foreign)]).ok).toBe(true);
  });

  it('accepts a repeat caller billed on another call of the same cluster (processing order)', () => {
    const dup = truth.find((t) => t.reason === 'duplicate_caller')!;
    const billed = truth.find((t) => t.callId === dup.duplicateOf)!;
    const calls = perfect.map((c) =>
      c.callId === dup.callId
        ? apiCall(dup, { billable: true, amountCents: dup.priceCents, reasons: [] })
        : c.callId === billed.callId
          ? apiCall(billed, { billable: false, amountCents: 0, reasons: ['duplicate_caller'] })
          : c,
    );
    const entries = calls.filter((c) => c.billable).map(entry);
    expect(reconcile(truth, calls, entries).differences).toEqual([]);
  });

  it('a call charged before the earlier call of its caller and reversed when it arrived nets 0 in the ledger range the demo reads', () => {
    // The demo's played range (events/demo.ts): the calls' starts, an hour either side.
    const starts = truth.map((t) => Date.parse(t.startedAt));
    const played: PlayedRange = { from: new Date(Math.min(...starts) - 3_600_000).toISOString(), to: new Date(Math.max(...starts) + 3_600_000).toISOString() };
    const dup = truth.find((t) => t.reason === 'duplicate_caller')!;
    // The later call was rated first (charged at its start), then reversed when the earlier one was rated: the
    // reversal is booked when written (reversalEntry), days after the traffic's window in the demo.
    const bookedAt = new Date(Date.parse(played.to) + 2 * 86_400_000).toISOString();
    const stored = [
      ...perfectEntries.map((e) => ({ ...e, effectiveAt: truth.find((t) => t.callId === e.callId)!.startedAt })),
      { ...entry(apiCall(dup, { amountCents: dup.priceCents })), effectiveAt: dup.startedAt },
      { ...entry(apiCall(dup)), entryId: `reversal:${dup.callId}`, type: 'reversal', amountCents: -dup.priceCents, effectiveAt: bookedAt },
    ];
    // GET /v1/ledger?from=&to= keeps the entries whose sort key (<effectiveAt>#<entryId>) is in the range; no end: all after from.
    const listed = (range: { readonly from: string; readonly to?: string }): ApiLedgerEntry[] =>
      stored.filter((e) => ledgerSortKey(e) >= range.from && ledgerSortKey(e) <= (range.to ?? '9999')).map(({ effectiveAt: _, ...e }) => e);
    // Read with the calls' own range, the reversal is missed and the duplicate looks charged.
    expect(reconcile(truth, perfect, listed(played)).differences).toContain(`1 ledger entr(ies) for calls that are not billable: ${dup.callId}`);
    expect(reconcile(truth, perfect, listed(ledgerRangeOf(played))).differences).toEqual([]);
  });

  it('reports a duplicate billed as new', () => {
    const dup = truth.find((t) => t.reason === 'duplicate_caller')!;
    const calls = perfect.map((c) => (c.callId === dup.callId ? apiCall(dup, { billable: true, amountCents: dup.priceCents, reasons: [] }) : c));
    const r = reconcile(truth, calls, calls.filter((c) => c.billable).map(entry));
    expect(r.ok).toBe(false);
    expect(r.differences.join('\n')).toMatch(/billed the wrong number of times/);
    expect(r.differences.join('\n')).toMatch(new RegExp(`${dup.publisherId}: billable expected`));
  });

  it('reports missing calls, double charges, stray charges, wrong reasons and missing recordings', () => {
    const [gone, doubled, shortCall, recorded] = [
      truth.find((t) => t.reason === 'not_connected')!,
      truth.find((t) => t.billable)!,
      truth.find((t) => t.reason === 'below_buffer')!,
      truth.find((t) => t.recording !== null && t.reason === 'below_buffer')!,
    ];
    const calls = perfect
      .filter((c) => c.callId !== gone.callId)
      .map((c) => (c.callId === shortCall.callId ? apiCall(shortCall, { reasons: ['not_connected'] }) : c))
      .map((c) => (c.callId === recorded.callId ? { ...c, recording: null } : c));
    const entries = [
      ...perfectEntries.filter((e) => e.callId !== gone.callId),
      entry(perfect.find((c) => c.callId === doubled.callId)!),
      entry(apiCall(shortCall, { amountCents: 4500 })),
    ];
    const text = reconcile(truth, calls, entries).differences.join('\n');
    expect(text).toContain(`1 call(s) not rated: ${gone.callId}`);
    expect(text).toContain(`net more than one charge: ${doubled.callId}`);
    expect(text).toContain(`calls that are not billable: ${shortCall.callId}`);
    expect(text).toContain(`reason (expected below_buffer, got not_connected): ${shortCall.callId}`);
    expect(text).toContain(`recording not stored: ${recorded.callId}`);
    // Messages name calls, never callers.
    for (const t of truth) expect(text).not.toContain(t.from);
  });

  it('can leave recordings out of the check', () => {
    const calls = perfect.map((c) => ({ ...c, recording: null }));
    expect(reconcile(truth, calls, perfectEntries).ok).toBe(false);
    expect(reconcile(truth, calls, perfectEntries, { requireRecordings: false }).ok).toBe(true);
  });

  it('reports a wrong start time, duration or amount', () => {
    const t = truth.find((x) => x.billable)!;
    const calls = perfect.map((c) =>
      c.callId === t.callId ? apiCall(t, { startedAt: t.endedAt, durationSec: t.durationSec + 1, amountCents: t.amountCents + 1 }) : c,
    );
    const text = reconcile(truth, calls, perfectEntries).differences.join('\n');
    expect(text).toContain(`differ in startedAt: ${t.callId}`);
    expect(text).toContain(`differ in durationSec: ${t.callId}`);
    expect(text).toContain(`differ in amountCents: ${t.callId}`);
  });
});
