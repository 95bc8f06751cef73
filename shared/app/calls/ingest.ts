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
import { parseForm, parseTwilioEvent, verifyTwilioSignature } from '../../domain/calls/providers/twilio';
import type { IngestMessage } from '../../domain/calls/events';
import type { ConfigStore, Log, SecretStore, Telemetry } from '../kernel/ports';
import type { IngestQueue } from './ports';

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

async function accept(req: WebhookRequest, deps: IngestDeps): Promise<Accepted> {
  if (req.method.toUpperCase() !== 'POST') throw new MethodNotAllowed(['POST']);
  const type = mediaType(req.contentType);
  if (type !== FORM_CONTENT_TYPE) throw new UnsupportedMediaType(req.contentType, [FORM_CONTENT_TYPE]);
  if (req.body.byteLength > MAX_WEBHOOK_BODY_BYTES) throw new PayloadTooLarge(MAX_WEBHOOK_BODY_BYTES);

  const accountId = req.accountId;
  const account = accountId !== undefined && ACCOUNT_ID.test(accountId) ? await deps.config.getAccount(accountId) : null;
  if (accountId === undefined || account === null) throw new NotFound('No such account.');

  const body = req.body.toString('utf8');
  const params = parseForm(body);
  const authToken = await deps.secrets.getSecret(account.twilio.authTokenSecret);
  const url = `${deps.publicBaseUrl}${req.rawPath}${req.rawQueryString ? `?${req.rawQueryString}` : ''}`;
  if (!verifyTwilioSignature(authToken, url, params, req.signature)) {
    throw new Forbidden('The X-Twilio-Signature header is missing or does not match the request.', 'bad-signature');
  }
  // A correctly signed request for another Twilio account: the token is shared or leaked; never book it here. Every
  // value counts when the parameter is repeated.
  if ([params.AccountSid ?? []].flat().some((sid) => sid !== account.twilio.accountSid)) {
    throw new Forbidden('AccountSid does not belong to this account.');
  }

  const receivedAt = deps.now().toISOString();
  const event = parseTwilioEvent(params, { accountId, receivedAt });
  const message: IngestMessage = { v: 1, event, raw: { contentType: req.contentType ?? FORM_CONTENT_TYPE, body, receivedAt } };
  await deps.queue.send(message);
  return { accountId, callId: event.callId, eventId: event.eventId };
}
