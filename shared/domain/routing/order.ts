/**
 * Routing order: which of a route's targets is tried first, second, … for one call. Pure.
 *
 * - By priority (1 first), and within a priority weighted at random WITHOUT replacement: each target draws the key
 *   ln(u) / weight with u uniform in (0, 1), and keys sort descending (Efraimidis–Spirakis), so a target's chance of
 *   being tried first within its priority is its share of the weights.
 * - Reproducible from the call id: u is read from SHA-256(callId, targetId), so every request of one call (the
 *   answer, every Dial action) computes the same order without storing it, a re-played call routes the same way,
 *   and adding or removing one target never reorders the others relative to each other.
 * - Eligibility is re-checked at every hop with the facts of that instant (a target may close or fill up while an
 *   earlier one rings); the order itself never changes within a call.
 */
import { createHash } from 'node:crypto';
import type { CallerGeo } from '../rating/rules';
import { checkTarget, NO_FACTS, type SkipReason, type Target, type TargetFacts } from './targets';

/** u in (0, 1) from the first 48 bits of SHA-256(callId NUL targetId). */
export function routingDraw(callId: string, targetId: string): number {
  const digest = createHash('sha256').update(`${callId}\u0000${targetId}`, 'utf8').digest();
  return (digest.readUIntBE(0, 6) + 0.5) / 2 ** 48;
}

/** The route's target ids in the order this call tries them. Unknown ids (no configuration) go last, in list order. */
export function routeOrder(targetIds: readonly string[], targets: ReadonlyMap<string, Target>, callId: string): string[] {
  const known = targetIds.filter((id) => targets.has(id));
  const unknown = targetIds.filter((id) => !targets.has(id));
  const keyed = known.map((id) => {
    const t = targets.get(id) as Target;
    return { id, priority: t.priority, key: Math.log(routingDraw(callId, id)) / t.weight };
  });
  keyed.sort((a, b) => a.priority - b.priority || b.key - a.key || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return [...keyed.map((k) => k.id), ...unknown];
}

/** One position of the order, as the routing audit shows it. */
export type RouteStep =
  | { readonly position: number; readonly targetId: string; readonly status: 'eligible'; readonly inputs: Record<string, unknown> }
  | { readonly position: number; readonly targetId: string; readonly status: SkipReason; readonly inputs: Record<string, unknown> };

/** Every target of the route in order, each eligible now or skipped with its reason. */
export function planRoute(
  targetIds: readonly string[],
  targets: ReadonlyMap<string, Target>,
  facts: ReadonlyMap<string, TargetFacts>,
  geo: CallerGeo,
  callId: string,
  atMs: number,
): RouteStep[] {
  return routeOrder(targetIds, targets, callId).map((targetId, position) => {
    const check = checkTarget(targets.get(targetId), facts.get(targetId) ?? NO_FACTS, geo, atMs);
    return check.eligible
      ? { position, targetId, status: 'eligible', inputs: check.inputs }
      : { position, targetId, status: check.skip, inputs: check.inputs };
  });
}

/** The first eligible step after `afterPosition` (-1: from the start), and the steps skipped on the way; null: none left. */
export function nextEligible(plan: readonly RouteStep[], afterPosition: number): { readonly step: RouteStep; readonly skipped: RouteStep[] } | null {
  const skipped: RouteStep[] = [];
  for (const step of plan) {
    if (step.position <= afterPosition) continue;
    if (step.status === 'eligible') return { step, skipped };
    skipped.push(step);
  }
  return null;
}
