/**
 * The reports' reader: every rated call of a campaign that started in [from, to), in start order, as a
 * `ReportCall` (shared/domain/reports/analytics.ts), streamed from the campaign index page by page. Memory is one page of
 * items plus what the caller keeps (the reports fold calls into groups as they come), never the period's calls.
 *
 * Source: gsi3 (`gsi3pk = CAMP#<accountId>#<campaignId>`, sort key gsi1sk = <startedAt>#<callId>, projection ALL;
 * infra/resources.ts), so each call arrives whole — rating, slots, outcome — without a GetItem per call. The index is
 * eventually consistent: a call rated in the last moment may be missing from a report of the current period.
 *
 * What the call item does not say comes from outside, as arguments, to keep the generator a pure mapping:
 * - the campaign's `termsVersions` (Campaign): the duration basis and the price of the version each call was
 *   rated under (versions are immutable, so today's list is exact for past calls);
 * - optionally, credits per call from the ledger (`creditsByCall`), for items that carry no copy of their credits:
 *   every credit since the daily aggregates is also written onto its call item in the credit's own transaction
 *   (StoredCall.credits), so the reports no longer read the period's ledger.
 *
 * Derived fields (`reportCallOf`, pure):
 * - `connected`: the terminal status is `completed`;
 * - `billableSec`: on the terms' duration basis — `talk`: the talk time the rating recorded (`recorded.talkSec`, 0
 *   when none was measured, as rating-v2 does); `total`: the call's duration;
 * - `signals` (the quality signals its rating recorded), `qa` (the reviewer's verdict, shared/domain/qa/qa.ts) and
 *   `recordingKey` (for QA sampling's presigned links) are copied from the item;
 * - `priceIfBillableCents`: the charged amount when it billed; when `below_buffer` is its ONLY failing reason, the
 *   contract price for its billable seconds and IVR answer under its terms version (`priceFor`); else null (the call
 *   could not bill whatever the buffer).
 */
import { reportSource } from '../../domain/networks/attribution';
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ReportCall } from '../../domain/reports/analytics';
import { foldCall, gatheredDigits } from '../../domain/calls/fold';
import type { LedgerEntry } from '../../domain/ledger/entries';
import { priceFor, type TermsVersion } from '../../domain/terms/terms';
import type { StoredCall } from '../../app/kernel/ports';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { campaignIndex } from '../calls/keys';
import { parseCall } from '../calls/call-codec';

/** What the ledger says about one call: the sum of its credits (≤ 0) and whether it was disputed. */
export interface CallCredits {
  readonly creditsCents: number;
  readonly disputed: boolean;
}

/**
 * Credits per call from ledger entries (charges are ignored: the call item says what was charged). A credit exists
 * only for an ACCEPTED dispute, so `disputed` here means "disputed and credited"; a caller that also wants open or
 * rejected disputes marks them in the Map it passes (the dispute items, DISPUTE#<disputeId>, name their callId).
 */
export function creditsByCall(entries: readonly LedgerEntry[]): Map<string, CallCredits> {
  const byCall = new Map<string, CallCredits>();
  for (const e of entries) {
    if (e.type !== 'credit') continue;
    const prior = byCall.get(e.callId);
    byCall.set(e.callId, { creditsCents: (prior?.creditsCents ?? 0) + e.amountCents, disputed: true });
  }
  return byCall;
}

/** A rated call as the reports see it; null for a call that is not rated or has no campaign (never in gsi3). */
export function reportCallOf(call: StoredCall, termsVersions: readonly TermsVersion[], credits?: ReadonlyMap<string, CallCredits>): ReportCall | null {
  const r = call.rating;
  if (r === null || r.campaignId === null || r.publisherId === null || call.startedAt === null) return null;
  const terminal = call.events.some((e) => e.kind === 'call.status' && e.parentCallId === null) ? foldCall(call.events).terminal : null;
  const terms = r.termsVersion === null ? undefined : termsVersions.find((v) => v.version === r.termsVersion);
  const totalSec = call.durationSec ?? terminal?.durationSec ?? 0;
  const billableSec = terms?.durationBasis === 'talk' ? (r.recorded?.talkSec ?? 0) : totalSec;
  const onlyBelowBuffer = r.reasons.length === 1 && r.reasons[0] === 'below_buffer';
  const priceIfBillableCents = r.billable
    ? r.amountCents
    : onlyBelowBuffer && terms !== undefined
      ? priceFor(terms, billableSec, gatheredDigits(call.events)).priceCents
      : null;
  // The call item's own copy of its credits (written with them: StoredCall.credits) wins; the map serves items
  // credited before the copy existed and callers that pass ledger credits explicitly.
  const credit = call.credits != null ? { creditsCents: call.credits.cents, disputed: true } : credits?.get(call.callId);
  const outcome = call.outcome ?? null;
  // A forwarded call counts under the network's publisher and sub-source its matched claim names (attribution.ts).
  const source = reportSource({ publisherId: r.publisherId, subSource: r.subSource }, call.network);
  return {
    callId: call.callId,
    startedAtMs: Date.parse(call.startedAt),
    campaignId: r.campaignId,
    publisherId: source.publisherId,
    subSource: source.subSource,
    connected: terminal?.status === 'completed',
    billableSec,
    billable: r.billable,
    amountCents: r.billable ? r.amountCents : 0,
    reasons: r.billable ? [] : r.reasons,
    creditsCents: credit?.creditsCents ?? 0,
    ...(call.reversals == null ? {} : { reversedChargesCents: call.reversals.chargeCents, reversalsCents: call.reversals.cents }),
    disputed: credit?.disputed ?? false,
    outcome:
      outcome === null
        ? null
        : {
            externalId: outcome.externalId,
            status: outcome.status,
            revenueCents: outcome.revenueCents,
            marginCents: outcome.marginCents,
            occurredAt: outcome.occurredAt,
          },
    priceIfBillableCents,
    bufferSec: terms?.bufferSec ?? null,
    signals: [...new Set([...(r.recorded?.signals ?? []), ...(call.crossCall?.findings ?? []).map((f) => f.signal)])],
    qa: call.qa == null ? null : { verdict: call.qa.verdict, reviewedAt: call.qa.reviewedAt, reviewer: call.qa.reviewer },
    recordingKey: call.recording?.key ?? null,
  };
}

export interface CampaignCallsOptions {
  mainTable: string;
  client?: DynamoDBClient;
  /** Items per Query page (default 200). */
  pageSize?: number;
}

export interface CampaignCallsContext {
  /** The campaign's terms versions (Campaign.termsVersions). */
  readonly termsVersions: readonly TermsVersion[];
  /**
   * Credits by callId (creditsByCall over ledger entries), for calls whose item carries no copy of its credits
   * (StoredCall.credits, written with every credit since the daily aggregates); absent: the items' copies only.
   */
  readonly credits?: ReadonlyMap<string, CallCredits>;
}

export class CampaignCallsReader {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;
  private readonly pageSize: number;

  constructor(options: CampaignCallsOptions) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
    this.pageSize = options.pageSize ?? 200;
  }

  /** The campaign's rated calls that started in [fromIso, toIso), ascending by start (then callId), one page at a time. */
  async *streamCampaignCalls(accountId: string, campaignId: string, fromIso: string, toIso: string, context: CampaignCallsContext): AsyncGenerator<ReportCall> {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client().send(
        new QueryCommand({
          TableName: this.table,
          IndexName: campaignIndex.name,
          // <startedAt>#<callId>: BETWEEN from AND to keeps [from, to), since `to#…` sorts after `to`.
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#pk': 'gsi3pk', '#sk': 'gsi1sk' },
          ExpressionAttributeValues: { ':pk': { S: campaignIndex.pk(accountId, campaignId) }, ':from': { S: fromIso }, ':to': { S: toIso } },
          ScanIndexForward: true,
          ExclusiveStartKey: startKey,
          Limit: this.pageSize,
        }),
      );
      for (const item of out.Items ?? []) {
        const call = reportCallOf(parseCall(item), context.termsVersions, context.credits);
        if (call !== null) yield call;
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
  }
}
