/**
 * Use case: a publisher's statement for a calendar month in the account's time zone (shared/domain/ledger/statements.ts).
 *
 * The ledger's sort key starts with `effectiveAt` (ISO-8601 UTC, which sorts as time), so the period is one key
 * range: [first instant of the month in the zone, first instant of the next month). Credits carry their charge's
 * `effectiveAt`, so they fall in the same range as the charge they correct.
 *
 * The statement does not repeat its entries: `GET /v1/ledger?publisherId=&from=<startAt>&to=<endAt>` lists exactly
 * the entries its digest covers, for a publisher to recompute it.
 */
import { notFound } from '../kernel/errors';
import type { LedgerEntry } from '../../domain/ledger/entries';
import { periodBounds, statement, type Statement } from '../../domain/ledger/statements';
import type { ApiKeyRecord, ConfigStore } from '../kernel/ports';

export interface LedgerRangeReader {
  /** Every entry whose sort key is in [from, to) (ISO instants), optionally of one publisher. */
  entriesInRange(query: { accountId: string; from?: string; to?: string; publisherId?: string }): Promise<readonly LedgerEntry[]>;
}

export interface StatementDeps {
  readonly config: Pick<ConfigStore, 'getAccount'>;
  readonly ledger: LedgerRangeReader;
}

export type StatementResponse = Omit<Statement, 'entries'>;

/** The account's time zone; 404 when the key's account no longer exists. */
export async function accountTimeZone(principal: ApiKeyRecord, deps: Pick<StatementDeps, 'config'>): Promise<string> {
  const account = await deps.config.getAccount(principal.accountId);
  if (account === null) throw notFound('The API key\'s account does not exist.');
  return account.timeZone;
}

export async function getStatement(
  principal: ApiKeyRecord,
  query: { period: string; publisherId?: string },
  deps: StatementDeps,
): Promise<StatementResponse> {
  const timeZone = await accountTimeZone(principal, deps);
  const bounds = periodBounds(query.period, timeZone);
  const entries = await deps.ledger.entriesInRange({
    accountId: principal.accountId,
    from: new Date(bounds.startMs).toISOString(),
    to: new Date(bounds.endMs).toISOString(),
    publisherId: query.publisherId,
  });
  const { entries: _lines, ...summary } = statement(entries, query.period, timeZone, query.publisherId ?? null);
  return summary;
}
