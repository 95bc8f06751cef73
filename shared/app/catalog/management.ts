/**
 * Use cases of the management API: publishers, campaigns (targeting + versioned terms) and tracking numbers
 * (effective-dated assignments). Every request is scoped to the API key's account; `admin` keys may write,
 * `analyst` keys only read (403 on PUT). Bodies are validated with the schemas the seed file uses (config.ts).
 *
 * History is never rewritten: a terms change appends a version, a re-assignment appends an assignment, each
 * effective from an instant at least CONFIG_LEAD_MS ahead (config.ts explains why that keeps cached copies
 * exact). Writes are conditional on the item's `rev`, so two concurrent changes cannot both append version N+1;
 * the loser gets 409 and re-reads.
 */
import { effectiveInstant, sameTerms, undeclaredSubSource } from '../../domain/catalog/config';
import { CampaignBodySchema, type CampaignBody, E164Schema, IdSchema, PublisherBodySchema, TrackingNumberBodySchema, parseBody } from '../../domain/catalog/config-schema';
import { DomainError } from '../../domain/kernel/errors';
import { conflict, forbidden, invalidInput, notFound, unprocessable } from '../kernel/errors';
import { appendVersion, termsInForce, type TermsVersion } from '../../domain/terms/terms';
import type { CampaignEconomics } from '../../domain/reports/analytics';
import type { Campaign, NumberAssignment, TrackingNumber, Publisher } from '../../domain/catalog/types';
import { ConfigWriteConflict, type ApiKeyRecord } from '../kernel/ports';
import { requireAdmin } from '../kernel/route';
import { appendFlowVersion, flowConflicts, flowInForce, type CallFlowVersion } from '../../domain/callflow/flow';
import type { TargetStore } from '../routing/ports';

/** The configuration store as the management API needs it: uncached, strongly consistent reads; conditional writes. */
export interface ManagementStore {
  readPublisher(accountId: string, publisherId: string): Promise<Publisher | null>;
  /** Creates or replaces; true when created. */
  putPublisher(publisher: Publisher): Promise<boolean>;
  readCampaign(accountId: string, campaignId: string): Promise<Campaign | null>;
  /** Throws ConfigWriteConflict unless the stored rev is `expectedRev` (null: the item must not exist). */
  putCampaign(campaign: Campaign, expectedRev: number | null): Promise<void>;
  readTrackingNumber(e164: string): Promise<TrackingNumber | null>;
  putTrackingNumber(number: TrackingNumber, expectedRev: number | null): Promise<void>;
}

export interface ManagementDeps {
  readonly store: ManagementStore;
  /** The account's targets, which a call flow's routes must name (uncached). */
  readonly targets: Pick<TargetStore, 'listTargets'>;
  readonly now: () => Date;
}

/** What a PUT answers: 201 when it created the resource, else 200, and the resource as a GET shows it. */
export interface Written<T> {
  readonly created: boolean;
  readonly body: T;
}

/** `GET /v1/campaigns/{campaignId}`. */
export interface CampaignView {
  readonly accountId: string;
  readonly campaignId: string;
  readonly name: string;
  readonly vertical: string;
  readonly geography: Campaign['geography'];
  readonly hours: Campaign['hours'];
  /** The version governing calls that start now (null before the first takes effect). */
  readonly termsInForce: TermsVersion | null;
  /** Every version, oldest first. */
  readonly termsVersions: readonly TermsVersion[];
  /** The buyer's economics behind the cost ceiling; null until entered. */
  readonly economics: CampaignEconomics | null;
  /** The call-flow version answering calls that arrive now (null: none in force). */
  readonly flowInForce: CallFlowVersion | null;
  /** Every call-flow version, oldest first. */
  readonly flowVersions: readonly CallFlowVersion[];
  readonly updatedAt: string;
}

/** `GET /v1/tracking-numbers/{e164}`. */
export interface TrackingNumberView {
  readonly number: string;
  readonly accountId: string;
  /** The assignment governing calls that start now (null before the first takes effect). */
  readonly assignmentInForce: NumberAssignment | null;
  /** Every assignment, in the order written. */
  readonly assignments: readonly NumberAssignment[];
  readonly updatedAt: string;
}

/**
 * A tracking number routes its calls to exactly one account, so a number that another account holds cannot be
 * assigned to this one. The refusal is safe to give to any admin key: one fixed answer (no account, no assignment,
 * no campaign of the holder), given only once the request is otherwise valid, and GET answers such a number exactly
 * as a missing one (404). What it cannot hide is that the number is taken: a free number would have been assigned.
 * It is useful because its type is stable (a client can branch on it), it says that retrying will not help, and
 * what will.
 */
export function trackingNumberUnavailable(): DomainError {
  return new DomainError(
    'conflict',
    'tracking-number-unavailable',
    'Tracking number unavailable',
    'This number cannot be assigned to this account: a tracking number routes its calls to one account only. If this account holds the number at its telephony provider, ask the operator of this CallLedger to release it.',
  );
}

export { requireAdmin };

/** A path id on a PUT: a bad one is a 400 naming the parameter. */
function pathId(value: string, field: string): string {
  const parsed = IdSchema.safeParse(value);
  if (!parsed.success) throw invalidInput(`Invalid ${field}.`, [{ field, message: parsed.error.issues[0]!.message }]);
  return parsed.data;
}

function pathE164(value: string): string {
  const parsed = E164Schema.safeParse(value);
  if (!parsed.success) throw invalidInput('Invalid tracking number.', [{ field: 'e164', message: parsed.error.issues[0]!.message }]);
  return parsed.data;
}

async function write<T>(what: string, doWrite: () => Promise<T>): Promise<T> {
  try {
    return await doWrite();
  } catch (err) {
    if (err instanceof ConfigWriteConflict) throw conflict(`The ${what} was changed by another request meanwhile; read it again and retry.`);
    throw err;
  }
}

// ------------------------------------------------------------------ publishers

export async function putPublisher(principal: ApiKeyRecord, publisherId: string, json: unknown, deps: ManagementDeps): Promise<Written<Publisher>> {
  requireAdmin(principal);
  const id = pathId(publisherId, 'publisherId');
  const body = parseBody(PublisherBodySchema, json, 'publisher');
  const publisher: Publisher = { accountId: principal.accountId, publisherId: id, ...body };
  const created = await deps.store.putPublisher(publisher);
  return { created, body: publisher };
}

export async function getPublisher(principal: ApiKeyRecord, publisherId: string, deps: ManagementDeps): Promise<Publisher> {
  const found = IdSchema.safeParse(publisherId).success ? await deps.store.readPublisher(principal.accountId, publisherId) : null;
  if (found === null) throw notFound('No such publisher.');
  return found;
}

// ------------------------------------------------------------------ campaigns

function campaignView(c: Campaign, nowMs: number): CampaignView {
  return {
    accountId: c.accountId,
    campaignId: c.campaignId,
    name: c.name,
    vertical: c.vertical,
    geography: c.geography,
    hours: c.hours,
    termsInForce: termsInForce(c.termsVersions, nowMs),
    termsVersions: c.termsVersions,
    economics: c.economics ?? null,
    flowInForce: flowInForce(c.flowVersions ?? [], nowMs),
    flowVersions: c.flowVersions ?? [],
    updatedAt: c.updatedAt,
  };
}

function economicsAfter(requested: CampaignEconomics | null | undefined, existing: CampaignEconomics | null | undefined): { economics?: CampaignEconomics } {
  const next = requested === undefined ? existing : requested;
  return next === null || next === undefined ? {} : { economics: next };
}

function latestVersion(versions: readonly TermsVersion[]): TermsVersion | null {
  return versions.reduce<TermsVersion | null>((max, v) => (max === null || v.version > max.version ? v : max), null);
}

/**
 * The call-flow versions after a PUT: a flow that differs from the latest appends version N+1 effective from its
 * `effectiveFrom` (default and minimum now + CONFIG_LEAD_MS), exactly as terms do; an identical one, or none, keeps
 * them. A flow that routes to targets the account does not have, or qualifies what the latest terms refuse, is 422.
 */
async function nextFlowVersions(
  accountId: string,
  change: CampaignBody['callFlow'],
  existing: Campaign | null,
  terms: readonly TermsVersion[],
  nowMs: number,
  deps: ManagementDeps,
): Promise<readonly CallFlowVersion[]> {
  const current = existing?.flowVersions ?? [];
  if (change === undefined) return current;
  const targetIds = new Set((await deps.targets.listTargets(accountId)).map((t) => t.targetId));
  const conflicts = flowConflicts(change.flow, latestVersion(terms), targetIds).map((e) => ({ field: `callFlow.flow.${e.field}`, message: e.message }));
  if (conflicts.length > 0) throw unprocessable('The call flow contradicts the campaign terms or names unknown routes or targets.', conflicts);
  return appendFlowVersion(current, change.flow, change.effectiveFrom, nowMs).versions;
}

export async function putCampaign(principal: ApiKeyRecord, campaignId: string, json: unknown, deps: ManagementDeps): Promise<Written<CampaignView>> {
  requireAdmin(principal);
  const id = pathId(campaignId, 'campaignId');
  const body = parseBody(CampaignBodySchema, json, 'campaign');
  const now = deps.now();
  const nowMs = now.getTime();
  const existing = await deps.store.readCampaign(principal.accountId, id);
  if (existing === null && body.terms === undefined) {
    throw unprocessable('A new campaign needs its contract terms.', [{ field: 'terms', message: 'is required when the campaign is created' }]);
  }
  if (body.terms === undefined && body.effectiveFrom !== undefined) {
    throw unprocessable('effectiveFrom dates a terms change; this request has no terms.', [{ field: 'effectiveFrom', message: 'needs terms' }]);
  }

  let versions = existing?.termsVersions ?? [];
  const latest = latestVersion(versions);
  // Identical terms add no version: a retried PUT is a no-op for the contract.
  if (body.terms !== undefined && (latest === null || !sameTerms(latest, body.terms))) {
    versions = appendVersion(versions, { effectiveFrom: effectiveInstant(body.effectiveFrom, nowMs), terms: body.terms }, nowMs).versions;
  }
  const flowVersions = await nextFlowVersions(principal.accountId, body.callFlow, existing, versions, nowMs, deps);
  const campaign: Campaign = {
    accountId: principal.accountId,
    campaignId: id,
    name: body.name,
    vertical: body.vertical,
    geography: body.geography,
    hours: body.hours,
    termsVersions: versions,
    ...(flowVersions.length === 0 ? {} : { flowVersions }),
    // Pilots are not part of the body: created by POST /v1/pilots, immutable, kept across every PUT.
    ...(existing?.pilots === undefined ? {} : { pilots: existing.pilots }),
    // Economics are not versioned: absent keeps them, null clears them.
    ...economicsAfter(body.economics, existing?.economics),
    rev: (existing?.rev ?? 0) + 1,
    updatedAt: now.toISOString(),
  };
  await write('campaign', () => deps.store.putCampaign(campaign, existing?.rev ?? null));
  return { created: existing === null, body: campaignView(campaign, nowMs) };
}

export async function getCampaign(principal: ApiKeyRecord, campaignId: string, deps: ManagementDeps): Promise<CampaignView> {
  const found = IdSchema.safeParse(campaignId).success ? await deps.store.readCampaign(principal.accountId, campaignId) : null;
  if (found === null) throw notFound('No such campaign.');
  return campaignView(found, deps.now().getTime());
}

// ------------------------------------------------------------------ tracking numbers

function numberView(n: TrackingNumber, nowMs: number): TrackingNumberView {
  let inForce: NumberAssignment | null = null;
  for (const a of n.assignments) if (Date.parse(a.effectiveFrom) <= nowMs) inForce = a;
  return { number: n.number, accountId: n.accountId, assignmentInForce: inForce, assignments: n.assignments, updatedAt: n.updatedAt };
}

export async function putTrackingNumber(principal: ApiKeyRecord, e164: string, json: unknown, deps: ManagementDeps): Promise<Written<TrackingNumberView>> {
  requireAdmin(principal);
  const number = pathE164(e164);
  const body = parseBody(TrackingNumberBodySchema, json, 'tracking number assignment');
  const now = deps.now();
  const nowMs = now.getTime();
  const accountId = principal.accountId;

  const [campaign, publisher, existing] = await Promise.all([
    deps.store.readCampaign(accountId, body.campaignId),
    deps.store.readPublisher(accountId, body.publisherId),
    deps.store.readTrackingNumber(number),
  ]);
  const errors = [
    ...(campaign === null ? [{ field: 'campaignId', message: 'names no campaign of this account' }] : []),
    ...(publisher === null ? [{ field: 'publisherId', message: 'names no publisher of this account' }] : []),
    ...(publisher !== null && undeclaredSubSource(publisher, body.subSource)
      ? [{ field: 'subSource', message: "is not one of the publisher's declared subSources" }]
      : []),
  ];
  if (errors.length > 0) throw unprocessable(`The assignment cannot be made: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}.`, errors);
  if (existing !== null && existing.accountId !== accountId) throw trackingNumberUnavailable();

  const last = existing?.assignments.at(-1);
  const unchanged =
    last !== undefined && last.campaignId === body.campaignId && last.publisherId === body.publisherId && last.subSource === body.subSource;
  const assignments =
    unchanged && existing !== null
      ? existing.assignments
      : [
          ...(existing?.assignments ?? []),
          {
            campaignId: body.campaignId,
            publisherId: body.publisherId,
            subSource: body.subSource,
            effectiveFrom: effectiveInstant(body.effectiveFrom, nowMs),
            createdAt: now.toISOString(),
          },
        ];
  const stored: TrackingNumber = { accountId, number, assignments, rev: (existing?.rev ?? 0) + 1, updatedAt: now.toISOString() };
  await write('tracking number', () => deps.store.putTrackingNumber(stored, existing?.rev ?? null));
  return { created: existing === null, body: numberView(stored, nowMs) };
}

export async function getTrackingNumber(principal: ApiKeyRecord, e164: string, deps: ManagementDeps): Promise<TrackingNumberView> {
  const found = E164Schema.safeParse(e164).success ? await deps.store.readTrackingNumber(e164) : null;
  // Another account's number is as unknown as a missing one.
  if (found === null || found.accountId !== principal.accountId) throw notFound('No such tracking number.');
  return numberView(found, deps.now().getTime());
}
