/**
 * Use cases of the read API: one call, a page of calls, a page of ledger entries with totals. The principal
 * (from the bearer API key) scopes every read to its account; another account's call is a 403.
 * Query parameters are validated with zod; unknown parameters are rejected so that a typo (`publisher=`) is
 * not silently ignored.
 */
import * as z from 'zod';
import { foldCall } from '../domain/fold';
import { BadRequest, fieldErrors, Forbidden, NotFound } from '../domain/problems';
import type { CallStatus, LedgerEntry, ReasonCode } from '../domain/types';
import type { ApiKeyRecord, CallStore, LedgerStore, LedgerTotals, RecordingMedia, StoredCall } from './ports';

export interface ReadApiDeps {
  readonly calls: Pick<CallStore, 'getCall' | 'listCalls'>;
  readonly ledger: LedgerStore;
  readonly media: Pick<RecordingMedia, 'presignGet'>;
}

/** The documented shape of `GET /v1/calls/{callId}`. Rating fields are null until the call is rated. */
export interface CallResponse {
  readonly callId: string;
  readonly accountId: string;
  readonly campaignId: string | null;
  readonly publisherId: string | null;
  readonly subSource: string | null;
  readonly status: CallStatus | null;
  readonly durationSec: number | null;
  readonly billable: boolean | null;
  readonly amountCents: number | null;
  readonly reasons: readonly ReasonCode[];
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly recording: { readonly sha256: string; readonly bytes: number; readonly url: string } | null;
}

export interface CallsPage {
  readonly calls: readonly CallResponse[];
  readonly cursor: string | null;
}

export interface LedgerPage {
  readonly entries: readonly LedgerEntry[];
  readonly totals: LedgerTotals;
  readonly cursor: string | null;
}

export type QueryParams = Readonly<Record<string, string | undefined>>;

const CALL_ID = /^[a-z]+:[A-Za-z0-9]{1,64}$/;
const id = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be an id (lower-case letters, digits, dashes)');
/** Any ISO-8601 instant with a zone, normalised to the `toISOString()` form the keys are written in. */
const instant = z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time with a zone' }).transform((s) => new Date(s).toISOString());

const common = {
  from: instant.optional(),
  to: instant.optional(),
  campaignId: id.optional(),
  publisherId: id.optional(),
  cursor: z.string().min(1).max(2048).optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a whole number from 1 to 100')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be a whole number from 1 to 100').max(100, 'must be a whole number from 1 to 100'))
    .optional(),
};

function orderedRange(v: { from?: string | undefined; to?: string | undefined }, ctx: z.RefinementCtx): void {
  if (v.from !== undefined && v.to !== undefined && v.from >= v.to) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
}

const CallsQuery = z
  .strictObject({ ...common, billable: z.enum(['true', 'false'], { message: 'must be true or false' }).transform((b) => b === 'true').optional() })
  .superRefine(orderedRange);
const LedgerQuerySchema = z.strictObject(common).superRefine(orderedRange);

function parseQuery<T>(schema: z.ZodType<T>, params: QueryParams): T {
  const defined = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
  const parsed = schema.safeParse(defined);
  if (parsed.success) return parsed.data;
  const errors = parsed.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys' ? i.keys.map((k) => ({ field: k, message: 'is not a known parameter' })) : fieldErrors([i]),
  );
  throw new BadRequest(`Invalid query parameters: ${errors.map((e) => e.field).join(', ')}.`, errors);
}

async function toResponse(call: StoredCall, media: ReadApiDeps['media']): Promise<CallResponse> {
  const view = call.events.length > 0 ? foldCall(call.events) : null;
  const r = call.rating;
  return {
    callId: call.callId,
    accountId: call.accountId,
    campaignId: r?.campaignId ?? null,
    publisherId: r?.publisherId ?? null,
    subSource: r?.subSource ?? null,
    status: view?.status ?? null,
    durationSec: call.durationSec ?? view?.terminal?.durationSec ?? null,
    billable: r?.billable ?? null,
    amountCents: r?.amountCents ?? null,
    reasons: r?.reasons ?? [],
    startedAt: call.startedAt,
    endedAt: call.endedAt,
    recording:
      call.recording === null
        ? null
        : { sha256: call.recording.sha256, bytes: call.recording.bytes, url: await media.presignGet(call.recording.key) },
  };
}

export async function getCallDetail(principal: ApiKeyRecord, callId: string, deps: ReadApiDeps): Promise<CallResponse> {
  if (!CALL_ID.test(callId)) throw new NotFound('No such call.');
  const call = await deps.calls.getCall(callId);
  if (call === null) throw new NotFound('No such call.');
  if (call.accountId !== principal.accountId) throw new Forbidden('This call belongs to another account.');
  return toResponse(call, deps.media);
}

/** Rated calls, newest first. */
export async function listCallsPage(principal: ApiKeyRecord, params: QueryParams, deps: ReadApiDeps): Promise<CallsPage> {
  const q = parseQuery(CallsQuery, params);
  const page = await deps.calls.listCalls({ ...q, accountId: principal.accountId, limit: q.limit ?? 50 });
  return { calls: await Promise.all(page.items.map((c) => toResponse(c, deps.media))), cursor: page.cursor };
}

/** Entries in effective-time order; totals cover the whole filtered range, not just this page. */
export async function listLedgerPage(principal: ApiKeyRecord, params: QueryParams, deps: ReadApiDeps): Promise<LedgerPage> {
  const q = parseQuery(LedgerQuerySchema, params);
  const range = { accountId: principal.accountId, from: q.from, to: q.to, campaignId: q.campaignId, publisherId: q.publisherId };
  const [page, totals] = await Promise.all([
    deps.ledger.listEntries({ ...range, limit: q.limit ?? 50, cursor: q.cursor }),
    deps.ledger.totals(range),
  ]);
  return { entries: page.items, totals, cursor: page.cursor };
}
