/**
 * Page cursors are opaque and tamper-evident. A repository's position (where the next page starts: a DynamoDB key)
 * never leaves the API as it is: the use case seals it for the query it answers, and opens a cursor only for
 * exactly that query again. The scope is the route, the key's account and every filter of the query (not the page
 * size), so a cursor cannot be edited, replayed against another account, another route or other filters, or
 * forged: any of these is a 400 naming `cursor`, before any read. Sealing is authenticated encryption under a key
 * only the API holds (shared/adapters/http/cursor.ts), so what a position contains is not visible either.
 */
import type { DomainError } from '../../domain/kernel/errors';
import { invalidInput } from './errors';

/** Seals repository positions into cursors and opens them (shared/adapters/http/cursor.ts `cursorSealer`). */
export interface CursorSealer {
  /** `position` as an opaque cursor valid for `scope` only. */
  seal(scope: string, position: string): Promise<string>;
  /** The position inside `cursor`, or null unless it was sealed by this API's key for exactly `scope`. */
  open(scope: string, cursor: string): Promise<string | null>;
}

export type CursorFilters = Readonly<Record<string, string | number | boolean | undefined>>;

/** What a cursor is bound to: the route, the account, and the query's filters (absent ones left out, in name order). */
export function cursorScope(route: string, accountId: string, filters: CursorFilters): string {
  const present = Object.entries(filters)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([route, accountId, present]);
}

export function invalidCursor(): DomainError {
  return invalidInput('The cursor is not valid for this query.', [{ field: 'cursor', message: 'is not a cursor issued for this query' }]);
}

/** The position a request's cursor names (undefined: first page); a 400 unless it was issued for this scope. */
export async function openCursor(sealer: CursorSealer, scope: string, cursor: string | undefined): Promise<string | undefined> {
  if (cursor === undefined) return undefined;
  const position = await sealer.open(scope, cursor);
  if (position === null) throw invalidCursor();
  return position;
}

/** The cursor of the next page (null: last page). */
export async function sealCursor(sealer: CursorSealer, scope: string, position: string | null): Promise<string | null> {
  return position === null ? null : sealer.seal(scope, position);
}
