/**
 * Use case: answer one request of a carrier's voice URL besides Twilio's — Telnyx TeXML (`POST /voice/telnyx/{accountId}`),
 * Plivo XML (`POST /voice/plivo/{accountId}`, the application's answer_url) and Vonage NCCO (`GET|POST
 * /voice/vonage/{accountId}`, the application's answer_url; Vonage's part is voice-vonage.ts), and every Gather, Dial
 * and whisper URL CallLedger writes under them. Only the
 * carrier's part lives here: the checks in the webhooks' order (405 method → 415 content type → 413 size → 404
 * account, or no credentials for this carrier → 403 signature → 400 body), the mapping of its request to the
 * parameters the decision reads, and the key of `st`; the decision and the answer are voice-answer.ts
 * answerVerified's, the same as Twilio's, rendered in the carrier's language (render/index.ts).
 *
 * Telnyx signs a TeXML request like its webhooks: `telnyx-signature-ed25519` over `timestamp|raw body` with the
 * account's public keys (providers/telnyx.ts), which covers the body but not the URL, so the state in the query is
 * trusted only with its `st` MAC (state.ts), made with the account's state key. Nothing is written before the
 * signature verified. Plivo signs the URL with its query and the parameters (X-Plivo-Signature-V3, providers/plivo.ts),
 * so its state needs no `st`.
 */
import { Forbidden, MethodNotAllowed, NotFound, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType, BadRequest } from '../../domain/kernel/problems';
import type { PlivoConfig, TelnyxConfig } from '../../domain/catalog/carriers';
import type { Account } from '../../domain/catalog/types';
import { parseForm, type FormParams } from '../../domain/calls/providers/twilio';
import { parsePlivoEvent, verifyPlivoSignature } from '../../domain/calls/providers/plivo';
import { verifyTelnyxSignature } from '../../domain/calls/providers/telnyx';
import { parseTexmlEvent } from '../../domain/calls/providers/texml';
import type { IngestMessage } from '../../domain/calls/events';
import { SIGNATURE_REFUSAL_KIND, e164IfDigits, type HeaderMap, type Verification } from '../../domain/calls/providers/verdicts';
import { voiceStateKey } from '../../domain/callflow/state';
import { FORM_CONTENT_TYPE, MAX_WEBHOOK_BODY_BYTES } from '../calls/ingest';
import { answerVerified, type VerifiedVoiceRequest, type VoiceDeps } from './voice-answer';
import { JSON_TYPE, answerVonageVoice, type CarrierVoiceAnswer, type VonageVoiceDeps } from './voice-vonage';
import { carrierSecrets } from '../calls/carrier-secrets';

export type { CarrierVoiceAnswer, VonageVoiceDeps as CarrierVoiceDeps } from './voice-vonage';

/** The methods and request body type each carrier uses (Vonage's answer_url is a GET by default; its event URLs POST JSON). */
const METHODS: Readonly<Record<'telnyx' | 'plivo' | 'vonage', readonly string[]>> = { telnyx: ['POST'], plivo: ['POST'], vonage: ['GET', 'POST'] };
const BODY_TYPE: Readonly<Record<'telnyx' | 'plivo' | 'vonage', string>> = { telnyx: FORM_CONTENT_TYPE, plivo: FORM_CONTENT_TYPE, vonage: JSON_TYPE };

const ACCOUNT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The carriers whose voice URL this use case answers. */
export const VOICE_CARRIERS = ['telnyx', 'plivo', 'vonage'] as const;
export type VoiceCarrier = (typeof VOICE_CARRIERS)[number];

export interface CarrierVoiceRequest {
  readonly carrier: VoiceCarrier;
  readonly method: string;
  readonly accountId: string | undefined;
  readonly headers: HeaderMap;
  /** Path and query exactly as requested (Plivo signs the URL). */
  readonly rawPath: string;
  readonly rawQueryString: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** The raw body bytes (already base64-decoded), verified before they are parsed. */
  readonly body: Buffer;
}

function headerOf(headers: HeaderMap, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name && v !== undefined) return v;
  return undefined;
}

const first = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));

export async function answerCarrierVoice(req: CarrierVoiceRequest, deps: VonageVoiceDeps): Promise<CarrierVoiceAnswer> {
  const method = req.method.toUpperCase();
  if (!METHODS[req.carrier].includes(method)) throw new MethodNotAllowed([...METHODS[req.carrier]]);
  const contentType = headerOf(req.headers, 'content-type');
  const bodyType = BODY_TYPE[req.carrier];
  if (method === 'POST' && contentType?.split(';')[0]?.trim().toLowerCase() !== bodyType) throw new UnsupportedMediaType(contentType, [bodyType]);
  if (req.body.byteLength > MAX_WEBHOOK_BODY_BYTES) throw new PayloadTooLarge(MAX_WEBHOOK_BODY_BYTES);

  const accountId = req.accountId;
  const account = accountId !== undefined && ACCOUNT_ID.test(accountId) ? await deps.config.getAccount(accountId) : null;
  // An account that has not configured this carrier answers as an unknown one, as its webhooks do.
  if (accountId === undefined || account === null || account[req.carrier] === undefined) throw new NotFound('No such account.');

  if (req.carrier === 'vonage') return answerVonageVoice({ ...req, accountId, account }, deps);
  const verification = await verify(req, account, deps);
  if (!verification.ok) {
    if (SIGNATURE_REFUSAL_KIND[verification.code] === 'misconfigured') throw new ServiceUnavailable(60, `The account's ${req.carrier} credentials cannot be used; retry later.`);
    throw new Forbidden(verification.detail, 'bad-signature');
  }
  const raw = { contentType: contentType ?? FORM_CONTENT_TYPE, body: req.body.toString('utf8') };
  const mapped = req.carrier === 'telnyx' ? await fromTelnyx(parseForm(raw.body), accountId, raw, deps) : fromPlivo(parseForm(raw.body), accountId, raw);
  return answerVerified({ ...mapped, accountId, query: req.query }, deps);
}

type Mapped = Omit<VerifiedVoiceRequest, 'accountId' | 'query'>;
type Raw = { readonly contentType: string; readonly body: string };

function required(callSid: string): string {
  if (callSid === '') throw new BadRequest('The call id is required.', [{ field: 'CallSid', message: 'is required' }]);
  return callSid;
}

/** TeXML posts TwiML's parameter names (CallSid, From, To, Digits, DialCallStatus, ParentCallSid): read as they are. */
async function fromTelnyx(params: FormParams, accountId: string, raw: Raw, deps: VoiceDeps): Promise<Mapped> {
  const callSid = required(first(params.ParentCallSid) || first(params.CallSid));
  return {
    provider: 'telnyx',
    callId: `telnyx:${callSid}`,
    params,
    stateKey: voiceStateKey(await deps.callerHashKey(), accountId),
    toLedger: (receivedAt) => ({ v: 1, event: parseTexmlEvent(params, { accountId, receivedAt }), raw: { ...raw, receivedAt } }),
  };
}

/** Plivo's Dial action `DialStatus` as TwiML's DialCallStatus (Plivo's `timeout` is nobody answering). */
const PLIVO_DIAL_STATUS: Readonly<Record<string, string>> = { completed: 'completed', busy: 'busy', failed: 'failed', timeout: 'no-answer', 'no-answer': 'no-answer' };

/**
 * Plivo's answer and action requests in TwiML's names: CallUUID is the call (the caller's leg: the Dial and GetInput
 * actions are requested on it), From and To as E.164 (Plivo sends them without `+`), DialStatus as DialCallStatus.
 * Plivo signs the URL with its query, so the state needs no `st` (state.ts URL_SIGNED_PROVIDERS).
 */
function fromPlivo(params: FormParams, accountId: string, raw: Raw): Mapped {
  const callUuid = required(first(params.CallUUID));
  const dial = first(params.DialStatus);
  const mapped: FormParams = {
    CallSid: callUuid,
    From: e164IfDigits(first(params.From)),
    To: e164IfDigits(first(params.To)),
    Digits: first(params.Digits),
    ...(dial === '' ? {} : { DialCallStatus: PLIVO_DIAL_STATUS[dial] ?? 'failed' }),
  };
  // The incoming call only: Plivo's callbacks name no IVR answer, and an action request's status would take the
  // eventId of the callback for the same status (providers/plivo.ts), so the digits stay in the routing audit.
  const toLedger = (receivedAt: string): IngestMessage | null => {
    if (first(params.Digits) !== '') return null;
    const outcome = parsePlivoEvent(params, { accountId, receivedAt });
    if (outcome.kind === 'refused') throw new BadRequest(outcome.detail, outcome.errors);
    return outcome.kind === 'event' ? { v: 1, event: outcome.event, raw: { ...raw, receivedAt } } : null;
  };
  return { provider: 'plivo', callId: `plivo:${callUuid}`, params: mapped, stateKey: '', toLedger };
}

async function verify(req: CarrierVoiceRequest, account: Account, deps: VoiceDeps): Promise<Verification> {
  if (req.carrier === 'telnyx') {
    const publicKeys = await carrierSecrets('telnyx', (account.telnyx as TelnyxConfig).publicKeySecrets, deps);
    return verifyTelnyxSignature({ publicKeys, headers: req.headers, body: req.body, nowMs: deps.now().getTime() });
  }
  const authTokens = await carrierSecrets('plivo', (account.plivo as PlivoConfig).authTokenSecrets, deps);
  // Plivo signs the URL it was configured with: the public origin, the path and the query as requested.
  const url = `${deps.publicBaseUrl}${req.rawPath}${req.rawQueryString ? `?${req.rawQueryString}` : ''}`;
  return verifyPlivoSignature({ authTokens, method: 'POST', url, params: parseForm(req.body.toString('utf8')), headers: req.headers });
}
