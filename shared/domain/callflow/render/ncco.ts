/**
 * Vonage NCCO (a JSON array of actions, CALL-FLOW.md §3.3) from the provider-neutral verbs. Choices and reasons:
 * - say → `talk` (text, language; Vonage names voices by language and style, so a TwiML voice name is not passed),
 *   play → `stream`; the IVR's prompt barges in (`bargeIn`) so a caller who knows the menu need not wait.
 * - the IVR is `input` (dtmf, `maxDigits`, `timeOut`, never submit on `#`): Vonage posts the answer or the time-out
 *   to its eventUrl, so no redirect is needed for no input; the response is the next NCCO.
 * - a dial is `connect` with `eventType: synchronous` and the Dial action URL as eventUrl: the connected leg's events
 *   go there and the NCCO answered to a failed leg replaces the flow (the next target). The dialled leg's progress
 *   therefore arrives at the Dial action URL on Vonage; `from` is the tracking number (Vonage requires a number of
 *   the account) without `+`, as Vonage writes numbers. The whisper is the endpoint's `onAnswer.url`.
 * - recording the connected call is a `record` action before the `connect` (`split: conversation`, two channels for
 *   `dual`); it starts when the action runs, so on Vonage it also holds the ringing.
 * - hangup and reject end the NCCO (Vonage has no decline: its answer webhook is sent once the call is answered).
 * - numbers are held to the ranges Vonage documents (vocabulary.ts NCCO_RANGES: an input waits at most 10 s and takes
 *   at most 20 digits, a connect lasts at most 7200 s, a record's timeOut is 3–7200 s); no custom `ringbackTone` is
 *   written (a flow names no ringback audio: the caller hears Vonage's own).
 */
import type { SpokenVerb, Verb } from '../instructions';
import { absolute } from './twiml';
import { NCCO_RANGES } from './vocabulary';

/** A number held to the range Vonage documents for its field (a longer IVR time-out is Vonage's 10 s, not an invalid NCCO). */
const within = ([min, max]: readonly [number, number], n: number): number => Math.min(max, Math.max(min, n));

export type NccoAction = Record<string, unknown>;

function spoken(v: SpokenVerb, bargeIn: boolean): NccoAction {
  return v.verb === 'say'
    ? { action: 'talk', text: v.text, language: v.language, ...(bargeIn ? { bargeIn: true } : {}) }
    : { action: 'stream', streamUrl: [v.url], ...(bargeIn ? { bargeIn: true } : {}) };
}

const plain = (e164: string) => e164.replace(/^\+/, '');

function actions(v: Verb, baseUrl: string): NccoAction[] | 'end' {
  const url = (p: string) => absolute(baseUrl, p);
  switch (v.verb) {
    case 'say':
    case 'play':
      return [spoken(v, false)];
    case 'gather':
      return [
        ...v.prompt.map((p) => spoken(p, true)),
        {
          action: 'input',
          type: ['dtmf'],
          dtmf: { maxDigits: within(NCCO_RANGES['input.dtmf.maxDigits'], v.numDigits), timeOut: within(NCCO_RANGES['input.dtmf.timeOut'], v.timeoutSec), submitOnHash: false },
          eventUrl: [url(v.action)],
          eventMethod: 'POST',
        },
      ];
    case 'dial': {
      const endpoint =
        v.destination.kind === 'number'
          ? { type: 'phone', number: plain(v.destination.e164), ...(v.whisperUrl === null ? {} : { onAnswer: { url: url(v.whisperUrl) } }) }
          : { type: 'sip', uri: v.destination.uri };
      const record: NccoAction[] =
        v.record !== 'off' && v.recordingStatusCallback !== null
          ? [
              {
                action: 'record',
                format: 'mp3',
                ...(v.record === 'dual' ? { split: 'conversation', channels: 2 } : {}),
                eventUrl: [url(v.recordingStatusCallback)],
                eventMethod: 'POST',
              },
            ]
          : [];
      return [
        ...record,
        {
          action: 'connect',
          from: plain(v.trackingNumber),
          timeout: v.ringTimeoutSec,
          limit: within(NCCO_RANGES['connect.limit'], v.timeLimitSec),
          ...(v.action === null ? {} : { eventType: 'synchronous' }),
          eventUrl: [url(v.action ?? v.statusCallback)],
          eventMethod: 'POST',
          endpoint: [endpoint],
        },
      ];
    }
    case 'record':
      return [
        {
          action: 'record',
          format: 'mp3',
          endOnKey: '#',
          endOnSilence: 5,
          timeOut: within(NCCO_RANGES['record.timeOut'], v.maxLengthSec),
          beepStart: true,
          eventUrl: [url(v.recordingStatusCallback)],
          eventMethod: 'POST',
        },
      ];
    case 'hangup':
    case 'reject':
      return 'end';
    default: {
      const exhaustive: never = v;
      return exhaustive;
    }
  }
}

export function renderNcco(verbs: readonly Verb[], baseUrl: string): NccoAction[] {
  const out: NccoAction[] = [];
  for (const v of verbs) {
    const a = actions(v, baseUrl);
    if (a === 'end') break;
    out.push(...a);
  }
  return out;
}
