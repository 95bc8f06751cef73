/**
 * How a call's state rides between its requests: in the query string of every callback URL CallLedger writes, so
 * the voice function keeps no session and any container can answer any request of any call.
 *
 *   /voice/<provider>/<accountId>?step=gather&v=3&attempt=2            the IVR's answer (attempt 2)
 *   /voice/<provider>/<accountId>?step=gather&v=3&attempt=2&none=1     … nobody pressed anything
 *   /voice/<provider>/<accountId>?step=dial&v=3&route=default&pos=1    the end of the dial of position 1
 *   /voice/<provider>/<accountId>?step=whisper&v=3&route=default&pos=1 the whisper document for that target
 *   /voice/<provider>/<accountId>?step=voicemail&v=3                   the end of the voicemail
 *   /webhooks/<provider>/<accountId>?leg=dial&route=default&pos=1&target=<id>   the dialled leg's progress
 *   /webhooks/<provider>/<accountId>?rec=call|voicemail                 recording status
 * `v` pins the flow version the call started under (a new version never changes a call in progress).
 *
 * Why the state can be trusted. Twilio and Plivo sign the whole URL, query included (PROVIDERS §1.7, §4.3): a state
 * they send back is the state we wrote. Telnyx signs only the body, and Vonage's answer and its NCCO event URLs carry
 * no signature over the URL, so for them the query carries `st`, an HMAC-SHA256 (our key) over the call id and the
 * canonical query: a forged or moved state (another step, another call) is refused. The parser is total: any query
 * gives a state or field errors naming the bad parameter (never its value). Parameters that are not ours are
 * ignored: a GET request carries the provider's own fields in the query, and `st` covers exactly ours.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FieldError } from '../kernel/problems';
import type { Provider } from '../calls/events';

export type VoiceState =
  | { readonly step: 'incoming' }
  | { readonly step: 'gather'; readonly v: number; readonly attempt: number; readonly none: boolean }
  | { readonly step: 'dial'; readonly v: number; readonly route: string; readonly pos: number }
  | { readonly step: 'whisper'; readonly v: number; readonly route: string; readonly pos: number }
  | { readonly step: 'voicemail'; readonly v: number }
  | { readonly step: 'fallback' };

export type VoiceStep = VoiceState['step'];

/** Providers whose own signature covers the URL's query (no `st` needed). */
export const URL_SIGNED_PROVIDERS: ReadonlySet<Provider> = new Set(['twilio', 'plivo']);

const ROUTE = /^[a-z][a-z0-9_-]{0,31}$/;
const INT = /^(?:0|[1-9]\d{0,5})$/;

/** The state as query parameters, in a fixed order (the canonical form `st` is computed over). */
export function stateParams(state: VoiceState): [string, string][] {
  switch (state.step) {
    case 'incoming':
    case 'fallback':
      return state.step === 'incoming' ? [] : [['step', 'fallback']];
    case 'gather':
      return [['step', 'gather'], ['v', String(state.v)], ['attempt', String(state.attempt)], ...(state.none ? ([['none', '1']] as [string, string][]) : [])];
    case 'dial':
    case 'whisper':
      return [['step', state.step], ['v', String(state.v)], ['route', state.route], ['pos', String(state.pos)]];
    case 'voicemail':
      return [['step', 'voicemail'], ['v', String(state.v)]];
    default: {
      const exhaustive: never = state;
      return exhaustive;
    }
  }
}

export function encodeQuery(params: readonly [string, string][]): string {
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

/** base64url of the first 16 bytes of HMAC-SHA256(key, callId LF query). */
export function stateMac(key: string, callId: string, query: string): string {
  return createHmac('sha256', key).update(`${callId}\n${query}`, 'utf8').digest().subarray(0, 16).toString('base64url');
}

export interface PathContext {
  readonly provider: Provider;
  readonly accountId: string;
  readonly callId: string;
  /** The key of `st` (the account's state key, resolved by the adapter); unused for URL-signed providers. */
  readonly stateKey: string;
}

function withMac(ctx: PathContext, params: [string, string][]): string {
  const query = encodeQuery(params);
  if (URL_SIGNED_PROVIDERS.has(ctx.provider)) return query;
  const mac = stateMac(ctx.stateKey, ctx.callId, query);
  return query === '' ? `st=${mac}` : `${query}&st=${mac}`;
}

/** The voice route's relative URL carrying `state`. */
export function voicePath(ctx: PathContext, state: VoiceState): string {
  const q = withMac(ctx, stateParams(state));
  return `/voice/${ctx.provider}/${encodeURIComponent(ctx.accountId)}${q === '' ? '' : `?${q}`}`;
}

/** The webhook route's relative URL for the dialled leg's progress or a recording, with its routing context. */
export function eventsPath(ctx: PathContext, params: [string, string][]): string {
  const q = withMac(ctx, params);
  return `/webhooks/${ctx.provider}/${encodeURIComponent(ctx.accountId)}${q === '' ? '' : `?${q}`}`;
}

export type StateParse = { readonly ok: true; readonly state: VoiceState } | { readonly ok: false; readonly errors: FieldError[] };

function int(params: Readonly<Record<string, string | undefined>>, name: string, min: number, max: number, errors: FieldError[]): number {
  const raw = params[name];
  if (raw === undefined || !INT.test(raw) || Number(raw) < min || Number(raw) > max) {
    errors.push({ field: name, message: `must be a whole number from ${min} to ${max}` });
    return 0;
  }
  return Number(raw);
}

/**
 * The state of a voice request from its query parameters. For providers that do not sign the URL, `st` must be the
 * MAC of the call id and the other parameters in canonical order (parameters we did not write are refused).
 */
export function parseState(
  params: Readonly<Record<string, string | undefined>>,
  ctx: Pick<PathContext, 'provider' | 'callId' | 'stateKey'>,
): StateParse {
  const errors: FieldError[] = [];
  const step = params.step;
  let state: VoiceState | null = null;
  if (step === undefined) state = { step: 'incoming' };
  else if (step === 'fallback') state = { step: 'fallback' };
  else if (step === 'gather') {
    const none = params.none;
    if (none !== undefined && none !== '1') errors.push({ field: 'none', message: 'must be 1 when present' });
    state = { step: 'gather', v: int(params, 'v', 1, 999_999, errors), attempt: int(params, 'attempt', 1, 6, errors), none: none === '1' };
  } else if (step === 'dial' || step === 'whisper') {
    const route = params.route;
    if (route === undefined || !ROUTE.test(route)) errors.push({ field: 'route', message: 'must be a route name' });
    state = { step, v: int(params, 'v', 1, 999_999, errors), route: route ?? '', pos: int(params, 'pos', 0, 9, errors) };
  } else if (step === 'voicemail') state = { step: 'voicemail', v: int(params, 'v', 1, 999_999, errors) };
  else errors.push({ field: 'step', message: 'must be gather, dial, whisper, voicemail or fallback' });
  if (errors.length > 0 || state === null) return { ok: false, errors };

  // The first request (and the fallback) comes to the URL the buyer configured: there is no state to forge.
  if (state.step === 'incoming' || state.step === 'fallback' || URL_SIGNED_PROVIDERS.has(ctx.provider)) return { ok: true, state };
  const given = params.st;
  const want = stateMac(ctx.stateKey, ctx.callId, encodeQuery(stateParams(state)));
  const ok = given !== undefined && given.length === want.length && timingSafeEqual(Buffer.from(given), Buffer.from(want));
  if (!ok) errors.push({ field: 'st', message: 'does not authenticate this state for this call' });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, state };
}

/**
 * The key of `st` for one account: HMAC-SHA256 of a fixed label and the account id under the deployment's caller-hash
 * key. Derived, not stored: no new secret to provision or rotate, any container computes it, the label keeps it
 * apart from caller hashes made with the same key, and each account's states verify only under its own key.
 */
export function voiceStateKey(deploymentKey: string, accountId: string): string {
  return createHmac('sha256', deploymentKey).update(`callledger voice state\n${accountId}`, 'utf8').digest('base64url');
}
