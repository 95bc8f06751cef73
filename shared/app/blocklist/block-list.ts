/**
 * The block-list API (rating rule 9, `blocked_caller`): `PUT /v1/blocked-callers/{e164}` (admin) blocks or unblocks a
 * caller from an effective instant, `GET /v1/blocked-callers[/{e164}]` (any key) reads. Use cases plus a route table
 * (`BLOCK_ROUTES`) that functions/api.ts mounts, in the style of ledger-routes.ts.
 *
 * Caller numbers are personal data: the path's number is normalised and hashed with the caller-hash key at once and
 * only the hash and the last four digits go further. Responses name an entry by its blockId and `…1234`; problems
 * name the `e164` field without echoing it (functions/api.ts renders these routes' problems with the route template
 * as `instance`, not the request path).
 *
 * Changes are effective-dated like terms (config.ts): at least CONFIG_LEAD_MS after they are written, so the ledger
 * writer's cached block lists stay exact (shared/adapters/blocklist/block-repo.ts).
 */
import { identityHash, withheldCallerRefusal, type CallerIdentity } from '../../domain/calls/caller';
import { applyBlockRequest, blockedCallerView, parseCallerNumber, type BlockEntry, type BlockedCallerView } from '../../domain/blocklist/block-list';
import * as z from 'zod';
import { BlockCallerBodySchema, BlockedCallerSchema } from '../../domain/blocklist/block-list-schema';
import { parseBody } from '../../domain/catalog/config-schema';
import { conflict, invalidInput, notFound } from '../kernel/errors';
import { route, type Route, type RouteRequest } from '../kernel/route';
import { requireAdmin, type Written } from '../catalog/management';
import { ConfigWriteConflict, type ApiKeyRecord, type Page } from '../kernel/ports';
import { cursorScope, openCursor, sealCursor, type CursorSealer } from '../kernel/pagination';
import { cursor, jsonBody, pageSize } from '../kernel/query';

export interface BlockListQuery {
  readonly accountId: string;
  readonly limit: number;
  readonly cursor?: string;
}

/** Block-list items as the API needs them (shared/adapters/blocklist/block-repo.ts). */
export interface BlockStore {
  /** Strongly consistent. */
  readBlock(accountId: string, callerHash: string): Promise<BlockEntry | null>;
  /** Throws ConfigWriteConflict unless the stored rev is `expectedRev` (null: the item must not exist). */
  putBlock(callerHash: string, entry: BlockEntry, expectedRev: number | null): Promise<void>;
  listBlocks(query: BlockListQuery): Promise<Page<BlockEntry>>;
}

export interface BlockListDeps {
  readonly blocks: BlockStore;
  /** The caller-hash HMAC key (CALLER_HASH_KEY_REF), the one the ledger writer hashes callers with. */
  readonly callerHashKey: () => Promise<string>;
  /** Seals and opens the cursors of GET /v1/blocked-callers (pagination.ts). */
  readonly cursors: CursorSealer;
  readonly now: () => Date;
}

/**
 * The path's caller (block-list.ts parseCallerNumber): a 400 when it is not a number in international form, a 422
 * for a withheld marker; both name the parameter and do not repeat it.
 */
function pathNumber(raw: string): CallerIdentity {
  const identity = parseCallerNumber(raw);
  if (identity === 'withheld') throw withheldCallerRefusal('e164');
  if (identity === null) {
    throw invalidInput('The caller number in the path is not a valid phone number.', [
      { field: 'e164', message: 'must be a phone number in E.164 form, e.g. +15125550101 (URL-encode the +)' },
    ]);
  }
  return identity;
}

async function hashOf(identity: CallerIdentity, deps: Pick<BlockListDeps, 'callerHashKey'>): Promise<string> {
  return identityHash(await deps.callerHashKey(), identity);
}

// ------------------------------------------------------------------ use cases

/** Blocks (default) or unblocks a caller; 201 when the entry was created, else 200 (also when nothing changed). */
export async function putBlockedCaller(principal: ApiKeyRecord, rawNumber: string, json: unknown, deps: BlockListDeps): Promise<Written<BlockedCallerView>> {
  requireAdmin(principal);
  const identity = pathNumber(rawNumber);
  const body = parseBody(BlockCallerBodySchema, json, 'block');
  const nowMs = deps.now().getTime();
  const hash = await hashOf(identity, deps);
  const existing = await deps.blocks.readBlock(principal.accountId, hash);
  const result = applyBlockRequest(existing, body, { accountId: principal.accountId, callerHash: hash, e164: identity.canonical, by: principal.label ?? 'api-key', nowMs });
  if (result.changed) {
    try {
      await deps.blocks.putBlock(hash, result.entry, existing?.rev ?? null);
    } catch (err) {
      if (err instanceof ConfigWriteConflict) throw conflict('This blocked caller was changed by another request meanwhile; read it again and retry.');
      throw err;
    }
  }
  return { created: result.created, body: blockedCallerView(result.entry, nowMs) };
}

export async function getBlockedCaller(principal: ApiKeyRecord, rawNumber: string, deps: BlockListDeps): Promise<BlockedCallerView> {
  const identity = pathNumber(rawNumber);
  const found = await deps.blocks.readBlock(principal.accountId, await hashOf(identity, deps));
  if (found === null) throw notFound('This caller is not on the block list.');
  return blockedCallerView(found, deps.now().getTime());
}

export async function listBlockedCallers(
  principal: ApiKeyRecord,
  query: { limit: number; cursor?: string },
  deps: Pick<BlockListDeps, 'blocks' | 'cursors' | 'now'>,
): Promise<{ blockedCallers: readonly BlockedCallerView[]; cursor: string | null }> {
  const scope = cursorScope('GET /v1/blocked-callers', principal.accountId, {});
  const position = await openCursor(deps.cursors, scope, query.cursor);
  const page = await deps.blocks.listBlocks({ accountId: principal.accountId, limit: query.limit, ...(position === undefined ? {} : { cursor: position }) });
  const nowMs = deps.now().getTime();
  return { blockedCallers: page.items.map((e) => blockedCallerView(e, nowMs)), cursor: await sealCursor(deps.cursors, scope, page.cursor) };
}

// ------------------------------------------------------------------ routes

function numberParameter(req: RouteRequest): string {
  return req.pathParameters.e164 ?? '';
}

export const BLOCK_ROUTES: readonly Route<BlockListDeps>[] = [
  route({
    method: 'PUT',
    path: '/v1/blocked-callers/{e164}',
    summary:
      'Block (default) or unblock a caller of this account (admin), effective from effectiveFrom (default and minimum: 60 s from now); calls that start while blocked are rated blocked_caller',
    auth: 'admin',
    query: {},
    request: BlockCallerBodySchema,
    responses: { 200: { description: 'Updated (or unchanged)', schema: BlockedCallerSchema }, 201: { description: 'Created', schema: BlockedCallerSchema } },
    problems: [400, 401, 403, 409, 415, 422],
    pathCarriesPii: true,
    async handle(principal, req, deps) {
      pathNumber(numberParameter(req));
      const written = await putBlockedCaller(principal, numberParameter(req), jsonBody(req), deps);
      return { status: written.created ? 201 : 200, body: written.body };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/blocked-callers/{e164}',
    summary: 'A blocked caller: state now, pending change, history',
    auth: 'bearer',
    query: {},
    responses: { 200: { description: 'The entry', schema: BlockedCallerSchema } },
    problems: [400, 401, 404],
    pathCarriesPii: true,
    async handle(principal, req, deps) {
      return { status: 200, body: await getBlockedCaller(principal, numberParameter(req), deps) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/blocked-callers',
    summary: "The account's block list, paginated",
    auth: 'bearer',
    query: { limit: pageSize, cursor },
    responses: {
      200: { description: 'A page of entries', schema: z.object({ blockedCallers: z.array(BlockedCallerSchema), cursor: z.string().nullable() }) },
    },
    problems: [400, 401],
    pathCarriesPii: true,
    async handle(principal, _req, deps, q) {
      return { status: 200, body: await listBlockedCallers(principal, { limit: q.limit ?? 50, ...(q.cursor === undefined ? {} : { cursor: q.cursor }) }, deps) };
    },
  }),
]
