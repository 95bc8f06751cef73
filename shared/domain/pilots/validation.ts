/**
 * The rules a new pilot must clear before it is written: its numbers, its window, the campaign and publishers it
 * names, and no overlap with another pilot sharing a publisher.
 */
import { DomainError, type FieldError } from '../kernel/errors';
import { CONFIG_LEAD_MS } from '../catalog/config';
import type { Campaign, Publisher } from '../catalog/types';
import type { PilotTerms } from './caps';
import { MAX_WINDOW_MS, type PilotRequest } from './pilots';

export interface PilotValidationContext {
  readonly nowMs: number;
  readonly campaign: Campaign | null;
  /** publisherId → the publisher, or null when the account has none by that id. */
  readonly publishers: ReadonlyMap<string, Publisher | null>;
}

/**
 * The rules a new pilot must clear (422), in the order a client fixes them: the numbers, the window, then the
 * campaign and publishers it names. Overlap with another pilot is a 409 (`assertNoOverlap`): it depends on the
 * campaign's current state, not on the request alone.
 */
export function validatePilotRequest(req: PilotRequest, ctx: PilotValidationContext): void {
  const errors: FieldError[] = [];
  if (req.spendCapCents <= 0) errors.push({ field: 'spendCapCents', message: 'must be greater than 0' });
  if (req.dailyCapCents !== null) {
    if (req.dailyCapCents <= 0) errors.push({ field: 'dailyCapCents', message: 'must be greater than 0' });
    else if (req.dailyCapCents > req.spendCapCents) errors.push({ field: 'dailyCapCents', message: 'must not exceed spendCapCents' });
  }
  if (req.maxBillableCalls !== null && req.maxBillableCalls <= 0) errors.push({ field: 'maxBillableCalls', message: 'must be greater than 0' });

  const startsMs = Date.parse(req.startsAt);
  const endsMs = Date.parse(req.endsAt);
  const earliest = ctx.nowMs + CONFIG_LEAD_MS;
  if (startsMs < ctx.nowMs) {
    errors.push({ field: 'startsAt', message: 'is in the past' });
  } else if (startsMs < earliest) {
    errors.push({
      field: 'startsAt',
      message: `must be at or after ${new Date(earliest).toISOString()}: a pilot is written at least ${CONFIG_LEAD_MS / 1000} s before its window opens`,
    });
  }
  if (endsMs <= startsMs) errors.push({ field: 'endsAt', message: 'must be after startsAt' });
  else if (endsMs - startsMs > MAX_WINDOW_MS) errors.push({ field: 'endsAt', message: 'the window may last at most 365 days' });

  const campaign = ctx.campaign;
  if (campaign === null) {
    errors.push({ field: 'campaignId', message: 'names no campaign of this account' });
  } else if (campaign.vertical !== req.vertical) {
    errors.push({ field: 'vertical', message: "must be the campaign's vertical" });
  }
  req.publisherIds.forEach((id, i) => {
    if ((ctx.publishers.get(id) ?? null) === null) errors.push({ field: `publisherIds.${i}`, message: 'names no publisher of this account' });
  });
  if (errors.length > 0) {
    throw new DomainError('refused', 'unprocessable', 'Unprocessable request', `The pilot cannot be created: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}.`, errors);
  }
}

/** Half-open windows [s, e) overlap. */
export function windowsOverlap(a: { startsAt: string; endsAt: string }, b: { startsAt: string; endsAt: string }): boolean {
  return Date.parse(a.startsAt) < Date.parse(b.endsAt) && Date.parse(b.startsAt) < Date.parse(a.endsAt);
}

/**
 * The campaign's pilot that shares a publisher with `req` over an overlapping window, if any. Every pilot in the
 * campaign's list counts, stopped ones too: terms are immutable and `pilotForCall` picks the pilot whose window
 * holds a call, so two candidate windows for one publisher would make the governing pilot ambiguous.
 */
export function overlappingPilot(existing: readonly PilotTerms[] | undefined, req: Pick<PilotRequest, 'publisherIds' | 'startsAt' | 'endsAt'>): PilotTerms | null {
  for (const p of existing ?? []) {
    if (p.publisherIds.some((id) => req.publisherIds.includes(id)) && windowsOverlap(p, req)) return p;
  }
  return null;
}

export function assertNoOverlap(existing: readonly PilotTerms[] | undefined, req: PilotRequest): void {
  const other = overlappingPilot(existing, req);
  if (other !== null) {
    const shared = other.publisherIds.filter((id) => req.publisherIds.includes(id));
    throw new DomainError(
      'conflict',
      'conflict',
      'Conflict',
      `Pilot ${other.pilotId} of this campaign already covers publisher ${shared.join(', ')} from ${other.startsAt} to ${other.endsAt}; windows of pilots sharing a publisher may not overlap.`,
    );
  }
}

/** The daily cap's zone: the campaign's hours zone, else the account's. */
export function pilotTimeZone(campaign: Pick<Campaign, 'hours'>, accountTimeZone: string): string {
  return campaign.hours?.timeZone ?? accountTimeZone;
}
