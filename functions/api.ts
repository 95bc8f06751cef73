/**
 * Lambda: the read and management API (the routes of infra/resources.ts ROUTES with fn 'api'), bearer API key
 * auth (`GET /v1/openapi.json` excepted). Management writes need an `admin` key (shared/app/catalog/management.ts).
 *
 * Routing is a few lines here instead of @middy/http-router: three GET routes do not need a router package, and
 * that one pulled `node:http` and its dependencies into the cold start. The path is matched against the route
 * templates (API Gateway has already matched it; the local adapter and tests send the same events).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { ROUTES } from '../infra/resources';
import { BadRequest, MethodNotAllowed, NotFound, UnsupportedMediaType } from '../shared/domain/kernel/problems';
import { loadConfig } from '../shared/adapters/platform/env';
import { authenticate, header, json, rawBody, type HttpEvent, type HttpResult } from '../shared/adapters/http/http';
import { DEPENDENCY_RETRY_AFTER_SEC, httpProblems, problemResponse } from '../shared/adapters/http/problems';
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
import { REPORT_ROUTES, type ReportDeps } from '../shared/app/reports/reports';
import { reportEngine } from '../shared/app/reports/report-engine';
import { CampaignCallsReader } from '../shared/adapters/reports/campaign-calls';
import { AggregateRepo } from '../shared/adapters/reports/aggregate-repo';
import { loadPilotConfig } from '../shared/adapters/pilots/env';
import { openApiDocument } from '../shared/adapters/http/openapi';
import { getCallDetail, getCallRating, listCallsPage, listLedgerPage, type ReadApiDeps } from '../shared/app/calls/read-api';
import { checkPathParameters } from '../shared/app/kernel/query';
import type { ApiKeyRecord } from '../shared/app/kernel/ports';

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
};
const management: ManagementDeps = { store: keys, now: () => new Date() };
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

/** A JSON request body: 415 unless the content type is JSON, 400 unless it parses. */
function jsonBody(event: HttpEvent): unknown {
  const type = header(event, 'content-type');
  if (type === undefined || !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) throw new UnsupportedMediaType(type, ['application/json']);
  try {
    return JSON.parse(rawBody(event).toString('utf8'));
  } catch {
    throw new BadRequest('The body is not valid JSON.');
  }
}

function written<T>(result: Written<T>): HttpResult {
  return json(result.created ? 201 : 200, result.body);
}

type RouteHandler = (event: HttpEvent, params: Readonly<Record<string, string>>) => Promise<HttpResult>;

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

/** A route table's request: plain data, no API Gateway types in shared/app (each table reads what it needs). */
function routeRequest(event: HttpEvent, params: Readonly<Record<string, string>>) {
  return {
    pathParameters: params,
    query: event.queryStringParameters ?? {},
    body: rawBody(event).toString('utf8'),
    contentType: header(event, 'content-type'),
    accept: header(event, 'accept'),
    idempotencyKey: header(event, 'idempotency-key'),
  };
}

interface TableResponse {
  readonly status: number;
  readonly body: unknown;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** JSON through `json` (problem-aware); anything else (CSV) as text, never cached. */
function routeResult(res: TableResponse): HttpResult {
  return res.contentType === undefined || res.contentType === 'application/json'
    ? json(res.status, res.body, res.headers)
    : { statusCode: res.status, headers: { 'cache-control': 'no-store', ...res.headers, 'content-type': res.contentType }, body: String(res.body) };
}

/**
 * Mounts a route table. `pathCarriesPii`: its paths or bodies may carry caller numbers, so a problem names the route
 * template as `instance` instead of the request path (the middleware's default), and no response repeats them.
 */
function mount<Req, D>(
  table: readonly { readonly method: string; readonly path: string; handle(principal: ApiKeyRecord, req: Req, deps: D): Promise<TableResponse> }[],
  deps: D,
  options: { readonly pathCarriesPii?: boolean } = {},
): void {
  for (const r of table) {
    handlers[`${r.method} ${r.path}`] = async (event, params) => {
      try {
        const principal = await authenticate(event, keys);
        return routeResult(await r.handle(principal, routeRequest(event, params) as Req, deps));
      } catch (err) {
        if (options.pathCarriesPii === true) return problemResponse(err, r.path);
        throw err;
      }
    };
  }
}

// Disputes, statements, reconciliations and ledger verification.
mount(LEDGER_ROUTES, ledgerDeps);
// The block list (rating rule blocked_caller): its paths carry a caller number.
mount(BLOCK_ROUTES, blockDeps, { pathCarriesPii: true });
// Pilot campaigns (issue 4): create (idempotent on the Idempotency-Key header), read, stop, report.
mount(PILOT_ROUTES, pilotDeps);
// Booked revenue by source (issue 5): the scorecard (JSON, or CSV on Accept: text/csv) and the threshold sweep.
mount(REPORT_ROUTES, reportDeps);
// CRM outcomes (issue 5): an externalId is the CRM's and bodies may carry caller numbers: nothing is echoed.
mount(OUTCOME_ROUTES, outcomesDeps, { pathCarriesPii: true });
// QA sampling (issue 6): reproducible samples per source with recording links; verdicts, optionally opening a dispute.
mount(QA_ROUTES, qaDeps(config, ledgerDeps, shared));
// Compliance (issue 6): DNC lists, consent evidence, settings; uploads and records carry caller numbers: nothing is echoed.
mount(COMPLIANCE_ROUTES, complianceDeps(config, shared), { pathCarriesPii: true });
// Deletion requests (issue 6): bodies carry a caller number: nothing is echoed.
mount(PRIVACY_ROUTES, privacyDeps(config, shared), { pathCarriesPii: true });

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly params: readonly string[];
  readonly handler: RouteHandler;
}

const routes: readonly Route[] = ROUTES.filter((r) => r.fn === 'api').map((r) => {
  const handler = handlers[`${r.method} ${r.path}`];
  if (handler === undefined) throw new Error(`no handler for route ${r.method} ${r.path}`);
  const params: string[] = [];
  const source = r.path.replace(/\{([^/}]+)\}/g, (_, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return { method: r.method, pattern: new RegExp(`^${source}/?$`), params, handler };
});

/** A path segment percent-decoded, or null when it is not valid percent-encoded UTF-8. */
function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** Dispatches on method and path; 405 when the path exists with another method, else 404. */
async function route(event: HttpEvent): Promise<HttpResult> {
  const method = event.requestContext.http.method.toUpperCase();
  const path = event.rawPath;
  const allowed: string[] = [];
  for (const r of routes) {
    const match = r.pattern.exec(path);
    if (match === null) continue;
    if (r.method !== method && r.method !== 'ANY') {
      allowed.push(r.method);
      continue;
    }
    // One id grammar for every path parameter, before any handler (and so any read) runs.
    return r.handler(event, checkPathParameters(Object.fromEntries(r.params.map((name, i) => [name, decode(match[i + 1]!)]))));
  }
  if (allowed.length > 0) throw new MethodNotAllowed(allowed);
  throw new NotFound(`No route for ${method} ${path}.`);
}

export const handler = middy<HttpEvent, HttpResult>()
  .use(httpProblems())
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .handler(route);
