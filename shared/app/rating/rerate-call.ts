/**
 * Re-rating a rated call: when its talk time arrives after it was rated, and when a fully credited charge changes its
 * caller's duplicate window.
 */
import { identityHash, WITHHELD_IDENTITY } from '../../domain/calls/caller';
import { foldCall, isChildLeg } from '../../domain/calls/fold';
import { asCampaign } from '../../domain/catalog/config';
import type { CallStore } from '../kernel/ports';
import type { RecordedRating } from '../../domain/rating/decision';
import { callNetCents, settleWindow } from './duplicate-window';
import type { RatingDeps } from './process-ingest-batch';
import { callerOfStored, duplicateScopeKey, rate } from './rate-call';

/**
 * Why a rated call may be rated again. Re-rating only ever turns a NON-billable rating into another one
 * (possibly billable: then its charge is appended, `charge:<callId>`, under the usual conditions), never touches
 * a charged call, and is conditional on the rating it read (`ratedAt`), so repeating it is harmless.
 * - `talk_time`: the dialled leg ended after the call was rated without its talk time (basis `talk`).
 * - `credited`: the call was a `duplicate_caller` only because of `creditedCallId`, whose charge has now been
 *   fully credited (rating-v2 `shouldRerateAfterCredit`), and its duplicate marker was written before markers kept
 *   their calls (a current marker settles its calls itself: rerateAfterCredit). Re-rated, it arrives in the window.
 */
export type RerateTrigger = { readonly kind: 'talk_time' } | { readonly kind: 'credited'; readonly creditedCallId: string };

export type RerateResult = 'rerated' | 'not_applicable';

export async function rerateCall(callId: string, trigger: RerateTrigger, deps: RatingDeps): Promise<RerateResult> {
  const stored = await deps.calls.getCall(callId, { consistent: true });
  const rating = stored?.rating ?? null;
  if (stored === null || rating === null || rating.billable || stored.ratedAt === null) return 'not_applicable';
  const own = stored.events.filter((e) => !isChildLeg(e));
  const terminal = own.length === 0 ? null : foldCall(own).terminal;
  if (terminal === null) return 'not_applicable';
  if (trigger.kind === 'talk_time' && !rating.reasons.includes('below_buffer')) return 'not_applicable';
  if (trigger.kind === 'credited' && !(rating.reasons.length === 1 && rating.reasons[0] === 'duplicate_caller' && priorCallIdOf(rating) === trigger.creditedCallId)) {
    return 'not_applicable';
  }
  const account = await deps.config.getAccount(stored.accountId);
  await rate(terminal, stored.events, deps, {
    rerate: { expectRatedAt: stored.ratedAt },
    caller: await callerOfStored(stored, terminal, account, deps),
  });
  return 'rerated';
}

function priorCallIdOf(rating: RecordedRating): string | null {
  return rating.recorded.priorBilled?.callId ?? null;
}

/**
 * After the charge of `creditedCallId` was fully credited: the credited call no longer counts for its caller's
 * duplicate window (documented rule), so it leaves it, and the window is settled again in start order (its
 * duplicates may bill, in their turn a later billed call may become a duplicate and be reversed: duplicate-window.ts),
 * in one transaction. Idempotent: once it has left, a repeat (a repeated resolve) finds nothing to do.
 *
 * Markers written before the window kept its calls know only the credited call: its duplicates are then found in the
 * calls index (gsi1, eventually consistent: resolving again re-runs it) and re-rated in start order, each arriving in
 * the window as a candidate.
 */
export async function rerateAfterCredit(
  accountId: string,
  creditedCallId: string,
  deps: RatingDeps & { readonly calls: Pick<CallStore, 'listCalls'> },
): Promise<{ readonly rerated: readonly string[] }> {
  const credited = await deps.calls.getCall(creditedCallId, { consistent: true });
  const rating = credited?.rating ?? null;
  if (credited === null || rating === null || credited.startedAt === null || rating.campaignId === null || rating.termsVersion === null) return { rerated: [] };
  // A withheld caller's item stores no hash; its window is keyed by the identity all withheld callers share.
  const duplicateHash =
    credited.callerTraits?.numberClass === 'withheld' ? identityHash(await deps.callerHashKey(), WITHHELD_IDENTITY) : (credited.callerHash ?? null);
  if (duplicateHash === null || !rating.billable || callNetCents(credited) !== 0) return { rerated: [] };
  const startedAtMs = Date.parse(credited.startedAt);
  const campaign = await deps.config.getCampaign(accountId, rating.campaignId, startedAtMs);
  const terms = campaign === null ? null : asCampaign(campaign).termsVersions.find((v) => v.version === rating.termsVersion);
  if (terms === undefined || terms === null || terms.duplicateWindowHours <= 0) return { rerated: [] };
  const windowMs = terms.duplicateWindowHours * 3_600_000;

  const key = { scope: duplicateScopeKey(terms, rating.campaignId), callerHash: duplicateHash };
  const initial = await deps.calls.getWindow(accountId, key);
  const settled = await settleWindow(
    { accountId, key, initial, arrival: null, leaving: [creditedCallId], commit: (window, _plan, rerates) => deps.calls.commitWindow({ accountId, window, rerates }) },
    deps,
  );
  const rerated = settled.outcome === 'committed' ? settled.plan.actions.map((a) => a.callId) : [];
  if (initial.stored.kind !== 'legacy') return { rerated };

  const inWindow = new Set(initial.state.calls.map((c) => c.callId));
  const candidates: { callId: string; startedAt: string }[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.calls.listCalls({
      accountId,
      billable: false,
      from: new Date(startedAtMs - windowMs).toISOString(),
      to: new Date(startedAtMs + windowMs + 1).toISOString(),
      limit: 100,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const c of page.items) {
      if (inWindow.has(c.callId)) continue;
      if (c.rating !== null && c.startedAt !== null && c.rating.reasons.join() === 'duplicate_caller' && priorCallIdOf(c.rating) === creditedCallId) {
        candidates.push({ callId: c.callId, startedAt: c.startedAt });
      }
    }
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);

  candidates.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.callId < b.callId ? -1 : 1));
  const legacy: string[] = [];
  for (const c of candidates) {
    if ((await rerateCall(c.callId, { kind: 'credited', creditedCallId }, deps)) === 'rerated') legacy.push(c.callId);
  }
  return { rerated: [...rerated, ...legacy] };
}

/**
 * The campaign part of the duplicate marker's key (`DUP#<accountId>#<this>#<callerHash>`): the campaign, or `*`
 * when the terms count a caller's billed calls on any campaign of the account.
 */
