/**
 * Do-Not-Call lists: an account's lists of numbers that must not be called, and the finding
 * `dnc_listed` on a call whose caller is on one of them. Pure: no I/O, no zod (the ledger writer imports this module;
 * request schemas live in dnc-schema.ts).
 *
 * Numbers are personal data and DNC lists are large (national lists hold millions): an entry is keyed by the
 * number's keyed hash (caller.ts `callerHash`, the key the ledger writer hashes callers with) and nothing else of the
 * number is kept — no last four digits, since a list entry is never shown to a human one by one. The API answers with
 * counts and line numbers only.
 *
 * One entry per (caller hash, list): a caller may be on several lists, and each list's entries are written by that
 * list's uploads only, so uploads to different lists never overwrite each other.
 *
 * Effective dating, as for the block list (block-list.ts, config.ts): an addition applies to calls that start at or
 * after its write + CONFIG_LEAD_MS, and so does a removal. An entry keeps its listed periods (`from` inclusive,
 * `until` exclusive, null: open), so a removal or a re-addition never changes whether a caller was listed at an
 * instant already past (a late or re-rated call is judged as at its start). The ledger writer may therefore answer
 * from a copy cached for up to CONFIG_LEAD_MS (shared/adapters/compliance/dnc-repo.ts).
 */
import { typedCallerIdentity, type CallerIdentity } from '../calls/caller';
import { CONFIG_LEAD_MS } from '../catalog/config';

/** Where a list comes from: the national registry, the account's own, or a state registry. */
export const DNC_SOURCES = ['national', 'internal', 'state'] as const;
export type DncSource = (typeof DNC_SOURCES)[number];

/** Lines of one upload (CSV or JSON add + remove). */
export const MAX_DNC_LINES = 100_000;
/** Periods an entry keeps; older ones are dropped (a number re-listed this often is not a case for billing history). */
export const MAX_DNC_PERIODS = 16;

export const LIST_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A list's description (the entries are separate items). */
export interface DncList {
  readonly accountId: string;
  readonly listId: string;
  readonly name: string;
  readonly source: DncSource;
  /** Entries listed now or from a pending instant (maintained by every upload: additions minus removals). */
  readonly count: number;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly updatedAt: string;
  readonly lastUploadAt: string | null;
}

/** One period a number is on a list: `from` inclusive, `until` exclusive (null: still listed). ISO-8601 UTC. */
export interface DncPeriod {
  readonly from: string;
  readonly until: string | null;
}

/** One (caller hash, list) entry as stored; the hash is the item's key, not an attribute. */
export interface DncEntry {
  readonly listId: string;
  /** Oldest first, non-overlapping (empty: added and removed before it took effect). */
  readonly periods: readonly DncPeriod[];
  readonly updatedAt: string;
  readonly updatedBy: string;
}

export type DncOp = 'add' | 'remove';
export type DncOpResult = 'added' | 'already' | 'removed' | 'not_listed';

/** Whether the entry lists its number for a call that started at `atMs`. */
export function listedAt(entry: Pick<DncEntry, 'periods'>, atMs: number): boolean {
  return entry.periods.some((p) => Date.parse(p.from) <= atMs && (p.until === null || atMs < Date.parse(p.until)));
}

/** The lists (ids, sorted) that list the caller for a call that started at `atMs`; empty: none. */
export function listsAt(entries: readonly Pick<DncEntry, 'listId' | 'periods'>[], atMs: number): string[] {
  return entries.filter((e) => listedAt(e, atMs)).map((e) => e.listId).sort();
}

/**
 * Applies one add or remove to an entry (null: none yet), at `nowMs`. The change takes effect at now +
 * CONFIG_LEAD_MS. Adding a number whose latest period is open is `already`; removing one that has none is
 * `not_listed`; neither changes the entry (a retried upload writes nothing). A removal before the addition took
 * effect leaves an empty period, which is dropped.
 */
export function applyDncOp(
  existing: DncEntry | null,
  op: DncOp,
  ctx: { readonly listId: string; readonly nowMs: number; readonly by: string },
): { readonly entry: DncEntry | null; readonly result: DncOpResult; readonly changed: boolean } {
  const effective = new Date(ctx.nowMs + CONFIG_LEAD_MS).toISOString();
  const periods = existing?.periods ?? [];
  const latest = periods.at(-1);
  const open = latest !== undefined && latest.until === null;
  const at = new Date(ctx.nowMs).toISOString();
  if (op === 'add') {
    if (open) return { entry: existing, result: 'already', changed: false };
    const next = [...periods, { from: effective, until: null }].slice(-MAX_DNC_PERIODS);
    return { entry: { listId: ctx.listId, periods: next, updatedAt: at, updatedBy: ctx.by }, result: 'added', changed: true };
  }
  if (!open || existing === null) return { entry: existing, result: 'not_listed', changed: false };
  const closed = { from: latest.from, until: effective };
  const kept = Date.parse(closed.from) < Date.parse(effective) ? [...periods.slice(0, -1), closed] : periods.slice(0, -1);
  return { entry: { listId: ctx.listId, periods: kept, updatedAt: at, updatedBy: ctx.by }, result: 'removed', changed: true };
}

// ------------------------------------------------------------------ uploads

/** One number of an upload, by its 1-based line (CSV line, or position in the JSON array). */
export interface DncLine {
  readonly line: number;
  readonly op: DncOp;
  readonly raw: string;
}

/**
 * The numbers of a `text/csv` upload: one number per line, an optional first line `number` (any case), blank lines
 * skipped. A line may be quoted (`"+1 512 555 0101"`) and may carry further columns (only the first is read). Line
 * numbers are the text's own (1-based), so a spreadsheet user can find a refused line.
 */
export function dncLinesFromCsv(text: string): DncLine[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines: DncLine[] = [];
  const rows = body.split(/\r\n|\n|\r/);
  for (const [i, row] of rows.entries()) {
    const first = firstField(row);
    if (first === '') continue;
    if (i === 0 && first.toLowerCase() === 'number') continue;
    lines.push({ line: i + 1, op: 'add', raw: first });
  }
  return lines;
}

function firstField(row: string): string {
  const t = row.trim();
  if (t.startsWith('"')) {
    const end = t.indexOf('"', 1);
    return (end < 0 ? t.slice(1) : t.slice(1, end)).trim();
  }
  const comma = t.indexOf(',');
  return (comma < 0 ? t : t.slice(0, comma)).trim();
}

/** A JSON upload {add, remove}: additions first (lines 1…n), then removals (lines n+1…), in array order. */
export function dncLinesFromJson(body: { readonly add?: readonly string[]; readonly remove?: readonly string[] }): DncLine[] {
  const add = body.add ?? [];
  const remove = body.remove ?? [];
  return [...add.map((raw, i) => ({ line: i + 1, op: 'add' as const, raw })), ...remove.map((raw, i) => ({ line: add.length + i + 1, op: 'remove' as const, raw }))];
}

/**
 * A line's caller identity (caller.ts typedCallerIdentity: US default country, a valid number or other digits, as the
 * writer identifies the same caller), or null: an invalid line. A withheld marker is an invalid line too: listing it
 * would list every withheld caller of the account at once.
 */
export function dncNumber(raw: string): CallerIdentity | null {
  const typed = typedCallerIdentity(raw);
  return typeof typed === 'string' ? null : typed;
}

/** The answer to an upload: counts and the invalid lines' numbers, never a phone number. */
export interface DncUploadResult {
  readonly listId: string;
  readonly lines: number;
  readonly added: number;
  readonly already: number;
  readonly removed: number;
  readonly notListed: number;
  readonly invalid: number;
  /** Line numbers of the invalid lines (the first 1,000). */
  readonly invalidLines: readonly number[];
  /** When the changes take effect (now + CONFIG_LEAD_MS). */
  readonly effectiveFrom: string;
}

export const MAX_INVALID_LINES_SHOWN = 1000;
