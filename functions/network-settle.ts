/**
 * Lambda: the networks' settle sweep, on a schedule (EventBridge Scheduler every 15 minutes in AWS, a timer in the
 * local stack). For every network of every registered account, re-matches the last two days, stores the findings
 * that are final (a claim no call came for, a call no claim came for) and opens or proposes the disputes the
 * network's credit policy calls for (shared/app/networks/matching-pass.ts settleNetworks). Idempotent: findings are
 * overwritten with the same, disputes are created once. Fails the invocation when a network failed, after all were tried.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { AccountRegistry } from '../shared/adapters/catalog/account-registry';
import { CallRepo } from '../shared/adapters/calls/main-repo';
import { ledgerRouteDeps } from '../shared/adapters/ledger/deps';
import { matchingPassDeps } from '../shared/adapters/networks/deps';
import { loadConfig } from '../shared/adapters/platform/env';
import { logger } from '../shared/adapters/platform/log';
import { SecretResolver } from '../shared/adapters/platform/secrets';
import { settleNetworks, type SettleSummary } from '../shared/app/networks/matching-pass';

const config = loadConfig(['mainTable', 'ledgerTable', 'callerHashKeyRef']);
const secrets = new SecretResolver();
const deps = {
  ...matchingPassDeps(config, new CallRepo({ mainTable: config.mainTable }), ledgerRouteDeps(config, { secrets })),
  accounts: new AccountRegistry({ mainTable: config.mainTable }),
};

export const handler = middy<unknown, SettleSummary>()
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .handler(async () => {
    const summary = await settleNetworks(deps);
    if (summary.failed.length > 0) throw new Error(`network settle failed for ${summary.failed.length} network(s): ${summary.failed.join(', ')}`);
    return summary;
  });
