/**
 * The caller's IVR answer timing (quality signal coached_ivr), derived from what Twilio really sends us. Pure.
 *
 * What the provider gives (../shared/PROVIDERS.md §1.3–1.4; our fixtures, events/fixtures/twilio):
 * - the incoming-call webhook (`CallStatus=ringing`, slot `s_ringing`): Twilio's request for the call's TwiML. A
 *   voice request carries NO `Timestamp`, so its only time is when our ingest received it (`receivedAt`);
 * - the `<Gather>` action request (`CallStatus=in-progress` with `Digits`, slot `s_in-progress_gather`): also a voice
 *   request, also without `Timestamp`: only `receivedAt`. With `numDigits` (or `finishOnKey`) Twilio requests it as
 *   soon as the caller's last key; otherwise only after the gather's `timeout` (5 s by default) of silence.
 * - the end-of-call status callback (`Timestamp`, second-resolution `CallDuration`): the call's start and end.
 *
 * What it does NOT give: when the `<Gather>` prompt started playing (no event marks TwiML verbs starting; a greeting
 * `<Say>`/`<Play>`/`<Pause>` before the gather is invisible), the prompt's length, and when each key was pressed.
 *
 * So the honest measure is ON ONE CLOCK (our ingest's): promptStartedAtMs = the incoming-call webhook's receipt,
 * answeredAtMs = the gather action's receipt. The real prompt starts AFTER the webhook (our TwiML answer, fetch, any
 * verbs before the gather) and the key was pressed BEFORE the action reached us, so this delay is an UPPER bound of
 * the true answer delay (plus the two requests' network latency, ~0.1–0.3 s, roughly the same for every caller):
 * - too_fast (delay < minHumanMs) is sound: if even the upper bound is faster than a person can hear the prompt, the
 *   answer was. It can miss a bot behind a long greeting or a gather without numDigits (the bound is then inflated);
 * - identical_timing compares delays across callers: a constant greeting shifts every caller alike, but each
 *   request's latency jitter adds noise that may exceed the ±25 ms tolerance for some bots (misses, not false alarms).
 * The end-of-call times are not mixed in: another clock (Twilio's), at one-second resolution, for a 1.5 s threshold.
 *
 * One gather per call is kept (fold.ts gatheredDigits: the slot `s_in-progress_gather`, first write wins): a
 * multi-menu IVR is timed on the answer that reached us first. Twilio retries of either request keep the first
 * delivery's time (slots are first-write-wins). A non-positive delay (clock step between ingest containers) is no
 * measurement: null.
 */
import { isChildLeg } from '../calls/fold';
import type { IvrTiming } from './signals';
import type { CallEvent, CallStatusEvent } from '../calls/events';

/** The incoming-call webhook of the call itself (not a dialled leg's ringing). */
function incomingCall(events: readonly CallEvent[]): CallStatusEvent | null {
  let found: CallStatusEvent | null = null;
  for (const e of events) {
    if (e.kind !== 'call.status' || isChildLeg(e) || e.status !== 'ringing' || e.digits !== null) continue;
    if (found === null || e.eventId < found.eventId || (e.eventId === found.eventId && e.receivedAt < found.receivedAt)) found = e;
  }
  return found;
}

/** The gather action request (Digits set) of the call itself; the earliest received one if several are in hand. */
function gatherAction(events: readonly CallEvent[]): CallStatusEvent | null {
  let found: CallStatusEvent | null = null;
  for (const e of events) {
    if (e.kind !== 'call.status' || isChildLeg(e) || e.digits === null) continue;
    if (found === null || Date.parse(e.receivedAt) < Date.parse(found.receivedAt)) found = e;
  }
  return found;
}

/**
 * The call's IVR timing from its events (a batch, the stored slots, or both): null unless both the incoming-call
 * webhook and the gather action are in hand and the gather came after it.
 */
export function ivrTimingOf(events: readonly CallEvent[]): IvrTiming | null {
  const incoming = incomingCall(events);
  const gather = gatherAction(events);
  if (incoming === null || gather === null) return null;
  const promptStartedAtMs = Date.parse(incoming.receivedAt);
  const answeredAtMs = Date.parse(gather.receivedAt);
  if (!Number.isFinite(promptStartedAtMs) || !Number.isFinite(answeredAtMs) || answeredAtMs <= promptStartedAtMs) return null;
  return { promptStartedAtMs, answeredAtMs };
}

/** Whether the events hold both requests the timing needs (so no read of the stored call could add to them). */
export function hasIvrRequests(events: readonly CallEvent[]): { readonly incoming: boolean; readonly gather: boolean } {
  return { incoming: incomingCall(events) !== null, gather: gatherAction(events) !== null };
}
