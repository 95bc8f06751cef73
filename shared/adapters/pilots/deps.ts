/**
 * The adapters behind the pilot use cases, built from the functions' configuration: the API's (functions/api.ts)
 * and the workflow's and enforcer's (functions/pilot-workflow.ts, functions/enforce-caps.ts). Tests and the local
 * stack pass their own clients.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { PilotApiDeps } from '../../app/pilots/pilots';
import type { PilotTaskDeps } from '../../app/pilots/tasks';
import type { Log } from '../../app/kernel/ports';
import type { Config } from '../platform/env';
import { LedgerRepo } from '../ledger/ledger-repo';
import { log as defaultLog } from '../platform/log';
import { CallRepo, ConfigRepo } from '../calls/main-repo';
import type { PilotConfig } from './env';
import { HttpPilotNotifier } from './notifier';
import { S3PilotReports } from './reports';
import { DynamoPilotActivity, PilotRepo } from './pilot-repo';
import { resolvePilotWorkflow } from './workflow';

export interface PilotDepsOptions {
  readonly dynamodb?: DynamoDBClient;
  readonly s3?: S3Client;
  readonly now?: () => Date;
  readonly log?: Log;
  readonly fetch?: typeof fetch;
  /** The container's configuration cache; a new one when absent. */
  readonly config?: ConfigRepo;
}

type Tables = Pick<Config, 'mainTable' | 'ledgerTable' | 'archiveBucket'>;

function common(config: Tables, options: PilotDepsOptions) {
  const client = options.dynamodb;
  const config_ = options.config ?? new ConfigRepo({ mainTable: config.mainTable, client });
  return {
    store: new PilotRepo({ mainTable: config.mainTable, client }),
    activity: new DynamoPilotActivity(new CallRepo({ mainTable: config.mainTable, client }), new LedgerRepo({ ledgerTable: config.ledgerTable, client })),
    config: config_,
    reports: new S3PilotReports(config.archiveBucket, options.s3),
    now: options.now ?? (() => new Date()),
    log: options.log ?? defaultLog,
  };
}

export function pilotApiDeps(config: Tables, pilot: PilotConfig, options: PilotDepsOptions = {}): PilotApiDeps {
  const c = common(config, options);
  let workflow: ReturnType<typeof resolvePilotWorkflow> | undefined;
  return {
    store: c.store,
    activity: c.activity,
    config: c.config,
    reports: c.reports,
    workflow: () => (workflow ??= resolvePilotWorkflow(pilot.stateMachineArn)),
    settings: { monitorSeconds: pilot.monitorSeconds, settleSeconds: pilot.settleSeconds },
    now: c.now,
    log: c.log,
  };
}

export function pilotTaskDeps(config: Tables, pilot: Pick<PilotConfig, 'notifyAllowLocal'>, options: PilotDepsOptions = {}): PilotTaskDeps {
  const c = common(config, options);
  return {
    store: c.store,
    activity: c.activity,
    campaigns: c.config,
    reports: c.reports,
    notifier: new HttpPilotNotifier({ log: c.log, allowLocal: pilot.notifyAllowLocal, fetch: options.fetch }),
    now: c.now,
    log: c.log,
  };
}
