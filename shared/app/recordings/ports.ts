/**
 * The ports the recording use cases consume (fetch-recording.ts): the job a recording fetch is queued with.
 * No AWS types here.
 */

/** A recording to fetch (`QUEUES.recordings` body). */
export interface RecordingJob {
  readonly v: 1;
  readonly accountId: string;
  readonly callId: string;
  readonly recordingId: string;
  readonly recordingUrl: string;
  readonly recordingDurationSec: number | null;
}
