/**
 * Use case: accept one network postback (`POST|GET /webhooks/networks/{accountId}/{networkId}/{secret}`). Checks
 * run in a fixed order, each failure a precise Problem, nothing is enqueued unless every check passed, and the 204
 * goes out only once SQS has the message (durable), as for Twilio (shared/app/calls/ingest.ts).
 *
 * Order: 405 method → 404 unknown account, network or secret (one answer for all three: the URL is the credential,
 * so no part of it is confirmed) → 403 source IP outside the allow-list → 413 size → 415 content type / 400 body →
 * 400 field errors (named by parameter, never quoting a value) → SQS → 204.
 * The secret and the path that carries it are never logged.
 */
import { networkCallerKey, parsePostback, postbackParams } from '../../domain/networks/claims';
import { ipAllowList } from '../../domain/networks/ip-allow';
import type { NetworkPostbackMessage } from '../../domain/networks/postback-message';
import { effectiveFields } from '../../domain/networks/registration';
import { isSecretShape, matchSecret, secretDigest } from '../../domain/networks/secrets';
import { BadRequest, Forbidden, MethodNotAllowed, NotFound, PayloadTooLarge, UnsupportedMediaType } from '../../domain/kernel/problems';
import { DomainError } from '../../domain/kernel/errors';
import type { Log } from '../kernel/ports';
import type { NetworkStore } from './ports';

export const MAX_POSTBACK_BYTES = 64 * 1024;
const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface PostbackRequest {
  readonly method: string;
  readonly accountId: string | undefined;
  readonly networkId: string | undefined;
  readonly secret: string | undefined;
  readonly rawQueryString: string;
  readonly contentType: string | undefined;
  readonly body: Buffer;
  /** The TCP peer as API Gateway reports it (requestContext.http.sourceIp). */
  readonly sourceIp: string;
}

export interface NetworkPostbackQueue {
  send(message: NetworkPostbackMessage): Promise<void>;
}

export interface PostbackIngestDeps {
  readonly store: Pick<NetworkStore, 'getNetwork'>;
  readonly queue: NetworkPostbackQueue;
  /** The caller-hash HMAC key: the claim's caller is hashed with the key the rating hashes legs with. */
  readonly callerHashKey: () => Promise<string>;
  readonly now: () => Date;
  readonly log: Log;
}

export interface AcceptedPostback {
  readonly accountId: string;
  readonly networkId: string;
  readonly networkCallId: string;
}

export async function ingestPostback(req: PostbackRequest, deps: PostbackIngestDeps): Promise<AcceptedPostback> {
  try {
    const accepted = await accept(req, deps);
    deps.log.info('network postback accepted', { ...accepted });
    return accepted;
  } catch (err) {
    if (err instanceof DomainError) {
      const known = (v: string | undefined) => (v !== undefined && ID.test(v) ? v : '(invalid)');
      deps.log.warn('network postback rejected', { accountId: known(req.accountId), networkId: known(req.networkId), kind: err.kind, reason: err.code });
    }
    throw err;
  }
}

const UNKNOWN = 'No such postback URL.';

async function accept(req: PostbackRequest, deps: PostbackIngestDeps): Promise<AcceptedPostback> {
  const method = req.method.toUpperCase();
  if (method !== 'POST' && method !== 'GET') throw new MethodNotAllowed(['GET', 'POST']);
  const { accountId, networkId, secret } = req;
  if (accountId === undefined || networkId === undefined || secret === undefined || !ID.test(accountId) || !ID.test(networkId) || !isSecretShape(secret)) {
    throw new NotFound(UNKNOWN);
  }
  const network = await deps.store.getNetwork(accountId, networkId);
  const nowMs = deps.now().getTime();
  // The stored secrets are digests: compare the presented secret's digest (constant time over every live one).
  if (network === null || matchSecret(network.secrets, secretDigest(secret), nowMs) === null) throw new NotFound(UNKNOWN);
  if (!ipAllowList(network.sourceIpAllowList).allows(req.sourceIp)) throw new Forbidden('This source address may not post to this network.', 'source-not-allowed');
  if (req.body.byteLength > MAX_POSTBACK_BYTES) throw new PayloadTooLarge(MAX_POSTBACK_BYTES);

  const params = postbackParams({ query: req.rawQueryString, contentType: req.contentType ?? null, body: req.body.toString('utf8') });
  if (!params.ok) {
    if (params.code === 'unsupported_media_type') throw new UnsupportedMediaType(req.contentType, ['application/x-www-form-urlencoded', 'application/json']);
    throw new BadRequest('The body is not valid.', params.errors);
  }
  const receivedAt = new Date(nowMs).toISOString();
  const parsed = parsePostback(effectiveFields(network.kind, network.fields), params.params, { receivedAt, callerKey: networkCallerKey(await deps.callerHashKey()) });
  if (!parsed.ok) throw new BadRequest(`Invalid postback parameters: ${[...new Set(parsed.errors.map((e) => e.field))].join(', ')}.`, parsed.errors);
  await deps.queue.send({ v: 1, kind: 'network.postback', accountId, networkId, postback: parsed.postback });
  return { accountId, networkId, networkCallId: parsed.postback.networkCallId };
}
