/**
 * The pilot API: create a pilot, read its progress, stop it, fetch its report. Routes as a table
 * (`PILOT_ROUTES`) that functions/api.ts mounts next to its own, like LEDGER_ROUTES. Every request is scoped to the
 * API key's account; writes need an admin key.
 *
 * Create is idempotent on the client's `Idempotency-Key` header: the pilot id is derived from it (pilots.ts
 * `pilotIdFor`), and ONE transaction writes the pilot, its counter, its registry entry and the campaign with the
 * pilot's terms appended, conditional on the campaign's `rev` (the same optimistic concurrency as a terms change; a
 * concurrent pilot or terms change on the campaign makes the loser re-read and re-validate, so two overlapping
 * pilots cannot both be appended). A retry with the same key and the same body answers 200 with the pilot; with
 * another body, 422. The workflow execution is started after the write, named after the pilot (Step Functions
 * returns the same execution for the same name and input, so a retry that starts it again is harmless).
 */
import { route, type Route, type RouteRequest } from '../kernel/route';
import * as z from 'zod';
import { parseBody } from '../../domain/catalog/config-schema';
import { assertNoOverlap, pilotTimeZone, validatePilotRequest } from '../../domain/pilots/validation';
import { currentPilotDay, pilotProgress } from '../../domain/pilots/progress';
import { isPilotCall } from '../../domain/pilots/report';
import { pilotIdFor, requestHash, termsOf, type CloseReason, type PilotRecord, type PilotState } from '../../domain/pilots/pilots';
import { stateAfterClose } from '../../domain/pilots/lifecycle';
import { CreatePilotSchema, IdempotencyKeySchema, PilotReportDoc, PilotViewDoc } from '../../domain/pilots/pilots-schema';
import { conflict, invalidInput, notFound, unprocessable, unsupportedMediaType } from '../kernel/errors';
import type { Account, Campaign, Publisher } from '../../domain/catalog/types';
import type { Written } from '../catalog/management';
import { requireAdmin } from '../catalog/management';
import type { PilotActivity, PilotExecutionInput, PilotReportStore, PilotStore, PilotWorkflow } from './ports';
import type { ApiKeyRecord, Log } from '../kernel/ports';
import { oneOf, type Rule } from '../kernel/query';

export interface PilotSettings {
  /** The monitor loop's period. */
  readonly monitorSeconds: number;
  /** How long after the window calls still in progress may be charged before the pilot closes. */
  readonly settleSeconds: number;
}

export interface PilotApiDeps {
  readonly store: PilotStore;
  readonly activity: PilotActivity;
  readonly config: {
    readCampaign(accountId: string, campaignId: string): Promise<Campaign | null>;
    readPublisher(accountId: string, publisherId: string): Promise<Publisher | null>;
    getAccount(accountId: string): Promise<Account | null>;
  };
  readonly reports: PilotReportStore;
  /** Resolved on first use (the API's other routes never need it). */
  readonly workflow: () => PilotWorkflow;
  readonly settings: PilotSettings;
  readonly now: () => Date;
  readonly log: Log;
}

/** `GET /v1/pilots/{pilotId}`. */
export interface PilotView {
  readonly pilotId: string;
  readonly accountId: string;
  readonly campaignId: string;
  readonly publisherIds: readonly string[];
  readonly vertical: string;
  readonly geography: PilotRecord['geography'];
  readonly state: PilotState;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly timeZone: string;
  readonly spendCapCents: number;
  readonly dailyCapCents: number | null;
  readonly maxBillableCalls: number | null;
  readonly spentCents: number;
  readonly remainingCents: number;
  readonly percentOfCap: number;
  readonly todaySpentCents: number | null;
  readonly billableCalls: number;
  readonly nonBillableCalls: number;
  readonly remainingCalls: number | null;
  readonly timeLeftSec: number;
  readonly secondsToStart: number;
  readonly closedAt: string | null;
  readonly closedReason: CloseReason | null;
  /** Hosts told about the pilot (the URLs themselves may carry the receiver's tokens). */
  readonly notifyHosts: readonly string[];
  readonly report: { readonly json: string; readonly csv: string; readonly builtAt: string } | null;
  readonly failure: string | null;
  readonly createdAt: string;
  readonly createdBy: string;
}

// ------------------------------------------------------------------ create

const MAX_CREATE_ATTEMPTS = 5;

export function executionName(pilotId: string): string {
  // Step Functions names: 1-80 of [A-Za-z0-9-_]; pilot ids are `pilot-<24 hex>` (30).
  return pilotId;
}

export function executionInput(rec: PilotRecord): PilotExecutionInput {
  return { accountId: rec.accountId, pilotId: rec.pilotId, startsAt: rec.startsAt, monitorSeconds: rec.monitorSeconds, settleSeconds: rec.settleSeconds };
}

function principalLabel(p: ApiKeyRecord): string {
  return `${p.label ?? 'api key'} (${p.role})`;
}

export async function createPilot(
  principal: ApiKeyRecord,
  idempotencyKey: string | undefined,
  json: unknown,
  deps: PilotApiDeps,
): Promise<Written<PilotView>> {
  requireAdmin(principal);
  const key = createKeyOf(idempotencyKey);
  const req = parseBody(CreatePilotSchema, json, 'pilot');
  const accountId = principal.accountId;
  const pilotId = pilotIdFor(accountId, key);
  const hash = requestHash(req);

  for (let attempt = 0; attempt < MAX_CREATE_ATTEMPTS; attempt++) {
    const existing = await deps.store.getPilot(accountId, pilotId);
    if (existing !== null) {
      if (existing.requestHash !== hash) {
        throw unprocessable('This Idempotency-Key was already used with a different request; use a new key for a new pilot.', [
          { field: 'Idempotency-Key', message: 'was used with a different request' },
        ]);
      }
      return { created: false, body: await pilotView(await ensureStarted(existing, deps), deps) };
    }

    const now = deps.now();
    const nowMs = now.getTime();
    const [campaign, account, ...publishers] = await Promise.all([
      deps.config.readCampaign(accountId, req.campaignId),
      deps.config.getAccount(accountId),
      ...req.publisherIds.map((id) => deps.config.readPublisher(accountId, id)),
    ]);
    // The record and the campaign's terms are written by one transaction: a campaign that already names this key's
    // pilot means a concurrent request with the same key committed between the two reads. Its record is there now
    // (both reads are strongly consistent), so the next turn answers it (200, or 422 for another body) instead of
    // judging the pilot to overlap itself.
    if (campaign?.pilots?.some((p) => p.pilotId === pilotId)) continue;
    validatePilotRequest(req, { nowMs, campaign, publishers: new Map(req.publisherIds.map((id, i) => [id, publishers[i] ?? null])) });
    if (campaign === null || account === null) throw notFound("The API key's account does not exist.");
    assertNoOverlap(campaign.pilots, req);

    const at = now.toISOString();
    const record = newPilotRecord({ accountId, pilotId, req, timeZone: pilotTimeZone(campaign, account.timeZone), at, principal, key, hash, settings: deps.settings });
    const updated: Campaign = { ...campaign, pilots: [...(campaign.pilots ?? []), termsOf(record)], rev: campaign.rev + 1, updatedAt: at };
    const outcome = await deps.store.createPilot({ record, campaign: updated, expectedRev: campaign.rev });
    if (outcome === 'created') {
      deps.log.info('pilot created', { accountId, pilotId, campaignId: req.campaignId, startsAt: record.startsAt, endsAt: record.endsAt });
      return { created: true, body: await pilotView(await ensureStarted(record, deps), deps) };
    }
    // 'exists': a concurrent retry with the same key won (answered above on the next turn);
    // 'campaign_changed': re-read the campaign and validate again (overlap included).
  }
  throw conflict('The campaign kept changing while the pilot was being created; retry with the same Idempotency-Key.');
}

/** The create's Idempotency-Key header: required, and of the documented form. */
function createKeyOf(idempotencyKey: string | undefined): string {
  if (idempotencyKey === undefined) {
    throw invalidInput('An Idempotency-Key header is required: it makes a retried create return the same pilot.', [
      { field: 'Idempotency-Key', message: 'is required' },
    ]);
  }
  const key = IdempotencyKeySchema.safeParse(idempotencyKey);
  if (!key.success) throw invalidInput('Invalid Idempotency-Key header.', [{ field: 'Idempotency-Key', message: key.error.issues[0]!.message }]);
  return key.data;
}

/** A new pilot's record: scheduled, nothing notified, not closed. */
function newPilotRecord(p: {
  accountId: string;
  pilotId: string;
  req: z.output<typeof CreatePilotSchema>;
  timeZone: string;
  at: string;
  principal: ApiKeyRecord;
  key: string;
  hash: string;
  settings: PilotApiDeps['settings'];
}): PilotRecord {
  return {
    accountId: p.accountId,
    pilotId: p.pilotId,
    ...p.req,
    timeZone: p.timeZone,
    createdAt: p.at,
    createdBy: principalLabel(p.principal),
    clientKeyHash: hashKey(p.key),
    requestHash: p.hash,
    monitorSeconds: p.settings.monitorSeconds,
    settleSeconds: p.settings.settleSeconds,
    state: 'scheduled',
    executionArn: null,
    notified: [],
    closedAt: null,
    closedReason: null,
    report: null,
    failure: null,
    updatedAt: p.at,
  };
}

function hashKey(key: string): string {
  // Not the key itself: it is the client's secret-ish retry token.
  return pilotIdFor('key', key).slice('pilot-'.length);
}

/** Starts the pilot's execution if the record has none yet (a create whose start failed is completed by its retry). */
async function ensureStarted(rec: PilotRecord, deps: PilotApiDeps): Promise<PilotRecord> {
  if (rec.executionArn !== null || rec.state === 'stopped' || rec.state === 'closed') return rec;
  const executionArn = await deps.workflow().start(executionName(rec.pilotId), executionInput(rec));
  await deps.store.setExecutionArn(rec.accountId, rec.pilotId, executionArn, deps.now().toISOString());
  return { ...rec, executionArn };
}

// ------------------------------------------------------------------ read

async function findPilot(principal: ApiKeyRecord, pilotId: string, deps: PilotApiDeps): Promise<PilotRecord> {
  const rec = /^pilot-[0-9a-f]{24}$/.test(pilotId) ? await deps.store.getPilot(principal.accountId, pilotId) : null;
  if (rec === null) throw notFound('No such pilot.');
  return rec;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

export async function pilotView(rec: PilotRecord, deps: Pick<PilotApiDeps, 'store' | 'activity' | 'reports' | 'now'>): Promise<PilotView> {
  const nowMs = deps.now().getTime();
  const counter = (await deps.store.getCounter(rec.accountId, rec.pilotId)) ?? { open: true, spentCents: 0, billableCalls: 0, closedAt: null, closedReason: null };
  const progress = pilotProgress(rec, counter, nowMs);
  const [todaySpent, calls, report] = await Promise.all([
    rec.dailyCapCents === null ? Promise.resolve(null) : deps.store.getDaySpent(rec.accountId, rec.pilotId, currentPilotDay(rec, nowMs)),
    deps.activity.callsInRange({ accountId: rec.accountId, campaignId: rec.campaignId, from: rec.startsAt, to: rec.endsAt }),
    rec.report === null
      ? Promise.resolve(null)
      : Promise.all([deps.reports.presign(rec.report.jsonKey), deps.reports.presign(rec.report.csvKey)]).then(([json, csv]) => ({
          json,
          csv,
          builtAt: rec.report!.builtAt,
        })),
  ]);
  const pilotCalls = calls.filter((c) => isPilotCall(rec, c));
  // The counter is the truth about charges; a close the record has not caught up with yet shows as its state.
  const state = !counter.open && (rec.state === 'scheduled' || rec.state === 'active') ? stateAfterClose(counter.closedReason ?? 'window') : rec.state;
  return {
    pilotId: rec.pilotId,
    accountId: rec.accountId,
    campaignId: rec.campaignId,
    publisherIds: rec.publisherIds,
    vertical: rec.vertical,
    geography: rec.geography,
    state,
    startsAt: rec.startsAt,
    endsAt: rec.endsAt,
    timeZone: rec.timeZone,
    spendCapCents: rec.spendCapCents,
    dailyCapCents: rec.dailyCapCents,
    maxBillableCalls: rec.maxBillableCalls,
    spentCents: progress.spentCents,
    remainingCents: progress.remainingCents,
    percentOfCap: progress.percentOfCap,
    todaySpentCents: rec.dailyCapCents === null ? null : (todaySpent ?? 0),
    billableCalls: progress.billableCalls,
    nonBillableCalls: pilotCalls.filter((c) => !c.billable).length,
    remainingCalls: progress.remainingCalls,
    timeLeftSec: progress.timeLeftSec,
    secondsToStart: progress.secondsToStart,
    closedAt: counter.closedAt,
    closedReason: counter.closedReason,
    notifyHosts: [...new Set(rec.notify.map(hostOf))],
    report,
    failure: rec.failure,
    createdAt: rec.createdAt,
    createdBy: rec.createdBy,
  };
}

export async function getPilot(principal: ApiKeyRecord, pilotId: string, deps: PilotApiDeps): Promise<PilotView> {
  return pilotView(await findPilot(principal, pilotId, deps), deps);
}

/** The stored report (JSON text or CSV); 409 until it is built. */
export async function getPilotReport(principal: ApiKeyRecord, pilotId: string, format: 'json' | 'csv', deps: PilotApiDeps): Promise<string> {
  const rec = await findPilot(principal, pilotId, deps);
  if (rec.report === null) throw conflict(`The pilot's report is built when it closes; the pilot is ${rec.state}.`);
  const text = await deps.reports.get(format === 'csv' ? rec.report.csvKey : rec.report.jsonKey);
  if (text === null) throw new Error(`pilot ${pilotId}: report object missing`);
  return text;
}

// ------------------------------------------------------------------ stop

/**
 * Closes the counter (no charge from now on), marks the pilot stopped and stops its execution; the scheduled
 * enforcer then builds its report. Stopping a stopped pilot answers it again; one already closed by its cap or
 * its window is 409.
 */
export async function stopPilot(principal: ApiKeyRecord, pilotId: string, deps: PilotApiDeps): Promise<PilotView> {
  requireAdmin(principal);
  const rec = await findPilot(principal, pilotId, deps);
  if (rec.state !== 'stopped') {
    const at = deps.now().toISOString();
    await deps.store.closeCounter(rec.accountId, rec.pilotId, 'stopped', at);
    const counter = await deps.store.getCounter(rec.accountId, rec.pilotId);
    if (counter?.closedReason !== 'stopped') {
      throw conflict(`The pilot is already closed (${counter?.closedReason ?? 'unknown'}); there is nothing to stop.`);
    }
    await deps.store.transition(rec.accountId, rec.pilotId, 'stopped', at);
    deps.log.info('pilot stopped', { accountId: rec.accountId, pilotId: rec.pilotId });
    if (rec.executionArn !== null) {
      try {
        await deps.workflow().stop(rec.executionArn, `stopped by ${principalLabel(principal)}`);
      } catch (err) {
        // The counter is closed, which is what stops charges; a monitor left running finds it closed and ends.
        deps.log.warn('pilot execution not stopped', { pilotId: rec.pilotId, error: (err as Error).name });
      }
    }
  }
  return pilotView((await deps.store.getPilot(rec.accountId, rec.pilotId))!, deps);
}

// ------------------------------------------------------------------ routes

function jsonBody(req: RouteRequest): unknown {
  const type = req.contentType?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json' && !type?.endsWith('+json')) {
    throw unsupportedMediaType(req.contentType, ['application/json']);
  }
  try {
    return JSON.parse(req.body);
  } catch {
    throw invalidInput('The body is not valid JSON.', [{ field: '(root)', message: 'must be a JSON object' }]);
  }
}

const format: Rule<'json' | 'csv'> = oneOf(['json', 'csv']);

function pilotIdParam(req: RouteRequest): string {
  return req.pathParameters.pilotId ?? '';
}

export const PILOT_ROUTES: readonly Route<PilotApiDeps>[] = [
  route({
    method: 'POST',
    path: '/v1/pilots',
    summary:
      'Create a pilot (admin): publishers of a campaign bought under a spend cap inside a fixed window. Idempotent on the Idempotency-Key header (201 new, 200 same key and body, 422 same key with another body)',
    auth: 'admin',
    request: CreatePilotSchema,
    headers: [{ name: 'Idempotency-Key', required: true, description: 'The same key and body answer the same pilot (200); the same key with another body is 422' }],
    responses: { 201: { description: 'Created', schema: PilotViewDoc }, 200: { description: 'The same pilot, re-sent', schema: PilotViewDoc } },
    problems: [400, 401, 403, 409, 415, 422],
    query: {},
    async handle(principal, req, deps) {
      const written = await createPilot(principal, req.idempotencyKey, jsonBody(req), deps);
      return { status: written.created ? 201 : 200, body: written.body };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/pilots/{pilotId}',
    summary: 'A pilot: state, spend, remainder, billable and non-billable calls, time left, and its report links once closed',
    auth: 'bearer',
    responses: { 200: { description: 'The pilot', schema: PilotViewDoc } },
    problems: [401, 404],
    query: {},
    async handle(principal, req, deps) {
      return { status: 200, body: await getPilot(principal, pilotIdParam(req), deps) };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/pilots/{pilotId}/stop',
    summary: 'Stop a pilot now (admin): no further charges; its report follows',
    auth: 'admin',
    responses: { 200: { description: 'The stopped pilot', schema: PilotViewDoc } },
    problems: [401, 403, 404, 409],
    query: {},
    async handle(principal, req, deps) {
      return { status: 200, body: await stopPilot(principal, pilotIdParam(req), deps) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/pilots/{pilotId}/report',
    summary: "The pilot's report: per-publisher and per-sub-source scorecard (format=json|csv)",
    auth: 'bearer',
    responses: {
      200: { description: 'The report (CSV with format=csv)', schema: PilotReportDoc, text: { 'text/csv': 'One row per publisher and sub-source, a header line' } },
    },
    problems: [400, 401, 404, 409],
    query: { format },
    async handle(principal, req, deps, q) {
      const f = q.format ?? 'json';
      const text = await getPilotReport(principal, pilotIdParam(req), f, deps);
      return f === 'csv' ? { status: 200, body: text, contentType: 'text/csv; charset=utf-8' } : { status: 200, body: JSON.parse(text) };
    },
  }),
];
