/**
 * End to end, over HTTP against the whole local stack: Twilio posts signed status and recording callbacks, the
 * stack settles (every queue drained, no handler running), and a buyer reads the result through the API.
 *
 * After every scenario the ledger must hold EXACTLY the charges expected so far, both through GET /v1/ledger and
 * in the ledger table itself (so no stray item can hide behind an API filter). Each scenario uses its own
 * CallSids and caller numbers; the tests run in file order and share one stack.
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeRecordingBytes } from '../../../infra/local/fake-media';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import type { LedgerEntry } from '../../../shared/domain/ledger/entries';
import { entryHash } from '../../../shared/domain/ledger/tamper';
import { maskNumber } from '../../../shared/domain/calls/caller';
import type { IngestMessage } from '../../../shared/domain/calls/events';
import {
  ACME,
  GLOBEX,
  TwilioSender,
  allCalls,
  allLedgerEntries,
  apiGet,
  apiKey,
  bucketKeys,
  callItem,
  callPath,
  expectProblem,
  ledgerTable,
  newCallSid,
  newCaller,
  newRecordingSid,
  sha256,
  writeTwoAccountSeed,
  type CallSpec,
  type TempSeed,
} from '../../support/e2e-harness';

let stack: LocalStack;
let seedFile: TempSeed;
let acme: TwilioSender;
let globex: TwilioSender;
let acmeAdmin: string;
let acmeAnalyst: string;
let globexAdmin: string;

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const iso = (ms: number) => new Date(ms).toISOString();
/** Whole seconds, as Twilio's RFC 2822 Timestamp carries them. */
const nowSec = () => Math.floor(Date.now() / 1000) * 1000;

/** accountId → entryId → the entry the ledger must hold. Grows as scenarios add billable calls. */
const expectedCharges = new Map<string, Map<string, Record<string, unknown>>>();

interface Assignment {
  readonly accountId: string;
  readonly campaignId: string;
  readonly publisherId: string;
  readonly subSource: string | null;
  readonly priceCents: number;
}
const ACME_MAIN: Assignment = { accountId: ACME.accountId, campaignId: ACME.campaignId, publisherId: ACME.publisherId, subSource: ACME.subSource, priceCents: ACME.priceCents };
const ACME_OTHER: Assignment = { ...ACME_MAIN, publisherId: ACME.otherPublisherId, subSource: ACME.otherSubSource };

function expectCharge(callId: string, startedAtMs: number, a: Assignment): void {
  const entryId = `charge:${callId}`;
  const perAccount = expectedCharges.get(a.accountId) ?? new Map<string, Record<string, unknown>>();
  expectedCharges.set(a.accountId, perAccount);
  perAccount.set(entryId, {
    entryId,
    type: 'charge',
    amountCents: a.priceCents,
    currency: 'USD',
    callId,
    accountId: a.accountId,
    publisherId: a.publisherId,
    subSource: a.subSource,
    campaignId: a.campaignId,
    termsVersion: 1,
    effectiveAt: iso(startedAtMs),
    createdAt: expect.stringMatching(ISO_MS),
  });
}

/** Lets the stack finish everything it was given: both queues empty, no handler running. */
const settle = () => stack.waitForIdle(20_000);

/** The ledger holds exactly `expectedCharges`: in the table, and through GET /v1/ledger of each account. */
async function expectLedgerExactly(): Promise<void> {
  const expectedItems = [...expectedCharges.values()].flatMap((m) => [...m.values()]);
  const items = await ledgerTable(stack);
  expect(items.map((i) => i.entryId).sort()).toEqual(expectedItems.map((e) => e.entryId).sort());
  // accountId → the expected entries with their content hash: every hashed field comes from the expectation
  // except `createdAt` (wall clock, only pattern-checked), which is taken from the stored item.
  const hashed = new Map<string, Record<string, unknown>[]>();
  for (const item of items) {
    const expected = expectedCharges.get(item.accountId)!.get(item.entryId)!;
    const contentHash = entryHash({ ...expected, createdAt: item.createdAt } as unknown as LedgerEntry);
    const withHash = { ...expected, contentHash };
    expect(item).toEqual({ pk: `ACCT#${item.accountId}`, sk: `${expected.effectiveAt}#${item.entryId}`, ...withHash });
    hashed.set(item.accountId, [...(hashed.get(item.accountId) ?? []), withHash]);
  }

  for (const [accountId, key] of [
    [ACME.accountId, acmeAdmin],
    [GLOBEX.accountId, globexAdmin],
  ] as const) {
    const expected = [...(hashed.get(accountId) ?? [])].sort((x, y) =>
      `${x.effectiveAt}#${x.entryId}` < `${y.effectiveAt}#${y.entryId}` ? -1 : 1,
    );
    // In effective-time order, every entry exactly once.
    expect(await allLedgerEntries(stack, key)).toEqual(expected);
    const page = await apiGet<any>(stack, '/v1/ledger', key);
    const cents = expected.reduce((s, e) => s + (e.amountCents as number), 0);
    expect(page.body.totals).toEqual({ chargesCents: cents, creditsCents: 0, reversalsCents: 0, netCents: cents, count: expected.length });
  }
}

interface ExpectedCall {
  readonly a: Assignment | null;
  readonly status: string;
  readonly durationSec: number;
  readonly reasons: readonly string[];
  readonly startedAtMs: number;
  readonly endedAtMs: number;
}

/** callId → the GET /v1/calls/{callId} body of every call a scenario checked (both accounts). */
const checkedCalls = new Map<string, Record<string, any>>();

/** GET /v1/calls/{callId} with an admin key answers the documented shape, every key with its exact value. */
async function expectCallDetail(call: CallSpec, e: ExpectedCall, recordingSid: string | null, key = acmeAdmin): Promise<any> {
  const res = await apiGet<any>(stack, callPath(`twilio:${call.callSid}`), key);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.contentType).toMatch(/^application\/json/);
  const billable = e.reasons.length === 0;
  const expectedRecording = recordingSid === null ? null : fakeRecordingBytes(recordingSid);
  expect(res.body).toEqual({
    callId: `twilio:${call.callSid}`,
    accountId: e.a?.accountId ?? ACME.accountId,
    campaignId: e.a?.campaignId ?? null,
    publisherId: e.a?.publisherId ?? null,
    subSource: e.a?.subSource ?? null,
    status: e.status,
    durationSec: e.durationSec,
    billable,
    amountCents: billable ? e.a!.priceCents : 0,
    reasons: e.reasons,
    startedAt: iso(e.startedAtMs),
    endedAt: iso(e.endedAtMs),
    recording:
      expectedRecording === null
        ? null
        : { sha256: sha256(expectedRecording), bytes: expectedRecording.length, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\//) },
    // The CRM outcome in force (none posted here).
    outcome: null,
    // The QA reviewer's verdict in force (none recorded here).
    qa: null,
    // Admin keys see the caller's number (analyst keys a mask, see "read API authorisation").
    caller: call.from,
    // The signals flagged at rating (their values are checked against the document by the suite's contract hook);
    // the quality pass has not run over these calls.
    signals: expect.any(Array),
    crossCallSignals: null,
    // No network forwards to the seed's numbers.
    network: null,
    // Not answered by the voice URL: no routing audit.
    routing: null,
  });
  // The caller's number is personal data: nowhere else in the answer.
  expect(JSON.stringify({ ...res.body, caller: null })).not.toContain(call.from.slice(2));
  checkedCalls.set(res.body.callId, res.body);
  return res.body;
}

/** The recording behind the presigned URL is byte for byte what Twilio served, with the recorded sha256 and size. */
async function expectRecordingDownload(detail: any, recordingSid: string): Promise<void> {
  const res = await fetch(detail.recording.url);
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(sha256(bytes)).toBe(detail.recording.sha256);
  expect(bytes.length).toBe(detail.recording.bytes);
  expect(bytes.equals(fakeRecordingBytes(recordingSid))).toBe(true);
  // Presigned for 15 minutes.
  expect(new URL(detail.recording.url).searchParams.get('X-Amz-Expires')).toBe('900');
}

const acmeCall = (to: string = ACME.number): CallSpec => ({ callSid: newCallSid(), from: newCaller(), to });

beforeAll(async () => {
  seedFile = await writeTwoAccountSeed();
  stack = await startLocalStack({ port: 0, quiet: true, seedFile: seedFile.file });
  acme = new TwilioSender(stack, ACME.accountId);
  globex = new TwilioSender(stack, GLOBEX.accountId);
  acmeAdmin = apiKey(stack, ACME.accountId, 'admin');
  acmeAnalyst = apiKey(stack, ACME.accountId, 'analyst');
  globexAdmin = apiKey(stack, GLOBEX.accountId, 'admin');
});

afterAll(async () => {
  await stack?.stop();
  await seedFile?.cleanup();
});

describe('signed Twilio lifecycles over HTTP', () => {
  it('billable: ringing → completed 300 s → recording; one charge, recording stored and downloadable, raw bodies archived', async () => {
    const call = acmeCall();
    const recordingSid = newRecordingSid();
    const endMs = nowSec();
    const forms = [acme.ringing(call), acme.terminal(call, 'completed', endMs, 300), acme.recording(call, recordingSid, endMs - 295_000, 295)];
    for (const form of forms) await acme.deliver(form);
    await settle();

    const callId = `twilio:${call.callSid}`;
    const detail = await expectCallDetail(
      call,
      { a: ACME_MAIN, status: 'completed', durationSec: 300, reasons: [], startedAtMs: endMs - 300_000, endedAtMs: endMs },
      recordingSid,
    );
    expectCharge(callId, endMs - 300_000, ACME_MAIN);
    await expectLedgerExactly();
    await expectRecordingDownload(detail, recordingSid);
    expect(await bucketKeys(stack, stack.names.recordingsBucket)).toContain(`recordings/${ACME.accountId}/${callId}.wav`);

    // The raw bodies, byte for byte, are in the archive: the call can be re-rated from source.
    const archived: IngestMessage[] = [];
    const archiveKeys = await bucketKeys(stack, stack.names.archiveBucket);
    for (const key of archiveKeys) expect(key).toMatch(/^raw\/[a-z0-9-]+\/\d{4}\/\d{2}\/\d{2}\/[^/]+\.jsonl\.gz$/);
    for (const key of archiveKeys.filter((k) => k.startsWith(`raw/${ACME.accountId}/`))) {
      const object = await stack.clients.s3.send(new GetObjectCommand({ Bucket: stack.names.archiveBucket, Key: key }));
      const lines = gunzipSync(Buffer.from(await object.Body!.transformToByteArray())).toString('utf8').trim().split('\n');
      archived.push(...lines.map((l) => JSON.parse(l) as IngestMessage));
    }
    expect(archived.filter((m) => m.event.callId === callId).map((m) => m.raw.body).sort()).toEqual(
      forms.map((f) => new URLSearchParams(f).toString()).sort(),
    );
  });

  it('short: completed 30 s → below_buffer, no charge', async () => {
    const call = acmeCall();
    const endMs = nowSec();
    await acme.deliver(acme.ringing(call));
    await acme.deliver(acme.terminal(call, 'completed', endMs, 30));
    await settle();
    await expectCallDetail(call, { a: ACME_MAIN, status: 'completed', durationSec: 30, reasons: ['below_buffer'], startedAtMs: endMs - 30_000, endedAtMs: endMs }, null);
    await expectLedgerExactly();
  });

  it('busy → not_connected, no charge', async () => {
    const call = acmeCall();
    const endMs = nowSec();
    await acme.deliver(acme.ringing(call));
    await acme.deliver(acme.terminal(call, 'busy', endMs));
    await settle();
    await expectCallDetail(call, { a: ACME_MAIN, status: 'busy', durationSec: 0, reasons: ['not_connected'], startedAtMs: endMs, endedAtMs: endMs }, null);
    await expectLedgerExactly();
  });

  it('duplicate caller: a second billable-length call on the same campaign within the window → duplicate_caller, no charge', async () => {
    const first = acmeCall();
    const firstEnd = nowSec() - 3_600_000;
    await acme.deliver(acme.ringing(first));
    await acme.deliver(acme.terminal(first, 'completed', firstEnd, 200));
    await settle();
    expectCharge(`twilio:${first.callSid}`, firstEnd - 200_000, ACME_MAIN);
    await expectLedgerExactly();

    // The same caller an hour later, through another publisher's number of the same campaign.
    const second: CallSpec = { callSid: newCallSid(), from: first.from, to: ACME.otherNumber };
    const secondEnd = nowSec();
    await acme.deliver(acme.ringing(second));
    await acme.deliver(acme.terminal(second, 'completed', secondEnd, 240));
    await settle();
    await expectCallDetail(
      second,
      { a: ACME_OTHER, status: 'completed', durationSec: 240, reasons: ['duplicate_caller'], startedAtMs: secondEnd - 240_000, endedAtMs: secondEnd },
      null,
    );
    // The first call is untouched.
    await expectCallDetail(first, { a: ACME_MAIN, status: 'completed', durationSec: 200, reasons: [], startedAtMs: firstEnd - 200_000, endedAtMs: firstEnd }, null);
    await expectLedgerExactly();
  });

  it('the same completed callback delivered 3× concurrently → one charge', async () => {
    const call = acmeCall();
    const endMs = nowSec();
    await acme.deliver(acme.ringing(call));
    const completed = acme.terminal(call, 'completed', endMs, 180);
    await Promise.all([acme.deliver(completed), acme.deliver(completed), acme.deliver(completed)]);
    await settle();
    await expectCallDetail(call, { a: ACME_MAIN, status: 'completed', durationSec: 180, reasons: [], startedAtMs: endMs - 180_000, endedAtMs: endMs }, null);
    expectCharge(`twilio:${call.callSid}`, endMs - 180_000, ACME_MAIN);
    await expectLedgerExactly();
  });

  it('completed before ringing → one charge, final state identical to the in-order call', async () => {
    const endMs = nowSec();
    const inOrder = acmeCall();
    const reversed = acmeCall();
    await acme.deliver(acme.ringing(inOrder));
    await acme.deliver(acme.terminal(inOrder, 'completed', endMs, 150));
    // The reversed call's completed callback is fully processed before its ringing request arrives.
    await acme.deliver(acme.terminal(reversed, 'completed', endMs, 150));
    await settle();
    await acme.deliver(acme.ringing(reversed));
    await settle();

    const expected: ExpectedCall = { a: ACME_MAIN, status: 'completed', durationSec: 150, reasons: [], startedAtMs: endMs - 150_000, endedAtMs: endMs };
    const a = await expectCallDetail(inOrder, expected, null);
    const b = await expectCallDetail(reversed, expected, null);
    expect({ ...b, callId: a.callId, caller: a.caller }).toEqual(a);
    // The stored call items agree too: the same event slots and the same rating.
    const [itemA, itemB] = [await callItem(stack, a.callId), await callItem(stack, b.callId)];
    const slots = (item: Record<string, any> | null) => Object.keys(item ?? {}).filter((k) => /^[sr]_/.test(k)).sort();
    expect(slots(itemB)).toEqual(slots(itemA));
    expect(slots(itemA)).toEqual(['s_completed', 's_ringing']);
    expect(itemB!.rating).toEqual(itemA!.rating);

    expectCharge(a.callId, endMs - 150_000, ACME_MAIN);
    expectCharge(b.callId, endMs - 150_000, ACME_MAIN);
    await expectLedgerExactly();
  });

  it('recording before completed → recording stored and one charge', async () => {
    const call = acmeCall();
    const recordingSid = newRecordingSid();
    const endMs = nowSec();
    // The recording callback is fully processed (and fetched) before the call has any status at all.
    await acme.deliver(acme.recording(call, recordingSid, endMs - 120_000, 118));
    await settle();
    await acme.deliver(acme.ringing(call));
    await acme.deliver(acme.terminal(call, 'completed', endMs, 125));
    await settle();

    const detail = await expectCallDetail(
      call,
      { a: ACME_MAIN, status: 'completed', durationSec: 125, reasons: [], startedAtMs: endMs - 125_000, endedAtMs: endMs },
      recordingSid,
    );
    await expectRecordingDownload(detail, recordingSid);
    expectCharge(`twilio:${call.callSid}`, endMs - 125_000, ACME_MAIN);
    await expectLedgerExactly();
  });

  it('unknown tracking number → unknown_number, no campaign, no charge', async () => {
    const call = acmeCall(ACME.unassignedNumber);
    const endMs = nowSec();
    await acme.deliver(acme.ringing(call));
    await acme.deliver(acme.terminal(call, 'completed', endMs, 300));
    await settle();
    await expectCallDetail(call, { a: null, status: 'completed', durationSec: 300, reasons: ['unknown_number'], startedAtMs: endMs - 300_000, endedAtMs: endMs }, null);
    await expectLedgerExactly();
  });
});

describe('GET /v1/calls', () => {
  /** A listed call equals its detail; only the presigned URL may differ (it is signed per request). */
  // A list shows each call as its detail does, without the routing audit (detail only).
  const asListed = ({ routing: _routing, ...detail }: Record<string, any>) => ({
    ...detail,
    recording: detail.recording === null ? null : { ...detail.recording, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\//) },
  });
  const acmeChecked = () => [...checkedCalls.values()].filter((c) => c.accountId === ACME.accountId);
  const ids = (calls: readonly Record<string, any>[]) => calls.map((c) => c.callId as string).sort();

  it('lists every rated call of the account once, newest first, in the detail shape, across pages', async () => {
    const expected = acmeChecked();
    expect(expected.length).toBeGreaterThan(5);
    const listed = await allCalls(stack, acmeAdmin, {}, 3);
    expect(ids(listed)).toEqual(ids(expected));
    const starts = listed.map((c) => c.startedAt as string);
    expect(starts).toEqual([...starts].sort().reverse());
    for (const c of listed) expect(c).toEqual(asListed(checkedCalls.get(c.callId)!));
  });

  it('filters by billable, publisher and start-time range [from, to)', async () => {
    const expected = acmeChecked();
    expect(ids(await allCalls(stack, acmeAdmin, { billable: 'true' }))).toEqual(ids(expected.filter((c) => c.billable)));
    expect(ids(await allCalls(stack, acmeAdmin, { billable: 'false' }))).toEqual(ids(expected.filter((c) => !c.billable)));
    expect(ids(await allCalls(stack, acmeAdmin, { publisherId: ACME.otherPublisherId }))).toEqual(
      ids(expected.filter((c) => c.publisherId === ACME.otherPublisherId)),
    );
    const starts = [...new Set(expected.map((c) => c.startedAt as string))].sort();
    const [from, to] = [starts[1]!, starts[starts.length - 1]!];
    expect(ids(await allCalls(stack, acmeAdmin, { from, to }))).toEqual(ids(expected.filter((c) => c.startedAt >= from && c.startedAt < to)));
  });
});

describe('read API authorisation', () => {
  let acmeCallId: string;
  let globexCallId: string;

  beforeAll(async () => {
    const a = acmeCall();
    const g: CallSpec = { callSid: newCallSid(), from: newCaller(), to: GLOBEX.number };
    const endMs = nowSec();
    await acme.deliver(acme.ringing(a));
    await acme.deliver(acme.terminal(a, 'completed', endMs, 100));
    await globex.deliver(globex.ringing(g));
    await globex.deliver(globex.terminal(g, 'completed', endMs, 100));
    await settle();
    acmeCallId = `twilio:${a.callSid}`;
    globexCallId = `twilio:${g.callSid}`;
    expectCharge(acmeCallId, endMs - 100_000, ACME_MAIN);
    expectCharge(globexCallId, endMs - 100_000, {
      accountId: GLOBEX.accountId,
      campaignId: GLOBEX.campaignId,
      publisherId: GLOBEX.publisherId,
      subSource: GLOBEX.subSource,
      priceCents: GLOBEX.priceCents,
    });
  });

  it('each account books its own calls: the ledger of each holds exactly its charges', async () => {
    await expectLedgerExactly();
  });

  it('401 without a key or with a bad key, on every route', async () => {
    for (const path of [callPath(acmeCallId), '/v1/calls', '/v1/ledger']) {
      expectProblem(await apiGet(stack, path, null), 401, 'unauthorized');
      expectProblem(await apiGet(stack, path, `cl_local_${'x'.repeat(32)}`), 401, 'unauthorized');
      // A real key in the wrong scheme is not a bearer token.
      const res = await fetch(`${stack.baseUrl}${path}`, { headers: { authorization: `Basic ${acmeAdmin}` } });
      expect(res.status).toBe(401);
      await res.body?.cancel();
    }
  });

  it('404 for an unknown call id', async () => {
    expectProblem(await apiGet(stack, callPath(`twilio:${newCallSid()}`), acmeAdmin), 404, 'not-found');
  });

  it("another account's call answers 404 as an unknown one, both ways; each account's own key reads it", async () => {
    expectProblem(await apiGet(stack, callPath(globexCallId), acmeAdmin), 404, 'not-found');
    expectProblem(await apiGet(stack, callPath(acmeCallId), globexAdmin), 404, 'not-found');
    const own = await apiGet<any>(stack, callPath(globexCallId), globexAdmin);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ callId: globexCallId, accountId: GLOBEX.accountId, campaignId: GLOBEX.campaignId, billable: true, amountCents: GLOBEX.priceCents });
  });

  it('an analyst key reads calls and the ledger of its account', async () => {
    const asAnalyst = await apiGet<any>(stack, callPath(acmeCallId), acmeAnalyst);
    const asAdmin = await apiGet<any>(stack, callPath(acmeCallId), acmeAdmin);
    expect(asAnalyst.status).toBe(200);
    // The same answer, but the caller's number masked for the analyst.
    expect(asAnalyst.body).toEqual({ ...asAdmin.body, caller: maskNumber(asAdmin.body.caller) });
    expect(asAnalyst.body.caller).toMatch(/^\+1\d{3}•••\d{4}$/);
    expect(await allLedgerEntries(stack, acmeAnalyst)).toEqual(await allLedgerEntries(stack, acmeAdmin));
    expectProblem(await apiGet(stack, callPath(globexCallId), acmeAnalyst), 404, 'not-found');
  });

  it('400 for a malformed query parameter, naming it', async () => {
    const res = await apiGet<any>(stack, '/v1/ledger', acmeAdmin, { from: 'yesterday' });
    expectProblem(res, 400, 'malformed-request');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['from']);
  });
});
