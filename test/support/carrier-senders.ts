/**
 * The four carriers as they call one account's webhook over HTTP, behind one interface, so that an end-to-end test
 * can play the same call lifecycle through each: Twilio (forms, X-Twilio-Signature), Telnyx (Call Control JSON,
 * Ed25519 over timestamp|body), Vonage (event JSON, HS256 JWT with payload_hash) and Plivo (forms,
 * X-Plivo-Signature-V3 signed with the account's current and next token, as during a rotation). Each delivery is
 * signed once, when it is built, with the wall clock: delivering it again is a carrier's retry of the same bytes.
 *
 * Recording URLs point at the local stack's fake media host, which checks each carrier's credentials.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { ENV } from '../../infra/resources';
import type { LocalStack } from '../../infra/local/stack';
import { signPlivo, signTelnyx, vonageJwt } from '../../events/carrier-signing';
import type { Provider } from '../../shared/domain/calls/events';
import { TwilioSender, newCallSid, newRecordingSid, type Form } from './e2e-harness';

export interface LifecycleCall {
  /** The carrier's own id of the caller's leg (CallSid, call_leg_id, conversation_uuid, CallUUID). */
  readonly id: string;
  /** Vonage: the inbound leg's uuid (the call is the conversation). */
  readonly legId: string;
  readonly from: string;
  readonly to: string;
}

export interface Delivery {
  readonly contentType: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface CarrierSender {
  readonly carrier: Provider;
  newCall(from: string, to: string): LifecycleCall;
  /** The CallEvent call id CallLedger files the call under. */
  callId(call: LifecycleCall): string;
  newRecordingId(): string;
  ringing(call: LifecycleCall, atMs: number): Delivery;
  /** The call's end at `endMs`: `completed` after `durationSec` connected seconds, or `busy`. */
  terminal(call: LifecycleCall, status: 'completed' | 'busy', endMs: number, durationSec?: number): Delivery;
  recording(call: LifecycleCall, recordingId: string, startMs: number, durationSec: number): Delivery;
  /**
   * A call a machine answered, completed after `durationSec`: Twilio says so on the status callback (AnsweredBy); the
   * other carriers send the detection result apart, here delivered before the hangup.
   */
  machineAnswered(call: LifecycleCall, endMs: number, durationSec: number): Delivery[];
  /**
   * The end of the leg the carrier dialled from the call to the buyer's line (`buyer`), `durationSec` of talk, and
   * the id CallLedger would give that leg if it were a call of its own. Telnyx has none: its transfer leg is a call of
   * its own (docs/CONTRACTS.md, "Carriers").
   */
  buyerLeg?(call: LifecycleCall, buyer: string, endMs: number, durationSec: number): { delivery: Delivery; legCallId: string };
  /** POSTs and requires the success answer: 204 (Telnyx 200), empty body. */
  deliver(d: Delivery): Promise<void>;
}

const iso = (ms: number) => new Date(ms).toISOString();
const nowSec = () => Math.floor(Date.now() / 1000);
/** `+15125550101` → `15125550101`: Vonage and Plivo send numbers without the `+`. */
const digits = (e164: string) => e164.replace(/^\+/, '');

abstract class HttpSender {
  abstract readonly carrier: Provider;
  constructor(protected readonly stack: LocalStack, readonly accountId: string) {}
  get path(): string {
    return `/webhooks/${this.carrier}/${this.accountId}`;
  }
  /** The URL the carrier was configured with (PUBLIC_BASE_URL), which Plivo signs. */
  get url(): string {
    return `${this.stack.env[ENV.publicBaseUrl] ?? this.stack.baseUrl}${this.path}`;
  }
  protected account() {
    const account = this.stack.seed.accounts.find((a) => a.accountId === this.accountId);
    if (!account) throw new Error(`no account ${this.accountId} in the seed`);
    return account;
  }
  protected secret(name: string): string {
    const value = this.stack.secrets.carriers.values[name];
    if (value === undefined) throw new Error(`no local secret ${name}`);
    return value;
  }
  async deliver(d: Delivery): Promise<void> {
    const res = await fetch(`${this.stack.baseUrl}${this.path}`, { method: 'POST', headers: { 'content-type': d.contentType, ...d.headers }, body: d.body });
    const text = await res.text();
    // Telnyx fails over on anything but 200 OK; the others answer 204, as Twilio's route.
    expect(res.status, `${this.carrier} webhook answered ${res.status}: ${text}`).toBe(this.carrier === 'telnyx' ? 200 : 204);
    expect(text).toBe('');
  }
}

export class TwilioLifecycle implements CarrierSender {
  readonly carrier = 'twilio' as const;
  private readonly twilio: TwilioSender;
  constructor(stack: LocalStack, accountId: string) {
    this.twilio = new TwilioSender(stack, accountId);
  }
  newCall(from: string, to: string): LifecycleCall {
    const id = newCallSid();
    return { id, legId: id, from, to };
  }
  callId(call: LifecycleCall): string {
    return `twilio:${call.id}`;
  }
  newRecordingId(): string {
    return newRecordingSid();
  }
  private delivery(form: Form): Delivery {
    return { contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams(form).toString(), headers: { 'x-twilio-signature': this.twilio.sign(form) } };
  }
  ringing(call: LifecycleCall): Delivery {
    return this.delivery(this.twilio.ringing({ callSid: call.id, from: call.from, to: call.to }));
  }
  terminal(call: LifecycleCall, status: 'completed' | 'busy', endMs: number, durationSec = 0): Delivery {
    return this.delivery(this.twilio.terminal({ callSid: call.id, from: call.from, to: call.to }, status, endMs, durationSec));
  }
  recording(call: LifecycleCall, recordingId: string, startMs: number, durationSec: number): Delivery {
    return this.delivery(this.twilio.recording({ callSid: call.id, from: call.from, to: call.to }, recordingId, startMs, durationSec));
  }
  machineAnswered(call: LifecycleCall, endMs: number, durationSec: number): Delivery[] {
    const form = this.twilio.terminal({ callSid: call.id, from: call.from, to: call.to }, 'completed', endMs, durationSec);
    return [this.delivery([...form, ['AnsweredBy', 'machine_start']])];
  }
  buyerLeg(call: LifecycleCall, buyer: string, endMs: number, durationSec: number): { delivery: Delivery; legCallId: string } {
    const legSid = newCallSid();
    const form: Form = [
      ['AccountSid', this.twilio.accountSid],
      ['ApiVersion', '2010-04-01'],
      ['CallSid', legSid],
      ['ParentCallSid', call.id],
      ['CallStatus', 'completed'],
      ['Direction', 'outbound-dial'],
      ['From', call.to],
      ['To', buyer],
      ['Timestamp', new Date(endMs).toUTCString().replace(/GMT$/, '+0000')],
      ['CallbackSource', 'call-progress-events'],
      ['SequenceNumber', '1'],
      ['CallDuration', String(durationSec)],
    ];
    return { delivery: this.delivery(form), legCallId: `twilio:${legSid}` };
  }
  async deliver(d: Delivery): Promise<void> {
    const res = await this.twilio.post(Array.from(new URLSearchParams(d.body)), { signature: d.headers['x-twilio-signature']! });
    const text = await res.text();
    expect(res.status, `twilio webhook answered ${res.status}: ${text}`).toBe(204);
  }
}

export class TelnyxLifecycle extends HttpSender implements CarrierSender {
  readonly carrier = 'telnyx' as const;
  newCall(from: string, to: string): LifecycleCall {
    const id = randomUUID();
    return { id, legId: id, from, to };
  }
  callId(call: LifecycleCall): string {
    return `telnyx:${call.id}`;
  }
  newRecordingId(): string {
    return randomUUID();
  }
  private event(type: string, call: LifecycleCall, occurredAtMs: number, payload: Record<string, unknown>): Delivery {
    const body = JSON.stringify({
      data: {
        record_type: 'event',
        event_type: type,
        id: randomUUID(),
        occurred_at: iso(occurredAtMs),
        payload: { call_control_id: `v3:${randomBytes(12).toString('base64url')}`, call_leg_id: call.id, call_session_id: call.id, from: call.from, to: call.to, ...payload },
      },
      meta: { attempt: 1, delivered_to: this.url },
    });
    const keyName = this.account().telnyx!.publicKeySecrets[0]!;
    const headers = signTelnyx(this.stack.secrets.carriers.telnyxSigningKeys[keyName]!, body, nowSec());
    return { contentType: 'application/json', body, headers };
  }
  ringing(call: LifecycleCall, atMs: number): Delivery {
    return this.event('call.initiated', call, atMs, { direction: 'incoming', state: 'parked', start_time: iso(atMs), shaken_stir_attestation: 'A', shaken_stir_validated: true });
  }
  terminal(call: LifecycleCall, status: 'completed' | 'busy', endMs: number, durationSec = 0): Delivery {
    const cause = status === 'completed' ? 'normal_clearing' : 'user_busy';
    return this.event('call.hangup', call, endMs, {
      state: 'hangup',
      hangup_cause: cause,
      hangup_source: 'caller',
      start_time: iso(endMs - durationSec * 1000),
      end_time: iso(endMs),
    });
  }
  machineAnswered(call: LifecycleCall, endMs: number, durationSec: number): Delivery[] {
    const detected = this.event('call.machine.detection.ended', call, endMs - (durationSec - 3) * 1000, { result: 'machine' });
    return [detected, this.terminal(call, 'completed', endMs, durationSec)];
  }
  recording(call: LifecycleCall, recordingId: string, startMs: number, durationSec: number): Delivery {
    const wav = this.stack.media.carrierRecordingUrl('telnyx', recordingId);
    return this.event('call.recording.saved', call, startMs + durationSec * 1000 + 1000, {
      channels: 'single',
      recording_id: recordingId,
      recording_started_at: iso(startMs),
      recording_ended_at: iso(startMs + durationSec * 1000),
      recording_urls: { wav, mp3: null },
      public_recording_urls: { wav: null, mp3: null },
    });
  }
}

export class VonageLifecycle extends HttpSender implements CarrierSender {
  readonly carrier = 'vonage' as const;
  newCall(from: string, to: string): LifecycleCall {
    return { id: `CON-${randomUUID()}`, legId: randomUUID(), from, to };
  }
  callId(call: LifecycleCall): string {
    return `vonage:${call.id}`;
  }
  newRecordingId(): string {
    return randomUUID();
  }
  private event(fields: Record<string, unknown>): Delivery {
    const body = JSON.stringify(fields);
    const v = this.account().vonage!;
    const jwt = vonageJwt(this.secret(v.signatureSecretSecrets[0]!), body, { iat: nowSec(), jti: randomUUID(), api_key: v.apiKey, application_id: v.applicationId });
    return { contentType: 'application/json', body, headers: { authorization: `Bearer ${jwt}` } };
  }
  private status(call: LifecycleCall, status: string, atMs: number, extra: Record<string, unknown> = {}): Delivery {
    return this.event({ from: digits(call.from), to: digits(call.to), uuid: call.legId, conversation_uuid: call.id, status, direction: 'inbound', timestamp: iso(atMs), ...extra });
  }
  ringing(call: LifecycleCall, atMs: number): Delivery {
    return this.status(call, 'ringing', atMs);
  }
  terminal(call: LifecycleCall, status: 'completed' | 'busy', endMs: number, durationSec = 0): Delivery {
    if (status === 'busy') return this.status(call, 'busy', endMs);
    return this.status(call, 'completed', endMs, {
      start_time: iso(endMs - durationSec * 1000),
      end_time: iso(endMs),
      duration: String(durationSec),
      rate: '0.00450000',
      price: '0.01350000',
      network: 'US-FIXED',
    });
  }
  machineAnswered(call: LifecycleCall, endMs: number, durationSec: number): Delivery[] {
    // Detection on the caller's own leg names it `call_uuid` and says its direction.
    const detected = this.event({ call_uuid: call.legId, conversation_uuid: call.id, status: 'machine', direction: 'inbound', timestamp: iso(endMs - (durationSec - 3) * 1000) });
    return [detected, this.terminal(call, 'completed', endMs, durationSec)];
  }
  buyerLeg(call: LifecycleCall, buyer: string, endMs: number, durationSec: number): { delivery: Delivery; legCallId: string } {
    const leg = randomUUID();
    const delivery = this.event({
      from: digits(call.to),
      to: digits(buyer),
      uuid: leg,
      conversation_uuid: call.id,
      status: 'completed',
      direction: 'outbound',
      timestamp: iso(endMs),
      start_time: iso(endMs - durationSec * 1000),
      end_time: iso(endMs),
      duration: String(durationSec),
    });
    return { delivery, legCallId: `vonage:${leg}` };
  }
  recording(call: LifecycleCall, recordingId: string, startMs: number, durationSec: number): Delivery {
    return this.event({
      start_time: iso(startMs),
      recording_url: this.stack.media.carrierRecordingUrl('vonage', recordingId),
      size: 48_000,
      recording_uuid: recordingId,
      end_time: iso(startMs + durationSec * 1000),
      conversation_uuid: call.id,
      timestamp: iso(startMs + durationSec * 1000 + 1000),
    });
  }
}

/** Plivo's `YYYY-MM-DD HH:MM:SS` (UTC). */
const plivoTime = (ms: number) => iso(ms).slice(0, 19).replace('T', ' ');

export class PlivoLifecycle extends HttpSender implements CarrierSender {
  readonly carrier = 'plivo' as const;
  newCall(from: string, to: string): LifecycleCall {
    const id = randomUUID();
    return { id, legId: id, from, to };
  }
  callId(call: LifecycleCall): string {
    return `plivo:${call.id}`;
  }
  newRecordingId(): string {
    return randomUUID();
  }
  private form(params: Record<string, string>): Delivery {
    const p = this.account().plivo!;
    // Delivered while the account rotates its token: Plivo signs with the next and the current one.
    const tokens = [...p.authTokenSecrets].reverse().map((name) => this.secret(name));
    const nonce = String(BigInt(`0x${randomBytes(8).toString('hex')}`)).padStart(20, '0');
    return { contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams(params).toString(), headers: signPlivo(tokens, this.url, params, nonce) };
  }
  private call(call: LifecycleCall): Record<string, string> {
    return { CallUUID: call.id, Direction: 'inbound', From: digits(call.from), To: digits(call.to), ALegUUID: call.id };
  }
  ringing(call: LifecycleCall): Delivery {
    return this.form({ ...this.call(call), CallStatus: 'ringing', Event: 'Ring', STIRAttestation: 'A', STIRVerification: 'Verified' });
  }
  terminal(call: LifecycleCall, status: 'completed' | 'busy', endMs: number, durationSec = 0): Delivery {
    return this.form({
      ...this.call(call),
      CallStatus: status,
      Event: 'Hangup',
      Duration: String(status === 'completed' ? durationSec : 0),
      BillDuration: String(status === 'completed' ? Math.ceil(durationSec / 60) * 60 : 0),
      StartTime: plivoTime(endMs - durationSec * 1000),
      EndTime: plivoTime(endMs),
      HangupCause: status === 'completed' ? 'NORMAL_CLEARING' : 'USER_BUSY',
    });
  }
  machineAnswered(call: LifecycleCall, endMs: number, durationSec: number): Delivery[] {
    const detected = this.form({ ...this.call(call), CallStatus: 'in-progress', Event: 'MachineDetection', Machine: 'true' });
    return [detected, this.terminal(call, 'completed', endMs, durationSec)];
  }
  buyerLeg(call: LifecycleCall, buyer: string, endMs: number, durationSec: number): { delivery: Delivery; legCallId: string } {
    const leg = randomUUID();
    const delivery = this.form({
      CallUUID: leg,
      ALegUUID: call.id,
      Direction: 'outbound',
      From: digits(call.to),
      To: digits(buyer),
      CallStatus: 'completed',
      Event: 'Hangup',
      Duration: String(durationSec),
      EndTime: plivoTime(endMs),
      HangupCause: 'NORMAL_CLEARING',
    });
    return { delivery, legCallId: `plivo:${leg}` };
  }
  recording(call: LifecycleCall, recordingId: string, startMs: number, durationSec: number): Delivery {
    const url = this.stack.media.carrierRecordingUrl('plivo', recordingId, this.account().plivo!.authId);
    return this.form({
      ...this.call(call),
      RecordUrl: url,
      RecordingID: recordingId,
      RecordingDuration: String(durationSec),
      RecordingStartMs: String(startMs),
      RecordingEndMs: String(startMs + durationSec * 1000),
    });
  }
}

/** The carrier settings the e2e seed gives an account (secret names only; the local stack generates the values). */
export function carrierConfigFor(accountId: string): Record<string, unknown> {
  return {
    telnyx: { publicKeySecrets: [`telnyx/${accountId}/public-key`] },
    vonage: {
      apiKey: 'a1b2c3d4',
      applicationId: '0b7c2f9e-4d1a-4e3b-9c8d-7a6b5c4d3e2f',
      signatureSecretSecrets: [`vonage/${accountId}/signature-secret`],
      privateKeySecret: `vonage/${accountId}/private-key`,
    },
    plivo: { authId: 'MAACMEROOFING0000001', authTokenSecrets: [`plivo/${accountId}/auth-token`, `plivo/${accountId}/auth-token-next`] },
  };
}
