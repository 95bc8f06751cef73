/**
 * Wiring of the aggregator's use case (shared/app/reports/aggregates.ts) to DynamoDB: the call item (strongly consistent),
 * the campaign's terms versions and the account's zone (the config cache; a terms version the cached copy does
 * not hold yet is read again, consistently, so a call rated under a version added a moment ago is never mapped
 * with the wrong terms), and the aggregates table.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AggregatorDeps } from '../../app/reports/aggregates';
import { AggregateRepo } from './aggregate-repo';
import { reportCallOf } from './campaign-calls';
import { CallRepo, ConfigRepo } from '../calls/main-repo';

export function aggregatorDeps(config: { mainTable: string; aggregatesTable: string }, client?: DynamoDBClient): AggregatorDeps {
  const calls = new CallRepo({ mainTable: config.mainTable, client });
  const configs = new ConfigRepo({ mainTable: config.mainTable, client });
  return {
    calls: { getCall: (callId) => calls.getCall(callId, { consistent: true }) },
    context: {
      async termsVersions(accountId, campaignId, version) {
        const cached = await configs.getCampaign(accountId, campaignId);
        if (cached !== null && (version === null || cached.termsVersions.some((v) => v.version === version))) return cached.termsVersions;
        return (await configs.readCampaign(accountId, campaignId))?.termsVersions ?? null;
      },
      async timeZone(accountId) {
        return (await configs.getAccount(accountId))?.timeZone ?? 'UTC';
      },
    },
    reportCallOf: (call, termsVersions) => reportCallOf(call, termsVersions),
    store: new AggregateRepo({ aggregatesTable: config.aggregatesTable, client }),
  };
}
