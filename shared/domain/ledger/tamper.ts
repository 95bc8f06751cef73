/**
 * Tamper evidence for the ledger.
 *
 * Design choice
 * -------------
 * - Rejected: one hash chain through every entry. Each write would have to read the chain head and condition on
 *   it, so all writers of an account serialise on one DynamoDB item (a hot key tops out near 500 transactional
 *   updates/s, and concurrent writers turn into TransactionConflict retries). The hot path must stay
 *   coordination-free: two calls never touch the same item.
 * - Rejected on its own: a content hash per entry. It catches an edit by someone who does not recompute the hash,
 *   but not a consistent edit, an insertion or a deletion.
 * - Chosen: both layers, decoupled in time.
 *   1. Every entry carries `contentHash` = SHA-256 of its canonical content (`contentLine`, ledger/entries.ts),
 *      computed by the writer and stored in the same PutItem. No extra reads, no shared item.
 *   2. A scheduled sealer (one per account, off the hot path) closes consecutive intervals of `createdAt`,
 *      [coversFrom, coversTo), each at least `graceMs` in the past (longer than any write can be in flight, i.e.
 *      the writer's Lambda timeout, so no legitimate entry can still appear in a sealed interval). A seal holds
 *      the count and the Merkle root of the interval's entry hashes (leaves sorted by entryId) and the hash of
 *      the previous seal: seals form a hash chain, entries do not.
 *   `verify` recomputes everything and reports the FIRST broken link in seal order: a seal whose own hash, chain
 *   link or interval is wrong; then, inside the interval, an entry whose stored hash is not its content's; then
 *   a seal whose count/root differs from the entries now in its interval (a consistent edit, an insertion or a
 *   deletion). Entries after the last seal are only hash-checked and reported as unsealed.
 * - Limits, stated: edits within the last unsealed interval (≤ interval + grace) are caught only once sealed;
 *   an attacker who can rewrite BOTH the entries and every seal after them is caught only against an external
 *   anchor (the latest `sealHash` published on statements / kept in an S3 Object Lock bucket), which `verify`
 *   accepts; truncating the newest seals is likewise caught by the anchor.
 * - Why intervals of `createdAt` and not `effectiveAt`: credits and late-processed calls are booked in the past
 *   (`effectiveAt`), but written now; sealing by write time means nothing legitimate ever lands in a closed
 *   interval. The sealer reads an interval through an index on (accountId, createdAt) (`byCreatedAt`, on the
 *   ledger table): a Seal has no `createdAt`, so seals never enter that index.
 */
import { byEntryId, contentLine, sha256Hex, type LedgerEntry } from './entries';

export type StoredEntry = LedgerEntry & { readonly contentHash: string };

export interface Seal {
  readonly accountId: string;
  /** 1, 2, 3, … without gaps. */
  readonly seq: number;
  /** Inclusive ISO instant of `createdAt`; the previous seal's `coversTo`. */
  readonly coversFrom: string;
  /** Exclusive. */
  readonly coversTo: string;
  readonly entryCount: number;
  readonly merkleRoot: string;
  /** `GENESIS` for seq 1. */
  readonly prevSealHash: string;
  readonly sealedAt: string;
  /** SHA-256 of `sealLine` (all fields above). */
  readonly sealHash: string;
}

export const GENESIS = '0'.repeat(64);

/**
 * What the sealer publishes outside the database after a run that sealed something: the newest seal's identity.
 * `verify` trusts it (by `seq` and `sealHash`), so rewriting entries together with every later seal, or deleting
 * the newest seals, no longer verifies. `coversTo` is informational (the hash already commits to it).
 */
export interface SealAnchor {
  readonly accountId: string;
  readonly seq: number;
  readonly sealHash: string;
  readonly coversTo: string;
}

export function anchorOf(seal: Seal): SealAnchor {
  return { accountId: seal.accountId, seq: seal.seq, sealHash: seal.sealHash, coversTo: seal.coversTo };
}

export function entryHash(entry: LedgerEntry): string {
  return sha256Hex(contentLine(entry));
}

/** What the writer stores: the entry and its content hash. */
export function withContentHash(entry: LedgerEntry): StoredEntry {
  return { ...entry, contentHash: entryHash(entry) };
}

/**
 * Merkle root over hex leaf hashes, with domain separation (`leaf:` / `node:` prefixes, so a leaf can never pose
 * as an inner node). An odd node is promoted unchanged. The empty tree is sha256("empty").
 */
export function merkleRoot(leafHashes: readonly string[]): string {
  if (leafHashes.length === 0) return sha256Hex('empty');
  let level = leafHashes.map((h) => sha256Hex(`leaf:${h}`));
  while (level.length > 1) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(right === undefined ? level[i]! : sha256Hex(`node:${level[i]}${right}`));
    }
    level = next;
  }
  return level[0]!;
}

/** Canonical seal content: JSON array of accountId, seq, coversFrom, coversTo, entryCount, merkleRoot, prevSealHash, sealedAt. */
export function sealLine(s: Omit<Seal, 'sealHash'>): string {
  return JSON.stringify([s.accountId, s.seq, s.coversFrom, s.coversTo, s.entryCount, s.merkleRoot, s.prevSealHash, s.sealedAt]);
}

function inInterval(e: Pick<LedgerEntry, 'createdAt'>, fromMs: number, toMs: number): boolean {
  const at = Date.parse(e.createdAt);
  return at >= fromMs && at < toMs;
}

function contents(entries: readonly LedgerEntry[]): { entryCount: number; merkleRoot: string } {
  const sorted = [...entries].sort(byEntryId);
  return { entryCount: sorted.length, merkleRoot: merkleRoot(sorted.map(entryHash)) };
}

/**
 * The next interval the sealer may close at `nowMs`, aligned to `intervalMs` boundaries and ending at least
 * `graceMs` ago; null while none is ready. The first interval starts at `genesisMs`.
 */
export function nextSealWindow(
  prev: Seal | null,
  nowMs: number,
  opts: { intervalMs: number; graceMs: number; genesisMs: number },
): { fromMs: number; toMs: number } | null {
  const fromMs = prev === null ? opts.genesisMs : Date.parse(prev.coversTo);
  const toMs = (Math.floor(fromMs / opts.intervalMs) + 1) * opts.intervalMs;
  return toMs <= nowMs - opts.graceMs ? { fromMs, toMs } : null;
}

/** Seals [fromMs, toMs) after `prev`. `entries` are the account's; those outside the interval are ignored. */
export function sealInterval(args: {
  accountId: string;
  prev: Seal | null;
  fromMs: number;
  toMs: number;
  entries: readonly LedgerEntry[];
  sealedAtMs: number;
}): Seal {
  const { prev, fromMs, toMs } = args;
  if (prev !== null && Date.parse(prev.coversTo) !== fromMs) throw new Error('sealInterval: the interval must start where the previous seal ended');
  if (toMs <= fromMs) throw new Error('sealInterval: empty interval');
  const body = {
    accountId: args.accountId,
    seq: (prev?.seq ?? 0) + 1,
    coversFrom: new Date(fromMs).toISOString(),
    coversTo: new Date(toMs).toISOString(),
    ...contents(args.entries.filter((e) => inInterval(e, fromMs, toMs))),
    prevSealHash: prev?.sealHash ?? GENESIS,
    sealedAt: new Date(args.sealedAtMs).toISOString(),
  };
  return { ...body, sealHash: sha256Hex(sealLine(body)) };
}

export type BrokenLink =
  | { readonly kind: 'entry_hash'; readonly entryId: string; readonly expected: string; readonly actual: string }
  | { readonly kind: 'seal_hash'; readonly seq: number; readonly expected: string; readonly actual: string }
  | { readonly kind: 'seal_chain'; readonly seq: number; readonly expected: string; readonly actual: string }
  | { readonly kind: 'seal_sequence'; readonly seq: number; readonly expected: string; readonly actual: string }
  | {
      readonly kind: 'seal_contents';
      readonly seq: number;
      readonly expected: { readonly entryCount: number; readonly merkleRoot: string };
      readonly actual: { readonly entryCount: number; readonly merkleRoot: string };
    }
  | { readonly kind: 'before_genesis'; readonly entryId: string; readonly expected: string; readonly actual: string }
  | { readonly kind: 'anchor'; readonly seq: number; readonly expected: string; readonly actual: string | null };

export type VerifyResult =
  | { readonly ok: true; readonly checkedEntries: number; readonly checkedSeals: number; readonly unsealedEntries: number }
  | { readonly ok: false; readonly broken: BrokenLink; readonly checkedEntries: number; readonly checkedSeals: number };

function checkEntry(e: StoredEntry): BrokenLink | null {
  const expected = entryHash(e);
  return expected === e.contentHash ? null : { kind: 'entry_hash', entryId: e.entryId, expected, actual: e.contentHash };
}

/**
 * One link: `seal` against its predecessor and the entries now in its interval (all of them, any order). The
 * adapter can walk a large ledger seal by seal with this, reading one interval at a time.
 */
export function verifySeal(prev: Seal | null, seal: Seal, entriesInInterval: readonly StoredEntry[]): BrokenLink | null {
  const expectedSeq = (prev?.seq ?? 0) + 1;
  if (seal.seq !== expectedSeq) return { kind: 'seal_sequence', seq: seal.seq, expected: String(expectedSeq), actual: String(seal.seq) };
  const { sealHash, ...body } = seal;
  const recomputed = sha256Hex(sealLine(body));
  if (recomputed !== sealHash) return { kind: 'seal_hash', seq: seal.seq, expected: recomputed, actual: sealHash };
  const expectedPrev = prev?.sealHash ?? GENESIS;
  if (seal.prevSealHash !== expectedPrev) return { kind: 'seal_chain', seq: seal.seq, expected: expectedPrev, actual: seal.prevSealHash };
  if (prev !== null && seal.coversFrom !== prev.coversTo) {
    return { kind: 'seal_sequence', seq: seal.seq, expected: `coversFrom ${prev.coversTo}`, actual: `coversFrom ${seal.coversFrom}` };
  }
  const sorted = [...entriesInInterval].sort(byEntryId);
  for (const e of sorted) {
    const broken = checkEntry(e);
    if (broken) return broken;
  }
  const actual = contents(sorted);
  if (actual.entryCount !== seal.entryCount || actual.merkleRoot !== seal.merkleRoot) {
    return { kind: 'seal_contents', seq: seal.seq, expected: { entryCount: seal.entryCount, merkleRoot: seal.merkleRoot }, actual };
  }
  return null;
}

/**
 * Recomputes every entry hash and seal of ONE account (all of its entries, all of its seals) and returns the
 * first broken link (seal order, then entry order within a seal). `anchor`, when given, is a seal the verifier
 * trusts from outside the database.
 */
export function verify(
  entries: readonly StoredEntry[],
  seals: readonly Seal[],
  anchor: { readonly seq: number; readonly sealHash: string } | null = null,
): VerifyResult {
  const ordered = [...seals].sort((a, b) => a.seq - b.seq);
  const byTime = [...entries].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || byEntryId(a, b));
  let checkedEntries = 0;
  let checkedSeals = 0;
  const fail = (broken: BrokenLink): VerifyResult => ({ ok: false, broken, checkedEntries, checkedSeals });

  const first = ordered[0];
  const early = first && byTime.find((e) => Date.parse(e.createdAt) < Date.parse(first.coversFrom));
  if (early) return fail({ kind: 'before_genesis', entryId: early.entryId, expected: `createdAt >= ${first.coversFrom}`, actual: early.createdAt });

  // Seals are contiguous (verifySeal checks it), so one pass over the entries in time order buckets them.
  let next = 0;
  let prev: Seal | null = null;
  for (const seal of ordered) {
    const toMs = Date.parse(seal.coversTo);
    const from = next;
    while (next < byTime.length && Date.parse(byTime[next]!.createdAt) < toMs) next++;
    const broken = verifySeal(prev, seal, byTime.slice(from, next));
    if (broken) return fail(broken);
    checkedEntries += next - from;
    checkedSeals++;
    prev = seal;
  }

  if (anchor !== null) {
    const anchored = ordered.find((s) => s.seq === anchor.seq);
    if (anchored?.sealHash !== anchor.sealHash) return fail({ kind: 'anchor', seq: anchor.seq, expected: anchor.sealHash, actual: anchored?.sealHash ?? null });
  }

  const unsealed = byTime.slice(next);
  for (const e of unsealed) {
    const broken = checkEntry(e);
    if (broken) return fail(broken);
    checkedEntries++;
  }
  return { ok: true, checkedEntries, checkedSeals, unsealedEntries: unsealed.length };
}
