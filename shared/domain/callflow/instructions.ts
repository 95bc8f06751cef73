/**
 * The provider-neutral answer to a voice request: an ordered list of verbs that every renderer (TwiML, TeXML, NCCO,
 * Plivo XML) can express. Only what CallLedger's call flows need, so each verb has one meaning on every provider:
 *   say / play     something the caller hears
 *   gather         the IVR: a prompt, then up to `numDigits` keys; the keys go to `action`; no input goes to
 *                  `noInput` (a `<Redirect>` after the gather on the XML dialects, since Twilio and Plivo move on to
 *                  the next verb when nobody presses anything; Vonage's `input` posts the time-out to `action` itself)
 *   dial           one target, ringing `ringTimeoutSec`; its end goes to `action`; the dialled leg's progress
 *                  (initiated, ringing, answered, completed) to `statusCallback`; recordings to
 *                  `recordingStatusCallback`; the whisper document at `whisperUrl` is played to the agent on answer
 *   record         a voicemail (prompt said before it); its end goes to `action`, the recording to its callback
 *   hangup         end the call
 *   reject         decline the call without answering it: only as the first verb (Twilio, TeXML), see renderers
 * Every URL is a path relative to PUBLIC_BASE_URL (`/voice/...` or `/webhooks/...`): the adapter prefixes it, so the
 * signature a provider computes over the full URL is over exactly what the voice function verifies.
 */
import type { TargetDestination } from '../routing/targets';
import type { RecordingMode } from './flow';

export type SpokenVerb =
  | { readonly verb: 'say'; readonly text: string; readonly voice: string | null; readonly language: string }
  | { readonly verb: 'play'; readonly url: string };

/** The dialled leg's progress events, all four: the ledger needs initiated/ringing for the audit, answered to extend the lease, completed to release it. */
export const DIAL_STATUS_EVENTS = ['initiated', 'ringing', 'answered', 'completed'] as const;

export type Verb =
  | SpokenVerb
  | {
      readonly verb: 'gather';
      readonly prompt: readonly SpokenVerb[];
      readonly numDigits: number;
      readonly timeoutSec: number;
      readonly action: string;
      readonly noInput: string;
    }
  | {
      readonly verb: 'dial';
      readonly destination: TargetDestination;
      readonly ringTimeoutSec: number;
      readonly timeLimitSec: number;
      readonly record: RecordingMode;
      /** The tracking number dialled (E.164): the caller id Vonage requires on a `connect` (it must be a number of the account). */
      readonly trackingNumber: string;
      /** Null: no action (the fail-safe's dial); the document goes on to the next verb when the dial ends. */
      readonly action: string | null;
      readonly statusCallback: string;
      readonly recordingStatusCallback: string | null;
      readonly whisperUrl: string | null;
    }
  | {
      readonly verb: 'record';
      readonly maxLengthSec: number;
      readonly action: string;
      readonly recordingStatusCallback: string;
    }
  | { readonly verb: 'hangup' }
  | { readonly verb: 'reject'; readonly reason: 'rejected' | 'busy' };

export type VerbName = Verb['verb'];
