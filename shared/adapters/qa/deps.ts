/** The adapters behind the QA routes, built once per container from the configuration the function loads. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DisputeDeps } from '../../app/disputes/disputes';
import type { QaDeps } from '../../app/qa/qa';
import { CallRepo, ConfigRepo } from '../calls/main-repo';
import type { Config } from '../platform/env';
import { S3RecordingUrls } from '../recordings/recording-urls';
import { CampaignCallsReader } from '../reports/campaign-calls';
import { QaRepo } from './qa-repo';

export interface QaDepsOptions {
  /** Defaults to the shared client (AWS_ENDPOINT_URL_DYNAMODB honoured). */
  readonly client?: DynamoDBClient;
  /** For presigning recordings; defaults to the shared client. */
  readonly s3?: S3Client;
  /** The container's configuration cache; a new one when absent. */
  readonly config?: ConfigRepo;
  readonly now?: () => Date;
}

/** The adapters behind QA_ROUTES; `disputes`: the dispute use case's deps (functions/api.ts passes its ledger route deps). */
export function qaDeps(config: Pick<Config, 'mainTable' | 'ledgerTable' | 'recordingsBucket'>, disputes: DisputeDeps, options: QaDepsOptions = {}): QaDeps {
  return {
    config: options.config ?? new ConfigRepo({ mainTable: config.mainTable, client: options.client }),
    campaignCalls: new CampaignCallsReader({ mainTable: config.mainTable, client: options.client }),
    media: new S3RecordingUrls(config.recordingsBucket, options.s3),
    calls: new CallRepo({ mainTable: config.mainTable, client: options.client }),
    qa: new QaRepo({ mainTable: config.mainTable, client: options.client }),
    disputes,
    now: options.now ?? (() => new Date()),
  };
}
