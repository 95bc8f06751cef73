/**
 * Lambda: the ledger sealer, on a schedule (EventBridge Scheduler hourly in AWS, a timer in the local stack).
 * Seals every registered account's ready intervals and anchors each newest seal in the Object Lock bucket
 * (shared/app/ledger/seal-accounts.ts). The event carries nothing it uses. Fails the invocation when any account failed,
 * after all of them were tried, so the function's Errors alarm fires; the next run retries (idempotent).
 *
 * `createHandler` exists for tests: the same wiring with another clock or adapters.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { AccountRegistry } from '../shared/adapters/catalog/account-registry';
import { S3AnchorStore } from '../shared/adapters/ledger/anchors';
import { loadConfig } from '../shared/adapters/platform/env';
import { LedgerRepo } from '../shared/adapters/ledger/ledger-repo';
import { log, logger } from '../shared/adapters/platform/log';
import { metrics, publishMetrics } from '../shared/adapters/platform/metrics';
import { DEFAULT_SEAL_OPTIONS } from '../shared/app/ledger/verify';
import {
  DEFAULT_SEALER_CONCURRENCY,
  sealAllAccounts,
  type SealAccountsDeps,
  type SealRunOptions,
  type SealRunSummary,
  type SealerTelemetry,
} from '../shared/app/ledger/seal-accounts';

const config = loadConfig(['mainTable', 'ledgerTable', 'anchorsBucket', 'sealIntervalMs', 'sealGraceMs']);

/** Stop starting accounts when less than this is left of the invocation (one account's catch-up fits in it). */
export const RESERVE_MS = 60_000;

const telemetry: SealerTelemetry = {
  sealerRun: (s) => {
    metrics.addMetric('SealsWritten', MetricUnit.Count, s.sealsWritten);
    metrics.addMetric('AnchorsWritten', MetricUnit.Count, s.anchorsWritten);
    metrics.addMetric('SealAccountsFailed', MetricUnit.Count, s.failed.length);
    metrics.addMetric('SealAccountsSkipped', MetricUnit.Count, s.skipped + s.deferred);
  },
};

export const deps: SealAccountsDeps = {
  accounts: new AccountRegistry({ mainTable: config.mainTable }),
  ledger: new LedgerRepo({ ledgerTable: config.ledgerTable }),
  anchors: new S3AnchorStore({ bucket: config.anchorsBucket }),
  now: () => new Date(),
  log,
  telemetry,
};

export const options: Omit<SealRunOptions, 'shouldStop'> = {
  ...DEFAULT_SEAL_OPTIONS,
  intervalMs: config.sealIntervalMs,
  graceMs: config.sealGraceMs,
  concurrency: DEFAULT_SEALER_CONCURRENCY,
};

/** What the invocation returns: the counts, without the per-account list (that is in the logs). */
export type SealerResult = Omit<SealRunSummary, 'outcomes'>;

export function createHandler(d: SealAccountsDeps = deps, o: Omit<SealRunOptions, 'shouldStop'> = options) {
  return middy<unknown, SealerResult>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(publishMetrics())
    .handler(async (_event: unknown, context: Context) => {
      const { outcomes: _outcomes, ...summary } = await sealAllAccounts(d, {
        ...o,
        shouldStop: () => context.getRemainingTimeInMillis() < RESERVE_MS,
      });
      if (summary.failed.length > 0) {
        throw new Error(`sealing failed for ${summary.failed.length} of ${summary.accounts} account(s): ${summary.failed.join(', ')}`);
      }
      return summary;
    });
}

export const handler = createHandler();
