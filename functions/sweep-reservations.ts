/**
 * Lambda: `sweep-reservations`, every minute (EventBridge Scheduler from FUNCTIONS.schedule; the local stack's timer).
 * Ends the pilot reservations whose calls were never rated once they have expired, so their money is admitted again
 * (shared/app/routing/sweep-reservations.ts). Idempotent; two runs at once are safe. A pilot that could not be swept
 * is logged and fails the run (the function's Errors alarm); the next run retries it.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../shared/adapters/platform/env';
import { log, logger } from '../shared/adapters/platform/log';
import { sweepDeps } from '../shared/adapters/routing/deps';
import { sweepReservations, type SweepSummary } from '../shared/app/routing/sweep-reservations';

const config = loadConfig(['mainTable']);
const deps = sweepDeps(config);

export const handler = middy<unknown, SweepSummary>()
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .handler(async () => {
    const summary = await sweepReservations(deps);
    if (summary.expired > 0 || summary.markersPruned > 0 || summary.failed > 0) log.info('sweep-reservations', { ...summary });
    if (summary.failed > 0) throw new Error(`sweep-reservations: ${summary.failed} pilot(s) failed; retried next run`);
    return summary;
  });
