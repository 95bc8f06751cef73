/**
 * Consent evidence: a publisher that declares outbound calling or purchased lists among its
 * traffic methods must show that each caller consented to be called — a consent certificate (an id and/or an https
 * URL of a consent-capture service) captured before the call. A call from such a publisher without evidence is
 * flagged `consent_missing`; the account decides (`compliance.consentMissingNonBillable`) whether that also makes it
 * non-billable. Pure: no I/O, no zod (the writer imports this; request schemas: consent-schema.ts).
 *
 * Evidence is stored by the caller's keyed hash (never the number) with its capture time, and applies to a call when
 * it was captured at or before the call started and no more than CONSENT_VALIDITY_DAYS before (a stale consent is no
 * consent). Evidence is not effective-dated: it states a fact about the past, so it applies as soon as it is stored —
 * but a call is judged once, when the writer rates it, so evidence must be posted before the call is processed.
 */
import { createHash } from 'node:crypto';
import type { Publisher, TrafficMethod } from '../catalog/types';

/** How long captured consent covers calls (stated in docs/CONTRACTS.md). */
export const CONSENT_VALIDITY_DAYS = 180;
export const CONSENT_VALIDITY_MS = CONSENT_VALIDITY_DAYS * 86_400_000;

/** The traffic methods whose calls need consent evidence. */
export const CONSENT_METHODS: readonly TrafficMethod[] = ['outbound', 'purchased_list'];

/** The account's compliance settings (stored on the account item; absent: both false, i.e. flag only). */
export interface ComplianceSettings {
  /** A call flagged `consent_missing` is non-billable. */
  readonly consentMissingNonBillable: boolean;
  /** A call whose caller is on one of the account's DNC lists is non-billable. */
  readonly dncNonBillable: boolean;
}

export const DEFAULT_COMPLIANCE: ComplianceSettings = { consentMissingNonBillable: false, dncNonBillable: false };

/** One piece of evidence as stored (the caller hash is part of the item's key, not an attribute). */
export interface ConsentEvidence {
  readonly evidenceId: string;
  readonly accountId: string;
  /** ISO-8601 UTC (`toISOString` form): when the consent was captured. */
  readonly capturedAt: string;
  readonly certificateId: string | null;
  readonly certificateUrl: string | null;
  readonly leadId: string | null;
  readonly publisherId: string | null;
  /** The call the evidence was posted for, when it was posted by callId. */
  readonly callId: string | null;
  readonly postedAt: string;
  /** The API key label that posted it. */
  readonly postedBy: string;
}

/** What the writer's reader answers: the latest evidence that applies, or null. */
export interface ConsentMatch {
  readonly certificateId: string | null;
  readonly capturedAt: string;
}

/** Whether calls of this publisher need consent evidence. */
export function consentRequired(publisher: Pick<Publisher, 'trafficMethods'> | null): boolean {
  return publisher !== null && publisher.trafficMethods.some((m) => CONSENT_METHODS.includes(m));
}

/** The finding of a call: `consent_missing` when evidence is required and none applies. */
export function consentFinding(required: boolean, evidence: ConsentMatch | null): 'consent_missing' | null {
  return required && evidence === null ? 'consent_missing' : null;
}

/** The capture instants whose evidence applies to a call that started at `startedAtMs` (both inclusive). */
export function consentWindow(startedAtMs: number): { readonly fromMs: number; readonly toMs: number } {
  return { fromMs: startedAtMs - CONSENT_VALIDITY_MS, toMs: startedAtMs };
}

/** Whether evidence captured at `capturedAtMs` applies to a call that started at `startedAtMs`. */
export function consentApplies(capturedAtMs: number, startedAtMs: number): boolean {
  const w = consentWindow(startedAtMs);
  return capturedAtMs >= w.fromMs && capturedAtMs <= w.toMs;
}

/** The certificate part of a consent record's identity: its id, else a digest of its URL. */
export function certificateKey(certificateId: string | null, certificateUrl: string | null): string {
  if (certificateId !== null) return certificateId;
  return `url:${createHash('sha256').update(certificateUrl ?? '', 'utf8').digest('hex').slice(0, 24)}`;
}

/**
 * A consent record's evidence id: `cns_` + 16 hex digits of its identity (account, keyed caller, capture instant,
 * certificate) — stable across retries, and not reversible to the caller.
 */
export function evidenceIdOf(accountId: string, callerHash: string, capturedAt: string, certificate: string): string {
  return `cns_${createHash('sha256').update(`${accountId}\n${callerHash}\n${capturedAt}#${certificate}`, 'utf8').digest('hex').slice(0, 16)}`;
}
