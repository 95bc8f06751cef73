/**
 * The QA API ("QA sampling"): use cases plus a route table (`QA_ROUTES`) that functions/api.ts mounts.
 *
 * - `GET /v1/qa/sample?campaignId=&from=&to=&perSource=&seed=` (any key): streams the campaign's rated calls of the
 *   period from the campaign index (as the report engine does: each call item carries its own credits), samples
 *   up to perSource calls per source with flagged calls over-sampled (shared/domain/qa/qa.ts: the rule, the seed, the
 *   bounded memory) and answers per source with presigned recording links (15 minutes). No caller numbers, ever.
 *   The default seed is derived from the request (qa.ts defaultQaSeed) and returned, so any sample can be reproduced.
 * - `POST /v1/calls/{callId}/qa` {verdict, note?, openDispute?, disputeReason?}: reviewers are analysts, so ANY key
 *   (admin or analyst) records a verdict; opening a dispute moves money, so `openDispute: true` needs an admin key
 *   (403 otherwise, before anything is written). The verdict is stored on the call and in its history
 *   (shared/adapters/qa/qa-repo.ts); then, with openDispute, a dispute is opened through the dispute use case
 *   (disputes.ts openCallDispute) with the verdict's reason (`good` cannot be disputed: 422). A refused dispute
 *   (already disputed, outside the window, not billed, reason not allowed) does not undo the verdict: it is answered
 *   in the response with its problem.
 */
import { PRESIGN_TTL_SEC } from '../recordings/links';
import type { ReportCall } from '../../domain/reports/analytics';
import { asCampaign, type CampaignItem } from '../../domain/catalog/config';
import { fieldErrors } from '../../domain/kernel/problems';
import { conflict, errorView, forbidden, invalidInput, isCallerError, notFound, unprocessable, unsupportedMediaType } from '../kernel/errors';
import { createQaSampler, defaultQaSeed, disputeReasonOf, FLAGGED_RULE, FLAGGED_SHARE, type CallQa, type QaFlag } from '../../domain/qa/qa';
import { PostQaResponseSchema, PostQaSchema, QaSampleSchema, type PostQaRequest } from '../../domain/qa/qa-schema';
import { termsInForce, type TermsVersion } from '../../domain/terms/terms';
import type { Dispute } from '../../domain/disputes/disputes';
import { readOwnCall } from '../calls/call-access';
import { openCallDispute, type DisputeDeps } from '../disputes/disputes';
import { route, type Route, type RouteRequest } from '../kernel/route';
import { ConfigWriteConflict, type ApiKeyRecord, type CallStore, type RecordingMedia } from '../kernel/ports';
import { clampInstant } from '../../domain/kernel/input';
import { id, instant, parseQuery, rule, wholeNumber, type QueryParams, type Rule } from '../kernel/query';

const DAY_MS = 86_400_000;
/** Default period: the 7 days before `to` (default: now). */
export const DEFAULT_QA_PERIOD_DAYS = 7;
export const MAX_QA_PERIOD_DAYS = 92;
export const DEFAULT_PER_SOURCE = 10;
export const MAX_PER_SOURCE = 100;

// ------------------------------------------------------------------ ports

export interface QaStore {
  /** The verdict on the call item and in its history, atomically; ConfigWriteConflict when a condition failed. */
  recordVerdict(accountId: string, callId: string, qa: CallQa): Promise<void>;
}

export interface QaDeps {
  readonly config: { readCampaign(accountId: string, campaignId: string): Promise<CampaignItem | null> };
  readonly campaignCalls: {
    streamCampaignCalls(
      accountId: string,
      campaignId: string,
      fromIso: string,
      toIso: string,
      context: { readonly termsVersions: readonly TermsVersion[] },
    ): AsyncIterable<ReportCall>;
  };
  readonly media: Pick<RecordingMedia, 'presignGet'>;
  readonly calls: Pick<CallStore, 'getCall'>;
  readonly qa: QaStore;
  /** The dispute use case's dependencies (ledger-routes.ts ledgerRouteDeps builds them). */
  readonly disputes: DisputeDeps;
  readonly now: () => Date;
}

// ------------------------------------------------------------------ sample

export interface QaSampleQuery {
  readonly accountId: string;
  readonly campaignId: string;
  readonly from: string;
  readonly to: string;
  readonly perSource: number;
  readonly seed: string;
}

const SEED = /^[A-Za-z0-9_-]{1,64}$/;
const seedRule: Rule<string> = rule({ type: 'string', pattern: SEED.source }, (raw) =>
  SEED.test(raw) ? { ok: true, value: raw } : { ok: false, message: 'must be 1 to 64 letters, digits, _ or -' },
);

/** The query of `GET /v1/qa/sample`. */
export const QA_SAMPLE_QUERY = { campaignId: id.with({ required: true }), from: instant, to: instant, perSource: wholeNumber(1, MAX_PER_SOURCE), seed: seedRule };

/** `?campaignId=&from=&to=&perSource=&seed=`: campaignId required; to default now, from default to − 7 days, ≤ 92 days. */
export function parseQaSampleQuery(accountId: string, params: QueryParams, now: Date): QaSampleQuery {
  const q = parseQuery(QA_SAMPLE_QUERY, params);
  const toMs = q.to === undefined ? now.getTime() : Date.parse(q.to);
  // The default start never falls before the first instant keys can hold (input.ts).
  const fromMs = q.from === undefined ? clampInstant(toMs - DEFAULT_QA_PERIOD_DAYS * DAY_MS) : Date.parse(q.from);
  if (fromMs >= toMs) throw invalidInput('Invalid query parameters: from.', [{ field: 'from', message: 'must be before to (default: now)' }]);
  if (toMs - fromMs > MAX_QA_PERIOD_DAYS * DAY_MS) {
    throw invalidInput('Invalid query parameters: from.', [{ field: 'from', message: `must be at most ${MAX_QA_PERIOD_DAYS} days before to` }]);
  }
  const base = { accountId, campaignId: q.campaignId!, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), perSource: q.perSource ?? DEFAULT_PER_SOURCE };
  return { ...base, seed: q.seed ?? defaultQaSeed(base) };
}

export interface QaSampleItem {
  readonly callId: string;
  readonly startedAt: string;
  readonly publisherId: string;
  readonly subSource: string | null;
  readonly billable: boolean;
  readonly reasons: readonly string[];
  readonly signals: readonly string[];
  readonly flags: readonly QaFlag[];
  readonly qa: { readonly verdict: string; readonly reviewedAt: string; readonly reviewer: string } | null;
  readonly recording: { readonly url: string; readonly expiresAt: string } | null;
}

export interface QaSampleResponse {
  readonly campaignId: string;
  readonly from: string;
  readonly to: string;
  readonly perSource: number;
  readonly seed: string;
  readonly flaggedShare: number;
  readonly rule: string;
  readonly generatedAt: string;
  readonly sources: readonly {
    readonly publisherId: string;
    readonly subSource: string | null;
    readonly calls: number;
    readonly flagged: number;
    readonly sample: readonly QaSampleItem[];
  }[];
}

export async function sampleForQa(q: QaSampleQuery, deps: QaDeps): Promise<QaSampleResponse> {
  const record = await deps.config.readCampaign(q.accountId, q.campaignId);
  if (record === null) throw notFound('No such campaign.');
  const campaign = asCampaign(record);
  const calls = deps.campaignCalls.streamCampaignCalls(q.accountId, q.campaignId, q.from, q.to, { termsVersions: campaign.termsVersions });
  // The buffer the call was rated against; a call without one (no terms version) gets the version in force at its start.
  const sampler = createQaSampler({
    perSource: q.perSource,
    seed: q.seed,
    bufferSecOf: (c) => c.bufferSec ?? termsInForce(campaign.termsVersions, c.startedAtMs)?.bufferSec ?? null,
  });
  for await (const c of calls) sampler.add(c);
  const now = deps.now();
  const expiresAt = new Date(now.getTime() + PRESIGN_TTL_SEC * 1000).toISOString();
  const sources = await Promise.all(
    sampler.result().map(async (s) => ({
      publisherId: s.publisherId,
      subSource: s.subSource,
      calls: s.calls,
      flagged: s.flagged,
      sample: await Promise.all(
        s.sample.map(async ({ call, flags }): Promise<QaSampleItem> => ({
          callId: call.callId,
          startedAt: new Date(call.startedAtMs).toISOString(),
          publisherId: call.publisherId,
          subSource: call.subSource,
          billable: call.billable,
          reasons: call.reasons,
          signals: call.signals ?? [],
          flags,
          qa: call.qa ?? null,
          recording: call.recordingKey == null ? null : { url: await deps.media.presignGet(call.recordingKey), expiresAt },
        })),
      ),
    })),
  );
  return {
    campaignId: q.campaignId,
    from: q.from,
    to: q.to,
    perSource: q.perSource,
    seed: q.seed,
    flaggedShare: FLAGGED_SHARE,
    rule: FLAGGED_RULE,
    generatedAt: now.toISOString(),
    sources,
  };
}

// ------------------------------------------------------------------ verdict

export interface QaDisputeResult {
  readonly result: 'opened' | 'existing' | 'refused';
  readonly dispute: Dispute | null;
  readonly problem: { readonly status: number; readonly type: string; readonly title: string; readonly detail: string } | null;
}

export interface QaVerdictResponse {
  readonly callId: string;
  readonly qa: CallQa;
  /** null unless openDispute was asked. */
  readonly dispute: QaDisputeResult | null;
}

export async function recordQaVerdict(principal: ApiKeyRecord, callId: string, request: PostQaRequest, deps: Pick<QaDeps, 'calls' | 'qa' | 'disputes' | 'now'>): Promise<QaVerdictResponse> {
  // Refusals that need no read come first, and nothing is written when the request cannot be honoured whole.
  if (request.openDispute && principal.role !== 'admin') throw forbidden('Opening a dispute needs an admin API key; analyst keys may record a verdict without openDispute.');
  const mapped = disputeReasonOf(request.verdict);
  if (request.openDispute && mapped === null) {
    throw unprocessable('A call judged good cannot be disputed.', [{ field: 'openDispute', message: 'cannot be true with verdict good' }]);
  }
  const reason = request.openDispute ? (request.disputeReason ?? mapped) : null;
  await readOwnCall(principal, callId, (id) => deps.calls.getCall(id, { consistent: true }));

  const qa: CallQa = {
    verdict: request.verdict,
    note: request.note ?? null,
    reviewer: `${principal.label ?? 'api-key'} (${principal.role})`,
    reviewedAt: deps.now().toISOString(),
  };
  try {
    await deps.qa.recordVerdict(principal.accountId, callId, qa);
  } catch (err) {
    if (err instanceof ConfigWriteConflict) throw conflict('Another verdict on this call was recorded at the same moment; post it again.');
    throw err;
  }
  if (reason === null) return { callId, qa, dispute: null };
  try {
    const note = qa.note ?? `QA verdict: ${qa.verdict}`;
    const opened = await openCallDispute(principal, callId, { reason, note }, deps.disputes);
    return { callId, qa, dispute: { result: opened.created ? 'opened' : 'existing', dispute: opened.dispute, problem: null } };
  } catch (err) {
    if (!isCallerError(err)) throw err;
    const { status, type, title, detail } = errorView(err);
    const problem = { status, type, title, detail };
    return { callId, qa, dispute: { result: 'refused', dispute: null, problem } };
  }
}

// ------------------------------------------------------------------ routes

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase();
}

/** The JSON body validated by PostQaSchema: 415 unless JSON, 400 naming every bad field (values never echoed). */
function qaBody(req: RouteRequest): PostQaRequest {
  const type = mediaType(req.contentType);
  if (type !== 'application/json' && !type?.endsWith('+json')) {
    throw unsupportedMediaType(req.contentType, ['application/json']);
  }
  let value: unknown;
  try {
    value = JSON.parse(req.body);
  } catch {
    throw invalidInput('The body is not valid JSON.', [{ field: '(root)', message: 'must be a JSON object' }]);
  }
  const parsed = PostQaSchema.safeParse(value);
  if (!parsed.success) throw invalidInput('The verdict is not valid.', fieldErrors(parsed.error.issues));
  return parsed.data;
}

export const QA_ROUTES: readonly Route<QaDeps>[] = [
  route({
    method: 'GET',
    path: '/v1/qa/sample',
    summary:
      `A reproducible QA sample of a campaign's calls: up to perSource (1..${MAX_PER_SOURCE}, default ${DEFAULT_PER_SOURCE}) per source (publisher + sub-source) over [from, to) ` +
      `(default the last ${DEFAULT_QA_PERIOD_DAYS} days, at most ${MAX_QA_PERIOD_DAYS}), flagged calls over-sampled, ordered by sha256(seed, callId); ` +
      'the seed defaults to one derived from the query and is returned. Presigned recording links (15 minutes); no caller numbers',
    auth: 'bearer',
    query: QA_SAMPLE_QUERY,
    responses: { 200: { description: 'The sample per source', schema: QaSampleSchema } },
    problems: [400, 401, 404],
    async handle(principal, req, deps) {
      return { status: 200, body: await sampleForQa(parseQaSampleQuery(principal.accountId, req.query, deps.now()), deps) };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/calls/{callId}/qa',
    summary:
      "Record a reviewer's verdict on a call (good, junk, fraud, incentivized, repeat, wrong_number; any key). It is stored on the call (the call detail, the scorecard's QA counts) and in its history. " +
      'openDispute: true (admin keys only) also opens a dispute with the verdict\'s reason (junk→other, fraud, incentivized, repeat→repeat_caller, wrong_number; good: 422); a refused dispute is reported with its problem, the verdict kept',
    auth: 'bearer',
    query: {},
    request: PostQaSchema,
    responses: { 200: { description: 'The verdict stored, and the dispute when asked', schema: PostQaResponseSchema } },
    problems: [400, 401, 403, 404, 409, 415, 422],
    async handle(principal, req, deps) {
      return { status: 200, body: await recordQaVerdict(principal, req.pathParameters.callId ?? '', qaBody(req), deps) };
    },
  }),
];
