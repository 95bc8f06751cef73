/**
 * The networks capability's store: registrations (with their postback secrets' digests), postbacks as delivered,
 * the claims folded from them, each claim's match, the network attribution of a call item, and network disputes.
 * shared/adapters/networks/network-repo.ts implements it on the main table.
 */
import type { CallNetworkAttribution } from '../../domain/networks/attribution';
import type { NetworkClaim, NetworkPostback } from '../../domain/networks/claims';
import type { DisputeProposal } from '../../domain/networks/drift';
import type { MatchFinding } from '../../domain/networks/matching';
import type { NetworkRegistration } from '../../domain/networks/registration';
import type { PostbackSecrets } from '../../domain/networks/secrets';

/** A stored registration: `secrets` holds digests (secrets.ts secretDigest), never a secret. */
export interface NetworkRecord extends NetworkRegistration {
  readonly secrets: PostbackSecrets;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly rev: number;
}

/** A claim's latest match, as the matching pass stored it beside the claim. */
export type ClaimMatch = Omit<MatchFinding, 'publisher' | 'subSource'> & { readonly settlesAt: string | null; readonly matchedAt: string };

export interface StoredClaim {
  readonly claim: NetworkClaim;
  readonly match: ClaimMatch | null;
}

/** A dispute the drift of a network called for: opened (credit policy auto_open) or proposed to the buyer. */
export interface NetworkDispute extends DisputeProposal {
  readonly networkId: string;
  readonly status: 'open' | 'proposed';
  readonly createdAt: string;
  /** The dispute on our own charge opened with it (shared/app/disputes), when the leg was charged. */
  readonly callDisputeId: string | null;
}

export interface NetworkStore {
  getNetwork(accountId: string, networkId: string): Promise<NetworkRecord | null>;
  /** Throws ConfigWriteConflict unless the stored rev is `expectedRev` (null: the item must not exist). */
  putNetwork(record: NetworkRecord, expectedRev: number | null): Promise<void>;
  /** Every network of the account (cached for at most CONFIG_LEAD_MS: registrations are read on the writer's path). */
  listNetworks(accountId: string): Promise<readonly NetworkRecord[]>;
  /** Stores one postback under its content; 'exists' for a duplicate (nothing changes). */
  putPostback(accountId: string, networkId: string, postback: NetworkPostback): Promise<'created' | 'exists'>;
  /** Every stored postback of one network call (strongly consistent). */
  postbacksOf(accountId: string, networkId: string, networkCallId: string): Promise<NetworkPostback[]>;
  /** Writes the folded claim (keeps its match). */
  putClaim(accountId: string, networkId: string, claim: NetworkClaim): Promise<void>;
  getClaim(accountId: string, networkId: string, networkCallId: string): Promise<StoredClaim | null>;
  /** Claims whose start is in [from, to). */
  claimsBetween(accountId: string, networkId: string, from: string, to: string): Promise<StoredClaim[]>;
  setClaimMatch(accountId: string, networkId: string, networkCallId: string, match: ClaimMatch): Promise<void>;
  /** The network side of a call item (attribute `net`); never touches the call's own slots, rating or amounts. */
  setCallNetwork(callId: string, attribution: CallNetworkAttribution): Promise<void>;
  /** Conditional create; 'exists' when the network call already has one. */
  putNetworkDispute(accountId: string, dispute: NetworkDispute): Promise<'created' | 'exists'>;
  /** A network's disputes whose call started in [from, to). */
  networkDisputes(accountId: string, networkId: string, from: string, to: string): Promise<NetworkDispute[]>;
}
