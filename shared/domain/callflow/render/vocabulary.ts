/**
 * What each provider documents, as data: the elements (verbs and nouns) and attributes a renderer may write, and
 * where each element may appear. Taken from the team's provider reference (CALL-FLOW.md §1.6–1.10 Twilio, §2.2–2.6
 * TeXML, §4.1 Plivo, §3.3 Vonage) and the providers' verb pages it cites. Every rendered document is checked against
 * this in the tests, so a renderer cannot start writing something a provider never promised to read.
 * Deliberately narrower than the providers: only what CallLedger uses, plus the attributes listed beside them.
 */

export interface ElementRule {
  readonly attributes: readonly string[];
  readonly children: readonly string[];
  /** Whether the element may hold text. */
  readonly text: boolean;
}

export interface XmlVocabulary {
  readonly root: string;
  readonly topLevel: readonly string[];
  readonly elements: Readonly<Record<string, ElementRule>>;
}

const SPOKEN = ['Say', 'Play', 'Pause'];

export const TWIML: XmlVocabulary = {
  root: 'Response',
  topLevel: ['Say', 'Play', 'Pause', 'Gather', 'Dial', 'Record', 'Reject', 'Hangup', 'Redirect'],
  elements: {
    Say: { attributes: ['voice', 'language', 'loop'], children: [], text: true },
    Play: { attributes: ['loop', 'digits'], children: [], text: true },
    Pause: { attributes: ['length'], children: [], text: false },
    Gather: {
      attributes: ['action', 'method', 'input', 'numDigits', 'finishOnKey', 'timeout', 'speechTimeout', 'actionOnEmptyResult', 'language', 'hints', 'profanityFilter'],
      children: SPOKEN,
      text: false,
    },
    Dial: {
      attributes: [
        'action', 'method', 'timeout', 'timeLimit', 'callerId', 'answerOnBridge', 'record', 'recordingStatusCallback',
        'recordingStatusCallbackMethod', 'recordingStatusCallbackEvent', 'recordingTrack', 'trim', 'ringTone', 'hangupOnStar', 'sequential',
      ],
      children: ['Number', 'Sip'],
      text: false,
    },
    Number: {
      attributes: ['statusCallbackEvent', 'statusCallback', 'statusCallbackMethod', 'url', 'method', 'sendDigits', 'machineDetection', 'machineDetectionTimeout'],
      children: [],
      text: true,
    },
    Sip: { attributes: ['username', 'password', 'url', 'method', 'statusCallbackEvent', 'statusCallback', 'statusCallbackMethod'], children: [], text: true },
    Record: {
      attributes: [
        'action', 'method', 'timeout', 'finishOnKey', 'maxLength', 'playBeep', 'trim', 'recordingStatusCallback',
        'recordingStatusCallbackMethod', 'recordingStatusCallbackEvent',
      ],
      children: [],
      text: false,
    },
    Reject: { attributes: ['reason'], children: [], text: false },
    Hangup: { attributes: [], children: [], text: false },
    Redirect: { attributes: ['method'], children: [], text: true },
  },
};

/** TeXML: Twilio's verbs, without what Telnyx does not list (Gather `method`, `actionOnEmptyResult`; Number/Sip `method`, `statusCallbackMethod`). */
export const TEXML: XmlVocabulary = {
  root: 'Response',
  topLevel: ['Say', 'Play', 'Pause', 'Gather', 'Dial', 'Record', 'Reject', 'Hangup', 'Redirect'],
  elements: {
    Say: { attributes: ['voice', 'language'], children: [], text: true },
    Play: { attributes: [], children: [], text: true },
    Pause: { attributes: ['length'], children: [], text: false },
    Gather: {
      attributes: ['action', 'timeout', 'input', 'numDigits', 'finishOnKey', 'language', 'speechTimeout', 'profanityFilter', 'hints', 'validDigits', 'minDigits', 'maxDigits'],
      children: SPOKEN,
      text: false,
    },
    Dial: {
      attributes: [
        'action', 'method', 'callerId', 'fromDisplayName', 'hangupOnStar', 'timeout', 'timeLimit', 'record', 'recordingChannels',
        'recordMaxLength', 'recordingStatusCallback', 'recordingStatusCallbackMethod', 'recordingStatusCallbackEvent', 'ringTone', 'answerOnBridge',
      ],
      children: ['Number', 'Sip'],
      text: false,
    },
    Number: { attributes: ['statusCallback', 'statusCallbackEvent', 'url', 'sendDigits', 'machineDetection', 'machineDetectionTimeout'], children: [], text: true },
    Sip: { attributes: ['statusCallback', 'statusCallbackEvent', 'url'], children: [], text: true },
    Record: {
      attributes: [
        'action', 'method', 'finishOnKey', 'timeout', 'maxLength', 'playBeep', 'trim', 'recordingStatusCallback',
        'recordingStatusCallbackMethod', 'recordingStatusCallbackEvent',
      ],
      children: [],
      text: false,
    },
    Reject: { attributes: ['reason'], children: [], text: false },
    Hangup: { attributes: [], children: [], text: false },
    Redirect: { attributes: ['method'], children: [], text: true },
  },
};

export const PLIVO_XML: XmlVocabulary = {
  root: 'Response',
  topLevel: ['Speak', 'Play', 'Wait', 'GetInput', 'Record', 'Dial', 'Redirect', 'Hangup'],
  elements: {
    Speak: { attributes: ['voice', 'language', 'loop'], children: [], text: true },
    Play: { attributes: ['loop'], children: [], text: true },
    Wait: { attributes: ['length', 'silence', 'minSilence', 'beep'], children: [], text: false },
    GetInput: {
      attributes: [
        'action', 'method', 'inputType', 'executionTimeout', 'digitEndTimeout', 'speechEndTimeout', 'finishOnKey', 'numDigits',
        'speechModel', 'hints', 'language', 'profanityFilter', 'redirect', 'log',
      ],
      children: ['Speak', 'Play'],
      text: false,
    },
    Dial: {
      attributes: [
        'action', 'method', 'hangupOnStar', 'timeLimit', 'timeout', 'callerId', 'callerName', 'confirmSound', 'confirmKey',
        'confirmTimeout', 'dialMusic', 'callbackUrl', 'callbackMethod', 'redirect', 'digitsMatch', 'digitsMatchBLeg', 'sipHeaders',
      ],
      children: ['Number', 'User'],
      text: false,
    },
    Number: { attributes: ['sendDigits', 'sendOnPreanswer'], children: [], text: true },
    User: { attributes: ['sendDigits', 'sendOnPreanswer', 'sipHeaders'], children: [], text: true },
    Record: {
      attributes: [
        'action', 'fileFormat', 'timeout', 'maxLength', 'playBeep', 'finishOnKey', 'recordSession', 'startOnDialAnswer',
        'transcriptionType', 'transcriptionUrl', 'transcriptionMethod', 'callbackUrl',
      ],
      children: [],
      text: false,
    },
    Redirect: { attributes: ['method'], children: [], text: true },
    Hangup: { attributes: ['reason', 'schedule'], children: [], text: false },
  },
};

/** NCCO: the keys each action (and each nested object) may carry. */
export const NCCO_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  talk: ['action', 'text', 'bargeIn', 'loop', 'level', 'language', 'style', 'premium'],
  stream: ['action', 'streamUrl', 'level', 'bargeIn', 'loop'],
  input: ['action', 'type', 'dtmf', 'speech', 'eventUrl', 'eventMethod'],
  connect: ['action', 'endpoint', 'from', 'randomFromNumber', 'eventType', 'timeout', 'limit', 'machineDetection', 'eventUrl', 'eventMethod', 'ringbackTone'],
  record: ['action', 'format', 'split', 'channels', 'endOnSilence', 'endOnKey', 'timeOut', 'beepStart', 'eventUrl', 'eventMethod'],
};

export const NCCO_NESTED: Readonly<Record<string, readonly string[]>> = {
  dtmf: ['timeOut', 'maxDigits', 'submitOnHash'],
  'endpoint:phone': ['type', 'number', 'dtmfAnswer', 'onAnswer'],
  'endpoint:sip': ['type', 'uri', 'headers'],
  onAnswer: ['url', 'ringbackTone'],
};

/** The numeric ranges Vonage documents for the NCCO fields CallLedger writes (CALL-FLOW.md §3.3), `action.field`. */
export const NCCO_RANGES = {
  'input.dtmf.timeOut': [0, 10],
  'input.dtmf.maxDigits': [1, 20],
  'connect.timeout': [1, 7200],
  'connect.limit': [1, 7200],
  'record.timeOut': [3, 7200],
  'record.endOnSilence': [3, 10],
  'record.channels': [1, 32],
} as const satisfies Readonly<Record<string, readonly [number, number]>>;
