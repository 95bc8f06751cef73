/**
 * Lambda: the read and management API, every route of shared/app/http/routes.ts that the `api` function serves. The
 * composition root: it builds the container's adapters once (one configuration cache, one secret cache), gives each
 * route table its dependencies and mounts them all on the router of shared/adapters/http/router.ts, which enforces
 * each declaration's `auth` (none, bearer key, admin key).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../shared/adapters/platform/env';
import type { HttpEvent, HttpResult } from '../shared/adapters/http/http';
import { createRouter, mount } from '../shared/adapters/http/router';
import { DEPENDENCY_RETRY_AFTER_SEC, httpProblems } from '../shared/adapters/http/problems';
import { dependencyFailure } from '../shared/adapters/platform/dependency-failure';
import { healthProbes } from '../shared/adapters/platform/health-probes';
import { LedgerRepo } from '../shared/adapters/ledger/ledger-repo';
import { log, logger } from '../shared/adapters/platform/log';
import { CallRepo, ConfigRepo } from '../shared/adapters/calls/main-repo';
import { S3RecordingUrls } from '../shared/adapters/recordings/recording-urls';
import { callerCipherFor } from '../shared/adapters/privacy/pii-cipher';
import { SecretResolver } from '../shared/adapters/platform/secrets';
import { cursorSealer } from '../shared/adapters/http/cursor';
import { API_ROUTE_TABLES, ROUTE_DECLARATIONS } from '../shared/app/http/routes';
import type { CallRouteDeps } from '../shared/app/calls/call-routes';
import { ledgerRouteDeps } from '../shared/adapters/ledger/deps';
import { blockListDeps } from '../shared/adapters/blocklist/deps';
import { outcomeDeps } from '../shared/adapters/outcomes/deps';
import { qaDeps } from '../shared/adapters/qa/deps';
import { complianceDeps } from '../shared/adapters/compliance/deps';
import { privacyDeps } from '../shared/adapters/privacy/deps';
import { pilotApiDeps } from '../shared/adapters/pilots/deps';
import type { ReportDeps } from '../shared/app/reports/reports';
import { targetDeps } from '../shared/adapters/routing/deps';
import { RoutingRepo } from '../shared/adapters/routing/routing-repo';
import { reportEngine } from '../shared/app/reports/report-engine';
import { CampaignCallsReader } from '../shared/adapters/reports/campaign-calls';
import { AggregateRepo } from '../shared/adapters/reports/aggregate-repo';
import { loadPilotConfig } from '../shared/adapters/pilots/env';
import { networkRouteDeps } from '../shared/adapters/networks/deps';
import { CarrierConfigRepo } from '../shared/adapters/catalog/carrier-config-repo';
import { openApiDocument } from '../shared/adapters/http/openapi';

const config = loadConfig(['mainTable', 'ledgerTable', 'aggregatesTable', 'recordingsBucket', 'callerHashKeyRef', 'anchorsBucket', 'archiveBucket', 'piiKeyRef', 'ingestQueueUrl']);

const keys = new ConfigRepo({ mainTable: config.mainTable });
const secrets = new SecretResolver();
// One configuration cache and one secret cache for the container, shared by every route.
const shared = { config: keys, secrets };
const calls: CallRouteDeps = {
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
const targetsDeps = targetDeps(config);
const ledgerDeps = ledgerRouteDeps(config, shared);
// Booked revenue by source: the scorecard and the buffer sweep over the campaign index and, for long periods, the
// daily aggregates (shared/app/reports/report-engine.ts).
const reportDeps: ReportDeps = {
  engine: reportEngine({
    config: keys,
    calls: new CampaignCallsReader({ mainTable: config.mainTable }),
    aggregates: new AggregateRepo({ aggregatesTable: config.aggregatesTable }),
    now: () => new Date(),
  }),
  now: () => new Date(),
};
/** Built on first request: it depends only on the code. */
let openApi: string | undefined;

/** `GET /health`: one cheap request per dependency, each cut off after this (the whole answer within ~2 s). */
const HEALTH_TIMEOUT_MS = 2000;

const handlers = mount(
  API_ROUTE_TABLES,
  {
    calls,
    // Campaign call flows name targets: a flow naming an unknown one is refused.
    catalog: { store: keys, targets: targetsDeps.targets, now: () => new Date() },
    // Destinations of the call flows' routes.
    targets: targetsDeps,
    // Disputes, statements, reconciliations and ledger verification.
    ledger: ledgerDeps,
    blocklist: blockListDeps(config, shared),
    pilots: pilotApiDeps(config, loadPilotConfig(), shared),
    reports: reportDeps,
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
    service: {
      health: { probes: healthProbes(config), timeoutMs: HEALTH_TIMEOUT_MS, kindOf: (err) => dependencyFailure(err)?.kind ?? 'error' },
      retryAfterSec: DEPENDENCY_RETRY_AFTER_SEC,
      degraded: (report) => log.warn('health degraded', { failures: report.failures }),
      openApiJson: () => (openApi ??= JSON.stringify(openApiDocument())),
    },
  },
  keys,
);

const route = createRouter(
  ROUTE_DECLARATIONS.filter((r) => (r.fn ?? 'api') === 'api'),
  handlers,
);

export const handler = middy<HttpEvent, HttpResult>()
  .use(httpProblems())
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .handler(route);
