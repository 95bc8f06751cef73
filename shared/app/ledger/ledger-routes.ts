/**
 * The HTTP routes of disputes, statements, reconciliations and ledger verification, as a table that
 * functions/api.ts mounts next to its own. Each handler turns a request (path parameters, query, raw body) into a
 * typed use-case call and its result into a status and a JSON body; every error is a domain Problem, rendered by
 * shared/adapters/http/problems.ts. Query parameters are checked by hand like the read API's: unknown ones are rejected so
 * that a typo is not silently ignored.
 */
import * as z from 'zod';
import type { DisputeStatus } from '../../domain/disputes/disputes';
import { OpenDisputeSchema, ResolveDisputeSchema } from '../../domain/disputes/disputes-schema';
import { fieldErrors, type FieldError } from '../../domain/kernel/problems';
import { invalidInput, notFound, payloadTooLarge, unsupportedMediaType } from '../kernel/errors';
import { listAccountDisputes, openCallDispute, resolveCallDispute } from '../disputes/disputes';
import { verifyLedger, type AnchorReader, type LedgerVerifyReader } from './verify';
import type { CursorSealer } from '../kernel/pagination';
import type { ApiKeyRecord } from '../kernel/ports';
import { reconcileInvoiceCsv, type ReconciliationDeps, type ReconciliationRequest } from '../reconciliation/reconciliations';
import { cursor, flag, id, instant, parseQuery, period, wholeNumber, type Rule } from '../kernel/query';
import { getStatement } from './statements';

export interface LedgerRouteDeps extends ReconciliationDeps {
  readonly ledger: ReconciliationDeps['ledger'] & LedgerVerifyReader;
  /** The seal anchors GET /v1/ledger/verify checks; without it verify checks the database alone. */
  readonly anchors?: AnchorReader;
  /** Seals and opens the cursors of GET /v1/disputes (pagination.ts). */
  readonly cursors: CursorSealer;
}

export interface RouteRequest {
  /** Already URL-decoded. */
  readonly pathParameters: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** The body as UTF-8 text ('' when none). */
  readonly body: string;
  readonly contentType: string | undefined;
}

export interface RouteResponse {
  readonly status: number;
  readonly body: unknown;
  /** Default application/json. */
  readonly contentType?: string;
}

export interface LedgerRoute {
  readonly method: 'GET' | 'POST';
  /** API Gateway HTTP API path template. */
  readonly path: string;
  handle(principal: ApiKeyRecord, req: RouteRequest, deps: LedgerRouteDeps): Promise<RouteResponse>;
}

/** Invoices above this are refused before parsing (Lambda's synchronous payload limit is 6 MB). */
export const MAX_CSV_BYTES = 5 * 1024 * 1024;

// ------------------------------------------------------------------ request parsing

const status: Rule<DisputeStatus> = (raw) =>
  raw === 'open' || raw === 'accepted' || raw === 'rejected' ? { ok: true, value: raw } : { ok: false, message: 'must be open, accepted or rejected' };

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase();
}

/** A JSON body validated by `schema`; an empty body is `{}` (so missing fields are named, not "invalid JSON"). */
function jsonBody<S extends z.ZodType>(req: RouteRequest, schema: S): z.output<S> {
  let value: unknown = {};
  if (req.body.trim() !== '') {
    const type = mediaType(req.contentType);
    if (type !== 'application/json' && !type?.endsWith('+json')) throw unsupportedMediaType(req.contentType, ['application/json']);
    try {
      value = JSON.parse(req.body);
    } catch {
      throw invalidInput('The body is not valid JSON.', [{ field: '(root)', message: 'must be a JSON object' }]);
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidInput('The body is not valid.', fieldErrors(parsed.error.issues));
  return parsed.data;
}

function pathParameter(req: RouteRequest, name: string): string {
  const value = req.pathParameters[name];
  if (value === undefined || value === '') throw notFound(`No ${name} in the path.`);
  return value;
}

function noQuery(req: RouteRequest): void {
  parseQuery({}, req.query);
}

// ------------------------------------------------------------------ routes

export const LEDGER_ROUTES: readonly LedgerRoute[] = [
  {
    method: 'POST',
    path: '/v1/calls/{callId}/disputes',
    async handle(principal, req, deps) {
      noQuery(req);
      const opened = await openCallDispute(principal, pathParameter(req, 'callId'), jsonBody(req, OpenDisputeSchema), deps);
      return { status: opened.created ? 201 : 200, body: opened.dispute };
    },
  },
  {
    method: 'POST',
    path: '/v1/disputes/{disputeId}/resolve',
    async handle(principal, req, deps) {
      noQuery(req);
      return { status: 200, body: await resolveCallDispute(principal, pathParameter(req, 'disputeId'), jsonBody(req, ResolveDisputeSchema), deps) };
    },
  },
  {
    method: 'GET',
    path: '/v1/disputes',
    async handle(principal, req, deps) {
      const q = parseQuery({ status, publisherId: id, limit: wholeNumber(1, 100), cursor }, req.query);
      return { status: 200, body: await listAccountDisputes(principal, { ...q, limit: q.limit ?? 50 }, deps) };
    },
  },
  {
    method: 'GET',
    path: '/v1/statements',
    async handle(principal, req, deps) {
      const q = parseQuery({ period, publisherId: id }, req.query, ['period']);
      return { status: 200, body: await getStatement(principal, { period: q.period!, publisherId: q.publisherId }, deps) };
    },
  },
  {
    method: 'POST',
    path: '/v1/reconciliations',
    async handle(principal, req, deps) {
      const q = parseQuery(
        { publisherId: id, period, from: instant, to: instant, openDisputes: flag, toleranceSec: wholeNumber(0, 3600), networkId: id },
        req.query,
        ['publisherId'],
      );
      const scope = reconciliationScope(q);
      if (Buffer.byteLength(req.body, 'utf8') > MAX_CSV_BYTES) throw payloadTooLarge(MAX_CSV_BYTES);
      if (mediaType(req.contentType) !== 'text/csv') throw unsupportedMediaType(req.contentType, ['text/csv']);
      const request: ReconciliationRequest = {
        publisherId: q.publisherId!,
        scope,
        csv: req.body,
        openDisputes: q.openDisputes ?? false,
        ...(q.toleranceSec !== undefined ? { toleranceSec: q.toleranceSec } : {}),
        ...(q.networkId !== undefined ? { networkId: q.networkId } : {}),
      };
      return { status: 200, body: await reconcileInvoiceCsv(principal, request, deps) };
    },
  },
  {
    method: 'GET',
    path: '/v1/ledger/verify',
    async handle(principal, req, deps) {
      noQuery(req);
      return { status: 200, body: await verifyLedger(principal, deps) };
    },
  },
];

/** Exactly one of `period` or `from` + `to` (from before to). */
function reconciliationScope(q: { period?: string; from?: string; to?: string }): ReconciliationRequest['scope'] {
  const errors: FieldError[] = [];
  if (q.period !== undefined) {
    if (q.from !== undefined || q.to !== undefined) errors.push({ field: 'period', message: 'cannot be combined with from/to' });
    else return { period: q.period };
  } else if (q.from === undefined || q.to === undefined) {
    errors.push({ field: q.from === undefined ? 'from' : 'to', message: 'is required unless period is given' });
  } else if (q.from >= q.to) {
    errors.push({ field: 'to', message: 'must be after from' });
  } else {
    return { from: q.from, to: q.to };
  }
  throw invalidInput(`Invalid query parameters: ${errors.map((e) => e.field).join(', ')}.`, errors);
}
