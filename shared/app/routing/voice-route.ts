/**
 * The Voice URL: served by its own function (functions/voice-twilio.ts), which verifies Twilio's signature over the
 * raw request itself and answers TwiML (shared/app/routing/voice-answer.ts). Declared here like every route
 * (shared/app/kernel/route.ts), so API Gateway, the local stack and the OpenAPI document take it from one place. Its
 * query is the call's state, written by CallLedger into the TwiML it answers and parsed by
 * shared/domain/callflow/state.ts#parseState: the rules here document it.
 */
import * as z from 'zod';
import { rule } from '../kernel/query';
import { externalRoute, type RouteDoc } from '../kernel/route';

/** What Twilio posts to a voice URL: its voice request parameters (a repeated parameter is a list). */
const TwilioVoiceRequest = z
  .object({ AccountSid: z.string(), CallSid: z.string() })
  .catchall(z.union([z.string(), z.array(z.string())]))
  .describe('Twilio voice request parameters (CallSid, From, To, CallStatus; Digits from a Gather; DialCallStatus, DialCallDuration, DialBridged from a Dial; ParentCallSid on a whisper)');

/** What Plivo posts to an answer_url or an action URL (a repeated parameter is a list). */
const PlivoVoiceRequest = z
  .object({ CallUUID: z.string() })
  .catchall(z.union([z.string(), z.array(z.string())]))
  .describe('Plivo call request parameters (CallUUID, From, To without +, CallStatus, Direction; Digits from a GetInput; DialStatus from a Dial action)');

/** What Vonage sends to an answer_url (POST: JSON; GET: the same fields in the query) and to the eventUrls CallLedger writes. */
const VonageVoiceRequest = z
  .object({ conversation_uuid: z.string() })
  .catchall(z.unknown())
  .describe('Vonage voice request fields: from, to (without +), uuid, conversation_uuid; dtmf {digits, timed_out} from an input; status, direction, duration of the connected leg from a connect');

/** An NCCO: the actions Vonage runs in order (render/ncco.ts). */
const Ncco = z.array(z.object({ action: z.string() }).catchall(z.unknown())).describe('An NCCO: talk, stream, input, record and connect actions');

/** A state parameter as documented: the function's own parser (parseState) judges its value. */
const state = (description: string) => rule({ type: 'string' }, (raw) => ({ ok: true, value: raw })).with({ description });

/** The call's state in the query, written by CallLedger (state.ts stateParams). */
const STATE_QUERY = {
  step: state('gather, dial, whisper, voicemail or fallback; absent: the incoming call'),
  v: state('The call-flow version the call started under'),
  attempt: state('The IVR attempt (step gather)'),
  none: state('1: nobody pressed anything (step gather)'),
  route: state('The route being dialled (steps dial, whisper)'),
  pos: state('The position of the dialled target in the route (steps dial, whisper)'),
};

export const VOICE_ROUTES: readonly RouteDoc[] = [
  externalRoute({
    method: 'POST',
    path: '/voice/twilio/{accountId}',
    fn: 'voiceTwilio',
    summary:
      "Twilio's Voice URL (and the Gather, Dial and whisper URLs CallLedger writes under it, their state in the query): admission and routing before the buyer's line rings, answered as TwiML. Set ?step=fallback as the number's Voice Fallback URL",
    auth: 'signature',
    requestForm: TwilioVoiceRequest,
    query: STATE_QUERY,
    headers: [{ name: 'X-Twilio-Signature', required: true, description: "HMAC-SHA1 of the public URL and the sorted parameters under the account's auth token" }],
    responses: { 200: { description: 'TwiML', text: { 'text/xml': 'A TwiML <Response> document' } } },
    problems: [400, 403, 404, 405, 413, 415, 503],
  }),
  externalRoute({
    method: 'POST',
    path: '/voice/telnyx/{accountId}',
    fn: 'voiceCarrier',
    summary:
      "Telnyx's TeXML voice URL (the TeXML Application's Webhook URL, and the Gather, Dial and whisper URLs CallLedger writes under it): the same admission and routing decision as Twilio's, answered as TeXML. Telnyx signs the body, not the URL: every state CallLedger writes carries `st`, its MAC",
    auth: 'signature',
    requestForm: TwilioVoiceRequest,
    query: { ...STATE_QUERY, st: state('The state\'s MAC (HMAC-SHA256 under the account\'s state key over the call id and the state); required with a step other than fallback') },
    headers: [
      { name: 'telnyx-signature-ed25519', required: true, description: 'Base64 Ed25519 signature of `${telnyx-timestamp}|${raw body}`' },
      { name: 'telnyx-timestamp', required: true, description: 'Unix seconds; within 300 s of now either way' },
    ],
    responses: { 200: { description: 'TeXML', text: { 'text/xml': 'A TeXML <Response> document' } } },
    problems: [400, 403, 404, 405, 413, 415, 503],
  }),
  externalRoute({
    method: 'POST',
    path: '/voice/plivo/{accountId}',
    fn: 'voiceCarrier',
    summary:
      "Plivo's answer_url (and the GetInput and Dial action URLs CallLedger writes under it, their state in the query): the same admission and routing decision as Twilio's, answered as Plivo XML. Set ?step=fallback as the application's fallback_url",
    auth: 'signature',
    requestForm: PlivoVoiceRequest,
    query: STATE_QUERY,
    headers: [
      { name: 'X-Plivo-Signature-V3', required: true, description: 'Comma-separated base64 HMAC-SHA256 signatures of the URL (query included), sorted parameters and nonce' },
      { name: 'X-Plivo-Signature-V3-Nonce', required: true, description: 'The nonce signed with the request' },
    ],
    responses: { 200: { description: 'Plivo XML', text: { 'application/xml': 'A Plivo <Response> document' } } },
    problems: [400, 403, 404, 405, 413, 415, 503],
  }),
  externalRoute({
    method: 'ANY',
    anyMethods: ['get', 'post'],
    path: '/voice/vonage/{accountId}',
    fn: 'voiceCarrier',
    summary:
      "Vonage's answer_url (GET by default, or POST JSON) and the eventUrls CallLedger writes into its NCCO (an input's answer, a synchronous connect's leg states, the endpoint's onAnswer whisper): the same admission and routing decision as Twilio's, answered as NCCO JSON. A failed leg (busy, rejected, unanswered, timeout, failed) is answered with the next NCCO; any other leg state 204. Verified as Vonage's signed callbacks (payload_hash of the body, or of the query as JSON for a GET); the state carries `st`. Set ?step=fallback as the application's fallback_answer_url",
    auth: 'signature',
    request: VonageVoiceRequest,
    query: {
      ...STATE_QUERY,
      st: state("The state's MAC (HMAC-SHA256 under the account's state key over the call id and the state); required with a step other than fallback"),
    },
    headers: [{ name: 'Authorization', required: true, description: 'Bearer JWT (HS256, the signature secret) whose payload_hash is the SHA-256 of the raw body (POST) or of the query parameters as JSON (GET)' }],
    responses: { 200: { description: 'NCCO', schema: Ncco }, 204: { description: "A connected leg's state that takes no NCCO (started, ringing, answered, completed): recorded" } },
    problems: [400, 403, 404, 405, 413, 415, 503],
  }),
];
