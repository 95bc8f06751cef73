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
 */
import type { SpokenVerb, Verb } from '../instructions';
import { absolute } from './twiml';

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
          dtmf: { maxDigits: v.numDigits, timeOut: v.timeoutSec, submitOnHash: false },
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
          limit: v.timeLimitSec,
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
          timeOut: Math.max(3, v.maxLengthSec),
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
