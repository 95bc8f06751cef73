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
import { reconcileInvoiceCsv, type ReconciliationDeps, type ReconciliationRequest } from '../reconciliation/reconciliations';
import { cursor, flag, id, instant, oneOf, pageSize, period, wholeNumber, type Rule } from '../kernel/query';
import { route, type Route, type RouteRequest } from '../kernel/route';
import { DisputeSchema, DisputesPageSchema, ReconciliationSchema, ResolvedDisputeSchema, StatementSchema, VerifySchema } from '../kernel/api-schemas';
import { getStatement } from './statements';

export interface LedgerRouteDeps extends ReconciliationDeps {
  readonly ledger: ReconciliationDeps['ledger'] & LedgerVerifyReader;
  /** The seal anchors GET /v1/ledger/verify checks; without it verify checks the database alone. */
  readonly anchors?: AnchorReader;
  /** Seals and opens the cursors of GET /v1/disputes (pagination.ts). */
  readonly cursors: CursorSealer;
}

export type { RouteRequest, RouteResponse } from '../kernel/route';

/** Invoices above this are refused before parsing (Lambda's synchronous payload limit is 6 MB). */
export const MAX_CSV_BYTES = 5 * 1024 * 1024;

// ------------------------------------------------------------------ request parsing

const status: Rule<DisputeStatus> = oneOf(['open', 'accepted', 'rejected']);

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

// ------------------------------------------------------------------ routes

export const LEDGER_ROUTES: readonly Route<LedgerRouteDeps>[] = [
  route({
    method: 'POST',
    path: '/v1/calls/{callId}/disputes',
    summary: "Dispute a call's charge under the publisher's credit policy (admin)",
    auth: 'admin',
    query: {},
    request: OpenDisputeSchema,
    responses: { 201: { description: 'The dispute', schema: DisputeSchema }, 200: { description: 'The same dispute, re-sent', schema: DisputeSchema } },
    problems: [400, 401, 403, 404, 409, 415, 422],
    async handle(principal, req, deps) {
      const opened = await openCallDispute(principal, pathParameter(req, 'callId'), jsonBody(req, OpenDisputeSchema), deps);
      return { status: opened.created ? 201 : 200, body: opened.dispute };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/disputes/{disputeId}/resolve',
    summary: 'Accept (appending a credit entry) or reject a dispute (admin)',
    auth: 'admin',
    query: {},
    request: ResolveDisputeSchema,
    responses: { 200: { description: 'The resolved dispute and the credit it appended', schema: ResolvedDisputeSchema } },
    problems: [400, 401, 403, 404, 409, 415, 422],
    async handle(principal, req, deps) {
      return { status: 200, body: await resolveCallDispute(principal, pathParameter(req, 'disputeId'), jsonBody(req, ResolveDisputeSchema), deps) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/disputes',
    summary: 'Disputes of the account, by status and publisher, newest first, paginated',
    auth: 'bearer',
    query: { status, publisherId: id, cursor, limit: pageSize },
    responses: { 200: { description: 'A page of disputes', schema: DisputesPageSchema } },
    problems: [400, 401],
    async handle(principal, _req, deps, q) {
      return { status: 200, body: await listAccountDisputes(principal, { ...q, limit: q.limit ?? 50 }, deps) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/statements',
    summary: "A publisher's statement for a month in the account's time zone, with a digest of its entries",
    auth: 'bearer',
    query: { period: period.with({ required: true, description: 'YYYY-MM' }), publisherId: id },
    responses: { 200: { description: 'The statement', schema: StatementSchema } },
    problems: [400, 401, 404],
    async handle(principal, _req, deps, q) {
      return { status: 200, body: await getStatement(principal, { period: q.period!, publisherId: q.publisherId }, deps) };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/reconciliations',
    summary:
      "Reconcile a publisher's invoice (text/csv) against the ledger for a period (YYYY-MM in the account's time zone) or [from, to); openDisputes=true (admin) opens a dispute for every amount mismatch we hold a charge for",
    auth: 'bearer',
    query: {
      publisherId: id.with({ required: true }),
      period: period.with({ description: 'YYYY-MM; or from and to' }),
      from: instant,
      to: instant,
      openDisputes: flag.with({ description: 'true: open a dispute per amount mismatch (admin)' }),
      toleranceSec: wholeNumber(0, 3600).with({ description: 'how far an invoice line may be from our call start (0..3600, default 120)' }),
      networkId: id.with({ description: "the invoice is this network's: its lines' call ids are read through the network's matches (GET /v1/reports/network-drift)" }),
    },
    requestText: { 'text/csv': 'The invoice: a header row, then one line per call (call id or caller and start, and the amount billed)' },
    responses: { 200: { description: 'The reconciliation report', schema: ReconciliationSchema } },
    problems: [400, 401, 403, 404, 413, 415, 422],
    async handle(principal, req, deps, q) {
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
  }),
  route({
    method: 'GET',
    path: '/v1/ledger/verify',
    summary: 'Recompute the tamper evidence and report the first broken link',
    auth: 'bearer',
    query: {},
    responses: { 200: { description: 'The verification report', schema: VerifySchema } },
    problems: [400, 401],
    async handle(principal, _req, deps) {
      return { status: 200, body: await verifyLedger(principal, deps) };
    },
  }),
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
