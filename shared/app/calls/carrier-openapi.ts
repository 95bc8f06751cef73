/**
 * The OpenAPI entries of the carrier webhook routes (infra/resources.ts ROUTES → ingestCarrier); spread into
 * shared/adapters/http/openapi.ts's table. The bodies are documented as loosely as each carrier sends them: the
 * carrier's own parser (shared/domain/calls/providers) names every field it refuses, after the signature is checked.
 */
import * as z from 'zod';
import type { OperationDoc } from '../kernel/operation-doc';

const TelnyxWebhook = z
  .object({ data: z.record(z.string(), z.unknown()).describe('event_type, id, occurred_at, payload') })
  .catchall(z.unknown())
  .describe('A Telnyx Call Control (Voice API v2) webhook, e.g. call.initiated, call.hangup, call.recording.saved');

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

export const CARRIER_WEBHOOK_OPENAPI = {
  'ANY /webhooks/telnyx/{accountId}': {
    summary: "Telnyx Call Control webhooks (JSON, Ed25519-signed over timestamp|body with the account's public key, 300 s tolerance). 200 (Telnyx fails over on anything else) once durable in SQS.",
    auth: 'carrier',
    request: TelnyxWebhook,
    headers: [
      { name: 'telnyx-signature-ed25519', required: true, description: 'Base64 Ed25519 signature of `${telnyx-timestamp}|${raw body}`' },
      { name: 'telnyx-timestamp', required: true, description: 'Unix seconds; within 300 s of now either way' },
    ],
    responses: { 200: { description: `${ACCEPTED}; empty body` } },
    problems: PROBLEMS,
  },
  'ANY /webhooks/vonage/{accountId}': {
    summary: 'Vonage Voice API event webhooks (JSON, signed callbacks: HS256 JWT with payload_hash, iat within 300 s). 204 once durable in SQS.',
    auth: 'carrier',
    request: VonageEvent,
    headers: [{ name: 'Authorization', required: true, description: 'Bearer JWT (HS256, signature secret) whose payload_hash is the SHA-256 of the raw body' }],
    responses: ANSWERS,
    problems: PROBLEMS,
  },
  'ANY /webhooks/plivo/{accountId}': {
    summary: 'Plivo voice callbacks (form-encoded, X-Plivo-Signature-V3 with nonce; several signatures during token rotation). 204 once durable in SQS.',
    auth: 'carrier',
    requestForm: PlivoCallback,
    headers: [
      { name: 'X-Plivo-Signature-V3', required: true, description: 'Comma-separated base64 HMAC-SHA256 signatures of the URL, sorted parameters and nonce' },
      { name: 'X-Plivo-Signature-V3-Nonce', required: true, description: 'The nonce signed with the request' },
    ],
    responses: ANSWERS,
    problems: PROBLEMS,
  },
} satisfies Record<string, OperationDoc>;
