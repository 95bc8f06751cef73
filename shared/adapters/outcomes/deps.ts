/** The adapters behind the CRM outcome routes, built once per container from the configuration the function loads. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretStore } from '../../app/kernel/ports';
import type { OutcomeDeps } from '../../app/outcomes/outcomes';
import { ConfigRepo } from '../calls/main-repo';
import { cursorSealer } from '../http/cursor';
import type { Config } from '../platform/env';
import { SecretResolver } from '../platform/secrets';
import { OutcomeRepo } from './outcome-repo';

export interface OutcomeDepsOptions {
  /** Defaults to the shared client (AWS_ENDPOINT_URL_DYNAMODB honoured). */
  readonly client?: DynamoDBClient;
  /** Resolves CALLER_HASH_KEY_REF; defaults to a SecretResolver (5-minute cache). */
  readonly secrets?: Pick<SecretStore, 'resolve'>;
  /** The container's configuration cache; a new one when absent. */
  readonly config?: ConfigRepo;
  readonly now?: () => Date;
}

/** The adapters behind OUTCOME_ROUTES, built from the configuration functions/api.ts loads. */
export function outcomeDeps(config: Pick<Config, 'mainTable' | 'callerHashKeyRef'>, options: OutcomeDepsOptions = {}): OutcomeDeps {
  const secrets = options.secrets ?? new SecretResolver();
  const callerHashKey = () => secrets.resolve(config.callerHashKeyRef);
  return {
    outcomes: new OutcomeRepo({ mainTable: config.mainTable, client: options.client }),
    config: options.config ?? new ConfigRepo({ mainTable: config.mainTable, client: options.client }),
    callerHashKey,
    cursors: cursorSealer(callerHashKey),
    now: options.now ?? (() => new Date()),
  };
}
