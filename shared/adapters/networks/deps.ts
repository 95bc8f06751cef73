/**
 * The adapters behind the networks capability: the routes functions/api.ts mounts, the postback webhook
 * (functions/ingest-network.ts) and the matching pass the ledger writer runs.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CallStore, ConfigStore, SecretStore } from '../../app/kernel/ports';
import type { NetworkDeps } from '../../app/networks/networks';
import type { PostbackIngestDeps } from '../../app/networks/postback-ingest';
import type { MatchingPassDeps } from '../../app/networks/matching-pass';
import { openCallDispute, type DisputeDeps } from '../../app/disputes/disputes';
import { SqsNetworkPostbackQueue } from '../calls/queue';
import { CallRepo } from '../calls/main-repo';
import type { Config } from '../platform/env';
import { log } from '../platform/log';
import { NetworkRepo } from './network-repo';

export function networkRouteDeps(
  config: Pick<Config, 'mainTable'> & { readonly publicBaseUrl: () => string },
  shared: { readonly config: Pick<ConfigStore, 'getAccount'>; readonly calls?: Pick<CallStore, 'listCalls'> },
  options: { readonly client?: DynamoDBClient } = {},
): NetworkDeps {
  return {
    store: new NetworkRepo({ mainTable: config.mainTable, client: options.client }),
    calls: shared.calls ?? new CallRepo({ mainTable: config.mainTable, client: options.client }),
    config: shared.config,
    random: (n) => randomBytes(n),
    publicBaseUrl: config.publicBaseUrl,
    now: () => new Date(),
  };
}

export function postbackIngestDeps(config: Pick<Config, 'mainTable' | 'ingestQueueUrl' | 'callerHashKeyRef'>, secrets: Pick<SecretStore, 'resolve'>): PostbackIngestDeps {
  return {
    store: new NetworkRepo({ mainTable: config.mainTable }),
    queue: new SqsNetworkPostbackQueue(config.ingestQueueUrl),
    callerHashKey: () => secrets.resolve(config.callerHashKeyRef),
    now: () => new Date(),
    log,
  };
}

/** The matching pass of the ledger writer; `disputes`: the dispute use case's deps, for auto_open policies. */
export function matchingPassDeps(config: Pick<Config, 'mainTable'>, calls: Pick<CallStore, 'getCall' | 'listCalls'>, disputes?: DisputeDeps): MatchingPassDeps {
  // The disputes the drift opens on our charges are the system's, kept with this actor label.
  const principal = (accountId: string) => ({ accountId, role: 'admin' as const, label: 'network-drift' });
  return {
    store: new NetworkRepo({ mainTable: config.mainTable }),
    calls,
    ...(disputes === undefined
      ? {}
      : { openCallDispute: async (accountId, callId, note) => (await openCallDispute(principal(accountId), callId, { reason: 'other', note }, disputes)).dispute.disputeId }),
    now: () => new Date(),
    log,
  };
}
