/** The adapters behind the destinations API, built once per container from the configuration the function loads. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TargetDeps } from '../../app/routing/targets';
import type { Config } from '../platform/env';
import { TargetRepo } from './target-repo';

export function targetDeps(config: Pick<Config, 'mainTable'>, options: { readonly client?: DynamoDBClient; readonly now?: () => Date } = {}): TargetDeps {
  // The management API reads and writes uncached: a PUT answers what is stored.
  const repo = new TargetRepo({ mainTable: config.mainTable, client: options.client, cacheTtlMs: 0 });
  return { targets: { readTarget: (a, t) => repo.readTarget(a, t), putTarget: (t, r) => repo.putTarget(t, r), listTargets: (a) => repo.readTargets(a) }, now: options.now ?? (() => new Date()) };
}
