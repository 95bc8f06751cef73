/**
 * The outcomes API: the buyer's CRM posts what calls became — `POST /v1/outcomes` (admin; JSON or CSV) —
 * and `GET /v1/outcomes[/{externalId}]` (any key) reads them. Use cases plus a route table (`OUTCOME_ROUTES`) that
 * functions/api.ts mounts, in the style of block-list.ts. Rules (idempotency, supersession, the matching rule):
 * shared/domain/outcomes/outcomes.ts; storage: shared/adapters/outcomes/outcome-repo.ts.
 *
 * Each line is applied on its own and answered with its own result (`created`, `updated`, `unchanged`, `refused` with
 * a problem), so one bad line never loses the others. Lines of one externalId are applied in order, one at a time;
 * different externalIds run concurrently (OUTCOME_CONCURRENCY), which keeps a 1,000-line upload well inside the
 * API's 15 s. A line is read → decided (pure) → written with one conditional write; a lost race re-reads and decides
 * again (bounded, then 409 for that line).
 *
 * Caller numbers are personal data: a line's number is normalised and hashed with the caller-hash key at once; only
 * the hash is stored and nothing about the caller is ever returned. Line errors name fields, never values.
 */
import { identityHash, typedCallerIdentity, withheldCallerRefusal } from '../../domain/calls/caller';
import {
  applyOutcomeLine,
  chooseCallerMatch,
  effectiveLookBackDays,
  lookBackWindow,
  MAX_LOOK_BACK_DAYS,
  outcomeView,
  planMatch,
  type CallOutcomeOnCall,
  type CandidateCall,
  type DecidedMatch,
  type LineResult,
  type OutcomeLine,
  type OutcomeMatch,
  type OutcomeRecord,
  type OutcomeView,
} from '../../domain/outcomes/outcomes';
import {
  EXTERNAL_ID,
  OutcomeViewSchema,
  OutcomesPageSchema,
  PostOutcomesBodySchema,
  PostOutcomesResponseSchema,
  outcomeLinesFromCsv,
  outcomeLinesFromJson,
  validateOutcomeLine,
  type OutcomeInput,
  type RawOutcomeLine,
} from '../../domain/outcomes/outcomes-schema';
import type { FieldError } from '../../domain/kernel/problems';
import { conflict, errorView, invalidInput, isCallerError, notFound, payloadTooLarge, unprocessable, unsupportedMediaType } from '../kernel/errors';
import type { DomainError } from '../../domain/kernel/errors';
import { settleWithLimit } from '../kernel/concurrency';
import { route, type Route, type RouteRequest } from '../kernel/route';
import { requireAdmin } from '../catalog/management';
import { ConfigWriteConflict, type ApiKeyRecord, type ConfigStore, type Page } from '../kernel/ports';
import { cursorScope, openCursor, sealCursor, type CursorSealer } from '../kernel/pagination';
import { cursor, pageSize, rule, wholeNumber, type Rule } from '../kernel/query';

/** Uploads above this are refused before parsing (Lambda's synchronous payload limit is 6 MB). */
export const MAX_OUTCOMES_BYTES = 5 * 1024 * 1024;
/** externalIds applied at once. */
export const OUTCOME_CONCURRENCY = 8;
/** Attempts per line when a concurrent write wins the race. */
const MAX_ATTEMPTS = 4;

export interface OutcomeListQuery {
  readonly accountId: string;
  /** true: matched only; false: unmatched only; undefined: all. */
  readonly matched?: boolean;
  readonly limit: number;
  readonly cursor?: string;
}

/** Outcome items and what matching reads (shared/adapters/outcomes/outcome-repo.ts). */
export interface OutcomeStore {
  /** Strongly consistent. */
  readOutcome(accountId: string, externalId: string): Promise<OutcomeRecord | null>;
  listOutcomes(query: OutcomeListQuery): Promise<Page<OutcomeRecord>>;
  /** The call's account and the externalId its `outcome` attribute names; null when there is no such call. */
  callOutcomeOwner(callId: string): Promise<{ accountId: string; outcomeExternalId: string | null } | null>;
  /** The caller's connected calls of the account that started in [fromIso, toIso], newest first. */
  connectedCallsOfCaller(accountId: string, callerHash: string, fromIso: string, toIso: string): Promise<CandidateCall[]>;
  /** One atomic write; ConfigWriteConflict when any condition failed (re-read and retry). */
  writeOutcome(args: {
    record: OutcomeRecord;
    expectedRev: number | null;
    setCall: { callId: string; outcome: CallOutcomeOnCall } | null;
    clearCall: { callId: string; externalId: string } | null;
  }): Promise<void>;
}

export interface OutcomeDeps {
  readonly outcomes: OutcomeStore;
  /** The account item (its optional `outcomeLookBackDays`). */
  readonly config: Pick<ConfigStore, 'getAccount'>;
  /** The caller-hash HMAC key (CALLER_HASH_KEY_REF), the one the ledger writer hashes callers with. */
  readonly callerHashKey: () => Promise<string>;
  /** Seals and opens the cursors of GET /v1/outcomes (pagination.ts). */
  readonly cursors: CursorSealer;
  readonly now: () => Date;
}

export interface OutcomeLineResult {
  readonly line: number;
  readonly externalId: string | null;
  readonly result: LineResult;
  readonly matchedCallId: string | null;
  readonly match: OutcomeMatch | null;
  readonly error?: { readonly status: number; readonly detail: string; readonly errors?: readonly FieldError[] };
}

export interface PostOutcomesResponse {
  readonly results: readonly OutcomeLineResult[];
  readonly summary: { created: number; updated: number; unchanged: number; refused: number; matched: number; unmatched: number };
  readonly lookBackDays: number;
}

// ------------------------------------------------------------------ use cases

/** Applies every line (already split from the body); answers one result per line, in line order. */
export async function postOutcomes(
  principal: ApiKeyRecord,
  lines: readonly RawOutcomeLine[],
  options: { readonly lookBackDays?: number },
  deps: OutcomeDeps,
): Promise<PostOutcomesResponse> {
  requireAdmin(principal);
  const account = await deps.config.getAccount(principal.accountId);
  const lookBackDays = effectiveLookBackDays(options.lookBackDays, (account as { outcomeLookBackDays?: unknown } | null)?.outcomeLookBackDays);
  const key = await deps.callerHashKey();
  const by = `${principal.label ?? 'api-key'} (${principal.role})`;

  // Validate every line first; then group the valid ones by externalId (in line order) and apply the groups concurrently.
  const results = new Map<number, OutcomeLineResult>();
  const groups = new Map<string, { line: number; input: OutcomeInput }[]>();
  for (const raw of lines) {
    const checked = validateOutcomeLine(raw.value);
    if (!checked.ok) {
      const externalId = (raw.value as { externalId?: unknown } | null)?.externalId;
      results.set(raw.line, refused(raw.line, typeof externalId === 'string' && EXTERNAL_ID.test(externalId) ? externalId : null, invalidInput('The outcome is not valid.', checked.errors)));
      continue;
    }
    const group = groups.get(checked.value.externalId) ?? [];
    group.push({ line: raw.line, input: checked.value });
    groups.set(checked.value.externalId, group);
  }
  const ctx = { accountId: principal.accountId, by, key, lookBackDays };
  const settled = await settleWithLimit([...groups.values()], OUTCOME_CONCURRENCY, async (group) => {
    for (const { line, input } of group) results.set(line, await applyLine(line, input, ctx, deps));
  });
  for (const s of settled) if (s.status === 'rejected') throw s.reason;

  const ordered = [...results.values()].sort((a, b) => a.line - b.line);
  const count = (r: LineResult) => ordered.filter((x) => x.result === r).length;
  const applied = ordered.filter((x) => x.result !== 'refused');
  return {
    results: ordered,
    summary: {
      created: count('created'),
      updated: count('updated'),
      unchanged: count('unchanged'),
      refused: count('refused'),
      matched: applied.filter((x) => x.matchedCallId !== null).length,
      unmatched: applied.filter((x) => x.matchedCallId === null).length,
    },
    lookBackDays,
  };
}

function refused(line: number, externalId: string | null, err: DomainError): OutcomeLineResult {
  const { status, detail, errors } = errorView(err);
  return {
    line,
    externalId,
    result: 'refused',
    matchedCallId: null,
    match: null,
    error: { status, detail, ...(errors ? { errors } : {}) },
  };
}

interface LineContext {
  readonly accountId: string;
  readonly by: string;
  readonly key: string;
  readonly lookBackDays: number;
}

/** One valid line: hash the caller, then read → decide → write, again on a lost race. */
async function applyLine(lineNo: number, input: OutcomeInput, ctx: LineContext, deps: OutcomeDeps): Promise<OutcomeLineResult> {
  let hash: string | null = null;
  if (input.callerNumber !== undefined) {
    // The identity the writer gave the same caller: a valid number, or other digits a carrier sent (caller.ts).
    const typed = typedCallerIdentity(input.callerNumber);
    if (typed === 'withheld') return refused(lineNo, input.externalId, withheldCallerRefusal('callerNumber'));
    if (typed === 'not_a_number') {
      return refused(lineNo, input.externalId, unprocessable('The caller number is not a valid phone number.', [{ field: 'callerNumber', message: 'must be a valid phone number, e.g. +15125550101' }]));
    }
    hash = identityHash(ctx.key, typed);
  }
  const line: OutcomeLine = {
    line: lineNo,
    externalId: input.externalId,
    callId: input.callId ?? null,
    callerHash: hash,
    occurredAt: new Date(input.occurredAt).toISOString(),
    status: input.status,
    revenueCents: input.revenueCents,
    marginCents: input.marginCents,
  };
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await applyOnce(line, ctx, deps);
      } catch (err) {
        if (!(err instanceof ConfigWriteConflict) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  } catch (err) {
    if (err instanceof ConfigWriteConflict) return refused(lineNo, line.externalId, conflict('This outcome was changed by other requests meanwhile; post the line again.'));
    if (isCallerError(err)) return refused(lineNo, line.externalId, err);
    throw err;
  }
}

async function applyOnce(line: OutcomeLine, ctx: LineContext, deps: OutcomeDeps): Promise<OutcomeLineResult> {
  const existing = await deps.outcomes.readOutcome(ctx.accountId, line.externalId);
  const plan = planMatch(existing, line);
  let decided: DecidedMatch;
  switch (plan.kind) {
    case 'keep':
      decided = 'keep';
      break;
    case 'none':
      decided = null;
      break;
    case 'call_id': {
      const owner = await deps.outcomes.callOutcomeOwner(plan.callId);
      // Another account's call answers exactly as a missing one: nothing is learnt about other accounts.
      if (owner === null || owner.accountId !== ctx.accountId) {
        throw unprocessable('callId is not a call of this account.', [{ field: 'callId', message: 'must be a call of this account' }]);
      }
      decided = { callId: plan.callId, match: 'call_id' };
      break;
    }
    case 'caller_time': {
      const window = lookBackWindow(plan.anchorAt, ctx.lookBackDays);
      const candidates = await deps.outcomes.connectedCallsOfCaller(ctx.accountId, plan.callerHash, window.fromIso, window.toIso);
      const callId = chooseCallerMatch(candidates, plan.anchorAt, ctx.lookBackDays);
      decided = callId === null ? null : { callId, match: 'caller_time' };
      break;
    }
  }
  const applied = applyOutcomeLine(existing, line, decided, { accountId: ctx.accountId, by: ctx.by, nowIso: deps.now().toISOString() });
  if (applied.result !== 'unchanged') {
    // The previous call loses its attribute only if it still names this externalId (another outcome may own it now).
    let clearCall: { callId: string; externalId: string } | null = null;
    if (applied.clearCallId !== null) {
      const owner = await deps.outcomes.callOutcomeOwner(applied.clearCallId);
      if (owner?.outcomeExternalId === line.externalId) clearCall = { callId: applied.clearCallId, externalId: line.externalId };
    }
    await deps.outcomes.writeOutcome({ record: applied.record, expectedRev: existing?.rev ?? null, setCall: applied.setCall, clearCall });
  }
  return { line: line.line, externalId: line.externalId, result: applied.result, matchedCallId: applied.record.callId, match: applied.record.match };
}

export async function getOutcome(principal: ApiKeyRecord, externalId: string, deps: Pick<OutcomeDeps, 'outcomes'>): Promise<OutcomeView> {
  const found = EXTERNAL_ID.test(externalId) ? await deps.outcomes.readOutcome(principal.accountId, externalId) : null;
  if (found === null) throw notFound('No outcome with this externalId.');
  return outcomeView(found);
}

export async function listOutcomes(
  principal: ApiKeyRecord,
  query: { matched?: boolean; limit: number; cursor?: string },
  deps: Pick<OutcomeDeps, 'outcomes' | 'cursors'>,
): Promise<{ outcomes: readonly OutcomeView[]; cursor: string | null }> {
  const { cursor: token, limit, ...filters } = query;
  const scope = cursorScope('GET /v1/outcomes', principal.accountId, filters);
  const position = await openCursor(deps.cursors, scope, token);
  const page = await deps.outcomes.listOutcomes({ accountId: principal.accountId, ...filters, limit, ...(position === undefined ? {} : { cursor: position }) });
  return { outcomes: page.items.map(outcomeView), cursor: await sealCursor(deps.cursors, scope, page.cursor) };
}

// ------------------------------------------------------------------ routes

const matchedFilter: Rule<boolean> = rule({ type: 'string', enum: ['matched', 'unmatched'] }, (raw) =>
  raw === 'matched' || raw === 'unmatched' ? { ok: true, value: raw === 'matched' } : { ok: false, message: 'must be matched or unmatched' },
);

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase();
}

/** The lines of a POST body: JSON (one object or {outcomes}) or CSV; 415 for anything else. */
function bodyLines(req: RouteRequest): RawOutcomeLine[] {
  if (Buffer.byteLength(req.body, 'utf8') > MAX_OUTCOMES_BYTES) throw payloadTooLarge(MAX_OUTCOMES_BYTES);
  const type = mediaType(req.contentType);
  if (type === 'text/csv') return outcomeLinesFromCsv(req.body);
  if (type !== 'application/json' && !type?.endsWith('+json')) throw unsupportedMediaType(req.contentType, ['application/json', 'text/csv']);
  let value: unknown;
  try {
    value = JSON.parse(req.body);
  } catch {
    throw invalidInput('The body is not valid JSON.', [{ field: '(root)', message: 'must be a JSON object' }]);
  }
  return outcomeLinesFromJson(value);
}

export const OUTCOME_ROUTES: readonly Route<OutcomeDeps>[] = [
  route({
    method: 'POST',
    path: '/v1/outcomes',
    summary:
      'Post CRM outcomes (admin): one outcome, {outcomes: [...]} (≤ 1000), or a text/csv upload with a header row. Idempotent on externalId; a later status supersedes (history kept). Matched by callId, else by caller number + occurredAt to the caller\'s most recent connected call within lookBackDays (default 30). 200 with one result per line; a bad line is refused with its line number, the others are applied',
    auth: 'admin',
    request: PostOutcomesBodySchema,
    requestText: { 'text/csv': 'A header row (externalId, callId or callerNumber, occurredAt, status, revenueCents, marginCents), then one outcome a line' },
    query: { lookBackDays: wholeNumber(1, MAX_LOOK_BACK_DAYS) },
    responses: { 200: { description: 'One result per line', schema: PostOutcomesResponseSchema } },
    problems: [400, 401, 403, 413, 415, 422],
    pathCarriesPii: true,
    async handle(principal, req, deps, q) {
      const lines = bodyLines(req);
      return { status: 200, body: await postOutcomes(principal, lines, q.lookBackDays === undefined ? {} : { lookBackDays: q.lookBackDays }, deps) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/outcomes',
    summary: "The account's outcomes by externalId, status=matched|unmatched, paginated; unmatched ones are kept and retried on every later POST of their externalId",
    auth: 'bearer',
    query: { status: matchedFilter, limit: pageSize, cursor },
    responses: { 200: { description: 'A page of outcomes', schema: OutcomesPageSchema } },
    problems: [400, 401],
    pathCarriesPii: true,
    async handle(principal, _req, deps, q) {
      const query = { limit: q.limit ?? 50, ...(q.status === undefined ? {} : { matched: q.status }), ...(q.cursor === undefined ? {} : { cursor: q.cursor }) };
      return { status: 200, body: await listOutcomes(principal, query, deps) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/outcomes/{externalId}',
    summary: 'One outcome: the status in force, the matched call and how, and every report received',
    auth: 'bearer',
    query: {},
    responses: { 200: { description: 'The outcome', schema: OutcomeViewSchema } },
    problems: [401, 404],
    pathCarriesPii: true,
    async handle(principal, req, deps) {
      return { status: 200, body: await getOutcome(principal, req.pathParameters.externalId ?? '', deps) };
    },
  }),
];
