/**
 * Use cases of tamper evidence (shared/domain/ledger/tamper.ts; the plan is in docs/ARCHITECTURE.md, "Tamper evidence").
 *
 * verifyLedger recomputes every entry's content hash and every seal of the key's account and reports the first
 * broken link. An entry stored without `contentHash` (written before the writer hashed entries) cannot be checked
 * on its own: it is counted and named in `unhashedEntries`, and its content is still covered by any seal whose
 * interval contains it (the seal's Merkle root is computed from the entries' content, not from stored hashes).
 *
 * When an anchor store is wired (`deps.anchors`), the newest anchor the sealer published outside the database (S3
 * Object Lock) is checked against the seal chain too: a chain rewritten after it, or cut short of it, is reported.
 *
 * sealLedger closes every interval that is ready (aligned `intervalMs` windows of `createdAt`, ending at least
 * `graceMs` ago) with a seal chained to the previous one. It is meant to run on a schedule, one account at a time,
 * off the hot path (shared/app/ledger/seal-accounts.ts, functions/ledger-sealer.ts); two sealers racing on one account
 * cannot fork the chain (the seal's put is conditional on its sequence number being free). It reads the newest
 * seal and then ONE interval at a time (`entriesCreatedBetween`, an index Query), never the whole ledger.
 */
import type { LedgerEntry } from '../../domain/ledger/entries';
import { entryHash, nextSealWindow, sealInterval, verify, type BrokenLink, type Seal, type SealAnchor, type StoredEntry } from '../../domain/ledger/tamper';
import type { ApiKeyRecord } from '../kernel/ports';

export type HashedEntry = LedgerEntry & { readonly contentHash?: string };

export interface LedgerVerifyReader {
  entriesInRange(query: { accountId: string }): Promise<readonly HashedEntry[]>;
  listSeals(accountId: string): Promise<readonly Seal[]>;
}

export interface LedgerSealStore {
  /** The account's seal with the highest `seq`, or null before the first. */
  latestSeal(accountId: string): Promise<Seal | null>;
  /** `createdAt` of the account's earliest entry, or null when it has none. */
  firstCreatedAt(accountId: string): Promise<string | null>;
  /** Every entry with `fromIso <= createdAt < toIso` (ISO-8601 instants), in any order. */
  entriesCreatedBetween(accountId: string, fromIso: string, toIso: string): Promise<readonly HashedEntry[]>;
  /** Conditional put: 'exists' when a seal with this sequence number is already stored. */
  putSeal(seal: Seal): Promise<'stored' | 'exists'>;
}

/** Thrown by a LedgerSealStore whose index cannot be read yet (DynamoDB backfilling a new index): retry later. */
export class SealIndexNotReady extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealIndexNotReady';
  }
}

/** Where anchors are read from (an S3 Object Lock bucket in AWS). */
export interface AnchorReader {
  /**
   * The account's newest anchor, or null when none was published. `atLeastSeq` is the newest seal the database
   * holds: a store may look from there first (normally the newest anchor is that seal's), but must return a newer
   * one if it exists (the database's newest seals may have been deleted).
   */
  latestAnchor(accountId: string, atLeastSeq: number): Promise<SealAnchor | null>;
}

export interface VerifyResponse {
  readonly accountId: string;
  readonly verifiedAt: string;
  readonly ok: boolean;
  /** The first broken link (seal order, then entry order within a seal); null when everything checks out. */
  readonly brokenLink: BrokenLink | null;
  readonly checkedEntries: number;
  readonly checkedSeals: number;
  /** Entries after the last seal (only their own hashes are checked); null when verification stopped early. */
  readonly unsealedEntries: number | null;
  /** Entries without a stored content hash: the first few ids, and how many. */
  readonly unhashedEntries: { readonly count: number; readonly entryIds: readonly string[] };
  /** The external anchor checked against the seal chain; null when none is published (or none is wired). */
  readonly anchor: SealAnchor | null;
}

const UNHASHED_IDS_SHOWN = 10;

export async function verifyLedger(
  principal: ApiKeyRecord,
  deps: { ledger: LedgerVerifyReader; now: () => Date; anchors?: AnchorReader },
): Promise<VerifyResponse> {
  const accountId = principal.accountId;
  const [entries, seals] = await Promise.all([deps.ledger.entriesInRange({ accountId }), deps.ledger.listSeals(accountId)]);
  const newestSeq = seals.reduce((max, s) => Math.max(max, s.seq), 0);
  const anchor = deps.anchors === undefined ? null : await deps.anchors.latestAnchor(accountId, newestSeq);
  const unhashed: string[] = [];
  const stored: StoredEntry[] = entries.map((e) => {
    if (typeof e.contentHash === 'string') return e as StoredEntry;
    unhashed.push(e.entryId);
    // Nothing to compare against: its own hash is trivially "right"; seals still cover its content.
    return { ...e, contentHash: entryHash(e) };
  });
  const result = verify(stored, seals, anchor);
  return {
    accountId,
    verifiedAt: deps.now().toISOString(),
    ok: result.ok,
    brokenLink: result.ok ? null : result.broken,
    checkedEntries: result.checkedEntries,
    checkedSeals: result.checkedSeals,
    unsealedEntries: result.ok ? result.unsealedEntries : null,
    unhashedEntries: { count: unhashed.length, entryIds: unhashed.sort().slice(0, UNHASHED_IDS_SHOWN) },
    anchor,
  };
}

export interface SealOptions {
  /** Width of a sealed interval of `createdAt` (default one hour). */
  readonly intervalMs: number;
  /** How far behind now an interval must end: longer than any write can be in flight (default 5 minutes). */
  readonly graceMs: number;
  /** At most this many seals per run (an account idle for months catches up over several runs). */
  readonly maxSeals: number;
}

export const DEFAULT_SEAL_OPTIONS: SealOptions = { intervalMs: 3_600_000, graceMs: 300_000, maxSeals: 500 };

/**
 * Seals every ready interval of one account; returns the seals written (none when nothing is ready or the account
 * has no entries yet). The first interval starts at the interval boundary before the account's first entry.
 * Reads: the newest seal, then one index Query (plus the entries' items) per interval; an idle interval still gets
 * its (empty) seal, so the chain covers time without gaps.
 */
export async function sealLedger(
  accountId: string,
  deps: { ledger: LedgerSealStore; now: () => Date },
  options: SealOptions = DEFAULT_SEAL_OPTIONS,
): Promise<Seal[]> {
  let prev = await deps.ledger.latestSeal(accountId);
  let genesisMs = 0;
  if (prev === null) {
    const first = await deps.ledger.firstCreatedAt(accountId);
    if (first === null) return [];
    genesisMs = Math.floor(Date.parse(first) / options.intervalMs) * options.intervalMs;
  }
  const written: Seal[] = [];
  const nowMs = deps.now().getTime();
  while (written.length < options.maxSeals) {
    const window = nextSealWindow(prev, nowMs, { intervalMs: options.intervalMs, graceMs: options.graceMs, genesisMs });
    if (window === null) return written;
    const entries = await deps.ledger.entriesCreatedBetween(accountId, new Date(window.fromMs).toISOString(), new Date(window.toMs).toISOString());
    const seal = sealInterval({ accountId, prev, ...window, entries, sealedAtMs: nowMs });
    // Another sealer stored this sequence number first: its chain stands; stop and let the next run continue it.
    if ((await deps.ledger.putSeal(seal)) === 'exists') return written;
    written.push(seal);
    prev = seal;
  }
  return written;
}
