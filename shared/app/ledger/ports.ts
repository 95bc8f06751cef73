/**
 * The ports of the ledger reads: the entries and totals store (shared/adapters/ledger/ledger-repo.ts), served by the
 * read API (shared/app/calls/read-api.ts). No AWS types here.
 */
import type { LedgerEntry, LedgerTotals } from '../../domain/ledger/entries';
import type { Page, TimeRange } from '../kernel/ports';

export interface LedgerQuery extends TimeRange {
  readonly accountId: string;
  readonly campaignId?: string;
  readonly publisherId?: string;
  readonly limit: number;
  readonly cursor?: string;
}

export interface LedgerStore {
  /** Entries (charges, credits, reversals) in effective-time order. */
  listEntries(query: LedgerQuery): Promise<Page<LedgerEntry>>;
  /** Totals over the whole filtered range (the cursor and limit are ignored). */
  totals(query: Omit<LedgerQuery, 'limit' | 'cursor'>): Promise<LedgerTotals>;
}
