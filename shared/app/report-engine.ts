/**
 * The report engine (issue 5): the `ReportEngine` port of shared/app/reports.ts, computed from the campaign's calls.
 *
 * Both reports stream the campaign's rated calls of the period from the per-campaign index (campaign-calls.ts),
 * page by page, into an accumulator: the scorecard (scorecard.ts, memory O(groups)) or the buffer sweep
 * (threshold-tuner.ts, memory O(candidates + day × source cells)). The calls are never held together. Credits come
 * from the period's ledger entries: a credit is booked at its charge's `effectiveAt`, which is the call's start, so
 * the same [from, to) of the ledger holds every credit of these calls.
 *
 * The scorecard's days (`spendByDay`) are local days in the account's zone. The tuner's current buffer is the one of
 * the terms in force at `to`. A campaign of another account, or none, is 404.
 */
import type { ReportCall } from '../domain/analytics';
import { asCampaignConfig } from '../domain/config';
import type { LedgerEntryV2 } from '../domain/ledger-v2';
import { NotFound } from '../domain/problems';
import { createScorecard, scorecardCsv, type SourceRow } from '../domain/scorecard';
import { termsInForce, type TermsVersion } from '../domain/terms';
import { tuneThresholdStream } from '../domain/threshold-tuner';
import type { CampaignConfig } from '../domain/types';
import { wallTime } from '../domain/zoned-time';
import type { CampaignRecord } from '../domain/config';
import type { ConfigStore } from './ports';
import type { ReportEngine, SourcesQuery, ThresholdQuery } from './reports';

export interface CallCreditsView {
  readonly creditsCents: number;
  readonly disputed: boolean;
}

export interface ReportEngineDeps {
  readonly config: Pick<ConfigStore, 'getAccount'> & { readCampaign(accountId: string, campaignId: string): Promise<CampaignRecord | null> };
  readonly ledger: { entriesInRange(query: { accountId: string; from?: string; to?: string }): Promise<readonly LedgerEntryV2[]> };
  readonly calls: {
    streamCampaignCalls(
      accountId: string,
      campaignId: string,
      fromIso: string,
      toIso: string,
      context: { readonly termsVersions: readonly TermsVersion[]; readonly credits: ReadonlyMap<string, CallCreditsView> },
    ): AsyncIterable<ReportCall>;
  };
  readonly now: () => Date;
}

const DAY_MS = 86_400_000;

export function reportEngine(deps: ReportEngineDeps): ReportEngine {
  async function campaignOf(q: { accountId: string; campaignId: string }): Promise<CampaignConfig> {
    const record = await deps.config.readCampaign(q.accountId, q.campaignId);
    if (record === null) throw new NotFound('No such campaign.');
    return asCampaignConfig(record);
  }

  async function stream(q: { accountId: string; campaignId: string; from: string; to: string }, campaign: CampaignConfig): Promise<AsyncIterable<ReportCall>> {
    const entries = await deps.ledger.entriesInRange({ accountId: q.accountId, from: q.from, to: q.to });
    return deps.calls.streamCampaignCalls(q.accountId, q.campaignId, q.from, q.to, { termsVersions: campaign.termsVersions, credits: creditsOf(entries) });
  }

  return {
    async sources(q: SourcesQuery) {
      const campaign = await campaignOf(q);
      const account = await deps.config.getAccount(q.accountId);
      const timeZone = account?.timeZone ?? 'UTC';
      const card = createScorecard({ groupBy: q.groupBy, economics: campaign.economics ?? null });
      const days = emptyDays(q.from, q.to, timeZone);
      for await (const call of await stream(q, campaign)) {
        card.add(call);
        const day = days.get(localDay(call.startedAtMs, timeZone));
        if (day !== undefined) {
          day.spendCents += call.amountCents + call.creditsCents;
          if (call.outcome !== null && call.outcome.status !== 'lost') day.bookedCount += 1;
        }
      }
      const result = card.result();
      const row = (r: SourceRow) => ({
        ...r,
        // The response names sub-sources only when grouping by them (`*` is the scorecard's "all").
        subSource: q.groupBy === 'subSource' ? r.subSource : null,
        verdict: r.recommendation.verdict,
        why: r.recommendation.why,
      });
      const json = {
        campaignId: campaign.campaignId,
        campaignName: campaign.name,
        from: q.from,
        to: q.to,
        groupBy: q.groupBy,
        generatedAt: deps.now().toISOString(),
        ceiling:
          result.ceiling === null || result.ceilingPerBookedJobCents === null
            ? null
            : {
                maxPricePerCallCents: result.ceiling.maxPricePerCallCents,
                maxCostPerBookedJobCents: result.ceilingPerBookedJobCents,
                closeRateSource: result.ceiling.closeRateSource,
                expectedValueCents: result.ceiling.expectedValueCents,
                economics: result.ceiling.economics,
              },
        rule: result.rule,
        rows: result.rows.map(row),
        total: row(result.total),
        spendByDay: [...days.entries()].map(([day, d]) => ({ day, ...d })),
      };
      return { json, csv: scorecardCsv(result) };
    },

    async threshold(q: ThresholdQuery) {
      const campaign = await campaignOf(q);
      const current = termsInForce(campaign.termsVersions, Date.parse(q.to) - 1);
      const tuning = await tuneThresholdStream(await stream(q, campaign), {
        min: q.min,
        max: q.max,
        step: q.step,
        currentBufferSec: current?.bufferSec ?? 0,
      });
      return {
        campaignId: campaign.campaignId,
        from: q.from,
        to: q.to,
        currentBufferSec: current?.bufferSec ?? null,
        recommendedBufferSec: tuning.recommended?.bufferSec ?? null,
        rule: tuning.rule.statement,
        why: tuning.why,
        totals: tuning.totals,
        coMovementNote: tuning.coMovementNote,
        current: tuning.current,
        points: tuning.rows.map((r) => ({ ...r, billable: r.billableCalls })),
      };
    },
  };
}

/** Credits per call from the period's ledger entries (charges are on the calls themselves). */
function creditsOf(entries: readonly LedgerEntryV2[]): Map<string, CallCreditsView> {
  const byCall = new Map<string, CallCreditsView>();
  for (const e of entries) {
    if (e.type !== 'credit') continue;
    byCall.set(e.callId, { creditsCents: (byCall.get(e.callId)?.creditsCents ?? 0) + e.amountCents, disputed: true });
  }
  return byCall;
}

function localDay(atMs: number, timeZone: string): string {
  const w = wallTime(atMs, timeZone);
  return `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}

/** Every local day touched by [from, to), oldest first, with zero totals. */
function emptyDays(from: string, to: string, timeZone: string): Map<string, { spendCents: number; bookedCount: number }> {
  const days = new Map<string, { spendCents: number; bookedCount: number }>();
  const endMs = Date.parse(to);
  // Stepping by 6 h never skips a local day, whatever the zone's offsets and DST.
  for (let t = Date.parse(from); t < endMs; t += DAY_MS / 4) days.set(localDay(t, timeZone), { spendCents: 0, bookedCount: 0 });
  days.set(localDay(endMs - 1, timeZone), days.get(localDay(endMs - 1, timeZone)) ?? { spendCents: 0, bookedCount: 0 });
  return days;
}
