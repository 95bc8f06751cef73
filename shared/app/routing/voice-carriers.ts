/**
 * Use case: answer one request of a carrier's voice URL besides Twilio's — today Telnyx TeXML
 * (`POST /voice/telnyx/{accountId}`, and every Gather, Dial and whisper URL CallLedger writes under it). Only the
 * carrier's part lives here: the checks in the webhooks' order (405 method → 415 content type → 413 size → 404
 * account, or no credentials for this carrier → 403 signature → 400 body), the mapping of its request to the
 * parameters the decision reads, and the key of `st`; the decision and the answer are voice-answer.ts
 * answerVerified's, the same as Twilio's, rendered in the carrier's language (render/index.ts).
 *
 * Telnyx signs a TeXML request like its webhooks: `telnyx-signature-ed25519` over `timestamp|raw body` with the
 * account's public keys (providers/telnyx.ts), which covers the body but not the URL, so the state in the query is
 * trusted only with its `st` MAC (state.ts), made with the account's state key. Nothing is written before the
 * signature verified.
 */
import { Forbidden, MethodNotAllowed, NotFound, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType, BadRequest } from '../../domain/kernel/problems';
import type { TelnyxConfig } from '../../domain/catalog/carriers';
import { parseForm } from '../../domain/calls/providers/twilio';
import { verifyTelnyxSignature } from '../../domain/calls/providers/telnyx';
import { parseTexmlEvent } from '../../domain/calls/providers/texml';
import type { IngestMessage } from '../../domain/calls/events';
import { SIGNATURE_REFUSAL_KIND, type HeaderMap } from '../../domain/calls/providers/verdicts';
import { voiceStateKey } from '../../domain/callflow/state';
import { FORM_CONTENT_TYPE, MAX_WEBHOOK_BODY_BYTES } from '../calls/ingest';
import { answerVerified, type VoiceAnswer, type VoiceDeps } from './voice-answer';

const ACCOUNT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The carriers whose voice URL this use case answers. */
export const VOICE_CARRIERS = ['telnyx'] as const;
export type VoiceCarrier = (typeof VOICE_CARRIERS)[number];

export interface CarrierVoiceRequest {
  readonly carrier: VoiceCarrier;
  readonly method: string;
  readonly accountId: string | undefined;
  readonly headers: HeaderMap;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** The raw body bytes (already base64-decoded), verified before they are parsed. */
  readonly body: Buffer;
}

function headerOf(headers: HeaderMap, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name && v !== undefined) return v;
  return undefined;
}

const first = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));

export async function answerCarrierVoice(req: CarrierVoiceRequest, deps: VoiceDeps): Promise<VoiceAnswer> {
  if (req.method.toUpperCase() !== 'POST') throw new MethodNotAllowed(['POST']);
  const contentType = headerOf(req.headers, 'content-type');
  if (contentType?.split(';')[0]?.trim().toLowerCase() !== FORM_CONTENT_TYPE) throw new UnsupportedMediaType(contentType, [FORM_CONTENT_TYPE]);
  if (req.body.byteLength > MAX_WEBHOOK_BODY_BYTES) throw new PayloadTooLarge(MAX_WEBHOOK_BODY_BYTES);

  const accountId = req.accountId;
  const account = accountId !== undefined && ACCOUNT_ID.test(accountId) ? await deps.config.getAccount(accountId) : null;
  // An account that has not configured this carrier answers as an unknown one, as its webhooks do.
  if (accountId === undefined || account === null || account.telnyx === undefined) throw new NotFound('No such account.');

  const publicKeys = await telnyxKeys(account.telnyx, deps);
  const verification = verifyTelnyxSignature({ publicKeys, headers: req.headers, body: req.body, nowMs: deps.now().getTime() });
  if (!verification.ok) {
    if (SIGNATURE_REFUSAL_KIND[verification.code] === 'misconfigured') throw new ServiceUnavailable(60, "The account's telnyx credentials cannot be used; retry later.");
    throw new Forbidden(verification.detail, 'bad-signature');
  }

  // TeXML posts TwiML's parameter names (CallSid, From, To, Digits, DialCallStatus, ParentCallSid): no renaming needed.
  const params = parseForm(req.body.toString('utf8'));
  const callSid = first(params.ParentCallSid) || first(params.CallSid);
  if (callSid === '') throw new BadRequest('CallSid is required.', [{ field: 'CallSid', message: 'is required' }]);
  const stateKey = voiceStateKey(await deps.callerHashKey(), accountId);
  const toLedger = (receivedAt: string): IngestMessage => ({
    v: 1,
    event: parseTexmlEvent(params, { accountId, receivedAt }),
    raw: { contentType: contentType ?? FORM_CONTENT_TYPE, body: req.body.toString('utf8'), receivedAt },
  });
  return answerVerified({ provider: 'telnyx', accountId, callId: `telnyx:${callSid}`, params, query: req.query, stateKey, toLedger }, deps);
}

/** The account's public keys; a secret it names but the store lacks is our misconfiguration: 503, the carrier retries. */
async function telnyxKeys(config: TelnyxConfig, deps: VoiceDeps): Promise<string[]> {
  try {
    return await Promise.all(config.publicKeySecrets.map((n) => deps.secrets.getSecret(n)));
  } catch (err) {
    if ((err as { name?: unknown } | null)?.name === 'SecretNotFound') throw new ServiceUnavailable(60, "The account's telnyx credentials are not configured; retry later.");
    throw err;
  }
}
