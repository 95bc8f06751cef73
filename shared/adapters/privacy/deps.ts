/** The adapters behind the deletion routes and the legal-hold hooks of disputes, built once per container. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SecretStore } from '../../app/kernel/ports';
import type { PrivacyDeps } from '../../app/privacy/privacy';
import { CallRepo } from '../calls/main-repo';
import type { Config } from '../platform/env';
import { S3RecordingObjects } from '../recordings/recordings';
import { SecretResolver } from '../platform/secrets';
import { PrivacyRepo } from './privacy-repo';

export interface PrivacyDepsOptions {
  readonly client?: DynamoDBClient;
  readonly s3?: S3Client;
  readonly secrets?: Pick<SecretStore, 'resolve'>;
  readonly now?: () => Date;
}

/** The adapters behind PRIVACY_ROUTES and the dispute hooks, from the configuration functions/api.ts loads. */
export function privacyDeps(config: Pick<Config, 'mainTable' | 'recordingsBucket' | 'callerHashKeyRef'>, options: PrivacyDepsOptions = {}): PrivacyDeps {
  const secrets = options.secrets ?? new SecretResolver();
  return {
    calls: new CallRepo({ mainTable: config.mainTable, client: options.client }),
    store: new PrivacyRepo({ mainTable: config.mainTable, client: options.client }),
    recordings: new S3RecordingObjects(config.recordingsBucket, options.s3),
    callerHashKey: () => secrets.resolve(config.callerHashKeyRef),
    now: options.now ?? (() => new Date()),
  };
}
