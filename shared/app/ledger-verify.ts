/**
 * Use cases of tamper evidence (shared/domain/tamper.ts; the plan is in docs/ARCHITECTURE.md, "Tamper evidence").
 *
 * verifyLedger recomputes every entry's content hash and every seal of the key's account and reports the first
 * broken link. An entry stored without `contentHash` (written before the writer hashed entries) cannot be checked
 * on its own: it is counted and named in `unhashedEntries`, and its content is still covered by any seal whose
 * interval contains it (the seal's Merkle root is computed from the entries' content, not from stored hashes).
 *
 * sealLedger closes every interval that is ready (aligned `intervalMs` windows of `createdAt`, ending at least
 * `graceMs` ago) with a seal chained to the previous one. It is meant to run on a schedule, one account at a time,
 * off the hot path; two sealers racing on one account cannot fork the chain (the seal's put is conditional on its
 * sequence number being free).
 */
import type { LedgerEntryV2 } from '../domain/ledger-v2';
import { entryHash, nextSealWindow, sealInterval, verify, type BrokenLink, type Seal, type StoredEntry } from '../domain/tamper';
import type { ApiKeyRecord } from './ports';

export type HashedEntry = LedgerEntryV2 & { readonly contentHash?: string };

export interface LedgerVerifyReader {
  entriesInRange(query: { accountId: string }): Promise<readonly HashedEntry[]>;
  listSeals(accountId: string): Promise<readonly Seal[]>;
}

export interface LedgerSealStore extends LedgerVerifyReader {
  /** Conditional put: 'exists' when a seal with this sequence number is already stored. */
  putSeal(seal: Seal): Promise<'stored' | 'exists'>;
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
}

const UNHASHED_IDS_SHOWN = 10;

export async function verifyLedger(principal: ApiKeyRecord, deps: { ledger: LedgerVerifyReader; now: () => Date }): Promise<VerifyResponse> {
  const accountId = principal.accountId;
  const [entries, seals] = await Promise.all([deps.ledger.entriesInRange({ accountId }), deps.ledger.listSeals(accountId)]);
  const unhashed: string[] = [];
  const stored: StoredEntry[] = entries.map((e) => {
    if (typeof e.contentHash === 'string') return e as StoredEntry;
    unhashed.push(e.entryId);
    // Nothing to compare against: its own hash is trivially "right"; seals still cover its content.
    return { ...e, contentHash: entryHash(e) };
  });
  const result = verify(stored, seals);
  return {
    accountId,
    verifiedAt: deps.now().toISOString(),
    ok: result.ok,
    brokenLink: result.ok ? null : result.broken,
    checkedEntries: result.checkedEntries,
    checkedSeals: result.checkedSeals,
    unsealedEntries: result.ok ? result.unsealedEntries : null,
    unhashedEntries: { count: unhashed.length, entryIds: unhashed.sort().slice(0, UNHASHED_IDS_SHOWN) },
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
 */
export async function sealLedger(
  accountId: string,
  deps: { ledger: LedgerSealStore; now: () => Date },
  options: SealOptions = DEFAULT_SEAL_OPTIONS,
): Promise<Seal[]> {
  const [entries, seals] = await Promise.all([deps.ledger.entriesInRange({ accountId }), deps.ledger.listSeals(accountId)]);
  let prev = seals.reduce<Seal | null>((last, s) => (last === null || s.seq > last.seq ? s : last), null);
  const firstCreatedMs = entries.reduce((min, e) => Math.min(min, Date.parse(e.createdAt)), Number.POSITIVE_INFINITY);
  if (prev === null && !Number.isFinite(firstCreatedMs)) return [];
  const genesisMs = Math.floor(firstCreatedMs / options.intervalMs) * options.intervalMs;
  const written: Seal[] = [];
  const nowMs = deps.now().getTime();
  while (written.length < options.maxSeals) {
    const window = nextSealWindow(prev, nowMs, { intervalMs: options.intervalMs, graceMs: options.graceMs, genesisMs });
    if (window === null) return written;
    const seal = sealInterval({ accountId, prev, ...window, entries, sealedAtMs: nowMs });
    // Another sealer stored this sequence number first: its chain stands; stop and let the next run continue it.
    if ((await deps.ledger.putSeal(seal)) === 'exists') return written;
    written.push(seal);
    prev = seal;
  }
  return written;
}
