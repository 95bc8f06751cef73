/**
 * The Twilio call simulator: plays one scripted call (script.ts) through a voice URL the way Twilio does, and
 * returns what happened (the trace) and what is true about the call (the ground truth the ledger is compared with).
 *
 * What it does, in Twilio's order (CALL-FLOW.md §1, PROVIDERS.md §1):
 * - requests the voice URL with the incoming-call parameters (CallStatus=ringing, Direction=inbound, Caller/Called,
 *   the caller's lookup fields, StirVerstat when the call carried a PASSporT), form-encoded and signed with
 *   X-Twilio-Signature over the public URL (PUBLIC_BASE_URL), as Twilio signs the URL it requested;
 * - reads the answer as Twilio reads it (twiml.ts) and runs its verbs in order: <Say>/<Play>/<Pause> take time;
 *   <Gather> plays its prompt, then posts Digits to its action (default: the document's own URL) or, with no input
 *   and actionOnEmptyResult unset, falls through to the next verb; <Redirect> replaces the document; <Dial> rings
 *   its <Number>/<Sip> nouns (at once, or one after another with sequential="true"), sends each dialled leg's
 *   initiated/ringing/answered/completed to that noun's statusCallback (only the events statusCallbackEvent names;
 *   default completed), runs the noun's whisper `url` on the answered leg, bridges, and posts DialCallStatus,
 *   DialCallSid, DialCallDuration and DialBridged to its action (without action: the next verb); <Record> records and
 *   posts RecordingUrl/RecordingDuration/Digits to its action; <Hangup> ends the call; a first-verb <Reject> declines
 *   it unanswered (final status busy or no-answer by its reason), a later one ends it like <Hangup>;
 * - answers the call at the first verb that is not <Reject> (a first <Pause> delays pickup; a <Dial answerOnBridge>
 *   answers when a leg is bridged);
 * - when the call ends, sends the number's status callback (the final CallStatus with CallDuration, and Duration in
 *   minutes when completed), then each recording's status callback, all signed.
 *
 * Time is simulated: nothing waits. The clock starts at the script's `startAt` and moves by the scripted durations
 * (speech at 2.5 words/s, a <Play> `playSec`, ring times, talk times, a Dial's no-answer after its timeout plus
 * Twilio's 5 s buffer); Timestamp, RecordingStartTime and the trace carry the simulated instants.
 *
 * Refusals: TwiML Twilio does not document (or the simulator does not play) throws TwimlViolation, with the trace so
 * far. A URL outside PUBLIC_BASE_URL in the TwiML is refused the same way: Twilio would request it, but CallLedger
 * never writes one. Where Twilio itself fails a request (HTTP error, timeout, 12100/12300/11750) it behaves as Twilio:
 * the Fallback URL once, with ErrorCode and ErrorUrl, else the "application error" message and a hangup; with
 * `strict` (the default) an unreadable answer (12100/12300/11750) throws instead, since CallLedger must never write one.
 */
import { randomBytes } from 'node:crypto';
import { twilioSignature } from '../../shared/domain/calls/providers/twilio';
import { mulberry32 } from '../prng';
import { callScript, type CallScript, type CallScriptInput, type TargetOutcome } from './script';
import { checkTwiml, readAnswer, TwimlFetchFailure, TwimlViolation, WHISPER_VERBS, type TwimlNode } from './twiml';

export interface SimulatorAccount {
  readonly authToken: string;
  /** Twilio's AccountSid sent with every request. */
  readonly accountSid: string;
}

export interface SimulatorConfig {
  /** PUBLIC_BASE_URL: what Twilio requests and signs; every URL in the TwiML must be under it. */
  readonly publicBaseUrl: string;
  /** Where the requests actually go (the local stack); default `publicBaseUrl`. The path and query are kept. */
  readonly baseUrl?: string;
  /** Per CallLedger account id: the Twilio credentials the number belongs to. */
  readonly accounts: Readonly<Record<string, SimulatorAccount>>;
  /** The number's Voice URL path; default `/voice/twilio/{accountId}`. */
  readonly voicePath?: (accountId: string) => string;
  /** The number's "call status changes" URL path (null: none); default `/webhooks/twilio/{accountId}`. */
  readonly statusCallbackPath?: (accountId: string) => string | null;
  /** The number's Voice Fallback URL path (null: none, the default). */
  readonly fallbackPath?: (accountId: string) => string | null;
  /** Default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** Per request; default 15 000 ms, Twilio's hard limit for any call webhook. */
  readonly requestTimeoutMs?: number;
  /** Throw on an answer Twilio cannot read (12100, 12300, 11750) rather than behave as Twilio; default true. */
  readonly strict?: boolean;
  /** Headers added to every request, given the simulated instant (e.g. for a local stack with an injectable clock). */
  readonly headers?: (atMs: number) => Record<string, string>;
  /** TwiML documents fetched per call before the simulator calls it a loop; default 50. */
  readonly maxDocuments?: number;
  /** Where RecordingUrl values point (the local stack's fake media host); default https://api.twilio.com. */
  readonly mediaBaseUrl?: string;
}

export type RequestPurpose =
  | 'voice' | 'gather_action' | 'redirect' | 'dial_action' | 'record_action' | 'whisper' | 'fallback'
  | 'leg_status' | 'call_status' | 'recording_status';

export interface TraceRequest {
  readonly seq: number;
  readonly atMs: number;
  readonly purpose: RequestPurpose;
  readonly method: 'GET' | 'POST';
  /** The public URL requested and signed. */
  readonly url: string;
  readonly params: Readonly<Record<string, string>>;
  readonly httpStatus: number | null;
  readonly contentType: string | null;
  /** The answer's body for TwiML requests; null for callbacks (Twilio ignores them). */
  readonly body: string | null;
  readonly error: string | null;
  /** A second delivery of the same request (same signature and I-Twilio-Idempotency-Token). */
  readonly redelivery: boolean;
}

export interface TraceVerb {
  readonly atMs: number;
  readonly leg: 'parent' | 'whisper';
  readonly verb: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly note: string | null;
}

export interface TraceGather {
  /** When CallLedger answered the request whose document holds the <Gather> (what `coached_ivr` measures from). */
  readonly servedAtMs: number;
  readonly promptStartedAtMs: number;
  readonly promptEndedAtMs: number;
  /** When the keys came (null: no input). */
  readonly inputAtMs: number | null;
  /** What was posted as Digits (null: nothing posted). */
  readonly digits: string | null;
  readonly result: 'digits' | 'timeout' | 'empty_action' | 'caller_hangup';
}

export interface TraceLeg {
  readonly callSid: string;
  readonly noun: 'Number' | 'Sip';
  readonly destination: string;
  readonly outcome: TargetOutcome['outcome'];
  /** The leg's final CallStatus. */
  readonly status: 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';
  readonly initiatedAtMs: number;
  readonly answeredAtMs: number | null;
  readonly endedAtMs: number;
  /** CallDuration of the leg: from its answer to its end. */
  readonly durationSec: number;
  readonly bridged: boolean;
  readonly whisperSec: number;
  readonly talkSec: number;
}

export interface TraceRecording {
  readonly recordingSid: string;
  readonly source: 'DialVerb' | 'RecordVerb';
  readonly startAtMs: number;
  readonly durationSec: number;
  readonly channels: 1 | 2;
  readonly status: 'completed' | 'failed' | 'absent';
}

export type EndReason = 'hangup' | 'reject' | 'document_end' | 'caller_hangup' | 'application_error';

export interface CallTrace {
  readonly callSid: string;
  readonly accountId: string;
  readonly startedAtMs: number;
  readonly answeredAtMs: number | null;
  readonly endedAtMs: number;
  readonly finalStatus: 'completed' | 'busy' | 'no-answer';
  readonly endReason: EndReason;
  readonly requests: readonly TraceRequest[];
  readonly verbs: readonly TraceVerb[];
  readonly gathers: readonly TraceGather[];
  readonly legs: readonly TraceLeg[];
  readonly recordings: readonly TraceRecording[];
  /** What went wrong on Twilio's side of the line (a failed fetch and its error code), in order. */
  readonly errors: readonly string[];
}

/** What is true about the call, for the comparison with the ledger. */
export interface GroundTruth {
  readonly callSid: string;
  /** Twilio answered the incoming call (it bills the buyer's Twilio account); false: declined or never picked up. */
  readonly answered: boolean;
  /** Declined with a first-verb <Reject>. */
  readonly rejected: boolean;
  readonly finalStatus: CallTrace['finalStatus'];
  /** The incoming call's CallDuration (from its answer to its end). */
  readonly durationSec: number;
  /** A dialled leg was answered and bridged to the caller. */
  readonly connected: boolean;
  /** The destination (E.164 or SIP URI) of the bridged leg. */
  readonly answeredTarget: string | null;
  readonly answeredBy: 'human' | 'machine' | null;
  /** Seconds the caller and the answering party were bridged. */
  readonly talkSec: number;
  /** The bridged leg's CallDuration (its answer to its end, whisper included): Twilio's DialCallDuration. */
  readonly targetLegSec: number;
  /** Every Digits value posted to a Gather action, in order. */
  readonly digits: readonly string[];
  readonly recordings: readonly { readonly source: TraceRecording['source']; readonly durationSec: number; readonly status: TraceRecording['status'] }[];
  /** The script's billing rule on the facts: connected, a human answered, and the counted seconds reach the buffer. */
  readonly billable: boolean;
}

export interface SimulatedCall {
  readonly script: CallScript;
  readonly trace: CallTrace;
  readonly truth: GroundTruth;
}

/** TwiML that Twilio does not document, or a URL outside PUBLIC_BASE_URL: the error and the trace up to it. */
export class SimulationError extends Error {
  constructor(
    readonly violation: Error,
    readonly trace: CallTrace,
  ) {
    super(violation.message);
    this.name = violation.name;
  }
}

const API_VERSION = '2010-04-01';
const DIAL_BUFFER_SEC = 5;
const APPLICATION_ERROR_SEC = 6;

/** RFC 2822 in UTC, as Twilio writes Timestamp (`Tue, 03 Jun 2025 15:09:45 +0000`). */
export function rfc2822(ms: number): string {
  return new Date(ms).toUTCString().replace(/GMT$/, '+0000');
}

export function sid(prefix: 'CA' | 'RE'): string {
  return `${prefix}${randomBytes(16).toString('hex')}`;
}

/** Seconds a <Say> takes: 2.5 words a second, at least one second (an empty <Say> acts like a one-second <Pause>). */
export function sayDurationSec(text: string): number {
  const words = text.split(/\s+/).filter((w) => w !== '').length;
  return Math.max(1, Math.ceil(words / 2.5));
}

type Params = Record<string, string>;

type Fetched =
  | { readonly kind: 'twiml'; readonly root: TwimlNode; readonly url: string; readonly servedAtMs: number }
  | { readonly kind: 'spoken' }
  | { readonly kind: 'app_error' };

type Flow = { readonly next: { readonly purpose: RequestPurpose; readonly url: string; readonly method: 'GET' | 'POST'; readonly extra: Params } } | { readonly end: EndReason };

interface PlannedLeg {
  readonly index: number;
  readonly callSid: string;
  readonly noun: 'Number' | 'Sip';
  readonly destination: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly outcome: TargetOutcome;
  readonly kind: 'answer' | 'busy' | 'failed' | 'no-answer';
  readonly resolveAtMs: number;
  readonly events: ReadonlySet<string>;
  readonly documentUrl: string;
  sequence: number;
}

interface HeldCallback {
  readonly purpose: RequestPurpose;
  readonly url: string;
  readonly verb: 'GET' | 'POST';
  readonly params: Params;
  readonly atMs: number;
  readonly token: string;
}

interface PendingRecording {
  readonly rec: TraceRecording;
  readonly callback: string | null;
  readonly method: 'GET' | 'POST';
  readonly events: ReadonlySet<string>;
}

const method = (v: string | undefined): 'GET' | 'POST' => (v === 'GET' ? 'GET' : 'POST');
const bool = (v: string | undefined, dflt: boolean): boolean => (v === undefined ? dflt : v === 'true');
const int = (v: string | undefined, dflt: number): number => (v === undefined ? dflt : Number(v));
const words = (v: string | undefined, dflt: string): Set<string> => new Set((v ?? dflt).split(/[\s,]+/).filter((w) => w !== ''));

class CallRun {
  private readonly requests: TraceRequest[] = [];
  private readonly verbs: TraceVerb[] = [];
  private readonly gathers: TraceGather[] = [];
  private readonly legs: TraceLeg[] = [];
  private readonly recordings: PendingRecording[] = [];
  private readonly held: HeldCallback[] = [];
  private readonly errors: string[] = [];
  private readonly dialled = new Map<string, number>();
  private readonly digits: string[] = [];
  private readonly callSid: string;
  private readonly account: SimulatorAccount;
  private readonly publicBase: string;
  private readonly fetchFn: typeof fetch;
  private readonly fallbackUrl: string | null;
  private nowMs: number;
  /** When the caller hangs up whatever is happening (Infinity: only where the script says so). */
  private readonly hangupAtMs: number;
  private answeredAtMs: number | null = null;
  private versExecuted = 0;
  private gatherIndex = 0;
  private documents = 0;
  private fallbackUsed = false;
  private callerGone = false;
  private rejected: 'busy' | 'rejected' | null = null;
  private bridgedLeg: TraceLeg | null = null;
  private bridgedBy: 'human' | 'machine' | null = null;
  private endReason: EndReason = 'document_end';

  constructor(
    private readonly script: CallScript,
    private readonly config: SimulatorConfig,
  ) {
    const account = config.accounts[script.accountId];
    if (account === undefined) throw new Error(`no Twilio credentials for account ${script.accountId}`);
    this.account = account;
    this.callSid = script.callSid ?? sid('CA');
    this.publicBase = config.publicBaseUrl.replace(/\/+$/, '');
    this.fetchFn = config.fetch ?? globalThis.fetch;
    this.nowMs = Date.parse(script.startAt);
    this.hangupAtMs = script.hangupAfterSec === null ? Infinity : this.nowMs + script.hangupAfterSec * 1000;
    const fallback = config.fallbackPath?.(script.accountId) ?? null;
    this.fallbackUrl = fallback === null ? null : `${this.publicBase}${fallback}`;
  }

  // ------------------------------------------------------------------------------------------ the parameters

  private get from(): string {
    return this.script.from ?? this.script.withheldAs;
  }

  private parentParams(status: string): Params {
    const s = this.script;
    const geo = s.fromGeo ?? { city: '', state: '', zip: '', country: '' };
    return {
      AccountSid: this.account.accountSid,
      ApiVersion: API_VERSION,
      CallSid: this.callSid,
      CallStatus: status,
      Direction: 'inbound',
      From: this.from,
      To: s.to,
      Caller: this.from,
      Called: s.to,
      FromCity: geo.city,
      FromState: geo.state,
      FromZip: geo.zip,
      FromCountry: geo.country,
      CallerCity: geo.city,
      CallerState: geo.state,
      CallerZip: geo.zip,
      CallerCountry: geo.country,
      ToCity: '',
      ToState: '',
      ToZip: '',
      ToCountry: 'US',
      CalledCity: '',
      CalledState: '',
      CalledZip: '',
      CalledCountry: 'US',
      ...(s.stirVerstat === null ? {} : { StirVerstat: s.stirVerstat }),
    };
  }

  private liveStatus(): string {
    if (this.callerGone) return 'completed';
    return this.answeredAtMs === null ? 'ringing' : 'in-progress';
  }

  private legParams(leg: PlannedLeg, status: string, callerId: string | undefined): Params {
    return {
      AccountSid: this.account.accountSid,
      ApiVersion: API_VERSION,
      CallSid: leg.callSid,
      ParentCallSid: this.callSid,
      CallStatus: status,
      Direction: 'outbound-dial',
      From: callerId ?? this.from,
      To: leg.destination,
      Caller: callerId ?? this.from,
      Called: leg.destination,
    };
  }

  // ------------------------------------------------------------------------------------------ the wire

  private checkUrl(url: string): void {
    const inside = url === this.publicBase || url.startsWith(`${this.publicBase}/`) || url.startsWith(`${this.publicBase}?`);
    if (!inside) throw new TwimlViolation('a URL outside PUBLIC_BASE_URL', [url.replace(/\?.*$/, '?…')]);
  }

  private resolve(relative: string, documentUrl: string): string {
    const url = new URL(relative, documentUrl).toString();
    this.checkUrl(url);
    return url;
  }

  private transportUrl(url: string): string {
    const base = (this.config.baseUrl ?? this.publicBase).replace(/\/+$/, '');
    return `${base}${url.slice(this.publicBase.length)}`;
  }

  /** One signed request; follows up to 10 redirects (11215 beyond), re-signing each URL as Twilio requests it. */
  private async send(
    purpose: RequestPurpose,
    url: string,
    verb: 'GET' | 'POST',
    params: Params,
    atMs: number,
    keepBody: boolean,
    delivery: { readonly token: string; readonly redelivery: boolean } = { token: this.token(), redelivery: false },
  ): Promise<{ status: number; contentType: string | null; body: string } | { error: string; code: string }> {
    let current = url;
    const idempotency = delivery.token;
    const redelivery = delivery.redelivery;
    for (let hop = 0; hop <= 10; hop++) {
      this.checkUrl(current);
      const query = new URLSearchParams(params).toString();
      const signedUrl = verb === 'GET' ? `${current}${current.includes('?') ? '&' : '?'}${query}` : current;
      const signature = twilioSignature(this.account.authToken, signedUrl, verb === 'GET' ? {} : params);
      const seq = this.requests.length;
      let status: number | null = null;
      let contentType: string | null = null;
      let body = '';
      let error: string | null = null;
      try {
        const res = await this.fetchFn(this.transportUrl(signedUrl), {
          method: verb,
          headers: {
            ...(verb === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' } : {}),
            'x-twilio-signature': signature,
            'user-agent': 'TwilioProxy/1.1',
            'i-twilio-idempotency-token': idempotency,
            ...(this.config.headers?.(atMs) ?? {}),
          },
          body: verb === 'POST' ? query : undefined,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.config.requestTimeoutMs ?? 15_000),
        });
        status = res.status;
        contentType = res.headers.get('content-type');
        body = await res.text();
        const location = res.headers.get('location');
        this.requests.push({ seq, atMs, purpose, method: verb, url: signedUrl, params, httpStatus: status, contentType, body: keepBody ? body : null, error: null, redelivery });
        if (status >= 300 && status < 400 && location !== null) {
          current = new URL(location, current).toString();
          continue;
        }
        if (status >= 400) return { error: `HTTP ${status}`, code: '11200' };
        return { status, contentType, body };
      } catch (e) {
        if (e instanceof TwimlViolation) throw e;
        error = e instanceof Error && e.name === 'TimeoutError' ? 'no answer within the time limit' : e instanceof Error ? e.message : String(e);
        this.requests.push({ seq, atMs, purpose, method: verb, url: signedUrl, params, httpStatus: status, contentType, body: null, error, redelivery });
        return { error, code: e instanceof Error && e.name === 'TimeoutError' ? '11205' : '11200' };
      }
    }
    return { error: 'more than 10 redirects', code: '11215' };
  }

  /** A callback whose answer Twilio ignores. */
  private token(): string {
    return `${this.callSid}-${randomBytes(6).toString('hex')}`;
  }

  /**
   * A callback whose answer Twilio ignores: sent now, or (delivery order other than as fired) held until the call
   * is over; with duplicates, the same request (same signature and idempotency token) a second time.
   */
  private async callback(purpose: RequestPurpose, url: string, verb: 'GET' | 'POST', params: Params, atMs: number): Promise<void> {
    const held: HeldCallback = { purpose, url, verb, params, atMs, token: this.token() };
    if (this.script.delivery.order !== 'as_fired') return void this.held.push(held);
    await this.deliver(held);
  }

  private async deliver(h: HeldCallback): Promise<void> {
    for (let copy = 0; copy < (this.script.delivery.duplicates ? 2 : 1); copy++) {
      const r = await this.send(h.purpose, h.url, h.verb, h.params, h.atMs, false, { token: h.token, redelivery: copy > 0 });
      if ('error' in r) this.errors.push(`${h.purpose} ${r.error}`);
    }
  }

  /** The held callbacks, in the script's order: reversed, or shuffled reproducibly from its seed. */
  private async deliverHeld(): Promise<void> {
    const held = [...this.held];
    if (this.script.delivery.order === 'reversed') held.reverse();
    if (this.script.delivery.order === 'shuffled') {
      const random = mulberry32(this.script.delivery.seed);
      for (let i = held.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [held[i], held[j]] = [held[j]!, held[i]!];
      }
    }
    for (const h of held) await this.deliver(h);
  }

  /** Requests TwiML, as Twilio does: the fallback URL once on failure, else the application-error message. */
  private async fetchTwiml(purpose: RequestPurpose, url: string, verb: 'GET' | 'POST', params: Params, allowed?: ReadonlySet<string>): Promise<Fetched> {
    if (++this.documents > (this.config.maxDocuments ?? 50)) throw new TwimlViolation('a TwiML loop', [`more than ${this.config.maxDocuments ?? 50} documents for one call`]);
    const atMs = this.nowMs;
    const r = await this.send(purpose, url, verb, params, atMs, true);
    let failure: { code: string; message: string } | null = null;
    if ('error' in r) failure = { code: r.code, message: r.error };
    else {
      try {
        const answer = readAnswer(r.contentType, r.body);
        if (answer.kind === 'spoken') return { kind: 'spoken' };
        checkTwiml(answer.root, allowed);
        return { kind: 'twiml', root: answer.root, url, servedAtMs: atMs };
      } catch (e) {
        if (!(e instanceof TwimlFetchFailure) || this.config.strict !== false) throw e;
        failure = { code: e.errorCode, message: e.message };
      }
    }
    this.errors.push(`${purpose} ${failure.code} ${failure.message}`);
    if (this.fallbackUrl !== null && !this.fallbackUsed && purpose !== 'whisper') {
      this.fallbackUsed = true;
      return this.fetchTwiml('fallback', this.fallbackUrl, 'POST', { ...this.parentParams(this.liveStatus()), ErrorCode: failure.code, ErrorUrl: url });
    }
    return { kind: 'app_error' };
  }

  // ------------------------------------------------------------------------------------------ the verbs

  private answer(): void {
    if (this.answeredAtMs === null) this.answeredAtMs = this.nowMs;
  }

  /** Lets `sec` pass on the caller's side; false (the clock at the hang-up) when the caller hangs up meanwhile. */
  private wait(sec: number): boolean {
    if (this.nowMs + sec * 1000 > this.hangupAtMs) {
      this.nowMs = Math.max(this.nowMs, this.hangupAtMs);
      this.callerGone = true;
      return false;
    }
    this.nowMs += sec * 1000;
    return true;
  }

  private note(leg: TraceVerb['leg'], n: TwimlNode, note: string | null = null): void {
    this.verbs.push({ atMs: this.nowMs, leg, verb: n.name, attrs: n.attrs, note });
  }

  /** Say, Play, Pause: the seconds they take. */
  private spokenSec(n: TwimlNode): number {
    const loop = Math.max(1, int(n.attrs.loop, 1));
    if (n.name === 'Say') return sayDurationSec(n.text) * loop;
    if (n.name === 'Play') return this.script.playSec * loop;
    return int(n.attrs.length, 1);
  }

  private nextInput() {
    return this.script.gathers[this.gatherIndex++] ?? { press: null };
  }

  private async run(): Promise<void> {
    let fetched = await this.fetchTwiml('voice', `${this.publicBase}${(this.config.voicePath ?? ((a) => `/voice/twilio/${encodeURIComponent(a)}`))(this.script.accountId)}`, 'POST', this.parentParams('ringing'));
    for (;;) {
      if (fetched.kind === 'app_error') return this.applicationError();
      if (fetched.kind === 'spoken') {
        this.answer();
        this.nowMs += APPLICATION_ERROR_SEC * 1000;
        this.endReason = 'hangup';
        return;
      }
      const flow = await this.execute(fetched);
      if ('end' in flow) {
        this.endReason = flow.end;
        return;
      }
      const params = { ...this.parentParams(this.liveStatus()), ...flow.next.extra };
      fetched = await this.fetchTwiml(flow.next.purpose, flow.next.url, flow.next.method, params);
    }
  }

  private applicationError(): void {
    this.answer();
    this.nowMs += APPLICATION_ERROR_SEC * 1000;
    this.endReason = 'application_error';
  }

  private async execute(doc: Extract<Fetched, { kind: 'twiml' }>): Promise<Flow> {
    for (const n of doc.root.children) {
      const first = this.versExecuted++ === 0 && this.answeredAtMs === null;
      switch (n.name) {
        case 'Say':
        case 'Play':
          this.answer();
          this.note('parent', n);
          if (!this.wait(this.spokenSec(n))) return { end: 'caller_hangup' };
          break;
        case 'Pause':
          // A <Pause> before the call is answered delays the pickup: the caller still hears ringing.
          this.note('parent', n, this.answeredAtMs === null ? 'before pickup' : null);
          if (!this.wait(this.spokenSec(n))) return { end: 'caller_hangup' };
          break;
        case 'Gather': {
          const flow = this.gather(n, doc);
          if (flow !== null) return flow;
          break;
        }
        case 'Redirect':
          this.answer();
          this.note('parent', n);
          return { next: { purpose: 'redirect', url: this.resolve(n.text, doc.url), method: method(n.attrs.method), extra: {} } };
        case 'Hangup':
          this.answer();
          this.note('parent', n);
          return { end: 'hangup' };
        case 'Reject':
          if (first) {
            this.note('parent', n, 'declined unanswered');
            this.rejected = n.attrs.reason === 'busy' ? 'busy' : 'rejected';
            return { end: 'reject' };
          }
          this.note('parent', n, 'after the call was answered: ends it like <Hangup>');
          this.answer();
          return { end: 'hangup' };
        case 'Record': {
          const flow = await this.record(n, doc);
          if (flow !== null) return flow;
          break;
        }
        case 'Dial': {
          const flow = await this.dial(n, doc);
          if (flow !== null) return flow;
          break;
        }
        default:
          throw new TwimlViolation('TwiML the simulator does not play', [`Response/${n.name}`]);
      }
    }
    // An empty <Response/> answers the call and ends it; an unbridged <Dial answerOnBridge> leaves it unanswered.
    if (doc.root.children.length === 0) this.answer();
    return { end: 'document_end' };
  }

  private gather(n: TwimlNode, doc: Extract<Fetched, { kind: 'twiml' }>): Flow | null {
    this.answer();
    this.note('parent', n);
    const promptStartedAtMs = this.nowMs;
    for (const c of n.children) {
      this.note('parent', c, 'in Gather');
      if (!this.wait(this.spokenSec(c))) return this.leftDuringGather(doc, promptStartedAtMs, null);
    }
    const promptEndedAtMs = this.nowMs;
    const numDigits = n.attrs.numDigits === undefined ? null : Number(n.attrs.numDigits);
    const finishOnKey = n.attrs.finishOnKey ?? '#';
    const timeoutSec = int(n.attrs.timeout, 5);
    const action = this.resolve(n.attrs.action ?? doc.url, doc.url);
    const dtmf = words(n.attrs.input, 'dtmf').has('dtmf');
    const input = this.nextInput();
    const base = { servedAtMs: doc.servedAtMs, promptStartedAtMs, promptEndedAtMs };
    if (input.press !== null && dtmf) {
      let digits = '';
      let finishedOnKey = '';
      for (const key of input.press) {
        if (finishOnKey !== '' && key === finishOnKey) {
          finishedOnKey = key;
          break;
        }
        digits += key;
        if (numDigits !== null && digits.length >= numDigits) break;
      }
      const complete = finishedOnKey !== '' || (numDigits !== null && digits.length >= numDigits);
      const inputAtMs = promptEndedAtMs + input.afterSec * 1000;
      // Without the finishing key or numDigits reached, Twilio submits what it has once `timeout` passes.
      if (!this.wait(input.afterSec + (complete ? 0 : timeoutSec))) return this.leftDuringGather(doc, promptStartedAtMs, promptEndedAtMs);
      this.gathers.push({ ...base, inputAtMs, digits, result: 'digits' });
      this.digits.push(digits);
      return { next: { purpose: 'gather_action', url: action, method: method(n.attrs.method), extra: { Digits: digits, FinishedOnKey: finishedOnKey } } };
    }
    if (!this.wait(timeoutSec)) return this.leftDuringGather(doc, promptStartedAtMs, promptEndedAtMs);
    if (bool(n.attrs.actionOnEmptyResult, false)) {
      this.gathers.push({ ...base, inputAtMs: null, digits: '', result: 'empty_action' });
      this.digits.push('');
      return { next: { purpose: 'gather_action', url: action, method: method(n.attrs.method), extra: { Digits: '', FinishedOnKey: '' } } };
    }
    // No input: Twilio goes on to the next verb (not to the action).
    this.gathers.push({ ...base, inputAtMs: null, digits: null, result: 'timeout' });
    return null;
  }

  /** The caller hung up during a <Gather>: nothing is submitted, the call is over. */
  private leftDuringGather(doc: Extract<Fetched, { kind: 'twiml' }>, promptStartedAtMs: number, promptEndedAtMs: number | null): Flow {
    this.gathers.push({ servedAtMs: doc.servedAtMs, promptStartedAtMs, promptEndedAtMs: promptEndedAtMs ?? this.nowMs, inputAtMs: null, digits: null, result: 'caller_hangup' });
    return { end: 'caller_hangup' };
  }

  private async record(n: TwimlNode, doc: Extract<Fetched, { kind: 'twiml' }>): Promise<Flow | null> {
    this.answer();
    this.note('parent', n);
    const { speakSec, then } = this.script.voicemail;
    const maxLength = int(n.attrs.maxLength, 3600);
    const timeoutSec = int(n.attrs.timeout, 5);
    const finishOnKey = n.attrs.finishOnKey ?? '1234567890*#';
    const callback = n.attrs.recordingStatusCallback === undefined ? null : this.resolve(n.attrs.recordingStatusCallback, doc.url);
    const events = words(n.attrs.recordingStatusCallbackEvent, 'completed');
    if (bool(n.attrs.playBeep, true) && !this.wait(1)) return { end: 'caller_hangup' };
    const startAtMs = this.nowMs;
    if (speakSec === 0) {
      // Nothing said: no recording, and Twilio goes on to the next verb.
      if (!this.wait(timeoutSec)) return { end: 'caller_hangup' };
      this.recordings.push({ rec: { recordingSid: sid('RE'), source: 'RecordVerb', startAtMs, durationSec: 0, channels: 1, status: 'absent' }, callback, method: method(n.attrs.recordingStatusCallbackMethod), events });
      return null;
    }
    // The recording ends at maxLength, or when the caller hangs up (scripted, or the call's hang-up instant).
    const durationSec = Math.min(speakSec, maxLength, Math.floor((this.hangupAtMs - startAtMs) / 1000));
    const cutShort = durationSec < Math.min(speakSec, maxLength);
    const rec: TraceRecording = { recordingSid: sid('RE'), source: 'RecordVerb', startAtMs, durationSec, channels: 1, status: this.script.recording.status };
    await this.recordingStarted(rec, callback, method(n.attrs.recordingStatusCallbackMethod), events);
    this.recordings.push({ rec, callback, method: method(n.attrs.recordingStatusCallbackMethod), events });
    this.nowMs += durationSec * 1000;
    let digits = '';
    if (cutShort) {
      digits = 'hangup';
      this.callerGone = true;
    } else if (durationSec < speakSec || then === 'silence') {
      if (durationSec === speakSec && !this.wait(timeoutSec)) digits = 'hangup';
    } else if (then === 'key') digits = finishOnKey.includes('#') ? '#' : finishOnKey.slice(0, 1);
    else {
      digits = 'hangup';
      this.callerGone = true;
    }
    const url = this.resolve(n.attrs.action ?? doc.url, doc.url);
    const extra = { RecordingUrl: this.recordingUrl(rec.recordingSid), RecordingDuration: String(durationSec), Digits: digits };
    if (this.callerGone) {
      // The caller hung up: Twilio still requests the action, and ignores its answer.
      await this.fetchTwiml('record_action', url, method(n.attrs.method), { ...this.parentParams('completed'), ...extra });
      return { end: 'caller_hangup' };
    }
    return { next: { purpose: 'record_action', url, method: method(n.attrs.method), extra } };
  }

  private recordingUrl(recordingSid: string): string {
    return `${(this.config.mediaBaseUrl ?? 'https://api.twilio.com').replace(/\/+$/, '')}/${API_VERSION}/Accounts/${this.account.accountSid}/Recordings/${recordingSid}`;
  }

  private recordingParams(rec: TraceRecording, status: string): Params {
    return {
      AccountSid: this.account.accountSid,
      CallSid: this.callSid,
      RecordingSid: rec.recordingSid,
      RecordingUrl: this.recordingUrl(rec.recordingSid),
      RecordingStatus: status,
      RecordingDuration: status === 'in-progress' ? '0' : String(rec.durationSec),
      RecordingChannels: String(rec.channels),
      RecordingStartTime: rfc2822(rec.startAtMs),
      RecordingSource: rec.source,
      // <Record> records the caller; a Dial records both parties.
      RecordingTrack: rec.source === 'RecordVerb' ? 'inbound' : 'both',
      // Twilio's error code for a failed recording is not in the team's reference: a failed one carries none.
      ...(rec.status === 'failed' && status !== 'in-progress' ? {} : { ErrorCode: '0' }),
    };
  }

  private async recordingStarted(rec: TraceRecording, callback: string | null, verb: 'GET' | 'POST', events: ReadonlySet<string>): Promise<void> {
    if (callback !== null && events.has('in-progress')) await this.callback('recording_status', callback, verb, this.recordingParams(rec, 'in-progress'), rec.startAtMs);
  }

  private outcomeFor(destination: string): TargetOutcome {
    const n = this.dialled.get(destination) ?? 0;
    this.dialled.set(destination, n + 1);
    const scripted = this.script.targets[destination];
    if (scripted === undefined) return this.script.otherTargets;
    if (!Array.isArray(scripted)) return scripted;
    return scripted[Math.min(n, scripted.length - 1)]!;
  }

  private async dial(n: TwimlNode, doc: Extract<Fetched, { kind: 'twiml' }>): Promise<Flow | null> {
    const answerOnBridge = bool(n.attrs.answerOnBridge, false);
    if (!answerOnBridge) this.answer();
    this.note('parent', n);
    const nouns: TwimlNode[] = n.children.length > 0 ? [...n.children] : [{ name: 'Number', attrs: {}, children: [], text: n.text }];
    const timeoutSec = int(n.attrs.timeout, 30);
    const timeLimitSec = int(n.attrs.timeLimit, 14_400);
    const record = n.attrs.record ?? 'do-not-record';
    const recorded = record !== 'do-not-record' && record !== 'false';
    const dual = record.endsWith('-dual');
    const fromRinging = record.startsWith('record-from-ringing');
    const recCallback = n.attrs.recordingStatusCallback === undefined ? null : this.resolve(n.attrs.recordingStatusCallback, doc.url);
    const recEvents = words(n.attrs.recordingStatusCallbackEvent, 'completed');
    const recMethod = method(n.attrs.recordingStatusCallbackMethod);
    const groups = bool(n.attrs.sequential, false) ? nouns.map((x) => [x]) : [nouns];
    const dialStartMs = this.nowMs;

    let result: { status: string; leg: PlannedLeg; traced: TraceLeg; recording: TraceRecording | null } | null = null;
    let lastStatus = 'no-answer';
    let lastLegSid = '';
    for (const group of groups) {
      const r = await this.ringGroup(group, doc, { timeoutSec, timeLimitSec, callerId: n.attrs.callerId, recorded, dual, fromRinging, dialStartMs, recCallback, recEvents, recMethod });
      lastStatus = r.status;
      lastLegSid = r.lastLegSid;
      if (r.answered !== null) {
        result = { status: 'completed', ...r.answered };
        break;
      }
      if (this.callerGone) break;
    }

    const bridged = result?.traced.bridged ?? false;
    const extra: Params = {
      DialCallStatus: result?.status ?? lastStatus,
      DialCallSid: result?.leg.callSid ?? lastLegSid,
      ...(result === null ? {} : { DialCallDuration: String(result.traced.durationSec) }),
      DialBridged: String(bridged),
      ...(result?.recording ? { RecordingUrl: this.recordingUrl(result.recording.recordingSid) } : {}),
    };
    if (n.attrs.action === undefined) {
      // Without action the call goes on to the next verb, unless the caller is gone.
      return this.callerGone ? { end: 'caller_hangup' } : null;
    }
    const url = this.resolve(n.attrs.action, doc.url);
    if (this.callerGone) {
      await this.fetchTwiml('dial_action', url, method(n.attrs.method), { ...this.parentParams('completed'), ...extra });
      return { end: 'caller_hangup' };
    }
    return { next: { purpose: 'dial_action', url, method: method(n.attrs.method), extra } };
  }

  /** Rings the nouns of one group at once; the first to answer is connected and the others are canceled. */
  private async ringGroup(
    group: readonly TwimlNode[],
    doc: Extract<Fetched, { kind: 'twiml' }>,
    opts: {
      timeoutSec: number; timeLimitSec: number; callerId: string | undefined; recorded: boolean; dual: boolean; fromRinging: boolean; dialStartMs: number;
      recCallback: string | null; recEvents: ReadonlySet<string>; recMethod: 'GET' | 'POST';
    },
  ): Promise<{ status: string; lastLegSid: string; answered: { leg: PlannedLeg; traced: TraceLeg; recording: TraceRecording | null } | null }> {
    const t0 = this.nowMs;
    const noAnswerAt = t0 + (opts.timeoutSec + DIAL_BUFFER_SEC) * 1000;
    const planned: PlannedLeg[] = group.map((noun, index) => {
      const destination = noun.text;
      const outcome = this.outcomeFor(destination);
      const ringMs = 'ringSec' in outcome ? outcome.ringSec * 1000 : Infinity;
      let kind: PlannedLeg['kind'];
      let resolveAtMs: number;
      if (outcome.outcome === 'busy' || outcome.outcome === 'failed') {
        kind = outcome.outcome === 'busy' ? 'busy' : 'failed';
        resolveAtMs = Math.min(t0 + ringMs, noAnswerAt);
      } else if ((outcome.outcome === 'answer' || outcome.outcome === 'machine') && t0 + ringMs < noAnswerAt) {
        kind = 'answer';
        resolveAtMs = t0 + ringMs;
      } else {
        kind = 'no-answer';
        resolveAtMs = noAnswerAt;
      }
      return {
        index,
        callSid: sid('CA'),
        noun: noun.name === 'Sip' ? 'Sip' : 'Number',
        destination,
        attrs: noun.attrs,
        outcome,
        kind,
        resolveAtMs,
        events: noun.attrs.statusCallback === undefined ? new Set<string>() : words(noun.attrs.statusCallbackEvent, 'completed'),
        documentUrl: doc.url,
        sequence: 0,
      };
    });
    const first = planned.filter((l) => l.kind === 'answer').sort((a, b) => a.resolveAtMs - b.resolveAtMs || a.index - b.index)[0] ?? null;
    const settledAt = first?.resolveAtMs ?? Math.max(...planned.map((l) => l.resolveAtMs));
    // The caller hanging up while the targets ring cancels every leg still ringing.
    const callerLeft = this.hangupAtMs < settledAt;
    const winner = callerLeft ? null : first;
    const cutoff = callerLeft ? Math.max(t0, this.hangupAtMs) : settledAt;

    // Each losing leg ends with its own status if that came first, else canceled when the winner answered.
    const ends = new Map<PlannedLeg, { status: TraceLeg['status']; atMs: number }>();
    for (const l of planned) {
      if (l === winner) continue;
      const own = l.kind === 'answer' ? null : l.kind;
      ends.set(l, own !== null && l.resolveAtMs <= cutoff ? { status: own, atMs: l.resolveAtMs } : { status: 'canceled', atMs: cutoff });
    }
    type Ev = { atMs: number; leg: PlannedLeg; event: 'initiated' | 'ringing' | 'answered' | 'completed'; order: number };
    const evs: Ev[] = [];
    for (const l of planned) {
      evs.push({ atMs: t0, leg: l, event: 'initiated', order: 0 });
      const endAt = l === winner ? l.resolveAtMs : ends.get(l)!.atMs;
      const rings = l.kind !== 'busy' && l.kind !== 'failed' && endAt > t0;
      if (rings) evs.push({ atMs: Math.min(t0 + 1000, endAt), leg: l, event: 'ringing', order: 1 });
      if (l === winner) evs.push({ atMs: l.resolveAtMs, leg: l, event: 'answered', order: 2 });
      else evs.push({ atMs: endAt, leg: l, event: 'completed', order: 3 });
    }
    evs.sort((a, b) => a.atMs - b.atMs || a.order - b.order || a.leg.index - b.leg.index);
    for (const e of evs) {
      if (e.event === 'completed') {
        const end = ends.get(e.leg)!;
        await this.legEvent(e.leg, 'completed', end.status, e.atMs, opts.callerId, { CallDuration: '0' });
        this.legs.push({
          callSid: e.leg.callSid, noun: e.leg.noun, destination: e.leg.destination, outcome: e.leg.outcome.outcome, status: end.status,
          initiatedAtMs: t0, answeredAtMs: null, endedAtMs: end.atMs, durationSec: 0, bridged: false, whisperSec: 0, talkSec: 0,
        });
      } else await this.legEvent(e.leg, e.event, e.event === 'answered' ? 'in-progress' : e.event, e.atMs, opts.callerId, {});
    }
    this.nowMs = cutoff;
    const lastLeg = planned[planned.length - 1]!;
    if (callerLeft) {
      this.callerGone = true;
      return { status: 'canceled', lastLegSid: lastLeg.callSid, answered: null };
    }
    if (winner === null) {
      const statuses = planned.map((l) => ends.get(l)!.status);
      const status = statuses.includes('no-answer') ? 'no-answer' : statuses.includes('busy') ? 'busy' : 'failed';
      return { status, lastLegSid: lastLeg.callSid, answered: null };
    }

    // The answered leg: the whisper, then the bridge, then the conversation.
    const answeredAtMs = this.nowMs;
    let whisperHungUp = false;
    if (winner.attrs.url !== undefined) {
      const url = this.resolve(winner.attrs.url, doc.url);
      const fetched = await this.fetchTwiml('whisper', url, method(winner.attrs.method), this.legParams(winner, 'in-progress', opts.callerId), WHISPER_VERBS);
      if (fetched.kind === 'twiml') whisperHungUp = this.whisper(fetched.root);
      else whisperHungUp = true;
    }
    const whisperSec = (this.nowMs - answeredAtMs) / 1000;
    const outcome = winner.outcome as Extract<TargetOutcome, { outcome: 'answer' | 'machine' }>;
    // A caller who hangs up during the whisper is never bridged; during the conversation, ends it.
    if (this.nowMs >= this.hangupAtMs) this.callerGone = true;
    const bridged = !whisperHungUp && !this.callerGone;
    const untilHangupSec = Math.floor((this.hangupAtMs - this.nowMs) / 1000);
    const talkSec = bridged ? Math.min(outcome.talkSec, opts.timeLimitSec, untilHangupSec) : 0;
    if (bridged && talkSec === untilHangupSec && talkSec < Math.min(outcome.talkSec, opts.timeLimitSec)) this.callerGone = true;
    if (bridged && this.answeredAtMs === null) this.answeredAtMs = this.nowMs; // answerOnBridge
    let recording: TraceRecording | null = null;
    if (opts.recorded && bridged) {
      const startAtMs = opts.fromRinging ? opts.dialStartMs : this.nowMs;
      recording = { recordingSid: sid('RE'), source: 'DialVerb', startAtMs, durationSec: Math.round((this.nowMs - startAtMs) / 1000) + talkSec, channels: opts.dual ? 2 : 1, status: this.script.recording.status };
      await this.recordingStarted(recording, opts.recCallback, opts.recMethod, opts.recEvents);
      this.recordings.push({ rec: recording, callback: opts.recCallback, method: opts.recMethod, events: opts.recEvents });
    }
    this.nowMs += talkSec * 1000;
    const durationSec = Math.round((this.nowMs - answeredAtMs) / 1000);
    if (bridged && outcome.outcome === 'answer' && outcome.hangup === 'caller') this.callerGone = true;
    await this.legEvent(winner, 'completed', 'completed', this.nowMs, opts.callerId, {
      CallDuration: String(durationSec),
      Duration: String(Math.max(1, Math.ceil(durationSec / 60))),
      ...(recording ? { RecordingUrl: this.recordingUrl(recording.recordingSid), RecordingSid: recording.recordingSid, RecordingDuration: String(recording.durationSec) } : {}),
    });
    const traced: TraceLeg = {
      callSid: winner.callSid, noun: winner.noun, destination: winner.destination, outcome: outcome.outcome, status: 'completed',
      initiatedAtMs: t0, answeredAtMs, endedAtMs: this.nowMs, durationSec, bridged, whisperSec, talkSec,
    };
    this.legs.push(traced);
    if (bridged) {
      this.bridgedLeg = traced;
      this.bridgedBy = outcome.outcome === 'machine' ? 'machine' : 'human';
    }
    return { status: 'completed', lastLegSid: winner.callSid, answered: { leg: winner, traced, recording } };
  }

  /** Runs a whisper document on the answered leg; true when it hung up (the caller is not connected). */
  private whisper(root: TwimlNode): boolean {
    for (const n of root.children) {
      this.note('whisper', n);
      if (n.name === 'Hangup') return true;
      if (n.name === 'Gather') {
        // The agent presses nothing: the prompt, the timeout, then on to the next verb.
        for (const c of n.children) this.nowMs += this.spokenSec(c) * 1000;
        this.nowMs += int(n.attrs.timeout, 5) * 1000;
      } else this.nowMs += this.spokenSec(n) * 1000;
    }
    return false;
  }

  private async legEvent(leg: PlannedLeg, event: string, status: string, atMs: number, callerId: string | undefined, extra: Params): Promise<void> {
    if (!leg.events.has(event) || leg.attrs.statusCallback === undefined) return;
    const url = this.resolve(leg.attrs.statusCallback, leg.documentUrl);
    const params: Params = {
      ...this.legParams(leg, status, callerId),
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(leg.sequence++),
      Timestamp: rfc2822(atMs),
      ...extra,
    };
    await this.callback('leg_status', url, method(leg.attrs.statusCallbackMethod), params, atMs);
  }

  // ------------------------------------------------------------------------------------------ the end

  private async finish(): Promise<CallTrace> {
    const endedAtMs = this.nowMs;
    const answered = this.answeredAtMs !== null;
    const finalStatus: CallTrace['finalStatus'] = this.rejected === 'busy' ? 'busy' : !answered ? 'no-answer' : 'completed';
    const durationSec = answered ? Math.round((endedAtMs - (this.answeredAtMs as number)) / 1000) : 0;
    const statusPath = (this.config.statusCallbackPath ?? ((a) => `/webhooks/twilio/${encodeURIComponent(a)}`))(this.script.accountId);
    if (statusPath !== null) {
      await this.callback('call_status', `${this.publicBase}${statusPath}`, 'POST', {
        ...this.parentParams(finalStatus),
        CallDuration: String(durationSec),
        ...(finalStatus === 'completed' ? { Duration: String(Math.max(1, Math.ceil(durationSec / 60))) } : {}),
        Timestamp: rfc2822(endedAtMs),
        CallbackSource: 'call-progress-events',
        SequenceNumber: '0',
      }, endedAtMs);
    }
    // Recording callbacks normally arrive after the call's completed callback.
    for (const r of this.recordings) {
      const status = r.rec.status;
      // A failed recording is reported in place of its completed event (`failed` is no event one can ask for).
      if (r.callback === null || !r.events.has(status === 'failed' ? 'completed' : status)) continue;
      await this.callback('recording_status', r.callback, r.method, this.recordingParams(r.rec, status), endedAtMs + this.script.recording.delaySec * 1000);
    }
    await this.deliverHeld();
    return {
      callSid: this.callSid,
      accountId: this.script.accountId,
      startedAtMs: Date.parse(this.script.startAt),
      answeredAtMs: answered ? this.answeredAtMs : null,
      endedAtMs,
      finalStatus,
      endReason: this.endReason,
      requests: this.requests,
      verbs: this.verbs,
      gathers: this.gathers,
      legs: this.legs,
      recordings: this.recordings.map((r) => r.rec),
      errors: this.errors,
    };
  }

  private partialTrace(): CallTrace {
    return {
      callSid: this.callSid, accountId: this.script.accountId, startedAtMs: Date.parse(this.script.startAt), answeredAtMs: this.answeredAtMs,
      endedAtMs: this.nowMs, finalStatus: this.answeredAtMs === null ? 'no-answer' : 'completed', endReason: this.endReason,
      requests: this.requests, verbs: this.verbs, gathers: this.gathers, legs: this.legs, recordings: this.recordings.map((r) => r.rec), errors: this.errors,
    };
  }

  async play(): Promise<SimulatedCall> {
    let trace: CallTrace;
    try {
      await this.run();
      trace = await this.finish();
    } catch (e) {
      if (e instanceof TwimlViolation || e instanceof TwimlFetchFailure) throw new SimulationError(e, this.partialTrace());
      throw e;
    }
    return { script: this.script, trace, truth: groundTruth(this.script, trace, this.bridgedLeg, this.bridgedBy, this.digits) };
  }
}

function groundTruth(script: CallScript, trace: CallTrace, leg: TraceLeg | null, by: 'human' | 'machine' | null, digits: readonly string[]): GroundTruth {
  const durationSec = trace.answeredAtMs === null ? 0 : Math.round((trace.endedAtMs - trace.answeredAtMs) / 1000);
  const talkSec = leg?.talkSec ?? 0;
  const counted = script.billing.durationBasis === 'talk' ? talkSec : durationSec;
  return {
    callSid: trace.callSid,
    answered: trace.answeredAtMs !== null,
    rejected: trace.endReason === 'reject',
    finalStatus: trace.finalStatus,
    durationSec,
    connected: leg !== null,
    answeredTarget: leg?.destination ?? null,
    answeredBy: by,
    talkSec,
    targetLegSec: leg?.durationSec ?? 0,
    digits,
    recordings: trace.recordings.map((r) => ({ source: r.source, durationSec: r.durationSec, status: r.status })),
    billable: leg !== null && by === 'human' && counted >= script.billing.bufferSec,
  };
}

/** Plays one call. Rejects with SimulationError (carrying the trace so far) on TwiML Twilio would not run. */
export async function playCall(script: CallScriptInput | CallScript, config: SimulatorConfig): Promise<SimulatedCall> {
  return new CallRun(callScript(script), config).play();
}
