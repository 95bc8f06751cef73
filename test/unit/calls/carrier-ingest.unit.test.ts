/**
 * The carrier webhook use case (Telnyx, Vonage, Plivo) with in-memory ports, on the committed signed fixtures:
 * the check order and its statuses, nothing enqueued on any refusal, the raw body verified and archived byte for
 * byte, the account's configured credentials (rotation included) and the 503 for credentials that cannot be used.
 */
import { statusOf } from '../../../shared/adapters/http/problems';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ingestCarrierWebhook, type CarrierIngestDeps, type CarrierWebhookRequest } from '../../../shared/app/calls/carrier-ingest';
import type { Log, Telemetry } from '../../../shared/app/kernel/ports';
import type { Account } from '../../../shared/domain/catalog/types';
import type { Carrier } from '../../../shared/domain/catalog/carriers';
import type { IngestMessage } from '../../../shared/domain/calls/events';
import { FIXTURE_ACCOUNT_ID, PLIVO_FIXTURE_URL, fixtureBody, signedRequests, testKeys } from '../../../events/carrier-fixtures';
import { signPlivo, signTelnyx, vonageJwt } from '../../../events/carrier-signing';

const log: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const BASE = new URL(PLIVO_FIXTURE_URL).origin;
const tk = testKeys('telnyx');
const vk = testKeys('vonage');
const pk = testKeys('plivo');

const account: Account = {
  accountId: FIXTURE_ACCOUNT_ID,
  name: 'Acme',
  timeZone: 'America/Chicago',
  currency: 'USD',
  twilio: { accountSid: `AC${'a'.repeat(32)}`, authTokenSecret: 'twilio/acme/auth-token' },
  telnyx: { publicKeySecrets: ['telnyx/acme/public-key'] },
  vonage: { apiKey: vk.apiKey, applicationId: vk.applicationId, signatureSecretSecrets: ['vonage/acme/signature-secret'] },
  plivo: { authId: 'MAZDQ1ZDFHMJY2NMJMYJ', authTokenSecrets: ['plivo/acme/auth-token', 'plivo/acme/auth-token-previous'] },
};
const SECRETS: Record<string, string> = {
  'telnyx/acme/public-key': tk.account.publicKey,
  'vonage/acme/signature-secret': vk.signatureSecret,
  'plivo/acme/auth-token': pk.authToken,
  'plivo/acme/auth-token-previous': pk.previousAuthToken,
};

function harness(nowSec: number, accounts: Record<string, Account> = { [FIXTURE_ACCOUNT_ID]: account }, secrets = SECRETS) {
  const sent: IngestMessage[] = [];
  const seen = { accepted: 0, rejected: [] as string[] };
  const telemetry: Telemetry = {
    webhookAccepted: () => void (seen.accepted += 1),
    webhookRejected: (r) => void seen.rejected.push(r),
    callRated: () => {},
    ingestBatchProcessed: () => {},
    callAccountConflict: () => {},
    recordingStored: () => {},
    recordingFetchFailed: () => {},
  };
  const deps: CarrierIngestDeps = {
    config: { getAccount: async (id) => accounts[id] ?? null },
    secrets: { getSecret: async (name) => secrets[name] ?? Promise.reject(new Error(`no secret ${name}`)) },
    queue: { send: async (m) => void sent.push(m) },
    publicBaseUrl: BASE,
    now: () => new Date(nowSec * 1000),
    telemetry,
    log,
  };
  return { deps, sent, seen } as { deps: CarrierIngestDeps; sent: IngestMessage[]; seen: typeof seen };
}

function fixtureRequest(carrier: Carrier, file: string): { req: CarrierWebhookRequest; nowSec: number } {
  const signed = signedRequests(carrier).find((r) => r.file === file)!;
  const path = `/webhooks/${carrier}/${FIXTURE_ACCOUNT_ID}`;
  return {
    nowSec: signed.signedAtSec || 1_795_533_000,
    req: {
      carrier,
      method: 'POST',
      accountId: FIXTURE_ACCOUNT_ID,
      rawPath: path,
      rawQueryString: '',
      headers: { 'content-type': carrier === 'plivo' ? 'application/x-www-form-urlencoded' : 'application/json', ...signed.headers },
      body: Buffer.from(fixtureBody(carrier, file), 'utf8'),
    },
  };
}

const outcome = (req: CarrierWebhookRequest, deps: CarrierIngestDeps) =>
  ingestCarrierWebhook(req, deps).then(
    (a) => ({ status: 'ok', kind: a.kind }),
    (e: { code?: string; errors?: unknown }) => ({ status: statusOf(e), slug: e.code, errors: e.errors }),
  );

describe.each([
  ['telnyx', 'call-hangup-completed.json'],
  ['vonage', 'completed.json'],
  ['plivo', 'hangup.form'],
] as const)('%s webhooks', (carrier, file) => {
  it('a signed fixture is enqueued once, its raw body byte for byte, and answered with success', async () => {
    const { req, nowSec } = fixtureRequest(carrier, file);
    const h = harness(nowSec);
    expect(await outcome(req, h.deps)).toEqual({ status: 'ok', kind: 'accepted' });
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]!.event.callId.startsWith(`${carrier}:`)).toBe(true);
    expect(h.sent[0]!.event.accountId).toBe(FIXTURE_ACCOUNT_ID);
    expect(h.sent[0]!.raw.body).toBe(req.body.toString('utf8'));
    expect(h.seen.accepted).toBe(1);
  });

  it('405 → 415 → 413 → 404 → 403 in that order, nothing enqueued', async () => {
    const { req, nowSec } = fixtureRequest(carrier, file);
    const h = harness(nowSec);
    const huge = Buffer.alloc(64 * 1024 + 1, 'a');
    const status = async (r: Partial<CarrierWebhookRequest>) => (await outcome({ ...req, ...r }, h.deps)).status;
    expect(await status({ method: 'PUT', headers: { 'content-type': 'text/plain' }, body: huge, accountId: 'nobody' })).toBe(405);
    expect(await status({ headers: { 'content-type': 'text/plain' }, body: huge, accountId: 'nobody' })).toBe(415);
    expect(await status({ body: huge, accountId: 'nobody' })).toBe(413);
    expect(await status({ accountId: 'nobody', headers: { 'content-type': req.headers['content-type'] } })).toBe(404);
    expect(await status({ accountId: 'Bad/Id' })).toBe(404);
    // No signature headers at all, and a tampered body: both 403 bad-signature.
    expect(await outcome({ ...req, headers: { 'content-type': req.headers['content-type'] } }, h.deps)).toMatchObject({ status: 403, slug: 'bad-signature' });
    const tampered = Buffer.from(req.body.toString('utf8').replace(/2[0-9]{2}/, '999'));
    expect(await outcome({ ...req, body: tampered }, h.deps)).toMatchObject({ status: 403, slug: 'bad-signature' });
    expect(h.sent).toEqual([]);
    expect(h.seen.rejected).toEqual(['method-not-allowed', 'unsupported-media-type', 'payload-too-large', 'not-found', 'not-found', 'bad-signature', 'bad-signature']);
  });

  it('an account without this carrier configured answers 404, as an unknown account', async () => {
    const { req, nowSec } = fixtureRequest(carrier, file);
    const { [carrier]: _dropped, ...without } = account;
    const h = harness(nowSec, { [FIXTURE_ACCOUNT_ID]: without as Account });
    expect(await outcome(req, h.deps)).toMatchObject({ status: 404, slug: 'not-found' });
    expect(h.sent).toEqual([]);
  });
});

describe('per-carrier verification over the raw request', () => {
  it('Telnyx: a body re-serialised after signing is refused; a stale or future timestamp is refused', async () => {
    const { req, nowSec } = fixtureRequest('telnyx', 'call-hangup-completed.json');
    const h = harness(nowSec);
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(req.body.toString('utf8'))));
    expect(reserialised.equals(req.body)).toBe(false);
    expect(await outcome({ ...req, body: reserialised }, h.deps)).toMatchObject({ status: 403 });
    for (const offset of [301, -301]) {
      const headers = { 'content-type': 'application/json', ...signTelnyx(tk.account.privateKeyPem, req.body, nowSec - offset) };
      expect(await outcome({ ...req, headers }, h.deps)).toMatchObject({ status: 403, slug: 'bad-signature' });
    }
    const fresh = { 'content-type': 'application/json', ...signTelnyx(tk.account.privateKeyPem, req.body, nowSec - 300) };
    expect(await outcome({ ...req, headers: fresh }, h.deps)).toEqual({ status: 'ok', kind: 'accepted' });
    expect(h.sent).toHaveLength(1);
  });

  it('Telnyx: an event type without a billing fact is answered with success and nothing is enqueued', async () => {
    const { req, nowSec } = fixtureRequest('telnyx', 'call-speak-ended.json');
    const h = harness(nowSec);
    expect(await outcome(req, h.deps)).toEqual({ status: 'ok', kind: 'ignored' });
    expect(h.sent).toEqual([]);
    expect(h.seen.accepted).toBe(0);
  });

  it('Telnyx: an unusable public key is our fault: 503, nothing enqueued', async () => {
    const { req, nowSec } = fixtureRequest('telnyx', 'call-hangup-completed.json');
    const h = harness(nowSec, undefined, { ...SECRETS, 'telnyx/acme/public-key': 'not-a-key' });
    expect(await outcome(req, h.deps)).toMatchObject({ status: 503, slug: 'service-unavailable' });
    expect(h.sent).toEqual([]);
  });

  it('a configured secret the store does not hold is our misconfiguration: 503, nothing enqueued', async () => {
    const { req, nowSec } = fixtureRequest('vonage', 'completed.json');
    const h = harness(nowSec);
    h.deps = { ...h.deps, secrets: { ...h.deps.secrets, getSecret: async (n) => Promise.reject(Object.assign(new Error(`secret not found: ${n}`), { name: 'SecretNotFound' })) } };
    expect(await outcome(req, h.deps)).toMatchObject({ status: 503, slug: 'service-unavailable' });
    expect(h.sent).toEqual([]);
  });

  it('Vonage: alg none, a JWT for another application, and a stale iat are refused', async () => {
    const { req, nowSec } = fixtureRequest('vonage', 'completed.json');
    const h = harness(nowSec);
    const claims = { iat: nowSec, jti: 'j1', api_key: vk.apiKey, application_id: vk.applicationId };
    const bearer = (jwt: string) => ({ ...req, headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` } });
    const none = vonageJwt(vk.signatureSecret, req.body, claims, { header: { alg: 'none', typ: 'JWT' } });
    expect(await outcome(bearer(none), h.deps)).toMatchObject({ status: 403 });
    expect(await outcome(bearer(vonageJwt(vk.signatureSecret, req.body, { ...claims, application_id: 'other-app' })), h.deps)).toMatchObject({ status: 403 });
    expect(await outcome(bearer(vonageJwt(vk.signatureSecret, req.body, { ...claims, iat: nowSec - 301 })), h.deps)).toMatchObject({ status: 403 });
    expect(h.sent).toEqual([]);
  });

  it('Vonage: a body the JWT was not signed for (payload_hash) is refused', async () => {
    const { req, nowSec } = fixtureRequest('vonage', 'completed.json');
    const h = harness(nowSec);
    expect(await outcome({ ...req, body: Buffer.from(`${req.body.toString('utf8')} `) }, h.deps)).toMatchObject({ status: 403, slug: 'bad-signature' });
    expect(h.sent).toEqual([]);
  });

  it('Plivo: signed with the previous token alone during rotation verifies; with a token the account does not hold, 403', async () => {
    const { req, nowSec } = fixtureRequest('plivo', 'answer.form');
    const params = Object.fromEntries(new URLSearchParams(req.body.toString('utf8')));
    const url = `${BASE}${req.rawPath}`;
    const h = harness(nowSec);
    const withSig = (tokens: string[]) => ({ ...req, headers: { 'content-type': 'application/x-www-form-urlencoded', ...signPlivo(tokens, url, params, '12345678901234567890') } });
    expect(await outcome(withSig([pk.previousAuthToken]), h.deps)).toEqual({ status: 'ok', kind: 'accepted' });
    expect(await outcome(withSig([pk.otherAuthToken]), h.deps)).toMatchObject({ status: 403, slug: 'bad-signature' });
    // Signed for another path (another account's URL): the URL is part of what Plivo signs.
    const elsewhere = { ...withSig([pk.authToken]), accountId: 'other', rawPath: '/webhooks/plivo/other' };
    expect(await outcome(elsewhere, harness(nowSec, { other: { ...account, accountId: 'other' } }).deps)).toMatchObject({ status: 403 });
    expect(h.sent).toHaveLength(1);
  });

  it('Plivo: a correctly signed form with a malformed field is a 400 naming it, nothing enqueued', async () => {
    const { req, nowSec } = fixtureRequest('plivo', 'answer.form');
    const params = { ...Object.fromEntries(new URLSearchParams(req.body.toString('utf8'))), CallStatus: 'exploded' };
    const body = Buffer.from(new URLSearchParams(params).toString());
    const headers = { 'content-type': 'application/x-www-form-urlencoded', ...signPlivo([pk.authToken], `${BASE}${req.rawPath}`, params, '1') };
    const h = harness(nowSec);
    const res = await outcome({ ...req, body, headers }, h.deps);
    expect(res).toMatchObject({ status: 400, slug: 'malformed-request' });
    expect((res as { errors: { field: string }[] }).errors.map((e) => e.field)).toEqual(['CallStatus']);
    expect(h.sent).toEqual([]);
  });
});

describe('nothing is written on any error (property)', () => {
  const FILES = { telnyx: 'call-hangup-completed.json', vonage: 'completed.json', plivo: 'hangup.form' } as const;

  it('any change to the signed body is refused with a 4xx and enqueues nothing; the body as signed is enqueued once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('telnyx', 'vonage', 'plivo' as const),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (carrier, at, xor) => {
          const { req, nowSec } = fixtureRequest(carrier, FILES[carrier]);
          const h = harness(nowSec);
          const body = Buffer.from(req.body);
          const i = at % body.length;
          body[i] = body[i]! ^ xor;
          const res = await outcome({ ...req, body }, h.deps);
          // A Plivo form signs decoded values: a change that decodes to the same form is the same request.
          const same = carrier === 'plivo' && new URLSearchParams(body.toString('utf8')).toString() === new URLSearchParams(req.body.toString('utf8')).toString();
          if (same) return;
          expect(res.status, `${carrier} byte ${i} ^ ${xor}`).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(h.sent).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
    for (const carrier of ['telnyx', 'vonage', 'plivo'] as const) {
      const { req, nowSec } = fixtureRequest(carrier, FILES[carrier]);
      const h = harness(nowSec);
      expect(await outcome(req, h.deps)).toEqual({ status: 'ok', kind: 'accepted' });
      expect(h.sent).toHaveLength(1);
    }
  });
});

describe('carrierOfRoute', () => {
  it('names the carrier of the matched route; any other route on the carrier function is a wiring bug', async () => {
    const { carrierOfRoute } = await import('../../../shared/adapters/http/carrier-route');
    expect(['telnyx', 'vonage', 'plivo'].map((c) => carrierOfRoute({ routeKey: `ANY /webhooks/${c}/{accountId}` }))).toEqual(['telnyx', 'vonage', 'plivo']);
    for (const routeKey of ['ANY /webhooks/twilio/{accountId}', 'GET /v1/calls', '$default']) expect(() => carrierOfRoute({ routeKey })).toThrow();
  });
});

describe('carrier call ids are readable wherever a call id is taken', () => {
  it('a call id with the carriers\' dashes and dots names a call (API routes, CRM outcomes); others still do not', async () => {
    const { CALL_ID } = await import('../../../shared/app/calls/call-access');
    const { OutcomeInputSchema } = await import('../../../shared/domain/outcomes/outcomes-schema');
    const ids = ['telnyx:7f3c9a1e-2b4d-4c6e-8f0a-1b2c3d4e5f60', 'vonage:CON-4f1e2d3c-5b6a-4789-8a9b-0c1d2e3f4a5b', 'plivo:c5a1e2f3-4b6d-4e8f-9a0b-1c2d3e4f5a6b'];
    for (const id of ids) {
      expect(CALL_ID.test(id), id).toBe(true);
      expect(OutcomeInputSchema.safeParse({ externalId: 'x', callId: id, occurredAt: '2026-11-24T15:00:00Z', status: 'booked' }).success, id).toBe(true);
    }
    for (const bad of ['telnyx:', 'telnyx:-leading', 'TELNYX:abc', 'telnyx:a b', `telnyx:${'a'.repeat(129)}`]) expect(CALL_ID.test(bad), bad).toBe(false);
  });
});
