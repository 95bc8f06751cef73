/**
 * A call script: what one simulated caller and the phones CallLedger dials will do, as data (zod-validated, so a
 * demo can keep scripts in JSON). The simulator follows the TwiML it is answered with; the script only says what the
 * people do when Twilio asks: which keys the caller presses at each <Gather>, how each dialled target answers, how
 * long a voicemail lasts. Anything the TwiML never asks about is ignored.
 */
import * as z from 'zod';

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number like +15125550123');

/** How a withheld caller id reaches the voice URL: "a string that contains anonymous, unknown, or other descriptions". */
export const WITHHELD_FROM = ['anonymous', 'Anonymous', 'unknown', 'Restricted', 'private', 'unavailable'] as const;

/** Twilio `StirVerstat` values (CALL-FLOW.md §6.4); absent when the call carried no PASSporT. */
export const STIR_VERSTATS = [
  'TN-Validation-Passed-A', 'TN-Validation-Passed-B', 'TN-Validation-Passed-C',
  'TN-Validation-Failed-A', 'TN-Validation-Failed-B', 'TN-Validation-Failed-C',
  'TN-Validation-Failed', 'No-TN-Validation',
] as const;

/** One answer to a <Gather>: keys pressed `afterSec` after the prompt ended (`#`/`*` at the end finishes the input), or nothing. */
export const GatherInputSchema = z.union([
  z.strictObject({
    press: z.string().regex(/^[0-9*#]{1,32}$/, 'must be keypad characters'),
    afterSec: z.number().min(0).max(600).default(1),
  }),
  z.strictObject({ press: z.null() }),
]);

/**
 * What a dialled target does. `ringSec`: seconds from the dial to the answer or the busy / failure signal; an answer
 * later than the Dial's timeout (plus Twilio's 5 s buffer) is a no-answer. `talkSec`: from the bridge to the end.
 * `hangup`: who ends the conversation (the caller: the Dial action's TwiML is not run, the caller is gone).
 * `machine`: a voicemail box picks up and records for `talkSec` (a connected call, but nobody the buyer pays for).
 */
export const TargetOutcomeSchema = z.discriminatedUnion('outcome', [
  z.strictObject({
    outcome: z.literal('answer'),
    ringSec: z.number().int().min(0).max(600).default(4),
    talkSec: z.number().int().min(0).max(86_400),
    hangup: z.enum(['agent', 'caller']).default('agent'),
  }),
  z.strictObject({ outcome: z.literal('machine'), ringSec: z.number().int().min(0).max(600).default(6), talkSec: z.number().int().min(0).max(86_400).default(25) }),
  z.strictObject({ outcome: z.literal('busy'), ringSec: z.number().int().min(0).max(600).default(1) }),
  z.strictObject({ outcome: z.literal('no_answer') }),
  z.strictObject({ outcome: z.literal('failed'), ringSec: z.number().int().min(0).max(600).default(1) }),
]);

export const CallScriptSchema = z.strictObject({
  /** CallLedger's account: the voice URL is `/voice/twilio/{accountId}`. */
  accountId: z.string().min(1).max(64),
  /** Twilio's CallSid of the incoming leg; default: a random one. */
  callSid: z.string().regex(/^CA[0-9a-f]{32}$/).optional(),
  /** The caller: an E.164 number, or null for a withheld caller id (sent as `withheldAs`). */
  from: e164.nullable(),
  withheldAs: z.enum(WITHHELD_FROM).default('anonymous'),
  /** The tracked number dialled. */
  to: e164,
  /** The call's arrival (ISO-8601): the simulated clock starts here. */
  startAt: z.iso.datetime({ offset: true }),
  stirVerstat: z.enum(STIR_VERSTATS).nullable().default(null),
  /** Twilio's best-effort lookup of the caller's number (FromCity/State/Zip/Country, also sent as Caller*). */
  fromGeo: z
    .strictObject({ city: z.string().max(64).default(''), state: z.string().max(8).default(''), zip: z.string().max(16).default(''), country: z.string().max(4).default('US') })
    .nullable()
    .default(null),
  /** One per <Gather> met, in order; a <Gather> beyond the list gets no input. */
  gathers: z.array(GatherInputSchema).max(32).default([]),
  /**
   * Per dialled destination (the <Number> in E.164 or the <Sip> URI, as written in the TwiML): its outcome, or one
   * outcome per time it is dialled in this call (the last repeats). Destinations not listed get `otherTargets`.
   */
  targets: z.record(z.string().min(1).max(255), z.union([TargetOutcomeSchema, z.array(TargetOutcomeSchema).min(1).max(10)])).default({}),
  otherTargets: TargetOutcomeSchema.default({ outcome: 'no_answer' }),
  /** A <Record> (voicemail): the caller speaks `speakSec` (0: silence, nothing recorded), then hangs up, goes quiet or presses the finish key. */
  voicemail: z.strictObject({ speakSec: z.number().int().min(0).max(14_400).default(15), then: z.enum(['hangup', 'silence', 'key']).default('hangup') }).default({ speakSec: 15, then: 'hangup' }),
  /** What Twilio's recording status callback reports for each recording of this call, and how long after the call it comes. */
  recording: z.strictObject({ status: z.enum(['completed', 'failed']).default('completed'), delaySec: z.number().int().min(0).max(3600).default(5) }).default({ status: 'completed', delaySec: 5 }),
  /**
   * Seconds after `startAt` when the caller hangs up, whatever is happening (null: never; the caller stays until the
   * call ends). During ringing it cancels the dialled legs; during a <Gather> nothing is submitted; before the call
   * is answered the call ends no-answer.
   */
  hangupAfterSec: z.number().int().min(0).max(86_400).nullable().default(null),
  /**
   * How the asynchronous callbacks (dialled legs' progress, the call's status, recordings) reach the server: as
   * fired, or held until the call is over and delivered reversed or shuffled (seeded), since Twilio promises no
   * order; `duplicates` delivers each twice, as a retry of the same request. TwiML requests are never reordered.
   */
  delivery: z
    .strictObject({ order: z.enum(['as_fired', 'reversed', 'shuffled']).default('as_fired'), seed: z.number().int().min(0).max(2 ** 31 - 1).default(1), duplicates: z.boolean().default(false) })
    .default({ order: 'as_fired', seed: 1, duplicates: false }),
  /** Seconds of audio per <Play> (the simulator fetches no audio). */
  playSec: z.number().int().min(0).max(3600).default(5),
  /** How the ground truth decides billable: the terms' buffer and whether it counts talk time or the whole call. */
  billing: z.strictObject({ bufferSec: z.number().int().min(0).max(86_400).default(0), durationBasis: z.enum(['talk', 'total']).default('talk') }).default({ bufferSec: 0, durationBasis: 'talk' }),
});

export type CallScript = z.infer<typeof CallScriptSchema>;
export type CallScriptInput = z.input<typeof CallScriptSchema>;
export type TargetOutcome = z.infer<typeof TargetOutcomeSchema>;
export type GatherInput = z.infer<typeof GatherInputSchema>;

/** Validates a script (throws a ZodError naming the bad fields). */
export function callScript(input: CallScriptInput): CallScript {
  return CallScriptSchema.parse(input);
}
