/**
 * The ports the call use cases consume (ingest.ts): the queue a verified webhook's events are sent to.
 * No AWS types here.
 */
import type { IngestMessage } from '../../domain/calls/events';

export interface IngestQueue {
  send(message: IngestMessage): Promise<void>;
}
