/**
 * A network (or tracking platform) a buyer buys calls through: what it is, which of the buyer's lines it forwards
 * to, how its postback parameters carry each fact of a call, when the buyer may dispute its claims, and how closely
 * its measurements must agree with the buyer's own before they count as a disagreement. Pure data and defaults;
 * the zod form of the `PUT /v1/networks/{networkId}` body is registration-schema.ts.
 *
 * Field mapping: a postback (Ringba pixel, Retreaver webhook, TrackDrive post) is a URL or body the network's
 * operator writes from the platform's replacement tokens. Each claim field is read from ONE parameter name; for a
 * platform kind the default binds CallLedger's parameter name to the platform's documented token, so the URL
 * CallLedger generates (secrets.ts `postbackUrlTemplate`) is pasted as it is. Where a platform documents no token
 * for a fact, the default has none (`token: null`): the buyer names it (`fields`) or the claim goes without it.
 * A `generic` network has no defaults: its mapping must name at least the call id parameter.
 */

export const NETWORK_KINDS = ['ringba', 'retreaver', 'trackdrive', 'generic'] as const;
export type NetworkKind = (typeof NETWORK_KINDS)[number];

/** The facts a claim can carry, each read from one postback parameter. */
export const CLAIM_FIELDS = [
  'callId',
  'caller',
  'destination',
  'startedAt',
  'durationSec',
  'publisher',
  'subSource',
  'payout',
  'converted',
  'event',
] as const;
export type ClaimField = (typeof CLAIM_FIELDS)[number];

/** Where a claim field comes from: the parameter name in the postback, and the platform token that fills it (for the URL template). */
export interface FieldSource {
  readonly param: string;
  readonly token: string | null;
}

export type FieldMapping = Readonly<Partial<Record<ClaimField, FieldSource>>>;

/**
 * Each platform's defaults. Tokens are the ones its documentation names (../shared/PROVIDERS.md §6–7,
 * PLATFORMS.md §3); none where it names none (Ringba's duration, start and destination tokens; TrackDrive's
 * caller and duration fields), so no default sends a guessed token.
 */
export const DEFAULT_FIELDS: Readonly<Record<Exclude<NetworkKind, 'generic'>, FieldMapping>> = {
  ringba: {
    callId: { param: 'call_id', token: '[Call:InboundCallId]' },
    caller: { param: 'caller', token: '[tag:InboundNumber:Number]' },
    publisher: { param: 'publisher', token: '[tag:Publisher:Name]' },
    subSource: { param: 'sub_id', token: '[tag:Publisher:SubId]' },
    // Revenue is what the network bills the buyer; `[Call:ConversionPayout]` is what it pays the publisher.
    payout: { param: 'revenue', token: '[Call:ConversionAmount]' },
    event: { param: 'event', token: null },
  },
  retreaver: {
    callId: { param: 'call_uuid', token: '[call_uuid]' },
    caller: { param: 'caller_id', token: '[caller_id]' },
    destination: { param: 'called_number', token: '[called_number]' },
    durationSec: { param: 'call_duration', token: '[call_duration]' },
    publisher: { param: 'affiliate_id', token: '[affiliate_id]' },
    subSource: { param: 'sub_id', token: '[sub_id]' },
    payout: { param: 'revenue', token: null },
    converted: { param: 'converted', token: null },
    event: { param: 'event', token: null },
  },
  trackdrive: {
    callId: { param: 'call_uuid', token: null },
    publisher: { param: 'traffic_source_id', token: null },
    subSource: { param: 'sub_id', token: null },
    payout: { param: 'revenue', token: null },
    converted: { param: 'buyer_converted', token: null },
    event: { param: 'event', token: null },
  },
};

/**
 * How the network passes its call id on the call it forwards, so that our leg carries it and matching pairs it with
 * the claim of that id first: the custom SIP header of the INVITE that holds it (as the carrier hands it to us,
 * shared/domain/calls/forwarded.ts). A network whose target is a SIP URI passes URI headers (`?X-Name=value`), which
 * arrive as headers of the INVITE, so this covers it. No URL of ours is a network's dial target (the carrier, not the
 * network, requests the voice URL, and its query is our own state), so there is no URL-parameter source.
 */
export interface ForwardedCallIdSource {
  readonly sipHeader: string;
}

/**
 * Each kind's default: Retreaver sends `X-PH-RetreaverUUID` (its call uuid, the claim's call id) to SIP buyers
 * (../shared/PROVIDERS.md §7.2). Ringba documents a call token in a SIP header but not the header's name, TrackDrive
 * and a generic network none: no default, so none reads a guessed header.
 */
export const DEFAULT_FORWARDED_CALL_ID: Readonly<Record<NetworkKind, ForwardedCallIdSource | null>> = {
  retreaver: { sipHeader: 'X-PH-RetreaverUUID' },
  ringba: null,
  trackdrive: null,
  generic: null,
};

/** The source in force: the registration's own (null: none), else the kind's default (also for one stored before the setting). */
export function effectiveForwardedCallId(kind: NetworkKind, value: ForwardedCallIdSource | null | undefined): ForwardedCallIdSource | null {
  return value === undefined ? DEFAULT_FORWARDED_CALL_ID[kind] : value;
}

/** What happens to a disagreement inside the credit window: a dispute is opened, proposed to the buyer, or nothing. */
export const CREDIT_MODES = ['auto_open', 'propose', 'off'] as const;
export type CreditMode = (typeof CREDIT_MODES)[number];

export interface NetworkCreditPolicy {
  readonly mode: CreditMode;
  /** Days after the call's start during which the network accepts a dispute (an instant: windowDays × 24 h). */
  readonly windowDays: number;
}

/** Ringba takes conversion data back for 30 days from the call: the market's default window. */
export const DEFAULT_CREDIT_WINDOW_DAYS = 30;
export const MAX_CREDIT_WINDOW_DAYS = 366;

export interface MatchingTolerances {
  /**
   * How far apart the network's start and the buyer's leg start may be for a match by caller and destination. The
   * network starts its clock when the call reaches it, the buyer's leg starts after the network's IVR and ring time.
   */
  readonly startToleranceSec: number;
  /** How far the two durations may differ before a matched call is a `duration_gap` (latency, ring time, rounding). */
  readonly durationGapToleranceSec: number;
}

/** Two minutes covers an IVR pre-screen and ringing; longer lets a repeat caller's next call be taken for this one. */
export const DEFAULT_START_TOLERANCE_SEC = 120;
/** Fifteen seconds covers answer latency and whole-second or whole-minute rounding on either side. */
export const DEFAULT_DURATION_GAP_TOLERANCE_SEC = 15;
export const MAX_START_TOLERANCE_SEC = 3_600;
export const MAX_DURATION_GAP_TOLERANCE_SEC = 3_600;

export const DEFAULT_TOLERANCES: MatchingTolerances = {
  startToleranceSec: DEFAULT_START_TOLERANCE_SEC,
  durationGapToleranceSec: DEFAULT_DURATION_GAP_TOLERANCE_SEC,
};

/** The body of `PUT /v1/networks/{networkId}` as parsed (defaults applied). */
export interface NetworkRegistrationRequest {
  readonly kind: NetworkKind;
  readonly name: string;
  /** The buyer's numbers (E.164) the network forwards calls to. */
  readonly destinations: readonly string[];
  /** Overrides of the kind's default sources, field by field (`generic`: the whole mapping). */
  readonly fields: FieldMapping;
  readonly creditPolicy: NetworkCreditPolicy;
  readonly tolerances: MatchingTolerances;
  /** CIDRs postbacks may come from; empty: any source (the secret alone authenticates). */
  readonly sourceIpAllowList: readonly string[];
  /** Where the forwarded call carries the network's call id; null: nowhere; absent: the kind's default (effectiveForwardedCallId). */
  readonly forwardedCallId?: ForwardedCallIdSource | null;
}

/** A registered network as the domain uses it: the request with the kind's defaults merged into the mapping. */
export interface NetworkRegistration extends NetworkRegistrationRequest {
  readonly accountId: string;
  readonly networkId: string;
}

/** The mapping in force: the kind's defaults, each field overridden by the registration's own source when given. */
export function effectiveFields(kind: NetworkKind, fields: FieldMapping): FieldMapping {
  const defaults = kind === 'generic' ? {} : DEFAULT_FIELDS[kind];
  return { ...defaults, ...fields };
}

/** Parameter names that two fields of the mapping both read: a postback could not say which fact a value is. */
export function sharedParams(mapping: FieldMapping): string[] {
  const seen = new Map<string, number>();
  for (const field of CLAIM_FIELDS) {
    const source = mapping[field];
    if (source !== undefined) seen.set(source.param, (seen.get(source.param) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([p]) => p).sort();
}
