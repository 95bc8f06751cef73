/**
 * Vonage's part of the carriers' voice URL (voice-carriers.ts): `GET|POST /voice/vonage/{accountId}`, the
 * application's answer_url, and every URL CallLedger writes into its NCCO (render/ncco.ts): the `input`'s eventUrl
 * (the IVR's answer), the synchronous `connect`'s eventUrl (the dialled leg's every state) and the endpoint's
 * `onAnswer` url (the whisper). What is Vonage's own here: verification, the mapping of its fields to the decision's
 * parameters, and the dialled leg's events; the decision is answerVerified's, the same as every carrier's.
 *
 * Verification: Vonage's signed callbacks, as its event webhooks (providers/vonage.ts verifyVonageSignature):
 * `Authorization: Bearer` HS256 JWT under the account's signature secret, `alg` pinned, `iat` within 300 s, and
 * `payload_hash` the SHA-256 of the raw body (POST) or, for a GET, of the query's parameters as a JSON object in
 * their order (vonageQueryPayload). The JWT does not cover the URL of a POST, so the state in the query is trusted
 * only with its `st` MAC (state.ts), as Telnyx's; nothing is written before both verified.
 *
 * The dialled leg (`?step=dial`): a synchronous `connect` posts each state of the leg it rings to its eventUrl
 * instead of the application's event_url, so this route hands each of them to the ledger (the leg as a child of
 * the caller's call, its completed duration the talk time) and to the routing (the target's lease extended on
 * answered, released at the end; the audit), like Twilio's Dial leg callbacks. A failed leg (busy, rejected,
 * unanswered, timeout, failed) or a caller who left (cancelled) is the Dial action's result: the decision answers
 * the next NCCO (the next target, or the flow's unavailable), which replaces the rest of the call's NCCO. Any
 * other state (started, ringing, answered, completed, machine detection) answers 204: Vonage ignores the answer.
 */
import { BadRequest, Forbidden, ServiceUnavailable } from '../../domain/kernel/problems';
import type { VonageConfig } from '../../domain/catalog/carriers';
import type { Account } from '../../domain/catalog/types';
import type { IngestMessage } from '../../domain/calls/events';
import type { FormParams } from '../../domain/calls/providers/twilio';
import { SIGNATURE_REFUSAL_KIND, type HeaderMap } from '../../domain/calls/providers/verdicts';
import { parseVonageEvent, parseVonageVoiceRequest, verifyVonageSignature, vonageAnswerEvent, vonageQueryPayload, type VonageVoiceRequest } from '../../domain/calls/providers/vonage';
import { parseState, voiceStateKey } from '../../domain/callflow/state';
import type { DialLegSink } from '../calls/ports';
import { answerVerified, type VoiceAnswer, type VoiceDeps } from './voice-answer';
import { carrierSecrets } from '../calls/carrier-secrets';

export const JSON_TYPE = 'application/json';

/** The voice deps and where a dialled leg's progress goes (the routing store's leases and audit). */
export type VonageVoiceDeps = VoiceDeps & { readonly legs?: DialLegSink };

/** An answer, or none (204) for a leg state Vonage expects no NCCO for. */
export type CarrierVoiceAnswer = VoiceAnswer & { readonly noContent?: true };

export interface VonageVoiceInput {
  readonly method: string;
  readonly accountId: string;
  readonly account: Account;
  readonly headers: HeaderMap;
  readonly rawQueryString: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
}

/** A connected leg's states that end its ring without a conversation: the Dial action's DialCallStatus, TwiML's names. */
const LEG_RESULT: Readonly<Record<string, string>> = {
  busy: 'busy',
  rejected: 'busy',
  unanswered: 'no-answer',
  timeout: 'no-answer',
  failed: 'failed',
  cancelled: 'canceled',
};

function headerOf(headers: HeaderMap, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name && v !== undefined) return v;
  return undefined;
}

/** After 405 → 415 → 413 → 404 (voice-carriers.ts): 403 signature, then the fields (400). */
export async function answerVonageVoice(input: VonageVoiceInput, deps: VonageVoiceDeps): Promise<CarrierVoiceAnswer> {
  const method = input.method.toUpperCase();
  const contentType = headerOf(input.headers, 'content-type');
  const signed = method === 'GET' ? Buffer.from(vonageQueryPayload(input.rawQueryString), 'utf8') : input.body;
  const config = input.account.vonage as VonageConfig;
  const signatureSecrets = await carrierSecrets('vonage', config.signatureSecretSecrets, deps);
  const verification = verifyVonageSignature({
    signatureSecrets,
    headers: input.headers,
    body: signed,
    nowMs: deps.now().getTime(),
    expected: { apiKey: config.apiKey, applicationId: config.applicationId },
  });
  if (!verification.ok) {
    if (SIGNATURE_REFUSAL_KIND[verification.code] === 'misconfigured') throw new ServiceUnavailable(60, "The account's vonage credentials cannot be used; retry later.");
    throw new Forbidden(verification.detail, 'bad-signature');
  }
  const fields = method === 'GET' ? Object.fromEntries(new URLSearchParams(input.rawQueryString)) : jsonOf(input.body);
  const parsed = parseVonageVoiceRequest(fields);
  if (!parsed.ok) throw new BadRequest(`Malformed Vonage voice request: ${parsed.errors.map((e) => e.field).join(', ')}.`, [...parsed.errors]);
  const r = parsed.request;
  const callId = `vonage:${r.conversationUuid}`;
  const stateKey = voiceStateKey(await deps.callerHashKey(), input.accountId);
  const raw = { contentType: method === 'GET' ? JSON_TYPE : (contentType ?? JSON_TYPE), body: signed.toString('utf8') };
  const base = { provider: 'vonage' as const, accountId: input.accountId, callId, query: input.query, stateKey };

  switch (input.query.step) {
    case 'dial':
      return dialLeg(input, r, { ...base, raw }, deps);
    case 'whisper':
      // The whisper is requested for the dialled leg: the tracking number is the one its call was answered for.
      return answerVerified({ ...base, params: { CallSid: r.conversationUuid, ParentCallSid: r.conversationUuid, To: r.to }, toLedger: null }, deps);
    default: {
      const params: FormParams = { CallSid: r.conversationUuid, From: r.from, To: r.to, Digits: r.digits };
      const toLedger = (receivedAt: string): IngestMessage | null => {
        if (input.query.step === undefined) return { v: 1, event: vonageAnswerEvent(r, { accountId: input.accountId, receivedAt }), raw: { ...raw, receivedAt } };
        // The IVR's answer: the input event, as the webhooks read it (its digits, on the caller's call).
        const outcome = parseVonageEvent(raw.body, { accountId: input.accountId, receivedAt });
        return outcome.kind === 'event' ? { v: 1, event: outcome.event, raw: { ...raw, receivedAt } } : null;
      };
      return answerVerified({ ...base, params, toLedger }, deps);
    }
  }
}

function jsonOf(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
}

type Base = { provider: 'vonage'; accountId: string; callId: string; query: Readonly<Record<string, string | undefined>>; stateKey: string; raw: { contentType: string; body: string } };

/**
 * One state of the leg a `connect` rings. The state is authenticated before anything is written; then the leg goes
 * to the ledger (durable before the answer) and to the routing; a failed ring is answered with the next NCCO.
 */
async function dialLeg(input: VonageVoiceInput, r: VonageVoiceRequest, base: Base, deps: VonageVoiceDeps): Promise<CarrierVoiceAnswer> {
  const state = parseState(input.query, { provider: 'vonage', callId: base.callId, stateKey: base.stateKey });
  if (!state.ok) throw new BadRequest('The voice state in the query is not valid.', state.errors);
  if (state.state.step !== 'dial') throw new BadRequest('The voice state in the query is not valid.', [{ field: 'step', message: 'must be dial' }]);
  const receivedAt = deps.now().toISOString();
  const outcome = parseVonageEvent(base.raw.body, { accountId: input.accountId, receivedAt });
  if (outcome.kind === 'refused') throw new BadRequest(outcome.detail, [...outcome.errors]);
  const routing = await deps.routing.readRouting(base.callId);
  if (outcome.kind === 'event') {
    await deps.queue.send({ v: 1, event: outcome.event, raw: { ...base.raw, receivedAt } });
    const { pos, route } = state.state;
    const dialling = [...(routing?.events ?? [])].reverse().find((e) => e.event === 'dialling' && e.position === pos);
    if (outcome.event.kind === 'call.status' && dialling !== undefined && dialling.event === 'dialling' && deps.legs !== undefined) {
      const e = outcome.event;
      await deps.legs.dialLeg({ accountId: input.accountId, callId: base.callId, targetId: dialling.targetId, route, position: pos, status: e.status, durationSec: e.durationSec, atMs: Date.parse(receivedAt) });
    }
  }
  const result = r.status === null ? undefined : LEG_RESULT[r.status];
  if (result === undefined) return { contentType: '', body: '', degraded: false, noContent: true };
  // The Dial action of the XML dialects, on the caller's call: its tracking number from the routing record.
  const params: FormParams = { CallSid: r.conversationUuid, To: routing?.trackingNumber ?? '', From: '', DialCallStatus: result };
  return answerVerified({ ...base, params, toLedger: null }, deps);
}
