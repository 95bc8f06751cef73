/**
 * Pilot campaigns: what a pilot is (its request, its stored record, the counter as read) and its ids. The rest is
 * in this folder by what it decides: what rating needs (caps.ts), the rules a new pilot must clear (validation.ts),
 * the life cycle of its state (lifecycle.ts), its progress against the caps and when it closes (progress.ts),
 * which notifications are due (notifications.ts) and the pilot report (report.ts). Pure: no I/O, no zod
 * (pilots-schema.ts parses requests).
 *
 * Where the truth lives. The cap is enforced by DynamoDB in the rating transaction (caps.ts): the pilot's counter
 * item holds `open`, `spentCents` and `billableCalls`, and a charge is written only if the counter allows it.
 * Everything in this folder reads snapshots of that counter; nothing here can let a charge through. Closing a pilot
 * is one conditional write of `open = false` on the counter (condition `open = true`), so exactly one closer wins
 * whoever races (the workflow, the scheduled enforcer, a stop request), and the winner alone moves the state and
 * notifies.
 */
import { createHash } from 'node:crypto';
import type { PilotTerms } from './caps';
import type { Geography } from '../terms/terms';

// ---------------------------------------------------------------- vocabulary

export const PILOT_STATES = ['scheduled', 'active', 'capped', 'ended', 'closed', 'stopped', 'failed'] as const;
export type PilotState = (typeof PILOT_STATES)[number];

/** Why a counter was closed. `cap` covers the spend cap and the billable-call limit. */
export type CloseReason = 'cap' | 'window' | 'stopped';

/** Percentages of the spend cap at which the pilot's webhooks are told. */
export const NOTIFY_THRESHOLDS = [50, 80, 100] as const;

/** The longest window: a Standard Step Functions execution lives at most a year. */
export const MAX_WINDOW_MS = 365 * 86_400_000;

/** What a client asks for (`POST /v1/pilots`), parsed by pilots-schema.ts. */
export interface PilotRequest {
  readonly campaignId: string;
  readonly publisherIds: readonly string[];
  readonly vertical: string;
  readonly geography: Geography | null;
  readonly spendCapCents: number;
  readonly dailyCapCents: number | null;
  readonly maxBillableCalls: number | null;
  readonly startsAt: string;
  readonly endsAt: string;
  /** Webhook URLs told about activation, thresholds, closing and the report. */
  readonly notify: readonly string[];
}

/** Where a pilot's report is stored (S3 keys) once built. */
export interface PilotReportRef {
  readonly jsonKey: string;
  readonly csvKey: string;
  readonly builtAt: string;
}

/**
 * A pilot as stored (main table `ACCT#<accountId>` / `PILOT#<pilotId>`): its immutable terms and request, and the
 * mutable record the workflow keeps (state, execution, notifications sent, report).
 */
export interface PilotRecord {
  readonly accountId: string;
  readonly pilotId: string;
  readonly campaignId: string;
  readonly publisherIds: readonly string[];
  readonly vertical: string;
  readonly geography: Geography | null;
  /** Normalised to `toISOString()`. */
  readonly startsAt: string;
  readonly endsAt: string;
  readonly spendCapCents: number;
  readonly dailyCapCents: number | null;
  readonly maxBillableCalls: number | null;
  /** The daily cap's zone (the campaign's hours zone, else the account's). */
  readonly timeZone: string;
  readonly notify: readonly string[];
  readonly createdAt: string;
  /** `<key label> (<role>)`. */
  readonly createdBy: string;
  /** sha256 of the Idempotency-Key (the key itself is not stored). */
  readonly clientKeyHash: string;
  /** sha256 of the canonical request: a retry with the same key must send the same request. */
  readonly requestHash: string;
  /** Monitor loop period and the wait after the window before closing (calls still in progress then). */
  readonly monitorSeconds: number;
  readonly settleSeconds: number;
  readonly state: PilotState;
  readonly executionArn: string | null;
  /** Notification keys already claimed (`activated`, `threshold:50`, `closed`, `report_ready`). */
  readonly notified: readonly string[];
  readonly closedAt: string | null;
  readonly closedReason: CloseReason | null;
  readonly report: PilotReportRef | null;
  readonly failure: string | null;
  readonly updatedAt: string;
}

/** The counter as read (caps.ts `CounterImage` plus how it was closed). */
export interface CounterSnapshot {
  readonly open: boolean;
  readonly spentCents: number;
  readonly billableCalls: number;
  readonly closedAt: string | null;
  readonly closedReason: CloseReason | null;
}

export function termsOf(p: PilotRecord): PilotTerms {
  return {
    pilotId: p.pilotId,
    publisherIds: p.publisherIds,
    startsAt: p.startsAt,
    endsAt: p.endsAt,
    spendCapCents: p.spendCapCents,
    dailyCapCents: p.dailyCapCents,
    maxBillableCalls: p.maxBillableCalls,
    timeZone: p.timeZone,
    createdAt: p.createdAt,
  };
}

// ---------------------------------------------------------------- ids and idempotency

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The pilot id is derived from the account and the client's Idempotency-Key, so a retried create addresses the
 * same item (and the same Step Functions execution name) without any extra lookup item.
 */
export function pilotIdFor(accountId: string, idempotencyKey: string): string {
  return `pilot-${sha256Hex(`${accountId}\n${idempotencyKey}`).slice(0, 24)}`;
}

/** Canonical JSON (sorted keys) of the parsed request, hashed: the "same body" of an idempotent retry. */
export function requestHash(req: PilotRequest): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  const normalised = { ...req, startsAt: new Date(req.startsAt).toISOString(), endsAt: new Date(req.endsAt).toISOString() };
  return sha256Hex(JSON.stringify(canonical(normalised)));
}
