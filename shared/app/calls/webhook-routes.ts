/**
 * The provider webhooks: Twilio's served by functions/ingest-twilio.ts, Telnyx's, Vonage's and Plivo's by
 * functions/ingest-carrier.ts; each function verifies the provider's signature over the raw request itself and answers
 * once the event is durable. The carriers' bodies are documented as loosely as each carrier sends them: the carrier's
 * own parser (shared/domain/calls/providers) names every field it refuses, after the signature is checked. Declared here like every route, so
 * API Gateway, the local stack and the OpenAPI document all take them from one place; they have no handler here.
 */
import * as z from 'zod';
import { rule } from '../kernel/query';
import { externalRoute, type RouteDoc } from '../kernel/route';

/** What Twilio posts: its voice status and recording status callback parameters (a repeated parameter is a list). */
const TwilioCallback = z
  .object({ AccountSid: z.string(), CallSid: z.string() })
  .catchall(z.union([z.string(), z.array(z.string())]))
  .describe('Twilio voice status or recording status callback parameters');

const TelnyxWebhook = z
  .object({ data: z.record(z.string(), z.unknown()).describe('event_type, id, occurred_at, payload') })
  .catchall(z.unknown())
  .describe('A Telnyx Call Control (Voice API v2) webhook, e.g. call.initiated, call.hangup, call.recording.saved');

/** TeXML's own callbacks: Twilio's parameter names with Telnyx's ids (providers/texml.ts parseTexmlCallback). */
const TexmlCallback = z
  .object({ CallSid: z.string() })
  .catchall(z.union([z.string(), z.array(z.string())]))
  .describe("A TeXML callback (form-encoded): the application's call progress, a dialled Number's statusCallback (ParentCallSid, CallDuration) or a recordingStatusCallback (RecordingSid, RecordingStatus, RecordingUrl)");

const VonageEvent = z
  .record(z.string(), z.unknown())
  .describe('A Vonage Voice API event webhook (status, uuid, conversation_uuid, …; record and input events)');

const PlivoCallback = z
  .object({ CallUUID: z.string() })
  .catchall(z.union([z.string(), z.array(z.string())]))
  .describe('Plivo answer, hangup, ring, GetDigits or recording callback parameters');

const ACCEPTED = 'Accepted: durable in SQS (or an event type that carries no billing fact, not recorded)';
const ANSWERS = { 204: { description: ACCEPTED } };
const PROBLEMS = [400, 403, 404, 405, 413, 415];

/** A callback parameter CallLedger wrote into the TwiML it answered (shared/domain/callflow/state.ts), as documented. */
const written = (description: string) => rule({ type: 'string' }, (raw) => ({ ok: true, value: raw })).with({ description });

export const WEBHOOK_ROUTES: readonly RouteDoc[] = [
  externalRoute({
    method: 'ANY',
    path: '/webhooks/twilio/{accountId}',
    fn: 'ingestTwilio',
    summary: 'Twilio voice status and recording status callbacks (form-encoded, X-Twilio-Signature). 204 once durable in SQS.',
    auth: 'signature',
    requestForm: TwilioCallback,
    // Written by the voice function into the TwiML it answers: the dialled leg's progress carries its routing context,
    // a recording says whose it is.
    query: {
      leg: written('dial: the progress of a leg CallLedger dialled (never a call of its own)'),
      route: written('The route the leg was dialled on'),
      pos: written('The position of the dialled target in the route'),
      target: written('The dialled target'),
      rec: written('call or voicemail: which recording a recording status callback reports'),
    },
    headers: [{ name: 'X-Twilio-Signature', required: true, description: "HMAC-SHA1 of the public URL and the sorted parameters under the account's auth token" }],
    responses: { 204: { description: 'Accepted' } },
    problems: [400, 403, 404, 405, 413, 415, 503],
  }),
  externalRoute({
    method: 'ANY',
    path: '/webhooks/telnyx/{accountId}',
    fn: 'ingestCarrier',
    summary:
      "Telnyx Call Control webhooks (JSON) and TeXML callbacks (form-encoded: call progress, a dialled Number's statusCallback, recordingStatusCallback), both Ed25519-signed over timestamp|body with the account's public key, 300 s tolerance; the content type decides the parser. 200 (Telnyx fails over on anything else) once durable in SQS.",
    auth: 'signature',
    request: TelnyxWebhook,
    requestForm: TexmlCallback,
    // Written by the TeXML voice URL into a dialled Number's statusCallback and the recording callback (state.ts eventsPath).
    query: {
      leg: written('dial: the progress of a leg CallLedger dialled (never a call of its own)'),
      route: written('The route the leg was dialled on'),
      pos: written('The position of the dialled target in the route'),
      target: written('The dialled target'),
      rec: written('call or voicemail: which recording a recording status callback reports'),
      st: written("The context's MAC (HMAC-SHA256 under the account's state key over the caller's call id and the context); required with leg=dial"),
    },
    headers: [
      { name: 'telnyx-signature-ed25519', required: true, description: 'Base64 Ed25519 signature of `${telnyx-timestamp}|${raw body}`' },
      { name: 'telnyx-timestamp', required: true, description: 'Unix seconds; within 300 s of now either way' },
    ],
    responses: { 200: { description: `${ACCEPTED}; empty body` } },
    problems: PROBLEMS,
  }),
  externalRoute({
    method: 'ANY',
    path: '/webhooks/vonage/{accountId}',
    fn: 'ingestCarrier',
    summary: 'Vonage Voice API event webhooks (JSON, signed callbacks: HS256 JWT with payload_hash, iat within 300 s). 204 once durable in SQS.',
    auth: 'signature',
    request: VonageEvent,
    headers: [{ name: 'Authorization', required: true, description: 'Bearer JWT (HS256, signature secret) whose payload_hash is the SHA-256 of the raw body' }],
    responses: ANSWERS,
    problems: PROBLEMS,
  }),
  externalRoute({
    method: 'ANY',
    path: '/webhooks/plivo/{accountId}',
    fn: 'ingestCarrier',
    summary: 'Plivo voice callbacks (form-encoded, X-Plivo-Signature-V3 with nonce; several signatures during token rotation). 204 once durable in SQS.',
    auth: 'signature',
    requestForm: PlivoCallback,
    headers: [
      { name: 'X-Plivo-Signature-V3', required: true, description: 'Comma-separated base64 HMAC-SHA256 signatures of the URL, sorted parameters and nonce' },
      { name: 'X-Plivo-Signature-V3-Nonce', required: true, description: 'The nonce signed with the request' },
    ],
    responses: ANSWERS,
    problems: PROBLEMS,
  }),
];
