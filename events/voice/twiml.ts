/**
 * TwiML as Twilio reads it, for the call simulator: the answer's content type and body checked the way Twilio
 * checks them (CALL-FLOW.md §1.3), the document parsed with a real XML parser, and every element and attribute held
 * to what Twilio documents (the verb pages, CALL-FLOW.md §1.6–1.10). Deliberately wider than what CallLedger's
 * renderer writes (shared/domain/callflow/render/vocabulary.ts): the simulator refuses what Twilio would not read,
 * not what CallLedger happens not to use, so a renderer change that stays inside Twilio's documentation still plays.
 *
 * Three kinds of refusal, each naming what it refuses (never a caller number: the document is ours):
 *   undocumented   an element, attribute, nesting or attribute value Twilio does not document
 *   not simulated  documented by Twilio but outside the simulator (queues, conferences, streams, payments, …)
 *   unreadable     what Twilio itself fails on: no or wrong content type (12300), whitespace before the declaration
 *                  or a document that is not well-formed (12100), a body over 64 kB (11750), a root other than
 *                  <Response>
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface TwimlNode {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly TwimlNode[];
  /** The element's own text (a `<Say>`'s words, a `<Number>`'s number, a `<Redirect>`'s URL), trimmed. */
  readonly text: string;
}

export class TwimlViolation extends Error {
  constructor(
    message: string,
    /** Each refused element, attribute or value, as `Gather@foo`, `Response/Enqueue`, `Dial@timeout=3`. */
    readonly violations: readonly string[],
  ) {
    super(`${message}: ${violations.join(', ')}`);
    this.name = 'TwimlViolation';
  }
}

/** Twilio's error for an answer it cannot run (the fallback URL is requested with it). */
export class TwimlFetchFailure extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(`${errorCode}: ${message}`);
    this.name = 'TwimlFetchFailure';
  }
}

type ValueRule = 'url' | 'method' | 'bool' | { readonly int: readonly [number, number] } | { readonly oneOf: readonly string[] } | { readonly words: readonly string[] } | 'text';

interface ElementRule {
  readonly attributes: Readonly<Record<string, ValueRule>>;
  readonly children: readonly string[];
  readonly text: 'none' | 'optional' | 'required';
}

const SPOKEN_CHILDREN = ['Say', 'Play', 'Pause'] as const;
const CALL_EVENTS = ['initiated', 'ringing', 'answered', 'completed'] as const;
const RECORDING_EVENTS = ['in-progress', 'completed', 'absent'] as const;
const DIAL_RECORD = ['do-not-record', 'record-from-answer', 'record-from-ringing', 'record-from-answer-dual', 'record-from-ringing-dual', 'true', 'false'] as const;
const RING_TONES = 'at au bg br be ch cl cn cz de dk ee es fi fr gr hu il in it lt jp mx my nl no nz ph pl pt ru se sg th uk us us-old tw ve za'.split(' ');

const AMD: Readonly<Record<string, ValueRule>> = {
  machineDetection: { oneOf: ['Enable', 'DetectMessageEnd'] },
  machineDetectionTimeout: { int: [3, 60] },
  machineDetectionSpeechThreshold: { int: [1000, 6000] },
  machineDetectionSpeechEndThreshold: { int: [500, 5000] },
  machineDetectionSilenceTimeout: { int: [2000, 10000] },
  amdStatusCallback: 'url',
  amdStatusCallbackMethod: 'method',
};

const LEG_CALLBACKS: Readonly<Record<string, ValueRule>> = {
  statusCallbackEvent: { words: CALL_EVENTS },
  statusCallback: 'url',
  statusCallbackMethod: 'method',
  url: 'url',
  method: 'method',
};

/** Twilio's documented TwiML voice vocabulary (verb pages; CALL-FLOW.md §1.6). */
export const TWILIO_DOCUMENTED: Readonly<Record<string, ElementRule>> = {
  Say: { attributes: { voice: 'text', language: 'text', loop: { int: [0, 1000] } }, children: [], text: 'optional' },
  Play: { attributes: { loop: { int: [0, 1000] }, digits: 'text' }, children: [], text: 'optional' },
  Pause: { attributes: { length: { int: [0, 600] } }, children: [], text: 'none' },
  Gather: {
    attributes: {
      action: 'url',
      method: 'method',
      input: { words: ['dtmf', 'speech'] },
      numDigits: { int: [1, 1000] },
      finishOnKey: { oneOf: ['', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '#', '*'] },
      timeout: { int: [0, 600] },
      speechTimeout: 'text',
      actionOnEmptyResult: 'bool',
      partialResultCallback: 'url',
      partialResultCallbackMethod: 'method',
      language: 'text',
      hints: 'text',
      speechModel: 'text',
      profanityFilter: 'bool',
      enhanced: 'bool',
    },
    children: SPOKEN_CHILDREN,
    text: 'none',
  },
  Dial: {
    attributes: {
      action: 'url',
      method: 'method',
      timeout: { int: [5, 600] },
      timeLimit: { int: [1, 86_400] },
      callerId: 'text',
      answerOnBridge: 'bool',
      record: { oneOf: DIAL_RECORD },
      recordingStatusCallback: 'url',
      recordingStatusCallbackMethod: 'method',
      recordingStatusCallbackEvent: { words: RECORDING_EVENTS },
      recordingTrack: { oneOf: ['inbound', 'outbound', 'both'] },
      trim: { oneOf: ['trim-silence', 'do-not-trim'] },
      ringTone: { oneOf: RING_TONES },
      hangupOnStar: 'bool',
      sequential: 'bool',
      callReason: 'text',
      referUrl: 'url',
      referMethod: 'method',
      recordingConfigurationId: 'text',
    },
    children: ['Number', 'Sip', 'Client', 'Conference', 'Queue', 'Application', 'WhatsApp'],
    text: 'optional',
  },
  Number: { attributes: { ...LEG_CALLBACKS, sendDigits: 'text', byoc: 'text', ...AMD }, children: [], text: 'required' },
  Sip: { attributes: { ...LEG_CALLBACKS, username: 'text', password: 'text', ...AMD }, children: [], text: 'required' },
  Client: { attributes: LEG_CALLBACKS, children: ['Identity', 'Parameter'], text: 'optional' },
  Record: {
    attributes: {
      action: 'url',
      method: 'method',
      timeout: { int: [0, 600] },
      finishOnKey: 'text',
      maxLength: { int: [1, 14_400] },
      playBeep: 'bool',
      trim: { oneOf: ['trim-silence', 'do-not-trim'] },
      recordingStatusCallback: 'url',
      recordingStatusCallbackMethod: 'method',
      recordingStatusCallbackEvent: { words: RECORDING_EVENTS },
      transcribe: 'bool',
      transcribeCallback: 'url',
    },
    children: [],
    text: 'none',
  },
  Reject: { attributes: { reason: { oneOf: ['rejected', 'busy'] } }, children: [], text: 'none' },
  Hangup: { attributes: {}, children: [], text: 'none' },
  Redirect: { attributes: { method: 'method' }, children: [], text: 'required' },
};

/** Documented by Twilio, not played by the simulator: refused as "not simulated", never as undocumented. */
export const DOCUMENTED_NOT_SIMULATED: ReadonlySet<string> = new Set([
  'Enqueue', 'Leave', 'Connect', 'Pay', 'Prompt', 'Refer', 'Start', 'Stop', 'Sms', 'Client', 'Conference', 'Queue', 'Application', 'WhatsApp', 'Identity', 'Parameter',
]);

const TOP_LEVEL = ['Say', 'Play', 'Pause', 'Gather', 'Dial', 'Record', 'Reject', 'Hangup', 'Redirect'];

/** The verbs a whisper (`<Number url>`) document may use: "does not support any other TwiML verbs" (Number page). */
export const WHISPER_VERBS: ReadonlySet<string> = new Set(['Say', 'Play', 'Pause', 'Gather', 'Hangup']);

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

function toNode(entry: Record<string, unknown>): TwimlNode | null {
  const name = Object.keys(entry).find((k) => k !== ':@');
  if (name === undefined || name === '#text' || name.startsWith('?') || name === '#comment') return null;
  const kids = (entry[name] as Record<string, unknown>[]) ?? [];
  const children = kids.map(toNode).filter((n): n is TwimlNode => n !== null);
  const text = kids
    .filter((k) => '#text' in k)
    .map((k) => String(k['#text']))
    .join('')
    .trim();
  return { name, attrs: (entry[':@'] as Record<string, string>) ?? {}, children, text };
}

const TWIML_TYPES = ['text/xml', 'application/xml', 'text/html'];

/**
 * What Twilio makes of an answer: a TwiML document, or (text/plain that is not TwiML, an audio file) something it
 * plays before hanging up. Throws TwimlFetchFailure where Twilio fails the request.
 */
export function readAnswer(contentType: string | null, body: string): { readonly kind: 'twiml'; readonly root: TwimlNode } | { readonly kind: 'spoken'; readonly what: 'text' | 'audio' } {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (Buffer.byteLength(body, 'utf8') > 64 * 1024) throw new TwimlFetchFailure('11750', 'TwiML response body too large (over 64 kB)');
  if (type.startsWith('audio/')) return { kind: 'spoken', what: 'audio' };
  if (type === 'text/plain') {
    // Since 2024-07-22 text/plain holding valid TwiML is run; anything else is read aloud.
    try {
      return { kind: 'twiml', root: parseTwiml(body) };
    } catch {
      return { kind: 'spoken', what: 'text' };
    }
  }
  if (!TWIML_TYPES.includes(type)) throw new TwimlFetchFailure('12300', `Invalid Content-Type ${type === '' ? '(none)' : type}`);
  return { kind: 'twiml', root: parseTwiml(body) };
}

/** Parses a TwiML document into its <Response>: nothing before the declaration, well-formed, one root. */
export function parseTwiml(xml: string): TwimlNode {
  if (/^\s+</.test(xml)) throw new TwimlFetchFailure('12100', 'Document parse failure: whitespace before the XML declaration');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new TwimlFetchFailure('12100', `Document parse failure: ${valid.err.msg} (line ${valid.err.line})`);
  const roots = (parser.parse(xml) as Record<string, unknown>[]).map(toNode).filter((n): n is TwimlNode => n !== null);
  if (roots.length !== 1 || roots[0]!.name !== 'Response') throw new TwimlFetchFailure('12100', 'Document parse failure: the root must be one <Response>');
  return roots[0]!;
}

function valueViolation(rule: ValueRule, value: string): boolean {
  if (rule === 'text') return false;
  if (rule === 'url') return value.trim() === '';
  if (rule === 'method') return value !== 'GET' && value !== 'POST';
  if (rule === 'bool') return value !== 'true' && value !== 'false';
  if ('int' in rule) return !/^\d{1,9}$/.test(value) || Number(value) < rule.int[0] || Number(value) > rule.int[1];
  if ('oneOf' in rule) return !rule.oneOf.includes(value);
  const words = value.split(/[\s,]+/).filter((w) => w !== '');
  return words.length === 0 || words.some((w) => !rule.words.includes(w));
}

/**
 * Everything in the document Twilio does not document, or the simulator does not play: throws TwimlViolation naming
 * each (path/element, element@attribute, element@attribute=value). `allowed` narrows the top-level verbs (a whisper).
 */
export function checkTwiml(root: TwimlNode, allowed: ReadonlySet<string> = new Set(TOP_LEVEL)): void {
  const undocumented: string[] = [];
  const notSimulated: string[] = [];
  if (Object.keys(root.attrs).length > 0) undocumented.push(`Response@${Object.keys(root.attrs).join(',')}`);
  if (root.text !== '') undocumented.push('Response has text');
  const walk = (n: TwimlNode, parent: string, permitted: readonly string[]) => {
    const path = `${parent}/${n.name}`;
    const rule = TWILIO_DOCUMENTED[n.name];
    if (DOCUMENTED_NOT_SIMULATED.has(n.name)) return void notSimulated.push(path);
    if (rule === undefined) return void undocumented.push(path);
    if (!permitted.includes(n.name)) return void undocumented.push(`${path} (not allowed in ${parent.split('/').pop()})`);
    for (const [attr, value] of Object.entries(n.attrs)) {
      const valueRule = rule.attributes[attr];
      if (valueRule === undefined) undocumented.push(`${n.name}@${attr}`);
      else if (valueViolation(valueRule, value)) undocumented.push(`${n.name}@${attr}=${JSON.stringify(value)}`);
    }
    if (rule.text === 'none' && n.text !== '') undocumented.push(`${path} has text`);
    if (rule.text === 'required' && n.text === '') undocumented.push(`${path} is empty`);
    if (n.name === 'Dial' && n.text !== '' && n.children.length > 0) undocumented.push(`${path} has both text and nouns`);
    if (n.name === 'Dial' && n.text === '' && n.children.length === 0) undocumented.push(`${path} dials nothing`);
    if (n.name === 'Dial' && n.children.filter((c) => ['Number', 'Sip', 'Client'].includes(c.name)).length > 10) undocumented.push(`${path} has more than 10 nouns`);
    for (const c of n.children) walk(c, path, rule.children);
  };
  for (const c of root.children) walk(c, 'Response', TOP_LEVEL.filter((v) => allowed.has(v)));
  if (undocumented.length > 0) throw new TwimlViolation('TwiML that Twilio does not document', undocumented);
  if (notSimulated.length > 0) throw new TwimlViolation('TwiML the simulator does not play', notSimulated);
}
