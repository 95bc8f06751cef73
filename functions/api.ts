/**
 * Lambda: the read and management API (the routes of infra/resources.ts ROUTES with fn 'api'), bearer API key
 * auth (`GET /v1/openapi.json` and `GET /health` excepted). The composition root: it builds the container's
 * adapters once (one configuration cache, one secret cache) and mounts every capability's route table on the
 * router of shared/adapters/http/router.ts. Management writes need an `admin` key (shared/app/catalog/management.ts).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { ROUTES } from '../infra/resources';
import { loadConfig } from '../shared/adapters/platform/env';
import { authenticate, json, type HttpEvent, type HttpResult } from '../shared/adapters/http/http';
import { createRouter, jsonBody, mount, type RouteHandler } from '../shared/adapters/http/router';
import { DEPENDENCY_RETRY_AFTER_SEC, httpProblems } from '../shared/adapters/http/problems';
import { dependencyFailure } from '../shared/adapters/platform/dependency-failure';
import { healthProbes } from '../shared/adapters/platform/health-probes';
import { checkHealth, type HealthDeps } from '../shared/app/kernel/health';
import { LedgerRepo } from '../shared/adapters/ledger/ledger-repo';
import { log, logger } from '../shared/adapters/platform/log';
import { CallRepo, ConfigRepo } from '../shared/adapters/calls/main-repo';
import { S3RecordingUrls } from '../shared/adapters/recordings/recording-urls';
import { callerCipherFor } from '../shared/adapters/privacy/pii-cipher';
import { SecretResolver } from '../shared/adapters/platform/secrets';
import { cursorSealer } from '../shared/adapters/http/cursor';
import {
  getCampaign,
  getPublisher,
  getTrackingNumber,
  putCampaign,
  putPublisher,
  putTrackingNumber,
  requireAdmin,
  type ManagementDeps,
  type Written,
} from '../shared/app/catalog/management';
import { LEDGER_ROUTES } from '../shared/app/ledger/ledger-routes';
import { ledgerRouteDeps } from '../shared/adapters/ledger/deps';
import { BLOCK_ROUTES } from '../shared/app/blocklist/block-list';
import { blockListDeps } from '../shared/adapters/blocklist/deps';
import { PILOT_ROUTES } from '../shared/app/pilots/pilots';
import { OUTCOME_ROUTES } from '../shared/app/outcomes/outcomes';
import { outcomeDeps } from '../shared/adapters/outcomes/deps';
import { QA_ROUTES } from '../shared/app/qa/qa';
import { qaDeps } from '../shared/adapters/qa/deps';
import { COMPLIANCE_ROUTES } from '../shared/app/compliance/compliance';
import { complianceDeps } from '../shared/adapters/compliance/deps';
import { PRIVACY_ROUTES } from '../shared/app/privacy/privacy';
import { privacyDeps } from '../shared/adapters/privacy/deps';
import { pilotApiDeps } from '../shared/adapters/pilots/deps';
import { TARGET_ROUTES } from '../shared/app/routing/targets';
import { targetDeps } from '../shared/adapters/routing/deps';
import { RoutingRepo } from '../shared/adapters/routing/routing-repo';
import { REPORT_ROUTES, type ReportDeps } from '../shared/app/reports/reports';
import { reportEngine } from '../shared/app/reports/report-engine';
import { CampaignCallsReader } from '../shared/adapters/reports/campaign-calls';
import { AggregateRepo } from '../shared/adapters/reports/aggregate-repo';
import { loadPilotConfig } from '../shared/adapters/pilots/env';
import { openApiDocument } from '../shared/adapters/http/openapi';
import { getCallDetail, getCallRating, listCallsPage, listLedgerPage, type ReadApiDeps } from '../shared/app/calls/read-api';

const config = loadConfig(['mainTable', 'ledgerTable', 'aggregatesTable', 'recordingsBucket', 'callerHashKeyRef', 'anchorsBucket', 'archiveBucket', 'piiKeyRef', 'ingestQueueUrl']);

const keys = new ConfigRepo({ mainTable: config.mainTable });
const secrets = new SecretResolver();
// One configuration cache and one secret cache for the container, shared by every route.
const shared = { config: keys, secrets };
const deps: ReadApiDeps = {
  calls: new CallRepo({ mainTable: config.mainTable }),
  ledger: new LedgerRepo({ ledgerTable: config.ledgerTable }),
  media: new S3RecordingUrls(config.recordingsBucket),
  // Opens the caller numbers call items carry sealed (full for admin keys, masked for analysts; shared/domain/privacy/pii.ts).
  pii: callerCipherFor(config.piiKeyRef, { secrets, mainTable: config.mainTable }),
  // Page cursors are sealed under a key derived from the caller-hash key (shared/adapters/http/cursor.ts).
  cursors: cursorSealer(() => secrets.resolve(config.callerHashKeyRef)),
  // The routing audit of calls the voice function answered (shared/adapters/routing/routing-repo.ts).
  routing: new RoutingRepo({ mainTable: config.mainTable }),
};
const targetsDeps = targetDeps(config);
const management: ManagementDeps = { store: keys, targets: targetsDeps.targets, now: () => new Date() };
const ledgerDeps = ledgerRouteDeps(config, shared);
const blockDeps = blockListDeps(config, shared);
const pilotDeps = pilotApiDeps(config, loadPilotConfig(), shared);
const outcomesDeps = outcomeDeps(config, shared);
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
const health: HealthDeps = {
  probes: healthProbes(config),
  timeoutMs: HEALTH_TIMEOUT_MS,
  kindOf: (err) => dependencyFailure(err)?.kind ?? 'error',
};

function written<T>(result: Written<T>): HttpResult {
  return json(result.created ? 201 : 200, result.body);
}

const handlers: Record<string, RouteHandler> = {
  'GET /v1/calls/{callId}': async (event, params) => json(200, await getCallDetail(await authenticate(event, keys), params.callId ?? '', deps)),
  'GET /v1/calls': async (event) => json(200, await listCallsPage(await authenticate(event, keys), event.queryStringParameters ?? {}, deps)),
  'GET /v1/calls/{callId}/rating': async (event, params) =>
    json(200, await getCallRating(await authenticate(event, keys), params.callId ?? '', { calls: deps.calls, config: keys })),
  'GET /v1/ledger': async (event) => json(200, await listLedgerPage(await authenticate(event, keys), event.queryStringParameters ?? {}, deps)),
  'GET /v1/publishers/{publisherId}': async (event, p) => json(200, await getPublisher(await authenticate(event, keys), p.publisherId ?? '', management)),
  'PUT /v1/publishers/{publisherId}': async (event, p) =>
    written(await putPublisher(requireAdmin(await authenticate(event, keys)), p.publisherId ?? '', jsonBody(event), management)),
  'GET /v1/campaigns/{campaignId}': async (event, p) => json(200, await getCampaign(await authenticate(event, keys), p.campaignId ?? '', management)),
  'PUT /v1/campaigns/{campaignId}': async (event, p) =>
    written(await putCampaign(requireAdmin(await authenticate(event, keys)), p.campaignId ?? '', jsonBody(event), management)),
  'GET /v1/tracking-numbers/{e164}': async (event, p) => json(200, await getTrackingNumber(await authenticate(event, keys), p.e164 ?? '', management)),
  'PUT /v1/tracking-numbers/{e164}': async (event, p) =>
    written(await putTrackingNumber(requireAdmin(await authenticate(event, keys)), p.e164 ?? '', jsonBody(event), management)),
  'GET /health': async () => {
    const report = await checkHealth(health);
    if (report.status === 'ok') return json(200, report);
    log.warn('health degraded', { failures: report.failures });
    return json(503, report, { 'retry-after': String(DEPENDENCY_RETRY_AFTER_SEC) });
  },
  'GET /v1/openapi.json': async () => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' },
    body: (openApi ??= JSON.stringify(openApiDocument())),
  }),
};

// Disputes, statements, reconciliations and ledger verification.
mount(handlers, keys, { routes: LEDGER_ROUTES, deps: ledgerDeps });
// The block list (rating rule blocked_caller): its paths carry a caller number.
mount(handlers, keys, { routes: BLOCK_ROUTES, deps: blockDeps, pathCarriesPii: true });
// Pilot campaigns: create (idempotent on the Idempotency-Key header), read, stop, report.
mount(handlers, keys, { routes: PILOT_ROUTES, deps: pilotDeps });
// Booked revenue by source: the scorecard (JSON, or CSV on Accept: text/csv) and the threshold sweep.
mount(handlers, keys, { routes: REPORT_ROUTES, deps: reportDeps });
// CRM outcomes: an externalId is the CRM's and bodies may carry caller numbers: nothing is echoed.
mount(handlers, keys, { routes: OUTCOME_ROUTES, deps: outcomesDeps, pathCarriesPii: true });
// QA sampling: reproducible samples per source with recording links; verdicts, optionally opening a dispute.
mount(handlers, keys, { routes: QA_ROUTES, deps: qaDeps(config, ledgerDeps, shared) });
// Compliance: DNC lists, consent evidence, settings; uploads and records carry caller numbers: nothing is echoed.
mount(handlers, keys, { routes: COMPLIANCE_ROUTES, deps: complianceDeps(config, shared), pathCarriesPii: true });
// Deletion requests: bodies carry a caller number: nothing is echoed.
mount(handlers, keys, { routes: PRIVACY_ROUTES, deps: privacyDeps(config, shared), pathCarriesPii: true });

// Destinations of the call flows' routes.
mount(handlers, keys, { routes: TARGET_ROUTES, deps: targetsDeps });

const route = createRouter(ROUTES.filter((r) => r.fn === 'api'), handlers);

export const handler = middy<HttpEvent, HttpResult>()
  .use(httpProblems())
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .handler(route);
