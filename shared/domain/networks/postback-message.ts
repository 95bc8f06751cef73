/**
 * The ingest-queue message of one accepted network postback (functions/ingest-network.ts → the ledger writer).
 * It carries the parsed postback only: the caller already hashed (claims.ts), so the queue and the stores never see
 * the caller's number. `isNetworkPostbackMessage` tells it from a call event's IngestMessage on the same queue.
 */
import { NETWORK_EVENTS, type NetworkPostback } from './claims';

export interface NetworkPostbackMessage {
  readonly v: 1;
  readonly kind: 'network.postback';
  readonly accountId: string;
  readonly networkId: string;
  readonly postback: NetworkPostback;
}

const nullableString = (v: unknown) => v === null || typeof v === 'string';
const nullableNumber = (v: unknown) => v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);

/** A structural check of a message body the ingest function wrote (a foreign producer's message is refused, not guessed at). */
export function isNetworkPostbackMessage(value: unknown): value is NetworkPostbackMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  if (m.v !== 1 || m.kind !== 'network.postback' || typeof m.accountId !== 'string' || typeof m.networkId !== 'string') return false;
  const p = m.postback as Record<string, unknown> | null;
  if (typeof p !== 'object' || p === null) return false;
  return (
    typeof p.networkCallId === 'string' &&
    p.networkCallId !== '' &&
    typeof p.receivedAt === 'string' &&
    !Number.isNaN(Date.parse(p.receivedAt)) &&
    [p.callerKey, p.destination, p.startedAt, p.publisher, p.subSource].every(nullableString) &&
    [p.durationSec, p.payoutCents].every(nullableNumber) &&
    (p.converted === null || typeof p.converted === 'boolean') &&
    (p.event === null || (NETWORK_EVENTS as readonly unknown[]).includes(p.event))
  );
}
