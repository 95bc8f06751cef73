/**
 * The networks API: `PUT|GET /v1/networks/{networkId}` (a network or tracking platform the buyer buys through: its
 * kind, destinations, token mapping, credit policy and tolerances), `POST /v1/networks/{networkId}/rotate-secret`,
 * and `GET /v1/reports/network-drift` (drift-report.ts). Use cases plus the route table `NETWORK_ROUTES` that
 * shared/app/http/routes.ts lists, each route declared once.
 *
 * A registration is stored whole, not versioned (like a publisher): matching reads the registration in force, and
 * the findings it stored keep what they were matched under. Writes are conditional on `rev`, so a rotation and an
 * edit cannot undo each other.
 *
 * The postback secret is shown once: the PUT that creates a network and each rotation answer it, with the URLs to
 * paste; only its SHA-256 is stored (secrets.ts secretDigest), so GET shows the URLs with `{secret}` in its place.
 * Neither the secret nor a URL holding it is ever logged.
 */
import { IdSchema, parseBody } from '../../domain/catalog/config-schema';
import { NetworkRegistrationSchema, RotateSecretSchema } from '../../domain/networks/registration-schema';
import { effectiveFields, effectiveForwardedCallId, type NetworkRegistrationRequest } from '../../domain/networks/registration';
import { generateSecret, initialSecrets, postbackUrlTemplate, rotateSecrets, secretDigest, type PostbackSecrets } from '../../domain/networks/secrets';
import { conflict, invalidInput, notFound } from '../kernel/errors';
import { requireAdmin, type Written } from '../catalog/management';
import { ConfigWriteConflict, type ApiKeyRecord } from '../kernel/ports';
import { jsonBody } from '../kernel/query';
import { route, type Route } from '../kernel/route';
import { DRIFT_QUERY, networkDriftReport, type DriftDeps } from './drift-report';
import { NetworkSchema, NetworkWithSecretSchema, NetworkDriftSchema } from './networks-schemas';
import type { NetworkRecord, NetworkStore } from './ports';

export interface NetworkDeps extends DriftDeps {
  readonly store: NetworkStore;
  /** `n` bytes of a CSPRNG (randomBytes). */
  readonly random: (n: number) => Uint8Array;
  /** The public origin the postback URLs are built on (PUBLIC_BASE_URL). */
  readonly publicBaseUrl: () => string;
  readonly now: () => Date;
}

/** The events a platform fires a pixel for: one URL each, so `event` says which one sent it. */
const PIXEL_EVENTS = ['incoming', 'completed', 'converted'] as const;
const SECRET_PLACEHOLDER = '{secret}';

export interface PostbackUrls {
  /** The URL with every mapped token (no event): a webhook that sends its own event field, or one pixel for all. */
  readonly postbackUrl: string;
  /** One URL per trigger, with `event=<name>`, when the mapping reads an event parameter. */
  readonly pixelUrls: Readonly<Partial<Record<(typeof PIXEL_EVENTS)[number], string>>>;
}

export interface NetworkView extends NetworkRegistrationRequest {
  readonly accountId: string;
  readonly networkId: string;
  /** With `{secret}` in place of the secret (it is shown once, on creation and rotation). */
  readonly urls: PostbackUrls;
  readonly secret: { readonly rotatedAt: string | null; readonly previousValidUntil: string | null };
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What a creation or a rotation answers: the view and, once, the secret with the URLs that carry it. */
export interface NetworkWithSecret extends NetworkView {
  readonly issued: { readonly secret: string } & PostbackUrls;
}

function urlsFor(deps: Pick<NetworkDeps, 'publicBaseUrl'>, record: Pick<NetworkRecord, 'accountId' | 'networkId' | 'kind' | 'fields'>, secret: string): PostbackUrls {
  const ids = { accountId: record.accountId, networkId: record.networkId, secret };
  const mapping = effectiveFields(record.kind, record.fields);
  const pixelUrls = mapping.event === undefined ? {} : Object.fromEntries(PIXEL_EVENTS.map((e) => [e, postbackUrlTemplate(deps.publicBaseUrl(), ids, mapping, e)]));
  return { postbackUrl: postbackUrlTemplate(deps.publicBaseUrl(), ids, mapping), pixelUrls };
}

export function networkView(record: NetworkRecord, deps: Pick<NetworkDeps, 'publicBaseUrl'>): NetworkView {
  const { secrets, rev: _rev, ...rest } = record;
  return {
    ...rest,
    fields: effectiveFields(record.kind, record.fields),
    forwardedCallId: effectiveForwardedCallId(record.kind, record.forwardedCallId),
    urls: urlsFor(deps, record, SECRET_PLACEHOLDER),
    secret: { rotatedAt: secrets.rotatedAt, previousValidUntil: secrets.previous?.validUntil ?? null },
  };
}

function withSecret(record: NetworkRecord, secret: string, deps: Pick<NetworkDeps, 'publicBaseUrl'>): NetworkWithSecret {
  return { ...networkView(record, deps), issued: { secret, ...urlsFor(deps, record, secret) } };
}

function networkIdOf(value: string): string {
  const parsed = IdSchema.safeParse(value);
  if (!parsed.success) throw invalidInput('Invalid networkId.', [{ field: 'networkId', message: parsed.error.issues[0]!.message }]);
  return parsed.data;
}

async function write(doWrite: () => Promise<void>): Promise<void> {
  try {
    await doWrite();
  } catch (err) {
    if (err instanceof ConfigWriteConflict) throw conflict('The network was changed by another request meanwhile; read it again and retry.');
    throw err;
  }
}

/** Digests of the secrets (what is stored) from the secrets themselves. */
function digests(s: PostbackSecrets): PostbackSecrets {
  return { ...s, current: secretDigest(s.current), previous: s.previous === null ? null : { ...s.previous, secret: secretDigest(s.previous.secret) } };
}

/** `PUT /v1/networks/{networkId}`: 201 with the secret when it creates the network, else 200 (the secret unchanged). */
export async function putNetwork(principal: ApiKeyRecord, networkId: string, json: unknown, deps: NetworkDeps): Promise<Written<NetworkView | NetworkWithSecret>> {
  requireAdmin(principal);
  const id = networkIdOf(networkId);
  const parsed = parseBody(NetworkRegistrationSchema, json, 'network');
  // A PUT replaces the registration: an absent forwarded call id is the kind's default, never the one stored before.
  const body = { ...parsed, forwardedCallId: effectiveForwardedCallId(parsed.kind, parsed.forwardedCallId) };
  const now = deps.now().toISOString();
  const existing = await deps.store.getNetwork(principal.accountId, id);
  if (existing !== null) {
    const record: NetworkRecord = { ...existing, ...body, updatedAt: now, rev: existing.rev + 1 };
    await write(() => deps.store.putNetwork(record, existing.rev));
    return { created: false, body: networkView(record, deps) };
  }
  const secret = generateSecret(deps.random(32));
  const record: NetworkRecord = { ...body, accountId: principal.accountId, networkId: id, secrets: digests(initialSecrets(secret)), createdAt: now, updatedAt: now, rev: 1 };
  await write(() => deps.store.putNetwork(record, null));
  return { created: true, body: withSecret(record, secret, deps) };
}

async function readNetwork(principal: ApiKeyRecord, networkId: string, deps: Pick<NetworkDeps, 'store'>): Promise<NetworkRecord> {
  const record = await deps.store.getNetwork(principal.accountId, networkId);
  if (record === null) throw notFound('No such network.');
  return record;
}

export async function getNetwork(principal: ApiKeyRecord, networkId: string, deps: NetworkDeps): Promise<NetworkView> {
  return networkView(await readNetwork(principal, networkId, deps), deps);
}

/** `POST /v1/networks/{networkId}/rotate-secret`: a new secret; the one in use stays valid for `overlapSec`. */
export async function rotateNetworkSecret(principal: ApiKeyRecord, networkId: string, json: unknown, deps: NetworkDeps): Promise<NetworkWithSecret> {
  requireAdmin(principal);
  const { overlapSec } = parseBody(RotateSecretSchema, json, 'rotation');
  const existing = await readNetwork(principal, networkId, deps);
  const secret = generateSecret(deps.random(32));
  const now = deps.now();
  // The stored `current` is already a digest: rotating moves it to `previous` as it is, and digests only the new one.
  const rotated = rotateSecrets(existing.secrets, secretDigest(secret), now.getTime(), overlapSec);
  const record: NetworkRecord = { ...existing, secrets: rotated, updatedAt: now.toISOString(), rev: existing.rev + 1 };
  await write(() => deps.store.putNetwork(record, existing.rev));
  return withSecret(record, secret, deps);
}

export const NETWORK_ROUTES: readonly Route<NetworkDeps>[] = [
  route<NetworkDeps>({
    method: 'PUT',
    path: '/v1/networks/{networkId}',
    summary: 'Register (201, with the postback secret and URLs, shown once) or update (200) a network the buyer buys calls through',
    auth: 'admin',
    request: NetworkRegistrationSchema,
    responses: { 201: { description: 'Created: the secret and the URLs to paste', schema: NetworkWithSecretSchema }, 200: { description: 'Updated', schema: NetworkSchema } },
    problems: [400, 401, 403, 409, 415],
    async handle(principal, req, deps) {
      const written = await putNetwork(principal, req.pathParameters.networkId ?? '', jsonBody(req), deps);
      return { status: written.created ? 201 : 200, body: written.body };
    },
  }),
  route<NetworkDeps>({
    method: 'GET',
    path: '/v1/networks/{networkId}',
    summary: 'A registered network: its mapping in force, credit policy, tolerances and the URLs to paste (`{secret}` in place of the secret)',
    auth: 'bearer',
    responses: { 200: { description: 'The network', schema: NetworkSchema } },
    problems: [400, 401, 404],
    async handle(principal, req, deps) {
      return { status: 200, body: await getNetwork(principal, req.pathParameters.networkId ?? '', deps) };
    },
  }),
  route<NetworkDeps>({
    method: 'POST',
    path: '/v1/networks/{networkId}/rotate-secret',
    summary: 'A new postback secret (shown once, with its URLs); the one in use stays valid for overlapSec (default 7 days)',
    auth: 'admin',
    request: RotateSecretSchema,
    responses: { 200: { description: 'The new secret and its URLs', schema: NetworkWithSecretSchema } },
    problems: [400, 401, 403, 404, 409, 415],
    async handle(principal, req, deps) {
      return { status: 200, body: await rotateNetworkSecret(principal, req.pathParameters.networkId ?? '', jsonBody(req), deps) };
    },
  }),
  route<NetworkDeps, typeof DRIFT_QUERY>({
    method: 'GET',
    path: '/v1/reports/network-drift',
    summary:
      'A network’s count against ours per day (the account’s zone) and network publisher: calls, agreements, each disagreement state with its money, the duration gap distribution; the disputes opened or proposed',
    auth: 'bearer',
    query: DRIFT_QUERY,
    responses: { 200: { description: 'The drift', schema: NetworkDriftSchema } },
    problems: [400, 401, 404],
    async handle(principal, _req, deps, q) {
      return { status: 200, body: await networkDriftReport(principal, q, deps) };
    },
  }),
];
