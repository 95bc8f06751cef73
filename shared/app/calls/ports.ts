/**
 * The ports the call use cases consume (ingest.ts): the queue a verified webhook's events are sent to.
 * No AWS types here.
 */
import type { IngestMessage } from '../../domain/calls/events';

export interface IngestQueue {
  send(message: IngestMessage): Promise<void>;
}

/** A dialled leg's progress, as its status callback (`?leg=dial&route&pos&target`) reports it. */
export interface DialLegEvent {
  readonly accountId: string;
  /** The parent call's id: the leg is never a call of its own. */
  readonly callId: string;
  readonly targetId: string;
  readonly route: string;
  readonly position: number;
  /** The leg's CallStatus (initiated, ringing, in-progress = answered, completed, busy, no-answer, failed, canceled). */
  readonly status: string;
  readonly durationSec: number | null;
  readonly atMs: number;
}

/** Applies a dialled leg's progress: answered extends the target's lease, an end releases it; each is audited. */
export interface DialLegSink {
  dialLeg(event: DialLegEvent): Promise<void>;
}
