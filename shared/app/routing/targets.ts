/**
 * The destinations API: `PUT /v1/targets/{targetId}` (admin) creates or replaces one of the buyer's lines,
 * `GET /v1/targets/{targetId}` (any key) reads it. A route table (`TARGET_ROUTES`) that functions/api.ts mounts.
 *
 * A target is configuration, not history: a PUT replaces it (its `rev` bumped, the write conditional on the rev it
 * read, so two concurrent PUTs cannot both win; the loser gets 409). Calls already routed keep the attempt they
 * recorded; the voice function's per-container copy is at most CONFIG_LEAD_MS old (adapters/routing/target-repo.ts).
 */
import * as z from 'zod';
import { IdSchema, parseBody } from '../../domain/catalog/config-schema';
import { TargetBodySchema } from '../../domain/routing/targets-schema';
import type { Target } from '../../domain/routing/targets';
import { conflict, invalidInput, notFound } from '../kernel/errors';
import { jsonBody } from '../kernel/query';
import { route, type Route } from '../kernel/route';
import { requireAdmin } from '../catalog/management';
import { ConfigWriteConflict, type ApiKeyRecord } from '../kernel/ports';
import type { TargetStore } from './ports';

export interface TargetDeps {
  readonly targets: TargetStore;
  readonly now: () => Date;
}

function pathTargetId(value: string): string {
  const parsed = IdSchema.safeParse(value);
  if (!parsed.success) throw invalidInput('Invalid targetId.', [{ field: 'targetId', message: parsed.error.issues[0]!.message }]);
  return parsed.data;
}

export async function putTarget(principal: ApiKeyRecord, targetId: string, json: unknown, deps: TargetDeps): Promise<{ created: boolean; body: Target }> {
  requireAdmin(principal);
  const id = pathTargetId(targetId);
  const body = parseBody(TargetBodySchema, json, 'target');
  const existing = await deps.targets.readTarget(principal.accountId, id);
  const target: Target = { accountId: principal.accountId, targetId: id, ...body, rev: (existing?.rev ?? 0) + 1, updatedAt: deps.now().toISOString() };
  try {
    await deps.targets.putTarget(target, existing?.rev ?? null);
  } catch (err) {
    if (err instanceof ConfigWriteConflict) throw conflict('The target was changed by another request meanwhile; read it again and retry.');
    throw err;
  }
  return { created: existing === null, body: target };
}

export async function getTarget(principal: ApiKeyRecord, targetId: string, deps: TargetDeps): Promise<Target> {
  const found = IdSchema.safeParse(targetId).success ? await deps.targets.readTarget(principal.accountId, targetId) : null;
  if (found === null) throw notFound('No such target.');
  return found;
}

/** A target as served: the body with its defaults filled, its ids, rev and last change. */
export const TargetSchema = TargetBodySchema.safeExtend({
  accountId: z.string(),
  targetId: z.string(),
  rev: z.number().int().min(1).describe('Bumped by every PUT'),
  updatedAt: z.iso.datetime(),
}).meta({ id: 'Target' });

export const TARGET_ROUTES: readonly Route<TargetDeps>[] = [
  route<TargetDeps>({
    method: 'PUT',
    path: '/v1/targets/{targetId}',
    summary:
      "Create or replace a destination (admin): a number or SIP URI with hours (IANA zone, weekly windows, holidays), a concurrency cap, hourly and daily call caps, geography, priority and weight. Calls route to it through a campaign's callFlow routes",
    auth: 'admin',
    request: TargetBodySchema,
    responses: { 200: { description: 'Replaced', schema: TargetSchema }, 201: { description: 'Created', schema: TargetSchema } },
    problems: [400, 401, 403, 409, 415],
    async handle(principal, req, deps) {
      const written = await putTarget(principal, req.pathParameters.targetId ?? '', jsonBody(req), deps);
      return { status: written.created ? 201 : 200, body: written.body };
    },
  }),
  route<TargetDeps>({
    method: 'GET',
    path: '/v1/targets/{targetId}',
    summary: 'A destination',
    auth: 'bearer',
    responses: { 200: { description: 'The target', schema: TargetSchema } },
    problems: [401, 404],
    async handle(principal, req, deps) {
      return { status: 200, body: await getTarget(principal, req.pathParameters.targetId ?? '', deps) };
    },
  }),
];
