/**
 * Deterministic Twilio traffic generator: turns a seed (accounts, publishers, campaigns, tracking numbers) into an
 * ordered list of signed webhook requests that look like what Twilio sends for real inbound calls, plus the ground
 * truth of how each call must be rated under its campaign's v1 terms.
 *
 * A call's lifecycle as Twilio delivers it for an inbound call to a tracking number:
 *   1. the incoming-call webhook (`CallStatus=ringing`, with StirVerstat and the double-encoded CallToken; no
 *      Timestamp or SequenceNumber: Twilio does not send them on the voice URL request),
 *   2. the number's status callback at the end (`completed`, or `busy` / `no-answer` / `failed` / `canceled`),
 *      with Timestamp (RFC 2822), SequenceNumber, CallbackSource, CallDuration (s) and Duration (billed minutes),
 *   3. for connected calls that were recorded, the recording status callback (`RecordingStatus=completed`).
 * Delivery realism is layered on top: Twilio retries (the same bytes twice), out-of-order arrival (completed
 * before ringing, recording before completed) and network jitter between calls that overlap in time.
 *
 * Everything is a pure function of the options: the same seed, start time and options give byte-identical
 * requests, so a replay is idempotent against the ledger.
 */
import { twilioSignature } from '../shared/domain/calls/providers/twilio';
import type { Account, FlatCampaign, Publisher, AssignedNumber } from '../shared/domain/catalog/types';
import type { CallStatus } from '../shared/domain/calls/events';
import type { ReasonCode } from '../shared/domain/rating/decision';
import { twilioOf } from '../shared/domain/catalog/carriers';

// ------------------------------------------------------------------------------------------------ inputs

/** The parts of a seed (events/seed/demo.json, `Seed` in shared/domain/catalog/seed.ts) the generator reads. */
export interface TrafficSeed {
  readonly accounts: readonly Account[];
  readonly publishers: readonly Publisher[];
  readonly campaigns: readonly FlatCampaign[];
  readonly trackingNumbers: readonly AssignedNumber[];
}

/** A connected call's duration is drawn from weighted bands (uniform inside a band). */
export interface DurationBand {
  readonly weight: number;
  readonly minSec: number;
  readonly maxSec: number;
  /** When true, minSec/maxSec are offsets from the campaign's bufferSec ("hangs up just past the buffer"). */
  readonly relativeToBuffer?: boolean;
}

export type NotConnectedStatus = 'busy' | 'no-answer' | 'failed' | 'canceled';

/** Twilio's StirVerstat values for an inbound call (SHAKEN/STIR verification of the caller id). */
export type StirVerstat =
  | 'TN-Validation-Passed-A'
  | 'TN-Validation-Passed-B'
  | 'TN-Validation-Passed-C'
  | 'TN-Validation-Failed'
  | 'No-TN-Validation';

export interface PublisherProfile {
  readonly label: string;
  /** Relative share of the generated calls. */
  readonly volumeWeight: number;
  /** Probability that the call connects (`completed`). */
  readonly connectRate: number;
  /** Weights of the terminal status of calls that do not connect. */
  readonly notConnected: Readonly<Record<NotConnectedStatus, number>>;
  readonly durations: readonly DurationBand[];
  /** Probability that a call comes from one of the publisher's recent callers, redialling the same number. */
  readonly repeatCallerRate: number;
  /** Duration bands of repeat calls, when they differ (a coached repeat caller stays on past the buffer). */
  readonly repeatDurations?: readonly DurationBand[];
  /** Probability that a fresh caller is from outside the campaign's state. */
  readonly outOfStateRate: number;
  readonly stirVerstat: Readonly<Record<StirVerstat, number>>;
}

export type ProfileName = 'good' | 'mixed' | 'junk';

export const PROFILES: Readonly<Record<ProfileName, PublisherProfile>> = {
  /** Search traffic from people who need a roofer: mostly 2–8 minute conversations. */
  good: {
    label: 'good',
    volumeWeight: 1,
    connectRate: 0.93,
    notConnected: { busy: 2, 'no-answer': 5, failed: 1, canceled: 2 },
    durations: [
      { weight: 0.05, minSec: 3, maxSec: 30 },
      { weight: 0.05, minSec: 31, maxSec: 89 },
      { weight: 0.03, minSec: 0, maxSec: 25, relativeToBuffer: true },
      { weight: 0.72, minSec: 120, maxSec: 480 },
      { weight: 0.15, minSec: 481, maxSec: 1200 },
    ],
    repeatCallerRate: 0.03,
    outOfStateRate: 0.02,
    stirVerstat: {
      'TN-Validation-Passed-A': 85,
      'TN-Validation-Passed-B': 9,
      'TN-Validation-Passed-C': 3,
      'TN-Validation-Failed': 1,
      'No-TN-Validation': 2,
    },
  },
  /** A comparison site: real intent mixed with tyre-kickers. */
  mixed: {
    label: 'mixed',
    volumeWeight: 1,
    connectRate: 0.86,
    notConnected: { busy: 3, 'no-answer': 5, failed: 1, canceled: 2 },
    durations: [
      { weight: 0.2, minSec: 2, maxSec: 30 },
      { weight: 0.12, minSec: 31, maxSec: 89 },
      { weight: 0.1, minSec: 0, maxSec: 20, relativeToBuffer: true },
      { weight: 0.13, minSec: 110, maxSec: 179 },
      { weight: 0.45, minSec: 180, maxSec: 600 },
    ],
    repeatCallerRate: 0.1,
    outOfStateRate: 0.08,
    stirVerstat: {
      'TN-Validation-Passed-A': 60,
      'TN-Validation-Passed-B': 20,
      'TN-Validation-Passed-C': 10,
      'TN-Validation-Failed': 3,
      'No-TN-Validation': 7,
    },
  },
  /** Incentivised social traffic: short hang-ups, calls that end just past the buffer, the same callers again. */
  junk: {
    label: 'junk',
    volumeWeight: 1.3,
    connectRate: 0.76,
    notConnected: { busy: 4, 'no-answer': 4, failed: 2, canceled: 3 },
    durations: [
      { weight: 0.4, minSec: 1, maxSec: 25 },
      { weight: 0.15, minSec: 26, maxSec: 89 },
      { weight: 0.25, minSec: 0, maxSec: 12, relativeToBuffer: true },
      { weight: 0.12, minSec: 120, maxSec: 300 },
      { weight: 0.08, minSec: 301, maxSec: 600 },
    ],
    repeatCallerRate: 0.3,
    repeatDurations: [
      { weight: 0.55, minSec: 0, maxSec: 15, relativeToBuffer: true },
      { weight: 0.25, minSec: 120, maxSec: 300 },
      { weight: 0.2, minSec: 1, maxSec: 25 },
    ],
    outOfStateRate: 0.25,
    stirVerstat: {
      'TN-Validation-Passed-A': 30,
      'TN-Validation-Passed-B': 20,
      'TN-Validation-Passed-C': 28,
      'TN-Validation-Failed': 7,
      'No-TN-Validation': 15,
    },
  },
};

/** The demo seed's publishers and the quality each plays. Others default to `mixed`. */
export const DEMO_PROFILES: Readonly<Record<string, ProfileName>> = {
  'pub-bluesky': 'good',
  'pub-callfarm': 'junk',
  'pub-midway': 'mixed',
};

export interface DeliveryOptions {
  /** Probability that a request is delivered a second time (a Twilio retry: identical bytes). Default 0.05. */
  readonly duplicateRate?: number;
  /** Probability that a call's requests arrive out of order. Default 0.08. */
  readonly outOfOrderRate?: number;
  /** Upper bound of the random network delay added to each delivery, ms. Default 1500. */
  readonly maxJitterMs?: number;
}

export interface TrafficOptions {
  readonly seed: TrafficSeed;
  /** Primary Twilio auth token per accountId. */
  readonly authTokens: Readonly<Record<string, string>>;
  /** The public base URL Twilio is configured with (signed as is: scheme, host, port, no trailing slash). */
  readonly publicBaseUrl: string;
  /** Base of the (fake) Twilio media API: recordings live at `${mediaBaseUrl}/2010-04-01/Accounts/AC…/Recordings/RE…`. */
  readonly mediaBaseUrl: string;
  readonly calls: number;
  /** PRNG seed; together with startAt it fixes every byte of the output. */
  readonly rngSeed: number;
  /** Start of the traffic window (ISO-8601 or Date). */
  readonly startAt: string | Date;
  /** Length of the window the calls start in. Default 36 h. */
  readonly spanHours?: number;
  /** Profile per publisherId (a name or a custom profile); default DEMO_PROFILES, else `mixed`. */
  readonly profiles?: Readonly<Record<string, ProfileName | PublisherProfile>>;
  readonly delivery?: DeliveryOptions;
}

// ------------------------------------------------------------------------------------------------ outputs

export type RequestKind = 'incoming' | 'status' | 'recording';
export type OutOfOrderMode = 'completed-before-ringing' | 'recording-before-completed';

/** How the ledger must see one call, derived independently of the production rating code. */
export interface CallTruth {
  readonly callSid: string;
  /** `twilio:<CallSid>` */
  readonly callId: string;
  readonly accountId: string;
  readonly campaignId: string;
  readonly publisherId: string;
  readonly subSource: string | null;
  /** The tracking number dialled (E.164). */
  readonly to: string;
  /** The caller (E.164). PII: never print it. */
  readonly from: string;
  /** Terminal status. */
  readonly status: CallStatus;
  /** Twilio CallDuration of the terminal callback. */
  readonly durationSec: number;
  /** Terminal Timestamp − CallDuration (how the ledger derives it). */
  readonly startedAt: string;
  readonly endedAt: string;
  readonly billable: boolean;
  /** The campaign's price under the terms in force: what a billable call of this campaign is charged. */
  readonly priceCents: number;
  /** priceCents when billable, else 0. */
  readonly amountCents: number;
  /** Primary reason (the first failing rule), null when billable. */
  readonly reason: ReasonCode | null;
  /** For a duplicate_caller call: the billable call it repeats. */
  readonly duplicateOf: string | null;
  /**
   * Calls of one caller on one campaign, all within the duplicate window of each other. The ledger must bill
   * exactly one call of a cluster that has an eligible call; which one may depend on processing order.
   */
  readonly callerCluster: string;
  readonly recording: { readonly recordingSid: string; readonly durationSec: number; readonly url: string } | null;
  readonly stirVerstat: StirVerstat;
  readonly delivery: { readonly redeliveries: number; readonly outOfOrder: OutOfOrderMode | null };
}

export interface RequestMeta {
  readonly callSid: string;
  readonly callId: string;
  readonly accountId: string;
  readonly publisherId: string;
  readonly kind: RequestKind;
  /** CallStatus or RecordingStatus carried by the request. */
  readonly status: string;
  /** True for the second copy of a retried delivery. */
  readonly redelivery: boolean;
  /** Virtual delivery time (epoch ms); the list is sorted by it. */
  readonly deliverAtMs: number;
  readonly expected: {
    /** What the ingest endpoint must answer. */
    readonly httpStatus: 204;
    readonly billable: boolean;
    readonly amountCents: number;
    readonly reason: ReasonCode | null;
  };
}

export interface WebhookRequest {
  readonly method: 'POST';
  /** The public URL the signature covers. */
  readonly url: string;
  /** The path to POST to on whatever base URL the stack answers on. */
  readonly path: string;
  readonly headers: {
    readonly 'content-type': string;
    readonly 'x-twilio-signature': string;
    readonly 'user-agent': string;
    readonly 'i-twilio-idempotency-token': string;
  };
  readonly body: string;
  readonly meta: RequestMeta;
}

export interface PublisherSummary {
  readonly publisherId: string;
  readonly calls: number;
  readonly billable: number;
  readonly duplicates: number;
  readonly belowBuffer: number;
  readonly notConnected: number;
  readonly unknownNumber: number;
  readonly spendCents: number;
  readonly recordings: number;
}

export interface Traffic {
  readonly requests: readonly WebhookRequest[];
  readonly calls: readonly CallTruth[];
}

// ------------------------------------------------------------------------------------------------ PRNG

/** sfc32 seeded through cyrb128: small, fast, and well distributed for simulation (not for secrets). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: string) {
    let h1 = 1779033703;
    let h2 = 3144134277;
    let h3 = 1013904242;
    let h4 = 2773480762;
    for (let i = 0; i < seed.length; i++) {
      const k = seed.charCodeAt(i);
      h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
      h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
      h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
      h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
    }
    h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
    h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
    h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
    h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
    this.a = (h1 ^ h2 ^ h3 ^ h4) >>> 0;
    this.b = (h2 ^ h1) >>> 0;
    this.c = (h3 ^ h1) >>> 0;
    this.d = (h4 ^ h1) >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    return this.weightedOf(entries.map(([k, w]) => ({ value: k, weight: w })));
  }

  weightedOf<T>(items: readonly { value: T; weight: number }[]): T {
    const total = items.reduce((s, i) => s + i.weight, 0);
    if (!(total > 0)) throw new Error('weights must sum to more than 0');
    let r = this.next() * total;
    for (const item of items) {
      r -= item.weight;
      if (r < 0) return item.value;
    }
    return items[items.length - 1]!.value;
  }

  hex(chars: number): string {
    let s = '';
    for (let i = 0; i < chars; i++) s += Math.floor(this.next() * 16).toString(16);
    return s;
  }
}

// ------------------------------------------------------------------------------------------------ callers

interface Place {
  readonly areaCodes: readonly string[];
  readonly city: string;
  readonly state: string;
  readonly zips: readonly string[];
}

/** Texas (the demo campaign's state) and a few out-of-state metros, with real area codes and ZIP codes. */
const IN_STATE: readonly Place[] = [
  { areaCodes: ['512', '737'], city: 'AUSTIN', state: 'TX', zips: ['78704', '78745', '78758', '78723', '78613'] },
  { areaCodes: ['210', '726'], city: 'SAN ANTONIO', state: 'TX', zips: ['78209', '78216', '78249', '78251'] },
  { areaCodes: ['713', '281', '832'], city: 'HOUSTON', state: 'TX', zips: ['77006', '77024', '77077', '77095'] },
  { areaCodes: ['214', '469', '972'], city: 'DALLAS', state: 'TX', zips: ['75204', '75218', '75230', '75248'] },
  { areaCodes: ['817', '682'], city: 'FORT WORTH', state: 'TX', zips: ['76107', '76116', '76132'] },
  { areaCodes: ['254'], city: 'WACO', state: 'TX', zips: ['76706', '76710'] },
  { areaCodes: ['361'], city: 'CORPUS CHRISTI', state: 'TX', zips: ['78404', '78412'] },
  { areaCodes: ['915'], city: 'EL PASO', state: 'TX', zips: ['79912', '79936'] },
];

const OUT_OF_STATE: readonly Place[] = [
  { areaCodes: ['305', '786'], city: 'MIAMI', state: 'FL', zips: ['33125', '33176'] },
  { areaCodes: ['404', '470'], city: 'ATLANTA', state: 'GA', zips: ['30309', '30318'] },
  { areaCodes: ['602', '480'], city: 'PHOENIX', state: 'AZ', zips: ['85008', '85016'] },
  { areaCodes: ['504'], city: 'NEW ORLEANS', state: 'LA', zips: ['70115', '70119'] },
  { areaCodes: ['405'], city: 'OKLAHOMA CITY', state: 'OK', zips: ['73112', '73120'] },
];

/** Twilio fills ToState/CalledState from its number database; empty when it does not know the number. */
function stateOf(e164: string): string {
  const areaCode = e164.startsWith('+1') ? e164.slice(2, 5) : '';
  return [...IN_STATE, ...OUT_OF_STATE].find((p) => p.areaCodes.includes(areaCode))?.state ?? '';
}

interface Caller {
  readonly e164: string;
  readonly city: string;
  readonly state: string;
  readonly zip: string;
}

/** A valid NANP subscriber number: exchange 2–9XX, not N11, not 555 (reserved for fiction and directory). */
function freshCaller(rng: Rng, outOfState: boolean, taken: Set<string>): Caller {
  for (;;) {
    const place = rng.pick(outOfState ? OUT_OF_STATE : IN_STATE);
    const exchange = `${rng.int(2, 9)}${rng.int(0, 9)}${rng.int(0, 9)}`;
    if (exchange.endsWith('11') || exchange === '555') continue;
    const e164 = `+1${rng.pick(place.areaCodes)}${exchange}${String(rng.int(0, 9999)).padStart(4, '0')}`;
    if (taken.has(e164)) continue;
    taken.add(e164);
    return { e164, city: place.city, state: place.state, zip: rng.pick(place.zips) };
  }
}

// ------------------------------------------------------------------------------------------------ helpers

/** RFC 2822 date as Twilio sends it in `Timestamp`: `Tue, 03 Jun 2025 15:09:45 +0000`. */
export function rfc2822(ms: number): string {
  return new Date(ms).toUTCString().replace(/GMT$/, '+0000');
}

function resolveProfile(publisherId: string, profiles: TrafficOptions['profiles']): PublisherProfile {
  const p = profiles?.[publisherId] ?? DEMO_PROFILES[publisherId] ?? 'mixed';
  return typeof p === 'string' ? PROFILES[p] : p;
}

/** The double-encoded CallToken real incoming-call webhooks carry (a URL-encoded JSON holding a JWT). */
function callToken(rng: Rng): string {
  const b64url = (s: string) => Buffer.from(s).toString('base64url');
  const jwt = `${b64url('{"typ":"JWT","alg":"ES256"}')}.${b64url(`{"jti":"${rng.hex(24)}"}`)}.${b64url(rng.hex(40))}`;
  return encodeURIComponent(JSON.stringify({ parentCallInfoToken: jwt, identityHeaderTokens: [] }));
}

const SIP_CODES: Readonly<Record<NotConnectedStatus, string>> = {
  busy: '486',
  'no-answer': '487',
  failed: '503',
  canceled: '487',
};

/** Seconds from the incoming webhook to the terminal callback for a call that never connects. */
function ringSeconds(rng: Rng, status: NotConnectedStatus): number {
  switch (status) {
    case 'busy':
      return rng.int(1, 4);
    case 'no-answer':
      return rng.int(20, 32);
    case 'failed':
      return rng.int(0, 2);
    case 'canceled':
      return rng.int(3, 18);
    default: {
      const exhaustive: never = status;
      return exhaustive;
    }
  }
}

// ------------------------------------------------------------------------------------------------ generation

interface PlannedCall {
  readonly callSid: string;
  readonly account: Account;
  readonly number: AssignedNumber;
  readonly campaign: FlatCampaign;
  readonly caller: Caller;
  readonly callerCluster: string;
  /** Incoming webhook time (epoch ms, whole seconds). */
  readonly ringAtMs: number;
  readonly status: CallStatus;
  readonly durationSec: number;
  /** Terminal Timestamp (epoch ms). */
  readonly endAtMs: number;
  readonly sipCode: string | null;
  readonly stirVerstat: StirVerstat;
  readonly recording: { readonly recordingSid: string; readonly startMs: number; readonly durationSec: number } | null;
}

interface Cluster {
  readonly id: string;
  readonly caller: Caller;
  readonly number: AssignedNumber;
  readonly firstStartMs: number;
  lastEndMs: number;
}

/** A CallTruth whose delivery facts are still being filled in while the requests are built. */
type DraftTruth = Omit<CallTruth, 'delivery'> & { delivery: { redeliveries: number; outOfOrder: OutOfOrderMode | null } };

/** Repeat calls of a cluster must stay this far inside the duplicate window, so exactly one call per cluster bills. */
const CLUSTER_MARGIN_MS = 3_600_000;

export function generateTraffic(options: TrafficOptions): Traffic {
  const startMs = Math.floor(new Date(options.startAt).getTime() / 1000) * 1000;
  if (Number.isNaN(startMs)) throw new Error(`startAt is not a date: ${String(options.startAt)}`);
  if (!Number.isInteger(options.calls) || options.calls < 0) throw new Error('calls must be a non-negative integer');
  const spanMs = (options.spanHours ?? 36) * 3_600_000;
  const rng = new Rng(`callledger-traffic:${options.rngSeed}:${startMs}`);

  const accounts = new Map(options.seed.accounts.map((a) => [a.accountId, a]));
  const campaigns = new Map(options.seed.campaigns.map((c) => [`${c.accountId}/${c.campaignId}`, c]));
  const numbersByPublisher = new Map<string, AssignedNumber[]>();
  for (const n of options.seed.trackingNumbers) {
    if (!campaigns.has(`${n.accountId}/${n.campaignId}`) || !accounts.has(n.accountId)) continue;
    const key = `${n.accountId}/${n.publisherId}`;
    numbersByPublisher.set(key, [...(numbersByPublisher.get(key) ?? []), n]);
  }
  const publishers = options.seed.publishers
    .filter((p) => numbersByPublisher.has(`${p.accountId}/${p.publisherId}`))
    .map((p) => ({ publisher: p, profile: resolveProfile(p.publisherId, options.profiles) }));
  if (options.calls > 0 && publishers.length === 0) throw new Error('the seed has no publisher with a tracking number');
  for (const a of accounts.values()) {
    if (publishers.some((p) => p.publisher.accountId === a.accountId) && !options.authTokens[a.accountId])
      throw new Error(`no auth token for account ${a.accountId}`);
  }

  // Start times: uniform over the window, whole seconds, in order.
  const ringTimes = Array.from({ length: options.calls }, () => startMs + Math.floor(rng.next() * (spanMs / 1000)) * 1000);
  ringTimes.sort((a, b) => a - b);

  const taken = new Set<string>(options.seed.trackingNumbers.map((n) => n.number));
  const clustersByPublisher = new Map<string, Cluster[]>();
  const planned: PlannedCall[] = [];
  let clusterSeq = 0;

  for (const ringAtMs of ringTimes) {
    const { publisher, profile } = rng.weightedOf(publishers.map((p) => ({ value: p, weight: p.profile.volumeWeight })));
    const pubKey = `${publisher.accountId}/${publisher.publisherId}`;
    const clusters = clustersByPublisher.get(pubKey) ?? [];
    clustersByPublisher.set(pubKey, clusters);

    // A repeat caller redials the same tracking number after their last call ended, inside the window.
    let cluster: Cluster | undefined;
    let repeat = false;
    if (rng.chance(profile.repeatCallerRate)) {
      const eligible = clusters.filter((c) => {
        const campaign = campaigns.get(`${c.number.accountId}/${c.number.campaignId}`)!;
        const windowMs = campaign.terms.duplicateWindowHours * 3_600_000;
        return c.lastEndMs + 60_000 <= ringAtMs && ringAtMs - c.firstStartMs < windowMs - CLUSTER_MARGIN_MS;
      });
      if (eligible.length > 0) {
        cluster = rng.pick(eligible);
        repeat = true;
      }
    }
    if (!cluster) {
      cluster = {
        id: `caller-${++clusterSeq}`,
        caller: freshCaller(rng, rng.chance(profile.outOfStateRate), taken),
        number: rng.pick(numbersByPublisher.get(pubKey)!),
        firstStartMs: ringAtMs,
        lastEndMs: ringAtMs,
      };
      clusters.push(cluster);
    }

    const number = cluster.number;
    const campaign = campaigns.get(`${number.accountId}/${number.campaignId}`)!;
    const account = accounts.get(number.accountId)!;
    const callSid = `CA${rng.hex(32)}`;
    const stirVerstat = rng.weighted(profile.stirVerstat);

    let status: CallStatus;
    let durationSec: number;
    let endAtMs: number;
    let sipCode: string | null = null;
    let recording: PlannedCall['recording'] = null;
    if (rng.chance(profile.connectRate)) {
      status = 'completed';
      const bands = (repeat && profile.repeatDurations) || profile.durations;
      const band = rng.weightedOf(bands.map((b) => ({ value: b, weight: b.weight })));
      const offset = band.relativeToBuffer ? campaign.terms.bufferSec : 0;
      durationSec = Math.max(1, rng.int(band.minSec + offset, band.maxSec + offset));
      endAtMs = ringAtMs + durationSec * 1000;
      // <Dial record> starts when the agent's leg is bridged, after a few seconds of IVR; very short calls never
      // reach the agent and have no recording.
      const ivrSec = rng.int(3, 8);
      if (durationSec - ivrSec >= 5) {
        recording = { recordingSid: `RE${rng.hex(32)}`, startMs: ringAtMs + ivrSec * 1000, durationSec: durationSec - ivrSec };
      }
    } else {
      const s = rng.weighted(profile.notConnected);
      status = s;
      durationSec = 0;
      endAtMs = ringAtMs + ringSeconds(rng, s) * 1000;
      sipCode = SIP_CODES[s];
    }
    cluster.lastEndMs = endAtMs;
    planned.push({
      callSid,
      account,
      number,
      campaign,
      caller: cluster.caller,
      callerCluster: cluster.id,
      ringAtMs,
      status,
      durationSec,
      endAtMs,
      sipCode,
      stirVerstat,
      recording,
    });
  }

  const truths = groundTruth(planned, options.mediaBaseUrl);
  const requests = buildRequests(planned, truths, options, rng);
  return { requests, calls: planned.map((p) => truths.get(p.callSid)!) };
}

/**
 * The rating of a seed campaign (one terms version, no hours, no geography, no block list), restated independently
 * of shared/domain/rating/rules.ts so the two can check each other: in start order,
 * a connected call of at least bufferSec bills unless the same caller already billed on this campaign less than
 * duplicateWindowHours before it.
 */
function groundTruth(planned: readonly PlannedCall[], mediaBaseUrl: string): Map<string, DraftTruth> {
  const out = new Map<string, DraftTruth>();
  const lastBilled = new Map<string, { callId: string; startMs: number }>();
  // The ledger's start: terminal Timestamp − CallDuration (for an unconnected call, the moment it ended).
  const startOf = (p: PlannedCall) => p.endAtMs - p.durationSec * 1000;
  const byStart = [...planned].sort((a, b) => startOf(a) - startOf(b) || (a.callSid < b.callSid ? -1 : 1));
  for (const p of byStart) {
    const callId = `twilio:${p.callSid}`;
    const startedAtMs = startOf(p);
    const terms = p.campaign.terms;
    const key = `${p.account.accountId}/${p.campaign.campaignId}/${p.caller.e164}`;
    let reason: ReasonCode | null = null;
    let duplicateOf: string | null = null;
    if (p.status !== 'completed') reason = 'not_connected';
    else if (p.durationSec < terms.bufferSec) reason = 'below_buffer';
    else {
      const prior = lastBilled.get(key);
      if (prior && Math.abs(startedAtMs - prior.startMs) < terms.duplicateWindowHours * 3_600_000) {
        reason = 'duplicate_caller';
        duplicateOf = prior.callId;
      } else {
        lastBilled.set(key, { callId, startMs: startedAtMs });
      }
    }
    out.set(p.callSid, {
      callSid: p.callSid,
      callId,
      accountId: p.account.accountId,
      campaignId: p.campaign.campaignId,
      publisherId: p.number.publisherId,
      subSource: p.number.subSource,
      to: p.number.number,
      from: p.caller.e164,
      status: p.status,
      durationSec: p.durationSec,
      startedAt: new Date(startedAtMs).toISOString(),
      endedAt: new Date(p.endAtMs).toISOString(),
      billable: reason === null,
      priceCents: terms.priceCents,
      amountCents: reason === null ? terms.priceCents : 0,
      reason,
      duplicateOf,
      callerCluster: p.callerCluster,
      recording: p.recording
        ? {
            recordingSid: p.recording.recordingSid,
            durationSec: p.recording.durationSec,
            url: recordingUrl(mediaBaseUrl, twilioOf(p.account).accountSid, p.recording.recordingSid),
          }
        : null,
      stirVerstat: p.stirVerstat,
      delivery: { redeliveries: 0, outOfOrder: null },
    });
  }
  return out;
}

function recordingUrl(mediaBaseUrl: string, accountSid: string, recordingSid: string): string {
  return `${mediaBaseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${accountSid}/Recordings/${recordingSid}`;
}

/** The form fields Twilio puts on every voice request, in the (non-alphabetical) order it sends them. */
function voiceFields(p: PlannedCall, status: CallStatus, extra: readonly [string, string][]): [string, string][] {
  const c = p.caller;
  const n = p.number.number;
  const toState = stateOf(n);
  return [
    ['Called', n],
    ['ToState', toState],
    ['CallerCountry', 'US'],
    ['Direction', 'inbound'],
    ...extra,
    ['CallerState', c.state],
    ['ToZip', ''],
    ['CallSid', p.callSid],
    ['To', n],
    ['CallerZip', c.zip],
    ['ToCountry', 'US'],
    ['CalledZip', ''],
    ['ApiVersion', '2010-04-01'],
    ['CalledCity', ''],
    ['CallStatus', status],
    ['From', c.e164],
    ['AccountSid', twilioOf(p.account).accountSid],
    ['CallerCity', c.city],
    ['ToCity', ''],
    ['FromCountry', 'US'],
    ['FromCity', c.city],
    ['CalledState', toState],
    ['FromZip', c.zip],
    ['FromState', c.state],
    ['CalledCountry', 'US'],
    ['Caller', c.e164],
  ];
}

interface Draft {
  readonly call: PlannedCall;
  readonly kind: RequestKind;
  readonly status: string;
  readonly fields: [string, string][];
  deliverAtMs: number;
}

function buildRequests(
  planned: readonly PlannedCall[],
  truths: Map<string, DraftTruth>,
  options: TrafficOptions,
  rng: Rng,
): WebhookRequest[] {
  const duplicateRate = options.delivery?.duplicateRate ?? 0.05;
  const outOfOrderRate = options.delivery?.outOfOrderRate ?? 0.08;
  const maxJitterMs = options.delivery?.maxJitterMs ?? 1500;
  const base = options.publicBaseUrl.replace(/\/+$/, '');

  const drafts: Draft[] = [];
  for (const p of planned) {
    const jitter = () => rng.int(0, maxJitterMs);
    const incoming: Draft = {
      call: p,
      kind: 'incoming',
      status: 'ringing',
      fields: voiceFields(p, 'ringing', [
        ['CallToken', callToken(rng)],
        ['StirVerstat', p.stirVerstat],
      ]),
      deliverAtMs: p.ringAtMs + jitter(),
    };
    const terminalExtra: [string, string][] = [
      ['Timestamp', rfc2822(p.endAtMs)],
      ['CallbackSource', 'call-progress-events'],
      // The number-level status callback is the only progress event of an inbound leg: sequence 0.
      ['SequenceNumber', '0'],
      ...(p.status === 'completed'
        ? ([
            ['Duration', String(Math.ceil(p.durationSec / 60))],
            ['CallDuration', String(p.durationSec)],
          ] as [string, string][])
        : ([
            ['CallDuration', '0'],
            ['SipResponseCode', p.sipCode ?? ''],
          ] as [string, string][])),
    ];
    const terminal: Draft = {
      call: p,
      kind: 'status',
      status: p.status,
      fields: voiceFields(p, p.status, terminalExtra),
      deliverAtMs: p.endAtMs + 200 + jitter(),
    };
    const callDrafts = [incoming, terminal];
    let recordingDraft: Draft | null = null;
    if (p.recording) {
      const r = p.recording;
      recordingDraft = {
        call: p,
        kind: 'recording',
        status: 'completed',
        fields: [
          ['RecordingSource', 'DialVerb'],
          ['RecordingSid', r.recordingSid],
          ['RecordingUrl', recordingUrl(options.mediaBaseUrl, twilioOf(p.account).accountSid, r.recordingSid)],
          ['RecordingStatus', 'completed'],
          ['RecordingChannels', '2'],
          ['ErrorCode', '0'],
          ['CallSid', p.callSid],
          ['RecordingStartTime', rfc2822(r.startMs)],
          ['AccountSid', twilioOf(p.account).accountSid],
          ['RecordingDuration', String(r.durationSec)],
          ['RecordingTrack', 'both'],
        ],
        deliverAtMs: p.endAtMs + 2000 + rng.int(0, 15_000),
      };
      callDrafts.push(recordingDraft);
    }

    const truth = truths.get(p.callSid)!;
    if (rng.chance(outOfOrderRate)) {
      if (recordingDraft && rng.chance(0.5)) {
        recordingDraft.deliverAtMs = terminal.deliverAtMs - rng.int(1, 500);
        truth.delivery.outOfOrder = 'recording-before-completed';
      } else {
        incoming.deliverAtMs = terminal.deliverAtMs + rng.int(1, 3000);
        truth.delivery.outOfOrder = 'completed-before-ringing';
      }
    }
    drafts.push(...callDrafts);
  }

  // Twilio retries: the same request again a few seconds later.
  for (const d of [...drafts]) {
    if (rng.chance(duplicateRate)) {
      drafts.push({ ...d, deliverAtMs: d.deliverAtMs + rng.int(1000, 15_000) });
      truths.get(d.call.callSid)!.delivery.redeliveries++;
    }
  }

  const indexed = drafts.map((d, i) => ({ d, i }));
  indexed.sort((x, y) => x.d.deliverAtMs - y.d.deliverAtMs || x.i - y.i);
  const seenBodies = new Set<string>();
  const signed = new Map<string, { signature: string; idempotency: string }>();

  return indexed.map(({ d }) => {
    const accountId = d.call.account.accountId;
    const path = `/webhooks/twilio/${encodeURIComponent(accountId)}`;
    const url = `${base}${path}`;
    const body = new URLSearchParams(d.fields).toString();
    const dedupeKey = `${url}\n${body}`;
    let sig = signed.get(dedupeKey);
    if (!sig) {
      sig = {
        signature: twilioSignature(options.authTokens[accountId]!, url, Object.fromEntries(d.fields)),
        // Twilio's idempotency token is stable across retries of one request.
        idempotency: `${d.call.callSid}-${d.kind}-${d.status}`,
      };
      signed.set(dedupeKey, sig);
    }
    const redelivery = seenBodies.has(dedupeKey);
    seenBodies.add(dedupeKey);
    const truth = truths.get(d.call.callSid)!;
    return {
      method: 'POST' as const,
      url,
      path,
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
        'x-twilio-signature': sig.signature,
        'user-agent': 'TwilioProxy/1.1',
        'i-twilio-idempotency-token': sig.idempotency,
      },
      body,
      meta: {
        callSid: d.call.callSid,
        callId: truth.callId,
        accountId,
        publisherId: d.call.number.publisherId,
        kind: d.kind,
        status: d.status,
        redelivery,
        deliverAtMs: d.deliverAtMs,
        expected: { httpStatus: 204, billable: truth.billable, amountCents: truth.amountCents, reason: truth.reason },
      },
    };
  });
}

// ------------------------------------------------------------------------------------------------ summaries

/** Expected per-publisher figures (the demo's table), keyed by publisherId, sorted by publisherId. */
export function summarise(
  calls: readonly {
    readonly publisherId: string;
    readonly billable: boolean;
    readonly amountCents: number;
    readonly reason: ReasonCode | null;
    readonly recording: object | null;
  }[],
): PublisherSummary[] {
  const rows = new Map<string, { -readonly [K in keyof PublisherSummary]: PublisherSummary[K] }>();
  for (const c of calls) {
    const row =
      rows.get(c.publisherId) ??
      {
        publisherId: c.publisherId,
        calls: 0,
        billable: 0,
        duplicates: 0,
        belowBuffer: 0,
        notConnected: 0,
        unknownNumber: 0,
        spendCents: 0,
        recordings: 0,
      };
    rows.set(c.publisherId, row);
    row.calls++;
    if (c.billable) row.billable++;
    row.spendCents += c.amountCents;
    if (c.recording) row.recordings++;
    switch (c.reason) {
      case 'duplicate_caller':
        row.duplicates++;
        break;
      case 'below_buffer':
        row.belowBuffer++;
        break;
      case 'not_connected':
        row.notConnected++;
        break;
      case 'unknown_number':
        row.unknownNumber++;
        break;
      case null:
        break;
      case 'outside_hours':
      case 'machine_answered':
      case 'not_qualified':
      case 'out_of_geo':
      case 'caller_id_withheld':
      case 'blocked_caller':
      case 'blocked_signal':
      case 'outside_window':
      case 'over_cap':
        // The generator plans calls against the v1 rules only; its ground truth never carries these.
        throw new Error(`the traffic generator does not plan '${c.reason}' calls`);
      default: {
        const exhaustive: never = c.reason;
        throw new Error(`unknown reason ${String(exhaustive)}`);
      }
    }
  }
  return [...rows.values()].sort((a, b) => (a.publisherId < b.publisherId ? -1 : 1));
}

// ------------------------------------------------------------------------------------------------ sending

export interface SendOptions {
  /** Where the stack answers (may differ from the signed public URL). */
  readonly baseUrl: string;
  /** Requests in flight at once. Default 8. */
  readonly concurrency?: number;
  /** Open-loop pacing: request i is not sent before start + i / ratePerSec. Default: as fast as possible. */
  readonly ratePerSec?: number;
  /** Per-request timeout. Default 15 s (Twilio's own limit). */
  readonly timeoutMs?: number;
  /** Called after each response with (completed, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SendResult {
  readonly sent: number;
  /** Response counts by HTTP status; `error` for requests that got no response. */
  readonly statusCounts: Readonly<Record<string, number>>;
  /** Requests whose status differed from `meta.expected.httpStatus` (at most 20, for diagnostics). */
  readonly unexpected: readonly { readonly index: number; readonly status: number | 'error'; readonly body: string }[];
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly mean: number };
  readonly elapsedMs: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * POSTs the requests in list order with bounded concurrency. Requests overlap, so neighbours in the list may be
 * processed in either order: that is the jitter the ledger has to absorb.
 */
export async function send(requests: readonly WebhookRequest[], options: SendOptions): Promise<SendResult> {
  const base = options.baseUrl.replace(/\/+$/, '');
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const statusCounts: Record<string, number> = {};
  const unexpected: { index: number; status: number | 'error'; body: string }[] = [];
  const latencies: number[] = [];
  const t0 = performance.now();
  let next = 0;
  let done = 0;

  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= requests.length) return;
      const req = requests[index]!;
      if (options.ratePerSec) {
        const due = t0 + (index * 1000) / options.ratePerSec;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const started = performance.now();
      let status: number | 'error';
      let text = '';
      try {
        const res = await fetch(base + req.path, {
          method: req.method,
          headers: req.headers,
          body: req.body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await res.text();
        status = res.status;
      } catch (err) {
        status = 'error';
        text = err instanceof Error ? err.message : String(err);
      }
      latencies.push(performance.now() - started);
      statusCounts[String(status)] = (statusCounts[String(status)] ?? 0) + 1;
      if (status !== req.meta.expected.httpStatus && unexpected.length < 20) unexpected.push({ index, status, body: text.slice(0, 500) });
      done++;
      options.onProgress?.(done, requests.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker));

  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    sent: requests.length,
    statusCounts,
    unexpected,
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted[sorted.length - 1] ?? 0),
      mean: round(sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length)),
    },
    elapsedMs: Math.round(performance.now() - t0),
  };
}
