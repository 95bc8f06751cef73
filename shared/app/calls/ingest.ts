/**
 * Use case: accept one Twilio webhook. Checks run in a fixed order, each failure a precise DomainError, and nothing
 * is enqueued unless every check passed; the 204 goes out only after SQS has the message (durable).
 *
 * Order: 405 method → 415 content type → 413 size → 404 account → 403 signature → 403 AccountSid → 400 params.
 * The signature is checked before the parameters are validated so that an unauthenticated sender learns nothing
 * about what we accept.
 */
import { Forbidden, MethodNotAllowed, NotFound, PayloadTooLarge, UnsupportedMediaType } from '../../domain/kernel/problems';
import { DomainError } from '../../domain/kernel/errors';
import { parseForm, parseTwilioEvent, verifyTwilioSignature, type FormParams } from '../../domain/calls/providers/twilio';
import type { CallEvent, IngestMessage } from '../../domain/calls/events';
import type { Account } from '../../domain/catalog/types';
import type { ConfigStore, Log, SecretStore, Telemetry } from '../kernel/ports';
import type { DialLegEvent, DialLegSink, IngestQueue } from './ports';
import { carrierSecrets } from './carrier-secrets';

export const MAX_WEBHOOK_BODY_BYTES = 64 * 1024;
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';
const ACCOUNT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface WebhookRequest {
  readonly method: string;
  /** The `{accountId}` path parameter. */
  readonly accountId: string | undefined;
  /** Path and query exactly as requested (API Gateway `rawPath` / `rawQueryString`). */
  readonly rawPath: string;
  readonly rawQueryString: string;
  readonly contentType: string | undefined;
  readonly signature: string | undefined;
  /** The raw body bytes (already base64-decoded). */
  readonly body: Buffer;
}

export interface IngestDeps {
  readonly config: Pick<ConfigStore, 'getAccount'>;
  readonly secrets: Pick<SecretStore, 'getSecret'>;
  readonly queue: IngestQueue;
  /** Public origin Twilio signs against, without a trailing slash (e.g. `https://hooks.example.com`). */
  readonly publicBaseUrl: string;
  readonly now: () => Date;
  readonly telemetry: Telemetry;
  readonly log: Log;
  /** Where the dialled legs' progress goes (leases, routing audit); absent: nowhere. */
  readonly legs?: DialLegSink;
}

export interface Accepted {
  readonly accountId: string;
  readonly callId: string;
  readonly eventId: string;
}

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase();
}

export async function ingestWebhook(req: WebhookRequest, deps: IngestDeps): Promise<Accepted> {
  try {
    const accepted = await accept(req, deps);
    deps.telemetry.webhookAccepted();
    deps.log.info('webhook accepted', { ...accepted });
    return accepted;
  } catch (err) {
    if (err instanceof DomainError) {
      deps.telemetry.webhookRejected(err.code);
      // The path's accountId is the sender's text until it is known to be an account id: log it only if it is one.
      const accountId = req.accountId !== undefined && ACCOUNT_ID.test(req.accountId) ? req.accountId : '(invalid)';
      deps.log.warn('webhook rejected', { accountId, kind: err.kind, reason: err.code });
    }
    throw err;
  }
}

/** A Twilio request that passed every check: its account and its parameters (signature verified over PUBLIC_BASE_URL). */
export interface VerifiedTwilioRequest {
  readonly accountId: string;
  readonly account: Account;
  readonly params: FormParams;
  readonly body: string;
}

/**
 * The checks every Twilio request passes (webhooks and the voice URL alike), in the order of the module comment:
 * 405 → 415 → 413 → 404 → 403 signature → 403 AccountSid. Throws the Problem of the first that fails.
 */
export async function verifyTwilioRequest(
  req: WebhookRequest,
  deps: { readonly config: Pick<ConfigStore, 'getAccount'>; readonly secrets: Pick<SecretStore, 'getSecret'>; readonly publicBaseUrl: string },
): Promise<VerifiedTwilioRequest> {
  if (req.method.toUpperCase() !== 'POST') throw new MethodNotAllowed(['POST']);
  const type = mediaType(req.contentType);
  if (type !== FORM_CONTENT_TYPE) throw new UnsupportedMediaType(req.contentType, [FORM_CONTENT_TYPE]);
  if (req.body.byteLength > MAX_WEBHOOK_BODY_BYTES) throw new PayloadTooLarge(MAX_WEBHOOK_BODY_BYTES);

  const accountId = req.accountId;
  const account = accountId !== undefined && ACCOUNT_ID.test(accountId) ? await deps.config.getAccount(accountId) : null;
  // An account without Twilio settings answers as an unknown one, as every carrier's webhook does.
  const twilio = account?.twilio;
  if (accountId === undefined || account === null || twilio === undefined) throw new NotFound('No such account.');

  const body = req.body.toString('utf8');
  const params = parseForm(body);
  const authToken = (await carrierSecrets('twilio', [twilio.authTokenSecret], deps))[0]!;
  const url = `${deps.publicBaseUrl}${req.rawPath}${req.rawQueryString ? `?${req.rawQueryString}` : ''}`;
  if (!verifyTwilioSignature(authToken, url, params, req.signature)) {
    throw new Forbidden('The X-Twilio-Signature header is missing or does not match the request.', 'bad-signature');
  }
  // A correctly signed request for another Twilio account: the token is shared or leaked; never book it here. Every
  // value counts when the parameter is repeated.
  if ([params.AccountSid ?? []].flat().some((sid) => sid !== twilio.accountSid)) {
    throw new Forbidden('AccountSid does not belong to this account.');
  }
  return { accountId, account, params, body };
}

async function accept(req: WebhookRequest, deps: IngestDeps): Promise<Accepted> {
  const { accountId, params, body } = await verifyTwilioRequest(req, deps);
  const receivedAt = deps.now().toISOString();
  const event = parseTwilioEvent(params, { accountId, receivedAt });
  const message: IngestMessage = { v: 1, event, raw: { contentType: req.contentType ?? FORM_CONTENT_TYPE, body, receivedAt } };
  await deps.queue.send(message);
  // The dialled leg's progress (`?leg=dial&route&pos&target`, written by the voice function): its lease and the routing
  // audit, once the event is durable. The event itself is the parent's (ParentCallSid), never a call of its own.
  const leg = dialLegOf(new URLSearchParams(req.rawQueryString), event);
  if (leg !== null && deps.legs !== undefined) await deps.legs.dialLeg(leg);
  return { accountId, callId: event.callId, eventId: event.eventId };
}

function dialLegOf(query: URLSearchParams, event: CallEvent): DialLegEvent | null {
  if (query.get('leg') !== 'dial' || event.kind !== 'call.status' || event.parentCallId === null) return null;
  const targetId = query.get('target');
  const pos = Number(query.get('pos'));
  if (targetId === null || !Number.isInteger(pos)) return null;
  return {
    accountId: event.accountId,
    callId: event.parentCallId,
    targetId,
    route: query.get('route') ?? 'default',
    position: pos,
    status: event.status,
    durationSec: event.durationSec,
    atMs: Date.parse(event.receivedAt),
  };
}
