/**
 * How a route reaches a call by its id: one rule for every route (detail, rating, consent, disputes, QA). A call
 * of another account answers exactly as a call that does not exist, the same 404 with the same body: a different
 * answer (a 403 "belongs to another account") would tell any key holder which call ids are in use elsewhere.
 */
import { NotFound } from '../../domain/kernel/problems';
import type { ApiKeyRecord } from '../kernel/ports';

/**
 * A provider-qualified call id (`twilio:CA…`, `telnyx:<call_leg_id>`, `vonage:<uuid>`, `plivo:<CallUUID>`: the
 * carriers' ids are UUIDs, with dashes); anything else cannot name a call and is not looked up.
 */
export const CALL_ID = /^[a-z]+:[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$/;

export function noSuchCall(): NotFound {
  return new NotFound('No such call.');
}

/** The call, when it is the principal's account's; otherwise the 404 a missing call gets. */
export function ownCall<T extends { readonly accountId: string }>(principal: Pick<ApiKeyRecord, 'accountId'>, call: T | null): T {
  if (call === null || call.accountId !== principal.accountId) throw noSuchCall();
  return call;
}

/** Reads a call by id for `principal`: no read for an id that cannot be one, and 404 for missing or foreign. */
export async function readOwnCall<T extends { readonly accountId: string }>(
  principal: Pick<ApiKeyRecord, 'accountId'>,
  callId: string,
  read: (callId: string) => Promise<T | null>,
): Promise<T> {
  if (!CALL_ID.test(callId)) throw noSuchCall();
  return ownCall(principal, await read(callId));
}
