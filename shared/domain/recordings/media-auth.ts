/**
 * How each carrier's recording media is downloaded: which URL, with which credentials, stored under which
 * extension. Pure: the secrets, the clock and the token id are passed in.
 *
 * - Twilio: the RecordingUrl plus `.wav` (the lossless original), basic auth AccountSid:auth token.
 * - Telnyx: `recording_urls.wav` as sent, with no credentials: it is a presigned storage URL (valid 10 minutes) and
 *   its own authority; storage refuses a second authorisation.
 * - Vonage: `recording_url` (api.nexmo.com/v1/files/…) with `Authorization: Bearer` and a JWT the application signs
 *   RS256 with its private key (claims application_id, iat, exp, jti), as Vonage's media API asks.
 * - Plivo: `RecordUrl` with basic auth AuthID:auth token (Plivo serves recordings publicly unless the account
 *   secures them; the credentials are sent either way).
 * Credentials go only to the hosts allowed for the provider (shared/adapters/recordings/recordings.ts).
 */
import { createPrivateKey, sign } from 'node:crypto';
import type { Provider } from '../calls/events';

export type MediaCredentials =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'none' };

/** The `Authorization` header value of credentials; null for none. */
export function authorizationOf(c: MediaCredentials): string | null {
  if (c.kind === 'basic') return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
  if (c.kind === 'bearer') return `Bearer ${c.token}`;
  return null;
}

/** The provider of a provider-qualified call id (`telnyx:…`); the call ids CallEvent defines, nothing else. */
export function providerOfCallId(callId: string): Provider | null {
  const prefix = callId.slice(0, callId.indexOf(':'));
  return prefix === 'twilio' || prefix === 'telnyx' || prefix === 'vonage' || prefix === 'plivo' ? prefix : null;
}

/** How long the Vonage media JWT is valid: one download, with room for a slow start. */
export const VONAGE_MEDIA_JWT_TTL_SEC = 300;

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

/** A Vonage application JWT (RS256) for the media API. */
export function vonageMediaJwt(privateKeyPem: string, applicationId: string, nowSec: number, jti: string): string {
  const input = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ application_id: applicationId, iat: nowSec, exp: nowSec + VONAGE_MEDIA_JWT_TTL_SEC, jti })}`;
  return `${input}.${sign('sha256', Buffer.from(input, 'utf8'), createPrivateKey(privateKeyPem)).toString('base64url')}`;
}

/** The URL to download and the extension to store a recording under: Twilio's original WAV, else as the URL says. */
export function mediaTarget(provider: Provider, recordingUrl: string): { readonly url: string; readonly ext: 'wav' | 'mp3' } {
  if (provider === 'twilio') return { url: `${recordingUrl}.wav`, ext: 'wav' };
  let path = recordingUrl;
  try {
    path = new URL(recordingUrl).pathname;
  } catch {
    // Not a URL: the media store refuses it; the extension does not matter then.
  }
  // Vonage's files carry no extension and are MP3 unless the NCCO asked otherwise.
  const ext = /\.wav$/i.test(path) ? 'wav' : /\.mp3$/i.test(path) || provider === 'vonage' ? 'mp3' : 'wav';
  return { url: recordingUrl, ext };
}
