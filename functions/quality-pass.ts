/**
 * Lambda: the cross-call quality pass, on a schedule (EventBridge Scheduler hourly in AWS, a timer in the local
 * stack). For every registered account, runs the streaming detector over the calls stored since its checkpoint (plus
 * the detector's look-back) and stores repeat_caller / velocity / coached_ivr flags on the calls (shared/app/
 * quality-pass.ts). Flags only: no rating, amount or ledger entry changes. The event carries nothing it uses. Fails the
 * invocation when any account failed, after all were tried, so the function's Errors alarm fires; the next run retries
 * (idempotent: conditional writes, flags only grow, the checkpoint moves after the writes).
 *
 * `createHandler` exists for tests: the same wiring with another clock or adapters.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { AccountRegistry } from '../shared/adapters/catalog/account-registry';
import { loadConfig } from '../shared/adapters/platform/env';
import { log, logger } from '../shared/adapters/platform/log';
import { ConfigRepo } from '../shared/adapters/calls/main-repo';
import { metrics, publishMetrics } from '../shared/adapters/platform/metrics';
import { QualityPassRepo } from '../shared/adapters/quality/quality-pass-repo';
import {
  DEFAULT_QUALITY_PASS_OPTIONS,
  runQualityPass,
  type QualityPassDeps,
  type QualityPassOptions,
  type QualityPassSummary,
  type QualityPassTelemetry,
} from '../shared/app/quality/quality-pass';

const config = loadConfig(['mainTable']);

/** Stop starting accounts when less than this is left of the invocation (one account's pass fits in it). */
export const RESERVE_MS = 60_000;

const telemetry: QualityPassTelemetry = {
  qualityPassRun: (s) => {
    metrics.addMetric('QualityPassCallsRead', MetricUnit.Count, s.callsRead);
    metrics.addMetric('QualityPassCallsFlagged', MetricUnit.Count, s.callsFlagged);
    metrics.addMetric('QualityPassAccountsFailed', MetricUnit.Count, s.failed.length);
    metrics.addMetric('QualityPassAccountsSkipped', MetricUnit.Count, s.skipped);
  },
};

export const deps: QualityPassDeps = {
  accounts: new AccountRegistry({ mainTable: config.mainTable }),
  store: new QualityPassRepo({ mainTable: config.mainTable }),
  config: new ConfigRepo({ mainTable: config.mainTable }),
  now: () => new Date(),
  log,
  telemetry,
};

/** What the invocation returns: the counts, without the per-account list (that is in the logs). */
export type QualityPassResult = Omit<QualityPassSummary, 'outcomes'>;

export function createHandler(d: QualityPassDeps = deps, o: Omit<QualityPassOptions, 'shouldStop'> = DEFAULT_QUALITY_PASS_OPTIONS) {
  return middy<unknown, QualityPassResult>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(publishMetrics())
    .handler(async (_event: unknown, context: Context) => {
      const { outcomes: _outcomes, ...summary } = await runQualityPass(d, { ...o, shouldStop: () => context.getRemainingTimeInMillis() < RESERVE_MS });
      if (summary.failed.length > 0) {
        throw new Error(`quality pass failed for ${summary.failed.length} of ${summary.accounts} account(s): ${summary.failed.join(', ')}`);
      }
      return summary;
    });
}

export const handler = createHandler();
