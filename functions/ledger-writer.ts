/**
 * Lambda: consumes the ingest queue. Archives each batch, folds and rates calls, writes the ledger.
 * Returns a partial batch response (the event source mapping needs ReportBatchItemFailures).
 */
import { S3Archive } from '../shared/adapters/calls/archive';
import { loadConfig } from '../shared/adapters/platform/env';
import { log } from '../shared/adapters/platform/log';
import { telemetry } from '../shared/adapters/platform/metrics';
import { sqsBatchHandler } from '../shared/adapters/platform/sqs-handler';
import { CallRepo, ConfigRepo } from '../shared/adapters/calls/main-repo';
import { BlockRepo } from '../shared/adapters/blocklist/block-repo';
import { ConsentRepo } from '../shared/adapters/compliance/consent-repo';
import { DncRepo } from '../shared/adapters/compliance/dnc-repo';
import { SqsRecordingJobQueue } from '../shared/adapters/calls/queue';
import { SecretResolver } from '../shared/adapters/platform/secrets';
import { callerCipherFor } from '../shared/adapters/privacy/pii-cipher';
import { processIngestBatch, type ProcessIngestDeps } from '../shared/app/rating/process-ingest-batch';
import { matchingPassDeps } from '../shared/adapters/networks/deps';
import { ledgerRouteDeps } from '../shared/adapters/ledger/deps';
import { RoutingRepo } from '../shared/adapters/routing/routing-repo';

const config = loadConfig(['mainTable', 'ledgerTable', 'archiveBucket', 'recordingsQueueUrl', 'callerHashKeyRef', 'piiKeyRef']);
// The caller-hash key is a full reference (env:NAME / ssm:/name); the resolver caches it for five minutes.
const secrets = new SecretResolver();

// The caller's number is stored sealed only (shared/adapters/privacy/pii-cipher.ts: a local key, or KMS data keys in AWS).
const calls = new CallRepo({ mainTable: config.mainTable, ledgerTable: config.ledgerTable, pii: callerCipherFor(config.piiKeyRef, { secrets, mainTable: config.mainTable }) });

const deps: ProcessIngestDeps = {
  calls,
  config: new ConfigRepo({ mainTable: config.mainTable }),
  // Block lists (rating rule blocked_caller): one cached Query per account and minute (block-repo.ts).
  blocks: new BlockRepo({ mainTable: config.mainTable }),
  dnc: new DncRepo({ mainTable: config.mainTable }),
  consent: new ConsentRepo({ mainTable: config.mainTable }),
  archive: new S3Archive(config.archiveBucket),
  recordingJobs: new SqsRecordingJobQueue(config.recordingsQueueUrl),
  // Pilot reservations taken at admission end when their call is rated (shared/adapters/routing/routing-repo.ts).
  reservations: new RoutingRepo({ mainTable: config.mainTable }),
  callerHashKey: () => secrets.resolve(config.callerHashKeyRef),
  now: () => new Date(),
  telemetry,
  log,
  // Network claims and matching; disputes a network's drift opens on our charges go through the dispute use case.
  networks: matchingPassDeps(config, calls, ledgerRouteDeps(config, { secrets })),
};

export const handler = sqsBatchHandler((records) => processIngestBatch(records, deps));
