/**
 * Lambda: `enforce-caps`, every minute (EventBridge Scheduler, infra/constructs/pilots.ts). For every live pilot:
 * activation if its workflow missed it, counter reconciliation with the ledger, the daily cap's new day, threshold
 * notifications, closing on cap or window end, and the report of closed pilots no workflow finished
 * (shared/app/pilots/tasks.ts `enforceCaps`). Idempotent; two runs at once are safe. Throws only when the pilot list
 * cannot be read; a single pilot's failure is logged and retried on the next run.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../shared/adapters/platform/env';
import { log, logger } from '../shared/adapters/platform/log';
import { pilotTaskDeps } from '../shared/adapters/pilots/deps';
import { loadPilotConfig } from '../shared/adapters/pilots/env';
import { enforceCaps, type EnforceSummary } from '../shared/app/pilots/tasks';

const config = loadConfig(['mainTable', 'ledgerTable', 'archiveBucket']);
const pilot = loadPilotConfig();
const deps = pilotTaskDeps(config, pilot);

export const handler = middy<unknown, EnforceSummary>()
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .handler(async () => {
    const summary = await enforceCaps(deps, { finishGraceMs: pilot.finishGraceSeconds * 1000 });
    if (summary.pilots > 0) log.info('enforce-caps', { ...summary });
    if (summary.failed > 0) throw new Error(`enforce-caps: ${summary.failed} pilot(s) failed; retried next run`);
    return summary;
  });
