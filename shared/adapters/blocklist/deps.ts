/** The adapters behind the block-list routes, built once per container from the configuration the function loads. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { BlockListDeps } from '../../app/blocklist/block-list';
import type { SecretStore } from '../../app/kernel/ports';
import { cursorSealer } from '../http/cursor';
import type { Config } from '../platform/env';
import { SecretResolver } from '../platform/secrets';
import { BlockRepo } from './block-repo';

export interface BlockListDepsOptions {
  /** Defaults to the shared client (AWS_ENDPOINT_URL_DYNAMODB honoured). */
  readonly client?: DynamoDBClient;
  /** Resolves CALLER_HASH_KEY_REF; defaults to a SecretResolver (5-minute cache). */
  readonly secrets?: Pick<SecretStore, 'resolve'>;
  readonly now?: () => Date;
}

/** The adapters behind BLOCK_ROUTES, built from the configuration functions/api.ts loads. */
export function blockListDeps(config: Pick<Config, 'mainTable' | 'callerHashKeyRef'>, options: BlockListDepsOptions = {}): BlockListDeps {
  const secrets = options.secrets ?? new SecretResolver();
  const now = options.now ?? (() => new Date());
  const callerHashKey = () => secrets.resolve(config.callerHashKeyRef);
  return {
    blocks: new BlockRepo({ mainTable: config.mainTable, client: options.client, now: () => now().getTime() }),
    callerHashKey,
    cursors: cursorSealer(callerHashKey),
    now,
  };
}
