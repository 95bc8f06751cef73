/**
 * A loopback stand-in for the carriers' recording media hosts, for tests and the demo. Each returns deterministic
 * WAV bytes derived from the recording id, so a test can compute the sha256 the fetcher must record:
 * - Twilio (api.twilio.com): `GET /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}[.wav]`, basic auth
 *   AccountSid:authToken;
 * - Telnyx (its recording storage): `GET /telnyx/recordings/{id}.wav?X-Amz-Expires=600&X-Amz-Signature=…`, a presigned
 *   URL, valid without (and, as S3, refused with) an Authorization header;
 * - Vonage (api.nexmo.com): `GET /v1/files/{recording_uuid}`, `Authorization: Bearer <JWT>` signed RS256 with the
 *   application's private key, checked with its public key (claims `application_id`, `exp`);
 * - Plivo (media.plivo.com): `GET /v1/Account/{authId}/Recording/{id}.wav`, basic auth authId:authToken.
 */
import { createHash, createHmac, createPublicKey, timingSafeEqual, verify as verifySignature } from 'node:crypto';
import type { FakeCarrierCredentials } from './carrier-secrets';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const SAMPLE_RATE = 8000;
const BYTES_PER_SAMPLE = 2; // 16-bit PCM, mono

/** Whole seconds of audio for a recording: 2–4, from the sid. */
export function fakeRecordingDurationSec(recordingSid: string): number {
  return 2 + (createHash('sha256').update(recordingSid).digest()[0]! % 3);
}

/**
 * The WAV file the fake host serves for `recordingSid`: a 44-byte PCM header (8 kHz, mono, 16-bit) and
 * pseudo-random samples (SHA-256 in counter mode, seeded with the sid).
 */
export function fakeRecordingBytes(recordingSid: string): Buffer {
  const dataBytes = fakeRecordingDurationSec(recordingSid) * SAMPLE_RATE * BYTES_PER_SAMPLE;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // channels
  header.writeUInt32LE(SAMPLE_RATE, 24);
  header.writeUInt32LE(SAMPLE_RATE * BYTES_PER_SAMPLE, 28); // byte rate
  header.writeUInt16LE(BYTES_PER_SAMPLE, 32); // block align
  header.writeUInt16LE(8 * BYTES_PER_SAMPLE, 34); // bits per sample
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  const data = Buffer.alloc(dataBytes);
  for (let offset = 0, block = 0; offset < dataBytes; block++) {
    const digest = createHash('sha256').update(`${recordingSid}:${block}`).digest();
    offset += digest.copy(data, offset);
  }
  return Buffer.concat([header, data]);
}

export interface FakeMediaOptions {
  /** 0 or absent: a free port. */
  readonly port?: number;
  /** AccountSid → auth token; looked up on every request, so accounts can be added after start. */
  readonly credentials: ReadonlyMap<string, string> | ((accountSid: string) => string | undefined);
  /** The other carriers' credentials (carrier-secrets.ts); absent: their paths answer 401. */
  readonly carriers?: FakeCarrierCredentials;
}

export interface FakeMedia {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  /** Twilio's RecordingUrl form (no extension) for a recording of an account. */
  recordingUrl(accountSid: string, recordingSid: string): string;
  /** A Telnyx `recording_urls.wav`, a Vonage `recording_url` or a Plivo `RecordUrl` on this host. */
  carrierRecordingUrl(carrier: 'telnyx' | 'vonage' | 'plivo', recordingId: string, plivoAuthId?: string): string;
  /** Requests answered, by outcome. */
  stats(): { requests: number; served: number; unauthorized: number; notFound: number; injectedFailures: number };
  /** Requests per RecordingSid (any outcome). */
  requestsFor(recordingSid: string): number;
  /** Make the next `times` requests for a recording fail with `status` (retry tests). */
  failNext(recordingSid: string, times: number, status?: number): void;
  stop(): Promise<void>;
}

const PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Recordings\/([A-Za-z0-9]+)(\.wav)?$/;
const TELNYX_PATH = /^\/telnyx\/recordings\/([A-Za-z0-9._-]+)\.wav$/;
const VONAGE_PATH = /^\/v1\/files\/([A-Za-z0-9._-]+)$/;
const PLIVO_PATH = /^\/v1\/Account\/([^/]+)\/Recording\/([A-Za-z0-9._-]+)\.wav$/;

/** The fake storage's presigning key (a real one is Telnyx's; the URL is all the fetcher gets). */
const TELNYX_STORAGE_KEY = 'fake-telnyx-storage';
const telnyxPresign = (id: string) => createHmac('sha256', TELNYX_STORAGE_KEY).update(id).digest('hex');

function bearerOf(header: string | undefined): string | null {
  return /^Bearer ([^\s]+)$/.exec(header ?? '')?.[1] ?? null;
}

/** A Vonage media JWT: RS256 under the public key of the application it names, not expired. */
function vonageJwtValid(jwt: string | null, publicKeys: Readonly<Record<string, string>>): boolean {
  const [h, c, sig] = jwt?.split('.') ?? [];
  if (h === undefined || c === undefined || sig === undefined) return false;
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: unknown };
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as { application_id?: unknown; exp?: unknown };
    const pem = typeof claims.application_id === 'string' ? publicKeys[claims.application_id] : undefined;
    if (header.alg !== 'RS256' || pem === undefined || typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return false;
    return verifySignature('sha256', Buffer.from(`${h}.${c}`), createPublicKey(pem), Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

/** The recording id a carrier request names, when its credentials are good; `unauthorized` or null (no such path). */
function carrierRequest(url: string, authorization: string | undefined, carriers: FakeCarrierCredentials | undefined): string | 'unauthorized' | null {
  const [path = '', query = ''] = url.split('?');
  const telnyx = TELNYX_PATH.exec(path);
  if (telnyx) {
    const signature = new URLSearchParams(query).get('X-Amz-Signature');
    return authorization === undefined && signature === telnyxPresign(telnyx[1]!) ? telnyx[1]! : 'unauthorized';
  }
  const vonage = VONAGE_PATH.exec(path);
  if (vonage) return vonageJwtValid(bearerOf(authorization), carriers?.vonagePublicKeys ?? {}) ? vonage[1]! : 'unauthorized';
  const plivo = PLIVO_PATH.exec(path);
  if (plivo) {
    const token = carriers?.plivo.get(plivo[1]!);
    return token !== undefined && credentialsMatch(authorization, plivo[1]!, token) ? plivo[2]! : 'unauthorized';
  }
  return null;
}

function credentialsMatch(header: string | undefined, accountSid: string, token: string): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const given = Buffer.from(header.slice(6).trim(), 'base64');
  const expected = Buffer.from(`${accountSid}:${token}`, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function twilioError(res: ServerResponse, status: number, message: string): void {
  // Twilio answers errors as JSON with these fields.
  const body = JSON.stringify({ code: status === 401 ? 20003 : 20404, message, more_info: 'https://www.twilio.com/docs/errors', status });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(status === 401 ? { 'www-authenticate': 'Basic realm="Twilio API"' } : {}),
  });
  res.end(body);
}

export async function startFakeMedia(opts: FakeMediaOptions): Promise<FakeMedia> {
  const lookup = typeof opts.credentials === 'function' ? opts.credentials : (sid: string) => (opts.credentials as ReadonlyMap<string, string>).get(sid);
  const counts = { requests: 0, served: 0, unauthorized: 0, notFound: 0, injectedFailures: 0 };
  const perRecording = new Map<string, number>();
  const failures = new Map<string, { times: number; status: number }>();

  const server = createServer((req, res) => {
    counts.requests += 1;
    const path = (req.url ?? '/').split('?')[0]!;
    const match = PATH.exec(path);
    const carrier = match ? null : carrierRequest(req.url ?? '/', req.headers.authorization, opts.carriers);
    if ((!match && carrier === null) || (req.method !== 'GET' && req.method !== 'HEAD')) {
      counts.notFound += 1;
      return twilioError(res, 404, 'The requested resource was not found');
    }
    if (carrier === 'unauthorized') {
      counts.unauthorized += 1;
      return twilioError(res, 401, 'Authenticate');
    }
    const [, accountSid, recordingSid] = match ? (match as unknown as [string, string, string]) : ['', '', carrier!];
    perRecording.set(recordingSid, (perRecording.get(recordingSid) ?? 0) + 1);
    const token = match ? lookup(accountSid) : 'carrier';
    if (!token || (match && !credentialsMatch(req.headers.authorization, accountSid, token))) {
      counts.unauthorized += 1;
      return twilioError(res, 401, 'Authenticate');
    }
    const failure = failures.get(recordingSid);
    if (failure && failure.times > 0) {
      failure.times -= 1;
      counts.injectedFailures += 1;
      return twilioError(res, failure.status, 'Injected failure');
    }
    const bytes = fakeRecordingBytes(recordingSid);
    counts.served += 1;
    res.writeHead(200, { 'content-type': 'audio/x-wav', 'content-length': bytes.length });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    baseUrl,
    recordingUrl: (accountSid, recordingSid) => `${baseUrl}/2010-04-01/Accounts/${accountSid}/Recordings/${recordingSid}`,
    carrierRecordingUrl: (carrier, id, authId) =>
      carrier === 'telnyx'
        ? `${baseUrl}/telnyx/recordings/${id}.wav?X-Amz-Expires=600&X-Amz-Signature=${telnyxPresign(id)}`
        : carrier === 'vonage'
          ? `${baseUrl}/v1/files/${id}`
          : `${baseUrl}/v1/Account/${authId ?? ''}/Recording/${id}.wav`,
    stats: () => ({ ...counts }),
    requestsFor: (recordingSid) => perRecording.get(recordingSid) ?? 0,
    failNext: (recordingSid, times, status = 500) => {
      failures.set(recordingSid, { times, status });
    },
    stop: () =>
      (stopped ??= new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      })),
  };
}
