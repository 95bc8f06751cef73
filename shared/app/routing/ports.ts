/** Ports of routing, owned by their consumers: the target API and the voice function. */
import type { Target } from '../../domain/routing/targets';

/** Destinations in the main table (`ACCT#<accountId>` / `TARGET#<targetId>`). */
export interface TargetStore {
  /** Strongly consistent (the management API). */
  readTarget(accountId: string, targetId: string): Promise<Target | null>;
  /** Throws ConfigWriteConflict unless the stored rev is `expectedRev` (null: the item must not exist). */
  putTarget(target: Target, expectedRev: number | null): Promise<void>;
  /** Every target of the account (the voice function caches them per container; the campaign PUT checks routes against their ids). */
  listTargets(accountId: string): Promise<readonly Target[]>;
}
