/**
 * The API Lambda's adapters, built once per container from its configuration (functions/api.ts): one configuration
 * cache and one secret cache shared by every route table, and each table's dependencies, by the table's name in
 * shared/app/http/routes.ts (a table without its dependencies does not compile).
 */
import { loadConfig, type Config } from '../platform/env';
import { DEPENDENCY_RETRY_AFTER_SEC } from './problems';
import { dependencyFailure } from '../platform/dependency-failure';
import { healthProbes } from '../platform/health-probes';
import { LedgerRepo } from '../ledger/ledger-repo';
import { log } from '../platform/log';
import { CallRepo, ConfigRepo } from '../calls/main-repo';
import { S3RecordingUrls } from '../recordings/recording-urls';
import { callerCipherFor } from '../privacy/pii-cipher';
import { SecretResolver } from '../platform/secrets';
import { cursorSealer } from './cursor';
import type { CallRouteDeps } from '../../app/calls/call-routes';
import { ledgerRouteDeps } from '../ledger/deps';
import { blockListDeps } from '../blocklist/deps';
import { outcomeDeps } from '../outcomes/deps';
import { qaDeps } from '../qa/deps';
import { complianceDeps } from '../compliance/deps';
import { privacyDeps } from '../privacy/deps';
import { pilotApiDeps } from '../pilots/deps';
import type { ReportDeps } from '../../app/reports/reports';
import { targetDeps } from '../routing/deps';
import { RoutingRepo } from '../routing/routing-repo';
import { reportEngine } from '../../app/reports/report-engine';
import { CampaignCallsReader } from '../reports/campaign-calls';
import { AggregateRepo } from '../reports/aggregate-repo';
import { loadPilotConfig } from '../pilots/env';
import { networkRouteDeps } from '../networks/deps';
import { CarrierConfigRepo } from '../catalog/carrier-config-repo';
import { openApiDocument } from './openapi';
import { API_ROUTE_TABLES } from '../../app/http/routes';
import type { DepsOf } from './router';

/** `GET /health`: one cheap request per dependency, each cut off after this (the whole answer within ~2 s). */
const HEALTH_TIMEOUT_MS = 2000;

export type ApiConfig = Pick<Config, 'mainTable' | 'ledgerTable' | 'aggregatesTable' | 'recordingsBucket' | 'callerHashKeyRef' | 'anchorsBucket' | 'archiveBucket' | 'piiKeyRef' | 'ingestQueueUrl'>;

type Shared = { readonly config: ConfigRepo; readonly secrets: SecretResolver };

/** Calls, the ledger list and the routing audit; caller numbers opened for admin keys, masked for analysts. */
function callRouteDeps(config: ApiConfig, { config: keys, secrets }: Shared): CallRouteDeps {
  return {
    calls: new CallRepo({ mainTable: config.mainTable }),
    ledger: new LedgerRepo({ ledgerTable: config.ledgerTable }),
    media: new S3RecordingUrls(config.recordingsBucket),
    // Opens the caller numbers call items carry sealed (full for admin keys, masked for analysts; shared/domain/privacy/pii.ts).
    pii: callerCipherFor(config.piiKeyRef, { secrets, mainTable: config.mainTable }),
    // Page cursors are sealed under a key derived from the caller-hash key (shared/adapters/http/cursor.ts).
    cursors: cursorSealer(() => secrets.resolve(config.callerHashKeyRef)),
    config: keys,
    // The routing audit of calls the voice function answered (shared/adapters/routing/routing-repo.ts).
    routing: new RoutingRepo({ mainTable: config.mainTable }),
  };
}

/**
 * Booked revenue by source: the scorecard and the buffer sweep over the campaign index and, for long periods, the
 * daily aggregates (shared/app/reports/report-engine.ts).
 */
function reportRouteDeps(config: ApiConfig, keys: ConfigRepo): ReportDeps {
  const calls = new CampaignCallsReader({ mainTable: config.mainTable });
  const aggregates = new AggregateRepo({ aggregatesTable: config.aggregatesTable });
  return { engine: reportEngine({ config: keys, calls, aggregates, now: () => new Date() }), now: () => new Date() };
}

/** Health and the document: `openapi.json` is built on first request (it depends only on the code). */
function serviceRouteDeps(config: ApiConfig) {
  let openApi: string | undefined;
  return {
    health: { probes: healthProbes(config), timeoutMs: HEALTH_TIMEOUT_MS, kindOf: (err: unknown) => dependencyFailure(err)?.kind ?? 'error' },
    retryAfterSec: DEPENDENCY_RETRY_AFTER_SEC,
    degraded: (report: { readonly failures?: unknown }) => log.warn('health degraded', { failures: report.failures }),
    openApiJson: () => (openApi ??= JSON.stringify(openApiDocument())),
  };
}

export function apiDeps(config: ApiConfig) {
  const keys = new ConfigRepo({ mainTable: config.mainTable });
  // One configuration cache and one secret cache for the container, shared by every route.
  const shared = { config: keys, secrets: new SecretResolver() };
  const calls = callRouteDeps(config, shared);
  const targetsDeps = targetDeps(config);
  const ledgerDeps = ledgerRouteDeps(config, shared);
  const tables: { readonly [K in keyof typeof API_ROUTE_TABLES]: DepsOf<(typeof API_ROUTE_TABLES)[K]> } = {
    calls,
    // Campaign call flows name targets: a flow naming an unknown one is refused.
    catalog: { store: keys, targets: targetsDeps.targets, now: () => new Date() },
    // Destinations of the call flows' routes.
    targets: targetsDeps,
    // Disputes, statements, reconciliations and ledger verification.
    ledger: ledgerDeps,
    blocklist: blockListDeps(config, shared),
    pilots: pilotApiDeps(config, loadPilotConfig(), shared),
    reports: reportRouteDeps(config, keys),
    outcomes: outcomeDeps(config, shared),
    // A verdict may open a dispute: the QA routes share the ledger routes' dispute dependencies.
    qa: qaDeps(config, ledgerDeps, shared),
    compliance: complianceDeps(config, shared),
    // Which carriers' webhooks the account takes, with which secret names (Telnyx, Vonage, Plivo).
    carriers: { store: new CarrierConfigRepo({ mainTable: config.mainTable }) },
    privacy: privacyDeps(config, shared),
    // Networks: registrations (the postback secret shown once), rotation, the drift report. PUBLIC_BASE_URL is read on
    // the first network route only (every deployed function has it; tests of other routes need not).
    networks: networkRouteDeps({ ...config, publicBaseUrl: () => loadConfig(['publicBaseUrl']).publicBaseUrl }, { config: keys, calls: calls.calls }),
    service: serviceRouteDeps(config),
  };
  return { keys, tables };
}
