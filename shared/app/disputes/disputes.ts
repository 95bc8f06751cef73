/**
 * Use cases: open a dispute on a call's charge, resolve it (an accepted dispute appends ONE credit), list disputes.
 * The rules are the pure ones of shared/domain/disputes/disputes.ts; this module finds the charge, the publisher's credit
 * policy and the stored dispute, and writes the outcome with the store's conditions as the last word under
 * concurrency: a lost race is re-read and re-decided (an identical retry is answered with the stored dispute).
 *
 * Every write needs an `admin` key; `analyst` keys may list. The actor kept on the dispute is the key's label and
 * role within its account (never the key itself).
 */
import {
  creditEntry,
  isFullCredit,
  disputeId as disputeIdOf,
  openDispute,
  resolveDispute,
  type CreditPolicy,
  type Dispute,
  type DisputeResult,
  type DisputeStatus,
  type OpenDisputeRequest,
  type ResolveDisputeRequest,
  type ReversedCharge,
  DISPUTE_REASONS,
} from '../../domain/disputes/disputes';
import { liveChargeSeq } from '../rating/duplicate-window';
import { chargeEntryId, ledgerSortKey } from '../../domain/ledger/entries';
import { creditEntryId, reversalEntryId, type CreditEntry, type LedgerEntry } from '../../domain/ledger/entries';
import { forbidden, notFound } from '../kernel/errors';
import { refusalError } from './refusals';
import type { OurCall } from '../../domain/reconciliation/reconcile-invoice';
import { entryHash, type StoredEntry } from '../../domain/ledger/tamper';
import type { ChargeEntry } from '../../domain/ledger/entries';
import { readOwnCall } from '../calls/call-access';
import { cursorScope, openCursor, sealCursor, type CursorSealer } from '../kernel/pagination';
import type { ApiKeyRecord, CallStore, Page } from '../kernel/ports';

/** Used when the publisher has no credit policy of its own: 30 days, every reason. */
export const DEFAULT_CREDIT_POLICY: CreditPolicy = { disputeWindowDays: 30, allowedReasons: DISPUTE_REASONS };

// ------------------------------------------------------------------ ports

export interface DisputeListQuery {
  readonly accountId: string;
  readonly status?: DisputeStatus;
  readonly publisherId?: string;
  readonly limit: number;
  readonly cursor?: string;
}

export interface DisputeStore {
  get(accountId: string, disputeId: string): Promise<Dispute | null>;
  /** Conditional put of a new dispute: 'exists' when the call already has one. */
  create(dispute: Dispute): Promise<'created' | 'exists'>;
  /**
   * One transaction: the resolved dispute (condition: still open) + the credit when given (condition: absent), and its
   * copy on the call item, conditional on the call still billing the charge it corrects (billable, and `reversals` of
   * its charges as read): 'charge_changed' when a reversal won the race.
   */
  resolve(dispute: Dispute, credit: StoredEntry | null, expect: { readonly reversals: number }): Promise<'resolved' | 'not_open' | 'charge_changed'>;
  list(query: DisputeListQuery): Promise<Page<Dispute>>;
}

export interface CreditPolicyReader {
  creditPolicy(accountId: string, publisherId: string): Promise<CreditPolicy | null>;
}

export interface CallFactsReader {
  /** Rated calls that started in [from, to), with what invoice matching needs. */
  callsInRange(query: { accountId: string; from: string; to: string; publisherId?: string }): Promise<OurCall[]>;
}

export interface LedgerEntryReader {
  /** An entry by its sort key `<effectiveAt>#<entryId>`, strongly consistent. */
  getEntry(accountId: string, sk: string): Promise<LedgerEntry | null>;
}

export interface DisputeDeps {
  readonly calls: Pick<CallStore, 'getCall'>;
  readonly ledger: LedgerEntryReader;
  readonly disputes: DisputeStore;
  readonly policies: CreditPolicyReader;
  readonly now: () => Date;
  /**
   * Runs after a charge was fully credited (and again on a repeated resolve): re-rates the calls that were
   * duplicates only because of it (process-ingest-batch.ts rerateAfterCredit). Absent: nothing is re-rated.
   */
  readonly afterFullCredit?: (accountId: string, creditedCallId: string) => Promise<unknown>;
  /**
   * Runs right after an open dispute was stored (and again on an identical retry while it is open): puts the
   * call's recording under legal hold (privacy.ts holdRecording; a failure is a 503 after the dispute is stored).
   */
  readonly afterDisputeOpened?: (dispute: Dispute) => Promise<unknown>;
  /** Runs right after a dispute was closed (and again on a retry of its resolve): releases the hold. */
  readonly afterDisputeClosed?: (dispute: Dispute) => Promise<unknown>;
}

// ------------------------------------------------------------------ helpers

export function requireAdmin(principal: ApiKeyRecord): void {
  if (principal.role !== 'admin') throw forbidden('This operation needs an admin API key.');
}

/** Who acted, as kept on the dispute: `<label> (<role>) @ <accountId>`. */
export function actorOf(principal: ApiKeyRecord): string {
  return `${principal.label ?? 'api-key'} (${principal.role}) @ ${principal.accountId}`;
}

function settled(result: DisputeResult): { dispute: Dispute; changed: boolean } {
  if (!result.ok) throw refusalError(result.refusal);
  return result;
}

/**
 * The live charge of one of the principal's calls, or null when the call is not billed; and, for a call whose charge
 * was reversed (its duplicate window moved the charge to an earlier call: duplicate-window.ts), that reversal. 404 for
 * an unknown call and for another account's, alike (call-access.ts).
 */
async function chargeOf(
  principal: ApiKeyRecord,
  callId: string,
  deps: Pick<DisputeDeps, 'calls' | 'ledger'>,
): Promise<{ charge: ChargeEntry | null; reversed: ReversedCharge | null; reversals: number; startedAt: string | null }> {
  const call = await readOwnCall(principal, callId, (id) => deps.calls.getCall(id, { consistent: true }));
  const reversals = call.reversals?.count ?? 0;
  if (call.rating?.billable !== true || call.startedAt === null) {
    const prior = call.rating?.recorded.priorBilled?.callId ?? null;
    const reversed = reversals > 0 ? { reversalEntryId: reversalEntryId(callId, reversals), priorCallId: prior } : null;
    return { charge: null, reversed, reversals, startedAt: call.startedAt };
  }
  const entry = await deps.ledger.getEntry(principal.accountId, ledgerSortKey({ effectiveAt: call.startedAt, entryId: chargeEntryId(callId, liveChargeSeq(call)) }));
  return { charge: entry?.type === 'charge' ? entry : null, reversed: null, reversals, startedAt: call.startedAt };
}

// ------------------------------------------------------------------ use cases

export interface OpenedDispute {
  readonly dispute: Dispute;
  /** False when an identical earlier request had already opened it (answer 200, not 201). */
  readonly created: boolean;
}

export async function openCallDispute(
  principal: ApiKeyRecord,
  callId: string,
  request: OpenDisputeRequest,
  deps: DisputeDeps,
): Promise<OpenedDispute> {
  requireAdmin(principal);
  const { charge, reversed } = await chargeOf(principal, callId, deps);
  const id = disputeIdOf(callId);
  const existing = await deps.disputes.get(principal.accountId, id);
  const policy = (charge === null ? null : await deps.policies.creditPolicy(principal.accountId, charge.publisherId)) ?? DEFAULT_CREDIT_POLICY;
  const args = { ...request, callId, actor: actorOf(principal) };
  const decided = settled(openDispute(charge, policy, args, deps.now().getTime(), existing, reversed));
  const opened = async (result: OpenedDispute): Promise<OpenedDispute> => {
    if (result.dispute.status === 'open') await deps.afterDisputeOpened?.(result.dispute);
    return result;
  };
  if (!decided.changed) return opened({ dispute: decided.dispute, created: false });
  if ((await deps.disputes.create(decided.dispute)) === 'created') return opened({ dispute: decided.dispute, created: true });
  // A concurrent request opened it first: decide again against what it stored.
  const stored = await deps.disputes.get(principal.accountId, id);
  const again = settled(openDispute(charge, policy, args, deps.now().getTime(), stored, reversed));
  return opened({ dispute: again.dispute, created: false });
}

export interface ResolvedDispute {
  readonly dispute: Dispute;
  /** The credit an accepted dispute appended (also on an idempotent retry); null otherwise. */
  readonly credit: CreditEntry | null;
}

export async function resolveCallDispute(
  principal: ApiKeyRecord,
  disputeId: string,
  request: ResolveDisputeRequest,
  deps: DisputeDeps,
): Promise<ResolvedDispute> {
  requireAdmin(principal);
  const actor = actorOf(principal);
  for (let attempt = 0; attempt < 3; attempt++) {
    const dispute = await deps.disputes.get(principal.accountId, disputeId);
    if (dispute === null) throw notFound('No such dispute.');
    const nowMs = deps.now().getTime();
    const decided = settled(resolveDispute(dispute, request, actor, nowMs));
    const next = decided.dispute;
    if (!decided.changed) {
      // A repeated request: answered from what is stored (the credit of an accepted dispute, even if its charge was
      // reversed since), and the re-rating after a full credit re-run (idempotent), in case the first was cut short.
      await deps.afterDisputeClosed?.(next);
      const found = next.status === 'accepted' ? await chargeOf(principal, next.callId, deps) : null;
      const stored = found?.startedAt == null ? null : await storedCredit(principal, next.callId, found.startedAt, deps);
      if (found?.charge != null && stored !== null && isFullCredit(found.charge, stored)) await deps.afterFullCredit?.(principal.accountId, found.charge.callId);
      return { dispute: next, credit: stored };
    }
    const found = next.status === 'accepted' ? await chargeOf(principal, next.callId, deps) : null;
    const charge = found?.charge ?? null;
    if (found !== null && (charge === null || charge.entryId !== dispute.chargeEntryId)) {
      // The disputed charge was reversed (its call is now a duplicate of an earlier call): nothing remains to credit.
      if (found.reversed !== null || found.reversals > 0) {
        throw refusalError({ kind: 'charge_reversed', callId: next.callId, reversalEntryId: found.reversed?.reversalEntryId ?? reversalEntryId(next.callId, found.reversals), priorCallId: found.reversed?.priorCallId ?? null });
      }
      // An open dispute's charge cannot vanish through the API (the ledger is append-only): this is tampering.
      throw new Error(`charge of ${next.disputeId} is missing`);
    }
    const credit = charge === null ? null : hashed(creditEntry(charge, next, new Date(nowMs).toISOString()));
    const resolved = await deps.disputes.resolve(next, credit, { reversals: found?.reversals ?? 0 });
    if (resolved === 'resolved') {
      await deps.afterDisputeClosed?.(next);
      if (charge !== null && credit !== null && isFullCredit(charge, credit)) await deps.afterFullCredit?.(principal.accountId, charge.callId);
      return { dispute: next, credit: credit === null ? null : stripHash(credit) };
    }
    // Resolved concurrently: the next round answers the retry from the stored dispute or refuses with 409.
  }
  throw new Error(`dispute ${disputeId}: resolution kept losing races`);
}

/** The credit as stored: with its content hash (tamper.ts), computed here like the writer does for charges. */
function hashed(credit: CreditEntry): CreditEntry & { contentHash: string } {
  return { ...credit, contentHash: entryHash(credit) };
}

/** The credit of a call (booked at its charge's effectiveAt, the call's start), as stored. */
async function storedCredit(principal: ApiKeyRecord, callId: string, startedAt: string, deps: Pick<DisputeDeps, 'ledger'>): Promise<CreditEntry | null> {
  const entry = await deps.ledger.getEntry(principal.accountId, ledgerSortKey({ effectiveAt: startedAt, entryId: creditEntryId(callId) }));
  return entry?.type === 'credit' ? stripHash(entry) : null;
}

function stripHash(entry: CreditEntry & { contentHash?: string }): CreditEntry {
  const { contentHash: _hash, ...credit } = entry;
  return credit;
}

export async function listAccountDisputes(
  principal: ApiKeyRecord,
  query: Omit<DisputeListQuery, 'accountId'>,
  deps: Pick<DisputeDeps, 'disputes'> & { readonly cursors: CursorSealer },
): Promise<{ disputes: readonly Dispute[]; cursor: string | null }> {
  const { cursor: token, limit, ...filters } = query;
  const scope = cursorScope('GET /v1/disputes', principal.accountId, filters);
  const position = await openCursor(deps.cursors, scope, token);
  const page = await deps.disputes.list({ ...filters, limit, accountId: principal.accountId, ...(position === undefined ? {} : { cursor: position }) });
  return { disputes: page.items, cursor: await sealCursor(deps.cursors, scope, page.cursor) };
}
