/**
 * The adapters behind the ledger routes (disputes, statements, reconciliations, verification), built once per
 * container: re-rating after a full credit uses the same use case and repositories as the ledger writer, and an
 * open dispute holds its call's recording through the privacy adapters.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SecretStore } from '../../app/kernel/ports';
import type { LedgerRouteDeps } from '../../app/ledger/ledger-routes';
import { holdRecording, releaseRecording } from '../../app/privacy/privacy';
import { rerateAfterCredit, type RatingDeps } from '../../app/rating/process-ingest-batch';
import { BlockRepo } from '../blocklist/block-repo';
import { CallRepo, ConfigRepo } from '../calls/main-repo';
import { ConsentRepo } from '../compliance/consent-repo';
import { DncRepo } from '../compliance/dnc-repo';
import { DisputeRepo } from '../disputes/dispute-repo';
import { cursorSealer } from '../http/cursor';
import type { Config } from '../platform/env';
import { log } from '../platform/log';
import { telemetry } from '../platform/metrics';
import { SecretResolver } from '../platform/secrets';
import { privacyDeps } from '../privacy/deps';
import { S3AnchorStore } from './anchors';
import { LedgerRepo } from './ledger-repo';
import { NetworkRepo } from '../networks/network-repo';

export interface LedgerRouteDepsOptions {
  /** Defaults to the shared client (AWS_ENDPOINT_URL_DYNAMODB honoured). */
  readonly client?: DynamoDBClient;
  /** For the anchors bucket; defaults to the shared client (AWS_ENDPOINT_URL_S3 honoured). */
  readonly s3?: S3Client;
  /** Resolves CALLER_HASH_KEY_REF; defaults to a SecretResolver (5-minute cache). */
  readonly secrets?: Pick<SecretStore, 'resolve'>;
  /** The container's configuration cache; a new one when absent. */
  readonly config?: ConfigRepo;
  readonly now?: () => Date;
}

/** The adapters behind LEDGER_ROUTES, built from the same configuration functions/api.ts loads. */
export function ledgerRouteDeps(
  config: Pick<Config, 'mainTable' | 'ledgerTable' | 'callerHashKeyRef'> & Partial<Pick<Config, 'anchorsBucket' | 'recordingsBucket'>>,
  options: LedgerRouteDepsOptions = {},
): LedgerRouteDeps {
  const client = options.client;
  const disputes = new DisputeRepo({ mainTable: config.mainTable, ledgerTable: config.ledgerTable, client });
  const secrets = options.secrets ?? new SecretResolver();
  const configRepo = options.config ?? new ConfigRepo({ mainTable: config.mainTable, client });
  const callerHashKey = () => secrets.resolve(config.callerHashKeyRef);
  const now = options.now ?? (() => new Date());
  const networks = new NetworkRepo({ mainTable: config.mainTable, client });
  // Re-rating after a full credit rates calls exactly as the ledger writer does (same use case, same repos).
  const rating: RatingDeps & { calls: CallRepo } = {
    calls: new CallRepo({ mainTable: config.mainTable, ledgerTable: config.ledgerTable, client }),
    config: configRepo,
    blocks: new BlockRepo({ mainTable: config.mainTable, client }),
    dnc: new DncRepo({ mainTable: config.mainTable, client }),
    consent: new ConsentRepo({ mainTable: config.mainTable, client }),
    callerHashKey,
    now,
    telemetry,
    log,
  };
  // An open dispute holds its call's recording, its close releases it (privacy.ts); without the recordings
  // bucket configured, nothing is held.
  const recordingsBucket = config.recordingsBucket;
  const privacy =
    recordingsBucket === undefined
      ? null
      : privacyDeps({ mainTable: config.mainTable, recordingsBucket, callerHashKeyRef: config.callerHashKeyRef }, { client, s3: options.s3, secrets, now });
  return {
    calls: new CallRepo({ mainTable: config.mainTable, client }),
    config: configRepo,
    afterFullCredit: (accountId, creditedCallId) => rerateAfterCredit(accountId, creditedCallId, rating),
    ...(privacy === null
      ? {}
      : { afterDisputeOpened: (d) => holdRecording(d, privacy), afterDisputeClosed: (d) => releaseRecording(d, privacy) }),
    ledger: new LedgerRepo({ ledgerTable: config.ledgerTable, client }),
    disputes,
    policies: disputes,
    callFacts: disputes,
    callerHashKey,
    // A network's invoice is read through the networks' matches (network-repo.ts claims).
    networkMatches: {
      matchedLeg: async (accountId, networkId, networkCallId) => {
        const stored = await networks.getClaim(accountId, networkId, networkCallId);
        return stored?.match?.matchedBy != null ? stored.match.legCallId : null;
      },
    },
    cursors: cursorSealer(callerHashKey),
    now,
    ...(config.anchorsBucket !== undefined ? { anchors: new S3AnchorStore({ bucket: config.anchorsBucket, client: options.s3 }) } : {}),
  };
}
