/**
 * TwiML (Twilio) and TeXML (Telnyx, a TwiML dialect) from the provider-neutral verbs. Every URL becomes absolute
 * under `baseUrl` (PUBLIC_BASE_URL), since the provider signs the full URL it requests.
 *
 * Choices, each with its reason:
 * - `<Gather>` is followed by a `<Redirect>` to its no-input URL: with no input both providers go on to the next verb
 *   (Twilio documents this pattern; `actionOnEmptyResult` is not listed by TeXML).
 * - `numDigits` ends the IVR answer; finishOnKey is left at its default (`#`), which the options never contain.
 * - The dialled `<Number>`/`<Sip>` gets `statusCallbackEvent="initiated ringing answered completed"`: the audit
 *   needs every stage, answered extends the target's lease and completed releases it.
 * - Recording: `record-from-answer` (one channel) or `record-from-answer-dual` (caller and agent apart); TeXML also
 *   takes `recordingChannels="dual"`, which it documents for the dual case.
 * - TeXML omits what Telnyx does not list: Gather `method`, Number/Sip `method` and `statusCallbackMethod` (their
 *   defaults are POST on both providers' pages).
 * - `<Reject>` only as the first verb: anywhere else the call is already answered, so it is written `<Hangup/>`.
 */
import type { SpokenVerb, Verb } from '../instructions';
import { DIAL_STATUS_EVENTS } from '../instructions';
import { el, xmlDocument, type XmlElement } from './xml';

export type TwimlDialect = 'twilio' | 'telnyx';

export function absolute(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}

function spoken(v: SpokenVerb): XmlElement {
  return v.verb === 'say' ? el('Say', [['voice', v.voice], ['language', v.language]], v.text) : el('Play', [], v.url);
}

const RECORD_ATTR = { off: null, from_answer: 'record-from-answer', dual: 'record-from-answer-dual' } as const;

type Url = (path: string) => string;
type Of<K extends Verb['verb']> = Extract<Verb, { verb: K }>;

function verbElements(v: Verb, index: number, baseUrl: string, dialect: TwimlDialect): XmlElement[] {
  const url: Url = (p) => absolute(baseUrl, p);
  const twilio = dialect === 'twilio';
  switch (v.verb) {
    case 'say':
    case 'play':
      return [spoken(v)];
    case 'gather':
      return gatherElements(v, url, twilio);
    case 'dial':
      return [dialElement(v, url, twilio)];
    case 'record':
      return [recordElement(v, url)];
    case 'hangup':
      return [el('Hangup')];
    case 'reject':
      return [index === 0 ? el('Reject', [['reason', v.reason]]) : el('Hangup')];
    default: {
      const exhaustive: never = v;
      return exhaustive;
    }
  }
}

/** A digit prompt, then a redirect to its no-input step when the caller presses nothing. */
function gatherElements(v: Of<'gather'>, url: Url, twilio: boolean): XmlElement[] {
  return [
    el(
      'Gather',
      [
        ['action', url(v.action)],
        ['method', twilio ? 'POST' : null],
        ['input', 'dtmf'],
        ['numDigits', v.numDigits],
        ['timeout', v.timeoutSec],
      ],
      ...v.prompt.map(spoken),
    ),
    el('Redirect', [['method', 'POST']], url(v.noInput)),
  ];
}

/** The dial to a number or SIP address, with its status callbacks, whisper and recording. */
function dialElement(v: Of<'dial'>, url: Url, twilio: boolean): XmlElement {
  const nounAttrs: XmlElement['attrs'] = [
    ['statusCallback', url(v.statusCallback)],
    ['statusCallbackEvent', DIAL_STATUS_EVENTS.join(' ')],
    ['statusCallbackMethod', twilio ? 'POST' : null],
    ['url', v.whisperUrl === null ? null : url(v.whisperUrl)],
    ['method', twilio && v.whisperUrl !== null ? 'POST' : null],
  ];
  const noun = v.destination.kind === 'number' ? el('Number', nounAttrs, v.destination.e164) : el('Sip', nounAttrs, v.destination.uri);
  const recorded = v.record !== 'off' && v.recordingStatusCallback !== null;
  return el(
    'Dial',
    [
      ['action', v.action === null ? null : url(v.action)],
      ['method', v.action === null ? null : 'POST'],
      ['timeout', v.ringTimeoutSec],
      ['timeLimit', v.timeLimitSec],
      ['record', RECORD_ATTR[v.record]],
      ['recordingChannels', !twilio && v.record === 'dual' ? 'dual' : null],
      ['recordingStatusCallback', recorded && v.recordingStatusCallback !== null ? url(v.recordingStatusCallback) : null],
      ['recordingStatusCallbackMethod', recorded ? 'POST' : null],
      ['recordingStatusCallbackEvent', recorded ? 'completed' : null],
    ],
    noun,
  );
}

/** A voicemail-style recording, ended by # or its maximum length. */
function recordElement(v: Of<'record'>, url: Url): XmlElement {
  return el('Record', [
    ['action', url(v.action)],
    ['method', 'POST'],
    ['timeout', 5],
    ['finishOnKey', '#'],
    ['maxLength', v.maxLengthSec],
    ['playBeep', 'true'],
    ['recordingStatusCallback', url(v.recordingStatusCallback)],
    ['recordingStatusCallbackMethod', 'POST'],
    ['recordingStatusCallbackEvent', 'completed'],
  ]);
}

export function renderTwimlDialect(verbs: readonly Verb[], baseUrl: string, dialect: TwimlDialect): string {
  return xmlDocument(el('Response', [], ...verbs.flatMap((v, i) => verbElements(v, i, baseUrl, dialect))));
}

export const renderTwiml = (verbs: readonly Verb[], baseUrl: string): string => renderTwimlDialect(verbs, baseUrl, 'twilio');
export const renderTexml = (verbs: readonly Verb[], baseUrl: string): string => renderTwimlDialect(verbs, baseUrl, 'telnyx');
