/**
 * The scheduled sealer's run (functions/ledger-sealer.ts): every registered account, a few at a time, is sealed
 * (`sealLedger`, ledger-verify.ts) and, when that wrote seals, its newest seal is anchored outside the database.
 *
 * Why an anchor per run and not per seal: the seal chain already links every seal to the one before, so one
 * trusted point at its head fixes all of them; an account catching up on a month writes ~720 seals and 1 object.
 * Anchors are written once and never replaced (the store refuses an existing key), so a rewritten chain cannot
 * be re-anchored under an old sequence number.
 *
 * One account's failure does not stop the others: each is settled on its own, the run reports which failed (the
 * handler then fails the invocation, so the function's Errors alarm fires) and the next run retries; all of it is
 * idempotent (seals and anchors are conditional writes). An account whose index is not readable yet (DynamoDB
 * backfilling it) is deferred, not failed. `shouldStop` lets the handler stop starting accounts before its timeout;
 * those left are reported as skipped and sealed next run. If the anchor write fails after the seals were stored,
 * that head stays unanchored until the next seal of the account (one interval later) is anchored.
 */
import { anchorOf, type Seal, type SealAnchor } from '../../domain/ledger/tamper';
import { settleWithLimit } from '../kernel/concurrency';
import { SealIndexNotReady, sealLedger, type LedgerSealStore, type SealOptions } from './verify';
import type { Log } from '../kernel/ports';

export interface AccountDirectory {
  listAccountIds(): Promise<readonly string[]>;
}

export interface AnchorWriter {
  /** Write-once: 'exists' when an anchor with this account and seq is already stored. */
  putAnchor(anchor: SealAnchor): Promise<'stored' | 'exists'>;
}

export interface SealerTelemetry {
  sealerRun(summary: SealRunSummary): void;
}

export interface SealAccountsDeps {
  readonly accounts: AccountDirectory;
  readonly ledger: LedgerSealStore;
  readonly anchors: AnchorWriter;
  readonly now: () => Date;
  readonly log: Log;
  readonly telemetry?: SealerTelemetry;
}

export interface SealRunOptions extends SealOptions {
  /** Accounts sealed at the same time. */
  readonly concurrency: number;
  /** Checked before each account starts; true → the rest are skipped this run. */
  readonly shouldStop?: () => boolean;
}

export type AccountOutcome =
  | { readonly accountId: string; readonly status: 'sealed'; readonly seals: number; readonly anchor: SealAnchor; readonly anchorWritten: boolean }
  | { readonly accountId: string; readonly status: 'up_to_date' | 'skipped' }
  | { readonly accountId: string; readonly status: 'deferred' | 'failed'; readonly error: string };

export interface SealRunSummary {
  readonly accounts: number;
  readonly sealsWritten: number;
  readonly anchorsWritten: number;
  readonly sealed: number;
  readonly upToDate: number;
  readonly deferred: number;
  readonly skipped: number;
  /** Account ids whose sealing or anchoring threw. */
  readonly failed: readonly string[];
  readonly outcomes: readonly AccountOutcome[];
}

export const DEFAULT_SEALER_CONCURRENCY = 8;

/** Seals one account and anchors its newest seal when this run wrote any. */
export async function sealAccount(
  accountId: string,
  deps: Pick<SealAccountsDeps, 'ledger' | 'anchors' | 'now'>,
  options: SealOptions,
): Promise<{ seals: Seal[]; anchor: SealAnchor | null; anchorWritten: boolean }> {
  const seals = await sealLedger(accountId, deps, options);
  const newest = seals.at(-1);
  if (newest === undefined) return { seals, anchor: null, anchorWritten: false };
  const anchor = anchorOf(newest);
  return { seals, anchor, anchorWritten: (await deps.anchors.putAnchor(anchor)) === 'stored' };
}

function message(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** One sealer run over every registered account. */
export async function sealAllAccounts(deps: SealAccountsDeps, options: SealRunOptions): Promise<SealRunSummary> {
  const accountIds = await deps.accounts.listAccountIds();
  const settled = await settleWithLimit(accountIds, options.concurrency, async (accountId): Promise<AccountOutcome> => {
    if (options.shouldStop?.() === true) return { accountId, status: 'skipped' };
    try {
      const { seals, anchor, anchorWritten } = await sealAccount(accountId, deps, options);
      if (anchor === null) return { accountId, status: 'up_to_date' };
      deps.log.info('ledger sealed', {
        accountId,
        seals: seals.length,
        firstSeq: seals[0]!.seq,
        lastSeq: anchor.seq,
        coversTo: anchor.coversTo,
        entries: seals.reduce((n, s) => n + s.entryCount, 0),
        anchorWritten,
      });
      return { accountId, status: 'sealed', seals: seals.length, anchor, anchorWritten };
    } catch (err) {
      if (err instanceof SealIndexNotReady) {
        deps.log.warn('ledger sealing deferred', { accountId, error: message(err) });
        return { accountId, status: 'deferred', error: message(err) };
      }
      deps.log.error('ledger sealing failed', { accountId, error: message(err) });
      return { accountId, status: 'failed', error: message(err) };
    }
  });
  // The callback catches everything, so every result is fulfilled.
  const outcomes = settled.map((r) => (r as PromiseFulfilledResult<AccountOutcome>).value);
  const count = (status: AccountOutcome['status']) => outcomes.filter((o) => o.status === status).length;
  const sealedOutcomes = outcomes.filter((o): o is Extract<AccountOutcome, { status: 'sealed' }> => o.status === 'sealed');
  const summary: SealRunSummary = {
    accounts: accountIds.length,
    sealsWritten: sealedOutcomes.reduce((n, o) => n + o.seals, 0),
    anchorsWritten: sealedOutcomes.filter((o) => o.anchorWritten).length,
    sealed: sealedOutcomes.length,
    upToDate: count('up_to_date'),
    deferred: count('deferred'),
    skipped: count('skipped'),
    failed: outcomes.filter((o) => o.status === 'failed').map((o) => o.accountId),
    outcomes,
  };
  const { outcomes: _outcomes, ...counts } = summary;
  deps.log.info('sealer run', { ...counts, failed: summary.failed.length });
  deps.telemetry?.sealerRun(summary);
  return summary;
}
