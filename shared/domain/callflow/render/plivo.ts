/**
 * Plivo XML from the provider-neutral verbs (CALL-FLOW.md §4.1). Choices, each with its reason:
 * - say → `<Speak>`, play → `<Play>`; the IVR is `<GetInput inputType="dtmf">` with the prompt nested, followed by a
 *   `<Redirect>` to its no-input URL (with no input Plivo goes on to the next element). `executionTimeout` is at
 *   least 5 s, Plivo's minimum.
 * - the dialled leg's progress goes to the Dial's `callbackUrl` (Plivo's dial events); SIP targets are `<User>`.
 * - recording the connected call is `<Record startOnDialAnswer="true">` just before the `<Dial>`; Plivo documents
 *   no two-channel recording there, so `dual` records one channel (docs/CONTRACTS.md "Call flow").
 * - Plivo's documented whisper is `confirmSound` + `confirmKey`, which makes the agent press a key to accept: a
 *   different behaviour from a whisper, so it is not written (the flow's whisper is not played on Plivo).
 * - reject → `<Hangup reason="rejected"/>` (Plivo's decline; whether it avoids answering is unconfirmed).
 */
import type { SpokenVerb, Verb } from '../instructions';
import { absolute } from './twiml';
import { el, xmlDocument, type XmlElement } from './xml';

function spoken(v: SpokenVerb): XmlElement {
  return v.verb === 'say' ? el('Speak', [['voice', v.voice], ['language', v.language]], v.text) : el('Play', [], v.url);
}

function verbElements(v: Verb, baseUrl: string): XmlElement[] {
  const url = (p: string) => absolute(baseUrl, p);
  switch (v.verb) {
    case 'say':
    case 'play':
      return [spoken(v)];
    case 'gather':
      return [
        el(
          'GetInput',
          [
            ['action', url(v.action)],
            ['method', 'POST'],
            ['inputType', 'dtmf'],
            ['numDigits', v.numDigits],
            ['executionTimeout', Math.max(5, v.timeoutSec)],
          ],
          ...v.prompt.map(spoken),
        ),
        el('Redirect', [['method', 'POST']], url(v.noInput)),
      ];
    case 'dial': {
      const noun = v.destination.kind === 'number' ? el('Number', [], v.destination.e164.replace(/^\+/, '')) : el('User', [], v.destination.uri);
      const record =
        v.record !== 'off' && v.recordingStatusCallback !== null
          ? [el('Record', [['startOnDialAnswer', 'true'], ['fileFormat', 'mp3'], ['maxLength', v.timeLimitSec], ['callbackUrl', url(v.recordingStatusCallback)]])]
          : [];
      return [
        ...record,
        el(
          'Dial',
          [
            ['action', v.action === null ? null : url(v.action)],
            ['method', v.action === null ? null : 'POST'],
            ['timeout', v.ringTimeoutSec],
            ['timeLimit', v.timeLimitSec],
            ['callbackUrl', url(v.statusCallback)],
            ['callbackMethod', 'POST'],
          ],
          noun,
        ),
      ];
    }
    case 'record':
      return [
        el('Record', [
          ['action', url(v.action)],
          ['fileFormat', 'mp3'],
          ['timeout', 5],
          ['maxLength', v.maxLengthSec],
          ['playBeep', 'true'],
          ['finishOnKey', '#'],
          ['callbackUrl', url(v.recordingStatusCallback)],
        ]),
      ];
    case 'hangup':
      return [el('Hangup')];
    case 'reject':
      return [el('Hangup', [['reason', v.reason]])];
    default: {
      const exhaustive: never = v;
      return exhaustive;
    }
  }
}

export function renderPlivo(verbs: readonly Verb[], baseUrl: string): string {
  return xmlDocument(el('Response', [], ...verbs.flatMap((v) => verbElements(v, baseUrl))));
}
