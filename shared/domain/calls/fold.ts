/**
 * Folding the events of one call into its current view. Events arrive duplicated, out of order and in
 * parallel; the fold is a pure function of the SET of events, so every arrival order gives the same view.
 */
import type { CallEvent, CallStatus, CallStatusEvent, RecordingStatusEvent } from './events';
import { TERMINAL_STATUSES } from './events';
import { boundForwarded, type ForwardedHeaders } from './forwarded';

/** Higher wins. Terminal statuses beat progress; among terminals a connected call (`completed`) wins. */
const STATUS_PRECEDENCE: Record<CallStatus, number> = {
  queued: 0,
  initiated: 1,
  ringing: 2,
  'in-progress': 3,
  canceled: 10,
  failed: 11,
  'no-answer': 12,
  busy: 13,
  completed: 20,
};

export interface CallView {
  readonly callId: string;
  readonly accountId: string;
  /** Highest-precedence status seen; null when only recording events have arrived. */
  readonly status: CallStatus | null;
  /** The terminal event that decides rating (null until one arrives). */
  readonly terminal: CallStatusEvent | null;
  /** A call.status event to read from/to from before the terminal one arrives. */
  readonly first: CallStatusEvent | null;
  /** Recording events, sorted by recording id then status. */
  readonly recordings: readonly RecordingStatusEvent[];
  readonly eventIds: readonly string[];
}

/**
 * The DynamoDB attribute that holds this event on the call item (one slot per distinct event). A dialled leg's
 * `completed` has a slot per leg (`c_completed__<leg's call id>`): talk time is the longest completed leg, and a call
 * can have several (a leg reported busy and then completed with 0 s, as Vonage and TeXML report it; a whisper the agent
 * declined, then the next target), so with one slot for all the first to arrive would decide, 0 s as well as 187 s.
 * The leg's other statuses keep one slot each (`c_<status>`): they measure nothing.
 */
export function slotName(event: CallEvent): string {
  if (isChildLeg(event)) return event.status === 'completed' ? `c_completed${LEG_SLOT_SEPARATOR}${event.callId}` : `c_${event.status}`;
  return event.kind === 'call.status'
    ? `s_${event.status}${event.digits !== null ? '_gather' : ''}${isDetection(event) ? '_amd' : ''}`
    : `r_${event.recordingId}_${event.recordingStatus}`;
}

/** Between a completed leg's slot prefix and the leg's call id (a status never contains it). */
export const LEG_SLOT_SEPARATOR = '__';

/**
 * A machine-detection result reported apart from the call's end (Telnyx `call.machine.detection.ended`, Vonage
 * `human` / `machine`, Plivo `Machine`: eventId `…:status:in-progress:amd`). It gets its own slot (`s_in-progress_amd`)
 * so that it and the answered event, both `in-progress`, never overwrite each other; Twilio reports `AnsweredBy`
 * on the status callbacks themselves.
 */
export function isDetection(event: CallEvent): boolean {
  return event.kind === 'call.status' && event.eventId.endsWith(':amd');
}

/**
 * Who answered the call's own leg, by the detection event reported apart (isDetection); among several in hand the
 * lowest eventId, as the slot keeps the first. Null when none is in hand. The terminal event's own `answeredBy`
 * (Twilio) comes first where it is set (rating: rate-call.ts).
 */
export function detectedAnswer(events: readonly CallEvent[]): string | null {
  let first: CallStatusEvent | null = null;
  for (const e of events) {
    if (e.kind === 'call.status' && !isChildLeg(e) && isDetection(e) && e.answeredBy !== null && (first === null || e.eventId < first.eventId)) first = e;
  }
  return first?.answeredBy ?? null;
}

/**
 * A status event of a dialled child leg (Twilio `<Dial>`: `ParentCallSid` set, Direction `outbound-dial`): the
 * leg from the buyer's side. It is stored on the PARENT call's item (slot `c_<status>`, the first leg per status
 * wins) and measures talk time; it never decides the parent's status or terminal event.
 */
export function isChildLeg(event: CallEvent): event is CallStatusEvent & { readonly parentCallId: string } {
  return event.kind === 'call.status' && event.parentCallId !== null;
}

/** The call whose item holds this event: the parent for a child leg, else the event's own call. */
export function owningCallId(event: CallEvent): string {
  return isChildLeg(event) ? event.parentCallId : event.callId;
}

/**
 * Talk time: seconds after the buyer answered, i.e. the `CallDuration` of the dialled child leg that completed
 * (the longest, if several did). 0 when child legs ended without being answered (busy, no-answer, …); null when
 * no child leg has ended yet (unknown, not zero).
 */
export function talkSeconds(events: readonly CallEvent[]): number | null {
  let talk: number | null = null;
  for (const e of events) {
    if (!isChildLeg(e) || !TERMINAL_STATUSES.has(e.status)) continue;
    const sec = e.status === 'completed' ? (e.durationSec ?? 0) : 0;
    talk = talk === null ? sec : Math.max(talk, sec);
  }
  return talk;
}

export function isTerminal(event: CallEvent): event is CallStatusEvent {
  return event.kind === 'call.status' && TERMINAL_STATUSES.has(event.status);
}

function compareStatusEvents(a: CallStatusEvent, b: CallStatusEvent): number {
  return (
    STATUS_PRECEDENCE[a.status] - STATUS_PRECEDENCE[b.status] ||
    (a.sequenceNumber ?? -1) - (b.sequenceNumber ?? -1) ||
    (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0)
  );
}

/** Folds a call's own events (child legs are skipped: see isChildLeg and talkSeconds). */
export function foldCall(allEvents: readonly CallEvent[]): CallView {
  const events = allEvents.filter((e) => !isChildLeg(e));
  const first = events[0];
  if (!first) throw new Error('foldCall needs at least one event of the call itself');
  const byId = new Map<string, CallEvent>();
  for (const e of events) {
    if (e.callId !== first.callId) throw new Error(`foldCall mixes calls ${first.callId} and ${e.callId}`);
    if (!byId.has(e.eventId)) byId.set(e.eventId, e);
  }
  const unique = [...byId.values()];
  const statuses = unique.filter((e): e is CallStatusEvent => e.kind === 'call.status').sort(compareStatusEvents);
  const terminals = statuses.filter(isTerminal);
  const recordings = unique
    .filter((e): e is RecordingStatusEvent => e.kind === 'recording.status')
    .sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  const top = statuses.at(-1) ?? null;
  return {
    callId: first.callId,
    accountId: first.accountId,
    status: top?.status ?? null,
    terminal: terminals.at(-1) ?? null,
    first: statuses[0] ?? null,
    recordings,
    eventIds: [...byId.keys()].sort(),
  };
}

/**
 * When the call started and ended, from the terminal event alone (so it never depends on arrival order):
 * ended = the event's time, started = ended − the leg's duration.
 */
export function callTimes(terminal: CallStatusEvent): {
  startedAt: string;
  endedAt: string;
  durationSec: number;
  startedAtMs: number;
} {
  const durationSec = terminal.durationSec ?? 0;
  const endedAtMs = Date.parse(terminal.occurredAt);
  const startedAtMs = endedAtMs - durationSec * 1000;
  return {
    startedAt: new Date(startedAtMs).toISOString(),
    endedAt: new Date(endedAtMs).toISOString(),
    durationSec,
    startedAtMs,
  };
}

/**
 * The caller's IVR answer: the digits of the call's gather event (Twilio's <Gather> action request, stored in the
 * `s_in-progress_gather` slot). One slot per call, first write wins; among several in hand, the lowest eventId,
 * as the slot merge would keep. Null when the caller answered nothing (or no gather was played).
 */
export function gatheredDigits(events: readonly CallEvent[]): string | null {
  let first: CallStatusEvent | null = null;
  for (const e of events) {
    if (e.kind === 'call.status' && e.digits !== null && (first === null || e.eventId < first.eventId)) first = e;
  }
  return first?.digits ?? null;
}

/**
 * The custom SIP headers the call arrived with (events.ts `forwarded`: the incoming call's voice request carries them,
 * later callbacks may not), from the call's own status events (a child leg is the buyer's side, not the network's).
 * Per header, the value of the call's first event that carries it, in the fold's status order (precedence, sequence
 * number, eventId; then the smaller value), so every arrival order gives the same; bounded as one event's
 * (forwarded.ts). Null when none carries any.
 */
export function forwardedOf(events: readonly CallEvent[]): ForwardedHeaders | null {
  const carrying = events.filter((e): e is CallStatusEvent => e.kind === 'call.status' && !isChildLeg(e) && e.forwarded !== undefined);
  const chosen = new Map<string, { event: CallStatusEvent; value: string }>();
  for (const e of carrying) {
    for (const [name, value] of Object.entries(e.forwarded!)) {
      const prior = chosen.get(name);
      const order = prior === undefined ? -1 : compareStatusEvents(e, prior.event);
      if (order < 0 || (order === 0 && value < prior!.value)) chosen.set(name, { event: e, value });
    }
  }
  return boundForwarded(new Map([...chosen].map(([name, c]) => [name, c.value])));
}
