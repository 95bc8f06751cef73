/**
 * The reports' reader against DynamoDB Local (shared/adapters/reports/campaign-calls.ts): calls rated by
 * processIngestBatch come back from the campaign index (gsi3) in start order, page by page, as ReportCalls — rating,
 * billable seconds, the price a below-buffer call would have billed at, credits from the ledger, the outcome — and
 * only the campaign's calls of [from, to).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignCallsReader, creditsByCall } from '../../../shared/adapters/reports/campaign-calls';
import { postOutcomes } from '../../../shared/app/outcomes/outcomes';
import { outcomeDeps } from '../../../shared/adapters/outcomes/deps';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import type { ReportCall } from '../../../shared/domain/reports/analytics';
import type { CreditEntry } from '../../../shared/domain/ledger/entries';
import type { TermsVersion } from '../../../shared/domain/terms/terms';
import type { CallStatus } from '../../../shared/domain/calls/events';
import { createTenant, freshNumber, lifecycle, records, startCoreEnv, type CoreEnv, type Tenant } from '../../support/writer-fixtures';

const HOUR = 3_600_000;
let env: CoreEnv;

beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

async function playCall(t: Tenant, startMs: number, durationSec: number, opts: { final?: CallStatus; to?: string } = {}): Promise<string> {
  const call = lifecycle({ accountId: t.account.accountId, from: freshNumber(), to: opts.to ?? t.numbers.billable.number, startMs, durationSec, ...(opts.final ? { final: opts.final } : {}) });
  expect((await processIngestBatch(records(call.events), env.writerDeps)).failedMessageIds).toEqual([]);
  return call.callId;
}

async function collect(gen: AsyncGenerator<ReportCall>): Promise<ReportCall[]> {
  const out: ReportCall[] = [];
  for await (const c of gen) out.push(c);
  return out;
}

describe('streamCampaignCalls', () => {
  it('yields the campaign’s rated calls of [from, to) in start order with rating, credits, outcome and price-if-billable', async () => {
    const t = await createTenant(env.config, { priceCents: 4500, bufferSec: 90, duplicateWindowHours: 0 });
    const acct = t.account.accountId;
    const campaign = await env.config.readCampaign(acct, t.campaign.campaignId);
    const terms = campaign!.termsVersions;
    const base = Math.floor(Date.now() / 1000) * 1000 - 10 * HOUR;

    const before = await playCall(t, base - HOUR, 300); // outside the range
    const billed = await playCall(t, base, 300);
    const short = await playCall(t, base + HOUR, 30); // below_buffer only
    const busy = await playCall(t, base + 2 * HOUR, 0, { final: 'busy' });
    const second = await playCall(t, base + 3 * HOUR, 120, { to: t.numbers.second.number }); // other publisher, no sub-source
    const atTo = await playCall(t, base + 4 * HOUR, 120); // starts exactly at `to`: excluded
    await playCall(t, base + HOUR, 120, { to: freshNumber() }); // unknown number: no campaign, not in the index

    // An outcome on the billed call, through the outcomes API.
    const deps = outcomeDeps({ mainTable: env.names.mainTable, callerHashKeyRef: 'env:UNUSED' }, { client: env.clients.dynamodb, secrets: { resolve: async () => env.callerHashKey } });
    const occurredAt = new Date(base + 5 * HOUR).toISOString();
    await postOutcomes({ accountId: acct, role: 'admin', label: 'crm' }, [{ line: 1, value: { externalId: 'deal-1', callId: billed, occurredAt, status: 'closed', revenueCents: 90000, marginCents: 30000 } }], {}, deps);

    // Credits come from the period's ledger entries; a partial credit of the billed call (as a dispute would book it).
    const charge = (await env.ledger.entriesInRange({ accountId: acct, from: new Date(base).toISOString(), to: new Date(base + 4 * HOUR).toISOString() })).find((e) => e.callId === billed)!;
    const credit: CreditEntry = { ...charge, type: 'credit', entryId: `credit:${billed}`, amountCents: -1500, disputeId: `dispute:${billed}`, correctsEntryId: charge.entryId };
    const credits = creditsByCall([charge, credit]);

    const reader = new CampaignCallsReader({ mainTable: env.names.mainTable, client: env.clients.dynamodb, pageSize: 2 });
    const calls = await collect(reader.streamCampaignCalls(acct, t.campaign.campaignId, new Date(base).toISOString(), new Date(base + 4 * HOUR).toISOString(), { termsVersions: terms, credits }));

    expect(calls.map((c) => c.callId)).toEqual([billed, short, busy, second]);
    expect(calls.map((c) => c.callId)).not.toContain(before);
    expect(calls.map((c) => c.callId)).not.toContain(atTo);
    const pubA = t.numbers.billable.publisherId;
    expect(calls[0]).toEqual({
      callId: billed,
      startedAtMs: base,
      campaignId: t.campaign.campaignId,
      publisherId: pubA,
      subSource: 'search',
      connected: true,
      billableSec: 300,
      billable: true,
      amountCents: 4500,
      reasons: [],
      creditsCents: -1500,
      disputed: true,
      outcome: { externalId: 'deal-1', status: 'closed', revenueCents: 90000, marginCents: 30000, occurredAt },
      priceIfBillableCents: 4500,
      // The buffer of the terms version it was rated under.
      bufferSec: 90,
      // The rating's quality signals: the fixture's calls carry no STIR/SHAKEN attestation.
      signals: ['robocall_suspect'],
      qa: null,
      recordingKey: null,
    });
    expect(calls[1]).toMatchObject({ callId: short, connected: true, billableSec: 30, billable: false, amountCents: 0, reasons: ['below_buffer'], creditsCents: 0, disputed: false, outcome: null, priceIfBillableCents: 4500 });
    expect(calls[2]).toMatchObject({ callId: busy, connected: false, billable: false, reasons: ['not_connected'], priceIfBillableCents: null });
    expect(calls[3]).toMatchObject({ callId: second, publisherId: t.numbers.second.publisherId, subSource: null, billable: true, billableSec: 120 });
  });

  it('prices a below-buffer call by the terms version given (bands), and reads talk time on a talk basis', async () => {
    const t = await createTenant(env.config, { priceCents: 4500, bufferSec: 90, duplicateWindowHours: 0 });
    const acct = t.account.accountId;
    const base = Math.floor(Date.now() / 1000) * 1000 - 5 * HOUR;
    const short = await playCall(t, base, 45);
    const [v1] = (await env.config.readCampaign(acct, t.campaign.campaignId))!.termsVersions;
    const banded: TermsVersion = { ...v1!, priceBands: [{ fromSec: 0, priceCents: 2000 }, { fromSec: 60, priceCents: 6000 }] };
    const reader = new CampaignCallsReader({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
    const range = [new Date(base).toISOString(), new Date(base + HOUR).toISOString()] as const;

    const [asBanded] = await collect(reader.streamCampaignCalls(acct, t.campaign.campaignId, ...range, { termsVersions: [banded], credits: new Map() }));
    expect(asBanded).toMatchObject({ callId: short, reasons: ['below_buffer'], billableSec: 45, priceIfBillableCents: 2000 });

    // On a talk basis the billable seconds are the recorded talk time: none was measured here, so 0 (as the rating does).
    const [asTalk] = await collect(reader.streamCampaignCalls(acct, t.campaign.campaignId, ...range, { termsVersions: [{ ...banded, durationBasis: 'talk' }], credits: new Map() }));
    expect(asTalk).toMatchObject({ billableSec: 0, priceIfBillableCents: 2000 });

    // Without the call's terms version nothing can be priced.
    const [unknownTerms] = await collect(reader.streamCampaignCalls(acct, t.campaign.campaignId, ...range, { termsVersions: [], credits: new Map() }));
    expect(unknownTerms).toMatchObject({ billableSec: 45, priceIfBillableCents: null });

    // Another campaign's index partition is empty.
    expect(await collect(reader.streamCampaignCalls(acct, 'no-such-campaign', ...range, { termsVersions: [banded], credits: new Map() }))).toEqual([]);
  });
});
