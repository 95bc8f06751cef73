/**
 * An account's block list (rating rule 9, `blocked_caller`): callers whose calls the buyer refuses to pay for.
 * Pure: no I/O, no zod (the ledger writer imports this module; the request schemas live in block-list-schema.ts).
 *
 * Callers are personal data. An entry is keyed by the caller's keyed hash (caller.ts `identityHash`, HMAC-SHA256 of
 * the caller's identity, for a valid number its E.164 string, under the per-environment key) and holds only what a human needs to recognise it: the last four
 * digits. Its public id, `blk_` + the first 16 hex digits of that hash, cannot be turned back into the number
 * without the key, so it may appear in rating explanations, responses and logs.
 *
 * The reason is an enum, not free text: a note field invites the number itself (or the caller's name) into an
 * item that is built to hold no personal data, and an enum can be counted and reported on.
 *
 * Effective dating, as for terms and number assignments (config.ts): every change, block or unblock, is appended to
 * the entry's `history` and takes effect at `effectiveFrom`, no sooner than CONFIG_LEAD_MS after it is written, so
 * the ledger writer can answer from a cached copy and still be exact for every call that started before it was
 * processed. The state at an instant is given by the LAST-WRITTEN change effective at or before it (a later change
 * supersedes a scheduled one, and no write changes the state of an instant already past).
 */
import { typedCallerIdentity, type CallerIdentity } from '../calls/caller';
import { effectiveInstant } from '../catalog/config';
import { DomainError } from '../kernel/errors';

/** Why a caller is blocked. `do_not_buy`: a caller the buyer will not pay for whatever the call (e.g. a competitor). */
export const BLOCK_REASONS = ['fraud', 'robocall', 'abuse', 'do_not_buy', 'other'] as const;
export type BlockReason = (typeof BLOCK_REASONS)[number];

/** One change of an entry: kept forever, in the order written. */
export interface BlockChange {
  readonly blocked: boolean;
  readonly reason: BlockReason;
  /** ISO-8601 UTC: when the change takes effect (at least CONFIG_LEAD_MS after `at`). */
  readonly effectiveFrom: string;
  /** ISO-8601 UTC: when it was written. */
  readonly at: string;
  /** The API key label that wrote it. */
  readonly by: string;
}

/** A caller on an account's block list, as stored (the caller hash is the item's key, not an attribute). */
export interface BlockEntry {
  readonly accountId: string;
  readonly blockId: string;
  /** The number's last four digits, for humans (`…1234`). */
  readonly last4: string;
  /** The reason of the latest change. */
  readonly reason: BlockReason;
  readonly createdAt: string;
  readonly createdBy: string;
  /** Every change, in the order written (never empty). */
  readonly history: readonly BlockChange[];
  /** Bumped by every write; writes are conditional on it. */
  readonly rev: number;
  readonly updatedAt: string;
}

/** What the writer needs of an entry: its public id and its history. */
export type BlockHistory = Pick<BlockEntry, 'blockId' | 'history'>;

/** A PUT of a blocked caller, validated (block-list-schema.ts). `reason` may be left out only to unblock. */
export interface BlockRequest {
  readonly blocked: boolean;
  readonly reason?: BlockReason;
  readonly effectiveFrom?: string;
}

const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * The caller of a request path, in international form (`+` and 7-15 digits), as the identity the writer gives the
 * same caller (caller.ts): a valid number, or other digits (an unallocatable or mis-sized number a carrier sent is
 * still one caller, and can be blocked as one). `withheld`: a withheld marker (the keypad spelling of ANONYMOUS and
 * the like), which cannot be blocked: every withheld caller shares one identity, so blocking it would block them
 * all; the terms' `withheldCallerId` decides about them. null: not a number. Never echo the input.
 */
export function parseCallerNumber(raw: string): CallerIdentity | 'withheld' | null {
  const typed = typedCallerIdentity(raw);
  if (typed === 'withheld') return typed;
  if (!E164.test(raw) || typed === 'not_a_number') return null;
  return typed;
}

/** `blk_` + the first 16 hex digits of the caller hash: stable, short, not reversible to the number. */
export function blockIdOf(callerHash: string): string {
  return `blk_${callerHash.slice(0, 16)}`;
}

export function last4Of(e164: string): string {
  return e164.slice(-4);
}

/** The change governing `atMs`: the last-written one effective at or before it (null: none yet). */
export function changeInForce(history: readonly BlockChange[], atMs: number): BlockChange | null {
  let inForce: BlockChange | null = null;
  for (const c of history) if (Date.parse(c.effectiveFrom) <= atMs) inForce = c;
  return inForce;
}

/** Whether the caller is blocked for a call that started at `atMs`. */
export function blockedAt(history: readonly BlockChange[], atMs: number): boolean {
  return changeInForce(history, atMs)?.blocked === true;
}

/** The rating input (rating/rules.ts BlockMatch) for a call that started at `atMs`, or null. */
export function blockMatch(entry: BlockHistory | undefined, atMs: number): { readonly blockId: string } | null {
  return entry !== undefined && blockedAt(entry.history, atMs) ? { blockId: entry.blockId } : null;
}

export interface BlockWriteContext {
  readonly accountId: string;
  readonly callerHash: string;
  /** The normalised number: only its last four digits are kept. */
  readonly e164: string;
  readonly by: string;
  readonly nowMs: number;
}

/**
 * Applies a PUT to the stored entry (null: none yet). A request that says what the latest change already says
 * (same state, same reason, and no other `effectiveFrom`) changes nothing, so a retried PUT adds no history.
 * Unblocking a caller that was never blocked is 422; an `effectiveFrom` sooner than CONFIG_LEAD_MS is 422
 * (config.ts effectiveInstant).
 */
export function applyBlockRequest(
  existing: BlockEntry | null,
  request: BlockRequest,
  ctx: BlockWriteContext,
): { readonly entry: BlockEntry; readonly created: boolean; readonly changed: boolean } {
  if (existing === null && !request.blocked) {
    throw new DomainError('refused', 'unprocessable', 'Unprocessable request', 'This caller is not on the block list: there is nothing to unblock.', [
      { field: 'blocked', message: 'can only be false for a caller on the block list' },
    ]);
  }
  const latest = existing?.history.at(-1) ?? null;
  const reason = request.reason ?? latest?.reason;
  if (reason === undefined) throw new DomainError('refused', 'unprocessable', 'Unprocessable request', 'A block needs a reason.', [{ field: 'reason', message: 'is required when blocking' }]);
  if (
    existing !== null &&
    latest !== null &&
    latest.blocked === request.blocked &&
    latest.reason === reason &&
    (request.effectiveFrom === undefined || Date.parse(request.effectiveFrom) === Date.parse(latest.effectiveFrom))
  ) {
    return { entry: existing, created: false, changed: false };
  }
  const at = new Date(ctx.nowMs).toISOString();
  const change: BlockChange = {
    blocked: request.blocked,
    reason,
    effectiveFrom: effectiveInstant(request.effectiveFrom, ctx.nowMs),
    at,
    by: ctx.by,
  };
  const entry: BlockEntry = {
    accountId: ctx.accountId,
    blockId: blockIdOf(ctx.callerHash),
    last4: existing?.last4 ?? last4Of(ctx.e164),
    reason,
    createdAt: existing?.createdAt ?? at,
    createdBy: existing?.createdBy ?? ctx.by,
    history: [...(existing?.history ?? []), change],
    rev: (existing?.rev ?? 0) + 1,
    updatedAt: at,
  };
  return { entry, created: existing === null, changed: true };
}

/** What the API shows of an entry: never the number, never the hash. */
export interface BlockedCallerView {
  readonly blockId: string;
  /** `…1234`. */
  readonly last4: string;
  readonly reason: BlockReason;
  /** In force for calls that start now. */
  readonly state: 'blocked' | 'unblocked';
  /** The latest change when it is not in force yet (it will govern from its effectiveFrom), else null. */
  readonly pending: { readonly blocked: boolean; readonly effectiveFrom: string } | null;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly updatedAt: string;
  readonly history: readonly BlockChange[];
}

export function blockedCallerView(entry: BlockEntry, nowMs: number): BlockedCallerView {
  const latest = entry.history.at(-1);
  return {
    blockId: entry.blockId,
    last4: `…${entry.last4}`,
    reason: entry.reason,
    state: blockedAt(entry.history, nowMs) ? 'blocked' : 'unblocked',
    pending: latest !== undefined && Date.parse(latest.effectiveFrom) > nowMs ? { blocked: latest.blocked, effectiveFrom: latest.effectiveFrom } : null,
    createdAt: entry.createdAt,
    createdBy: entry.createdBy,
    updatedAt: entry.updatedAt,
    history: entry.history,
  };
}
