/**
 * The configuration the seed file loads and the management API writes: accounts, publishers, campaigns (targeting and
 * versioned contract terms) and tracking numbers (effective-dated assignments). Pure types; config.ts holds the rules
 * over them, config-schema.ts the schemas that validate them. Money is integer cents.
 */
import type { CarrierConfigs } from './carriers';
import type { CallFlowVersion } from '../callflow/flow';
import type { CreditPolicy } from '../disputes/disputes';
import type { PilotTerms } from '../pilots/caps';
import type { QualityConfig } from '../quality/signals';
import type { CampaignEconomics } from '../reports/analytics';
import type { FlatTerms, Geography, HoursOfOperation, TermsVersion } from '../terms/terms';

/** An account; `twilio`, `telnyx`, `vonage`, `plivo` (carriers.ts): that carrier's webhook credentials, by secret name (absent: none of its webhooks). */
export interface Account extends CarrierConfigs {
  readonly accountId: string;
  readonly name: string;
  /** IANA time zone the account's periods are measured in. */
  readonly timeZone: string;
  readonly currency: 'USD';
  /** Quality-signal thresholds and the signals that make a call non-billable (quality-signals.ts); absent: defaults. */
  readonly quality?: QualityConfig;
  /** Whether compliance findings make calls non-billable (consent.ts ComplianceSettings); absent: flag only. */
  readonly compliance?: {
    readonly consentMissingNonBillable: boolean;
    readonly dncNonBillable: boolean;
  };
  /** Days recordings are kept (retention.ts RECORDING_RETENTION_DAYS); absent: the default, 365. */
  readonly recordingRetentionDays?: number;
}

/** How a publisher says it generates calls (declared on the publisher, for audits and reconciliation). */
export const TRAFFIC_METHODS = ['paid_search', 'social', 'seo', 'comparison', 'affiliate', 'outbound', 'purchased_list', 'other'] as const;
export type TrafficMethod = (typeof TRAFFIC_METHODS)[number];

export interface PublisherContact {
  readonly name: string | null;
  readonly email: string | null;
  readonly phone: string | null;
}

/** A publisher as stored and served by `GET /v1/publishers/{publisherId}` (shared/domain/catalog/config.ts validates it). */
export interface Publisher {
  readonly accountId: string;
  readonly publisherId: string;
  readonly name: string;
  readonly trafficMethods: readonly TrafficMethod[];
  /** Sub-source labels the publisher declares (tracking numbers name one of them, or none). */
  readonly subSources: readonly string[];
  readonly contact: PublisherContact | null;
  readonly creditPolicy: CreditPolicy;
}

/** A campaign with one set of terms inline: a seed file's shape, and that of items stored before versioned terms. `asCampaign` converts it. */
export interface FlatCampaign {
  readonly accountId: string;
  readonly campaignId: string;
  readonly name: string;
  readonly vertical: string;
  readonly terms: FlatTerms;
}

/**
 * A campaign as stored (main table `CAMP#`) and served: targeting (not versioned) and every version of its
 * contract terms, oldest first (terms.ts: the version in force at an instant is the highest-numbered one
 * effective at or before it).
 */
export interface Campaign {
  readonly accountId: string;
  readonly campaignId: string;
  readonly name: string;
  readonly vertical: string;
  readonly geography: Geography | null;
  readonly hours: HoursOfOperation | null;
  readonly termsVersions: readonly TermsVersion[];
  /** Every version of the campaign's call flow, oldest first (callflow/flow.ts flowInForce). Absent: none yet. */
  readonly flowVersions?: readonly CallFlowVersion[];
  /** Pilots of this campaign (immutable terms; state lives in each pilot's counter). Absent: none. */
  readonly pilots?: readonly PilotTerms[];
  /** The buyer's economics (the cost ceiling). Absent or null: not entered. */
  readonly economics?: CampaignEconomics | null;
  /** Bumped by every write; writes are conditional on it (optimistic concurrency). */
  readonly rev: number;
  readonly updatedAt: string;
}

/** Who a tracking number sends calls to from `effectiveFrom` on (until a later assignment takes effect). */
export interface NumberAssignment {
  readonly campaignId: string;
  readonly publisherId: string;
  readonly subSource: string | null;
  readonly effectiveFrom: string;
  readonly createdAt: string;
}

/** A tracking number as stored (main table `NUM#`): its account and its assignment history, oldest first. */
export interface TrackingNumber {
  readonly accountId: string;
  /** E.164. */
  readonly number: string;
  readonly assignments: readonly NumberAssignment[];
  readonly rev: number;
  readonly updatedAt: string;
}

/** A tracking number with one assignment, flattened: the one in force at an instant (what rating is given), and the seed file's shape. */
export interface AssignedNumber {
  readonly accountId: string;
  /** E.164. */
  readonly number: string;
  readonly campaignId: string;
  readonly publisherId: string;
  readonly subSource: string | null;
}
