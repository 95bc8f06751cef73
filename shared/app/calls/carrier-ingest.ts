/**
 * Use case: accept one Telnyx, Vonage or Plivo webhook, as ingest.ts accepts Twilio's. The checks run in the same
 * fixed order, each failure the same precise Problem, and nothing is enqueued unless every check passed; the 204
 * goes out only after SQS has the message (durable).
 *
 * Order: 405 method → 415 content type → 413 size → 404 account (or no credentials for this carrier) → 403
 * signature → 400 body. The signature is checked over the raw body bytes before the body is parsed, so that an
 * unauthenticated sender learns nothing about what we accept and a re-serialised body never verifies. Credentials
 * that cannot be used at all (a malformed public key in the secret) are our fault, not the sender's: 503 with
 * Retry-After, so the carrier retries once the operator fixes them. An event type that carries no billing fact is
 * answered 204 with nothing written (a 4xx would make the carrier retry or fail over).
 *
 * Telnyx posts two languages to the same route: Call Control's JSON events, and TeXML's own callbacks (the
 * application's call progress, a dialled `<Number>`'s statusCallback, the recordingStatusCallback), form-encoded
 * like Twilio's. The content type decides which parser reads the body; both are signed the same way (Ed25519 over
 * `timestamp|raw body`). A TeXML dialled leg's callback carries its routing context in the query CallLedger wrote
 * (`?leg=dial&route&pos&target&st`): Telnyx signs the body, not the URL, so the context is trusted only with its
 * `st` MAC (callflow/state.ts), made with the account's state key over the caller's call id; a context that does
 * not authenticate is a 400 naming `st`, with nothing written.
 */
import { Forbidden, MethodNotAllowed, NotFound, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType, BadRequest } from '../../domain/kernel/problems';
import { DomainError } from '../../domain/kernel/errors';
import type { Carrier, PlivoConfig, TelnyxConfig, VonageConfig } from '../../domain/catalog/carriers';
import type { Account } from '../../domain/catalog/types';
import type { IngestMessage } from '../../domain/calls/events';
import { parseForm } from '../../domain/calls/providers/twilio';
import { parseTelnyxEvent, verifyTelnyxSignature } from '../../domain/calls/providers/telnyx';
import { parseTexmlCallback, texmlLegContext } from '../../domain/calls/providers/texml';
import { voiceStateKey } from '../../domain/callflow/state';
import type { CallEvent } from '../../domain/calls/events';
import type { DialLegEvent } from './ports';
import { parseVonageEvent, verifyVonageSignature } from '../../domain/calls/providers/vonage';
import { parsePlivoEvent, verifyPlivoSignature } from '../../domain/calls/providers/plivo';
import { SIGNATURE_REFUSAL_KIND, type HeaderMap, type ParseOutcome, type Verification } from '../../domain/calls/providers/verdicts';
import { FORM_CONTENT_TYPE, MAX_WEBHOOK_BODY_BYTES, type IngestDeps } from './ingest';
import { carrierSecrets } from './carrier-secrets';

export const JSON_CONTENT_TYPE = 'application/json';
const ACCOUNT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** What each carrier posts: Telnyx JSON (Call Control) or a form (TeXML's callbacks), Vonage JSON, Plivo a form. */
export const CARRIER_CONTENT_TYPES: Readonly<Record<Carrier, readonly string[]>> = {
  telnyx: [JSON_CONTENT_TYPE, FORM_CONTENT_TYPE],
  vonage: [JSON_CONTENT_TYPE],
  plivo: [FORM_CONTENT_TYPE],
};

export interface CarrierWebhookRequest {
  readonly carrier: Carrier;
  readonly method: string;
  /** The `{accountId}` path parameter. */
  readonly accountId: string | undefined;
  /** Path and query exactly as requested (Plivo signs the URL it was configured with). */
  readonly rawPath: string;
  readonly rawQueryString: string;
  readonly headers: HeaderMap;
  /** The raw body bytes (already base64-decoded), never parsed and serialised again before verification. */
  readonly body: Buffer;
}

export type CarrierIngestDeps = IngestDeps & {
  /** The deployment's caller-hash key, from which each account's state key is derived (state.ts voiceStateKey). */
  readonly callerHashKey?: () => Promise<string>;
};

export type CarrierAccepted =
  | { readonly kind: 'accepted'; readonly accountId: string; readonly callId: string; readonly eventId: string }
  | { readonly kind: 'ignored'; readonly accountId: string; readonly eventType: string };

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase();
}

function headerOf(headers: HeaderMap, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name && v !== undefined) return v;
  return undefined;
}

export async function ingestCarrierWebhook(req: CarrierWebhookRequest, deps: CarrierIngestDeps): Promise<CarrierAccepted> {
  try {
    const accepted = await accept(req, deps);
    if (accepted.kind === 'accepted') deps.telemetry.webhookAccepted();
    deps.log.info(accepted.kind === 'accepted' ? 'webhook accepted' : 'webhook ignored', { provider: req.carrier, ...accepted });
    return accepted;
  } catch (err) {
    if (err instanceof DomainError) {
      deps.telemetry.webhookRejected(err.code);
      // The path's accountId is the sender's text until it is known to be an account id: log it only if it is one.
      const accountId = req.accountId !== undefined && ACCOUNT_ID.test(req.accountId) ? req.accountId : '(invalid)';
      deps.log.warn('webhook rejected', { provider: req.carrier, accountId, kind: err.kind, reason: err.code });
    }
    throw err;
  }
}

async function accept(req: CarrierWebhookRequest, deps: CarrierIngestDeps): Promise<CarrierAccepted> {
  if (req.method.toUpperCase() !== 'POST') throw new MethodNotAllowed(['POST']);
  const contentType = headerOf(req.headers, 'content-type');
  const accepted = CARRIER_CONTENT_TYPES[req.carrier];
  const type = mediaType(contentType);
  const expected = accepted.find((t) => t === type);
  if (expected === undefined) throw new UnsupportedMediaType(contentType, [...accepted]);
  if (req.body.byteLength > MAX_WEBHOOK_BODY_BYTES) throw new PayloadTooLarge(MAX_WEBHOOK_BODY_BYTES);

  const accountId = req.accountId;
  const account = accountId !== undefined && ACCOUNT_ID.test(accountId) ? await deps.config.getAccount(accountId) : null;
  // An account that has not configured this carrier answers as an unknown one: nothing tells a sender which exist.
  if (accountId === undefined || account === null || account[req.carrier] === undefined) throw new NotFound('No such account.');

  const receivedAt = deps.now().toISOString();
  const { verification, parse } = await verifyAndParse(req, account, deps);
  if (!verification.ok) {
    if (SIGNATURE_REFUSAL_KIND[verification.code] === 'misconfigured') {
      throw new ServiceUnavailable(60, `The account's ${req.carrier} credentials cannot be used; retry later.`);
    }
    throw new Forbidden(verification.detail, 'bad-signature');
  }
  const outcome = parse({ accountId, receivedAt });
  if (outcome.kind === 'refused') throw new BadRequest(outcome.detail, outcome.errors);
  if (outcome.kind === 'ignored') return { kind: 'ignored', accountId, eventType: outcome.eventType };

  // The leg's routing context is judged before anything is written: a forged one is a 400 with nothing recorded.
  const leg = req.carrier === 'telnyx' && expected === FORM_CONTENT_TYPE ? await texmlDialLeg(req.rawQueryString, outcome.event, deps) : null;
  const message: IngestMessage = {
    v: 1,
    event: outcome.event,
    raw: { contentType: contentType ?? expected, body: req.body.toString('utf8'), receivedAt },
  };
  await deps.queue.send(message);
  // Once the event is durable: the dialled leg's lease and routing audit, as Twilio's leg callbacks do (ingest.ts).
  if (leg !== null && deps.legs !== undefined) await deps.legs.dialLeg(leg);
  return { kind: 'accepted', accountId, callId: outcome.event.callId, eventId: outcome.event.eventId };
}

/**
 * The dialled leg a TeXML `<Number>` statusCallback reports, its routing context authenticated by `st`
 * (texml.ts texmlLegContext); null for any other callback. The leg is the caller's call's (ParentCallSid).
 */
async function texmlDialLeg(rawQuery: string, event: CallEvent, deps: CarrierIngestDeps): Promise<DialLegEvent | null> {
  const query = new URLSearchParams(rawQuery);
  if (query.get('leg') !== 'dial' || event.kind !== 'call.status' || event.parentCallId === null) return null;
  // Without the key no context can be trusted: refused like a forged one.
  const stateKey = deps.callerHashKey === undefined ? '' : voiceStateKey(await deps.callerHashKey(), event.accountId);
  const context = texmlLegContext(query, event.parentCallId, stateKey);
  if (context === null) return null;
  if (!context.ok || stateKey === '') {
    throw new BadRequest("The dialled leg's routing context in the query is not valid.", [{ field: 'st', message: 'does not authenticate this leg for this call' }]);
  }
  return {
    accountId: event.accountId,
    callId: event.parentCallId,
    targetId: context.targetId,
    route: context.route,
    position: context.position,
    status: event.status,
    durationSec: event.durationSec,
    atMs: Date.parse(event.receivedAt),
  };
}

type Parse = (ctx: { accountId: string; receivedAt: string }) => ParseOutcome;

/** The carrier's verifier over the raw request with the account's credentials, and its parser for what verified. */
async function verifyAndParse(
  req: CarrierWebhookRequest,
  account: Account,
  deps: CarrierIngestDeps,
): Promise<{ verification: Verification; parse: Parse }> {
  const nowMs = deps.now().getTime();
  switch (req.carrier) {
    case 'telnyx': {
      const config = account.telnyx as TelnyxConfig;
      const publicKeys = await carrierSecrets('telnyx', config.publicKeySecrets, deps);
      const form = mediaType(headerOf(req.headers, 'content-type')) === FORM_CONTENT_TYPE;
      return {
        verification: verifyTelnyxSignature({ publicKeys, headers: req.headers, body: req.body, nowMs }),
        parse: (ctx) => (form ? parseTexmlCallback(parseForm(req.body.toString('utf8')), ctx) : parseTelnyxEvent(req.body, ctx)),
      };
    }
    case 'vonage': {
      const config = account.vonage as VonageConfig;
      const signatureSecrets = await carrierSecrets('vonage', config.signatureSecretSecrets, deps);
      const expected = { apiKey: config.apiKey, applicationId: config.applicationId };
      return {
        verification: verifyVonageSignature({ signatureSecrets, headers: req.headers, body: req.body, nowMs, expected }),
        parse: (ctx) => parseVonageEvent(req.body, ctx),
      };
    }
    case 'plivo': {
      const config = account.plivo as PlivoConfig;
      const authTokens = await carrierSecrets('plivo', config.authTokenSecrets, deps);
      const params = parseForm(req.body.toString('utf8'));
      const url = `${deps.publicBaseUrl}${req.rawPath}${req.rawQueryString ? `?${req.rawQueryString}` : ''}`;
      return {
        verification: verifyPlivoSignature({ authTokens, method: 'POST', url, params, headers: req.headers }),
        parse: (ctx) => parsePlivoEvent(params, ctx),
      };
    }
  }
}
