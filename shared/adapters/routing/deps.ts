/**
 * The adapters behind the destinations API, the voice URLs (Twilio's and the other carriers') and the sweep of
 * expired pilot reservations, built once per container from the configuration the function loads.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TargetDeps } from '../../app/routing/targets';
import type { VoiceDeps } from '../../app/routing/voice-answer';
import type { SweepDeps } from '../../app/routing/sweep-reservations';
import type { Config } from '../platform/env';
import { ConfigRepo } from '../calls/main-repo';
import { SqsIngestQueue } from '../calls/queue';
import { SecretResolver } from '../platform/secrets';
import { BlockRepo } from '../blocklist/block-repo';
import { ConsentRepo } from '../compliance/consent-repo';
import { DncRepo } from '../compliance/dnc-repo';
import { AdmissionCounterRepo } from './admission-counters';
import { log } from '../platform/log';
import { PilotRepo } from '../pilots/pilot-repo';
import { RoutingRepo } from './routing-repo';
import { TargetRepo } from './target-repo';

/**
 * Everything the voice decision reads is cached per container (configuration, targets, block lists, DNC answers);
 * consent evidence is read uncached, and only for an account that makes consent_missing non-billable.
 */
export function voiceDeps(config: Pick<Config, 'mainTable' | 'ingestQueueUrl' | 'publicBaseUrl' | 'secretsRef' | 'callerHashKeyRef' | 'voiceDecisionBudgetMs'>): VoiceDeps {
  const hashKeys = new SecretResolver();
  return {
    config: new ConfigRepo({ mainTable: config.mainTable }),
    secrets: new SecretResolver({ prefix: config.secretsRef }),
    targets: new TargetRepo({ mainTable: config.mainTable }),
    blocks: new BlockRepo({ mainTable: config.mainTable }),
    dnc: new DncRepo({ mainTable: config.mainTable }),
    consent: new ConsentRepo({ mainTable: config.mainTable }),
    counters: new AdmissionCounterRepo({ mainTable: config.mainTable }),
    callerHashKey: () => hashKeys.resolve(config.callerHashKeyRef),
    routing: new RoutingRepo({ mainTable: config.mainTable }),
    queue: new SqsIngestQueue(config.ingestQueueUrl),
    publicBaseUrl: config.publicBaseUrl,
    now: () => new Date(),
    budgetMs: config.voiceDecisionBudgetMs,
    log,
    lastKnown: new Map(),
  };
}

export function targetDeps(config: Pick<Config, 'mainTable'>, options: { readonly client?: DynamoDBClient; readonly now?: () => Date } = {}): TargetDeps {
  // The management API reads and writes uncached: a PUT answers what is stored.
  const repo = new TargetRepo({ mainTable: config.mainTable, client: options.client, cacheTtlMs: 0 });
  return { targets: { readTarget: (a, t) => repo.readTarget(a, t), putTarget: (t, r) => repo.putTarget(t, r), listTargets: (a) => repo.readTargets(a) }, now: options.now ?? (() => new Date()) };
}

/** The sweep of expired reservations: the pilot registry says which counters to read, the routing repo ends what expired. */
export function sweepDeps(config: Pick<Config, 'mainTable'>, options: { readonly client?: DynamoDBClient; readonly now?: () => Date } = {}): SweepDeps {
  const routing = new RoutingRepo({ mainTable: config.mainTable, client: options.client });
  const pilots = new PilotRepo({ mainTable: config.mainTable, client: options.client });
  return {
    store: {
      livePilots: () => pilots.listLivePilots(),
      counterEntries: (a, p) => routing.counterEntries(a, p),
      expireReservation: (a, p, r, now) => routing.expireReservation(a, p, r, now),
      pruneEndedMarker: (a, p, c, at) => routing.pruneEndedMarker(a, p, c, at),
    },
    now: options.now ?? (() => new Date()),
    log,
  };
}
