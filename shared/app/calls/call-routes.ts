/**
 * The read API's routes over calls and the ledger: rated calls, one call, why it was (not) billed, and ledger entries
 * with their totals (use cases in read-api.ts).
 */
import { CallDetailSchema, CallsPageSchema, LedgerPageSchema, RatingExplanationSchema } from '../kernel/api-schemas';
import { route, type Route } from '../kernel/route';
import { CALLS_QUERY, getCallDetail, getCallRating, LEDGER_QUERY, listCallsPage, listLedgerPage, type RatingExplainDeps, type ReadApiDeps } from './read-api';

export type CallRouteDeps = ReadApiDeps & Pick<RatingExplainDeps, 'config'>;

export const CALL_ROUTES: readonly Route<CallRouteDeps>[] = [
  route({
    method: 'GET',
    path: '/v1/calls',
    summary: 'Rated calls by start time, newest first, paginated',
    auth: 'bearer',
    query: CALLS_QUERY,
    responses: { 200: { description: 'A page of calls', schema: CallsPageSchema } },
    problems: [400, 401],
    handle: async (principal, req, deps) => ({ status: 200, body: await listCallsPage(principal, req.query, deps) }),
  }),
  route({
    method: 'GET',
    path: '/v1/calls/{callId}',
    summary: 'One call',
    auth: 'bearer',
    responses: { 200: { description: 'The call, with the signals flagged at rating and by the quality pass, and its routing audit', schema: CallDetailSchema } },
    problems: [401, 404],
    handle: async (principal, req, deps) => ({ status: 200, body: await getCallDetail(principal, req.pathParameters.callId ?? '', deps) }),
  }),
  route({
    method: 'GET',
    path: '/v1/calls/{callId}/rating',
    summary: 'Why a call was (not) billed: the terms version, every rule with its inputs and result',
    auth: 'bearer',
    responses: { 200: { description: 'The explanation', schema: RatingExplanationSchema } },
    problems: [401, 404, 409],
    handle: async (principal, req, deps) => ({ status: 200, body: await getCallRating(principal, req.pathParameters.callId ?? '', deps) }),
  }),
  route({
    method: 'GET',
    path: '/v1/ledger',
    summary: 'Ledger entries in effective-time order, with totals over the whole filtered range',
    auth: 'bearer',
    query: LEDGER_QUERY,
    responses: { 200: { description: 'A page of entries', schema: LedgerPageSchema } },
    problems: [400, 401],
    handle: async (principal, req, deps) => ({ status: 200, body: await listLedgerPage(principal, req.query, deps) }),
  }),
];
