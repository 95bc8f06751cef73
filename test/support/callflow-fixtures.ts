/**
 * Builders for the call-flow and routing tests: a campaign with terms, targets, a flow, an admission input, and a
 * real XML parser that turns a rendered document into a tree the allow-list check walks.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { CallFlow, CallFlowVersion } from '../../shared/domain/callflow/flow';
import type { XmlVocabulary } from '../../shared/domain/callflow/render/vocabulary';
import type { MachineContext } from '../../shared/domain/callflow/machine';
import type { AdmissionInput } from '../../shared/domain/routing/admission';
import type { Target, TargetFacts } from '../../shared/domain/routing/targets';
import type { TermsVersion } from '../../shared/domain/terms/terms';
import type { AssignedNumber } from '../../shared/domain/catalog/types';

/** Tuesday 2026-11-24 10:00 in Chicago. */
export const AT = Date.parse('2026-11-24T16:00:00.000Z');
export const HOUR = 3_600_000;

export const TERMS: TermsVersion = {
  version: 1,
  effectiveFrom: '2026-11-01T00:00:00.000Z',
  createdAt: '2026-10-30T00:00:00.000Z',
  priceCents: 4500,
  bufferSec: 90,
  durationBasis: 'total',
  qualification: null,
  duplicateWindowHours: 72,
  duplicateScope: 'campaign',
  withheldCallerId: 'non_billable',
  priceBands: [],
  overrides: [],
};

export const ASSIGNMENT: AssignedNumber = { accountId: 'acct-1', number: '+15125550101', campaignId: 'roofing-tx', publisherId: 'pub-a', subSource: 'sub-1' };

const WEEKDAYS_9_TO_5 = (['mon', 'tue', 'wed', 'thu', 'fri'] as const).map((day) => ({ day, open: '09:00', close: '17:00' }));

export function target(targetId: string, overrides: Partial<Target> = {}): Target {
  return {
    accountId: 'acct-1',
    targetId,
    name: `Target ${targetId}`,
    destination: { kind: 'number', e164: '+15125550199' },
    enabled: true,
    hours: { timeZone: 'America/Chicago', windows: WEEKDAYS_9_TO_5, holidays: [] },
    concurrencyCap: 2,
    hourlyCap: null,
    dailyCap: null,
    geography: null,
    priority: 1,
    weight: 1,
    ringTimeoutSec: null,
    rev: 1,
    updatedAt: '2026-11-01T00:00:00.000Z',
    ...overrides,
  };
}

export function targetMap(...targets: Target[]): Map<string, Target> {
  return new Map(targets.map((t) => [t.targetId, t]));
}

export const FLOW: CallFlow = {
  greeting: { kind: 'say', text: 'Thanks for calling Lone Star Roofing.', voice: 'Polly.Joanna', language: 'en-US' },
  ivr: {
    prompt: { kind: 'say', text: 'Press 1 for a new roof, 2 for a repair, or 9 to end the call.', voice: null, language: 'en-US' },
    options: [
      { digits: '1', then: { action: 'qualify' } },
      { digits: '2', then: { action: 'route', route: 'repairs' } },
      { digits: '9', then: { action: 'end', message: { kind: 'say', text: 'Goodbye.', voice: null, language: 'en-US' } } },
    ],
    timeoutSec: 5,
    retries: 1,
    retryPrompt: { kind: 'say', text: 'Sorry, I did not get that.', voice: null, language: 'en-US' },
    noInput: { action: 'end', message: null },
  },
  routes: { default: ['t-a', 't-b'], repairs: ['t-c'] },
  ringTimeoutSec: 20,
  maxCallSec: 3600,
  recording: 'dual',
  whisper: { text: 'Call from {publisher} for {campaign}.', voice: null, language: 'en-US' },
  unavailable: { action: 'voicemail', prompt: { kind: 'say', text: 'Please leave a message.', voice: null, language: 'en-US' }, maxLengthSec: 120 },
  refusedMessage: { kind: 'say', text: 'We cannot take this call. Goodbye.', voice: null, language: 'en-US' },
  caps: null,
  failSafe: { action: 'target', destination: { kind: 'number', e164: '+15125550188' }, ringTimeoutSec: 20, message: null },
};

export function flowVersion(flow: CallFlow = FLOW, version = 3): CallFlowVersion {
  return { ...flow, version, effectiveFrom: '2026-11-01T00:00:00.000Z', createdAt: '2026-10-30T00:00:00.000Z' };
}

export function admissionInput(overrides: Partial<AdmissionInput> = {}): AdmissionInput {
  const targets = targetMap(target('t-a'), target('t-b'), target('t-c'));
  return {
    stage: 'connect',
    callId: 'twilio:CA0001',
    call: { from: '+15125550123', to: ASSIGNMENT.number, fromState: 'TX', fromZip: '78701', tags: [], digits: null },
    atMs: AT,
    assignment: ASSIGNMENT,
    campaign: { campaignId: 'roofing-tx', hours: null, geography: null },
    termsVersions: [TERMS],
    priorBilled: null,
    blocked: null,
    quality: null,
    withheld: null,
    pilot: null,
    capRefusal: null,
    caps: null,
    counts: { active: 0, thisHour: 0, today: 0 },
    route: ['t-a', 't-b'],
    targets,
    targetFacts: new Map<string, TargetFacts>(),
    ...overrides,
  };
}

export function machineContext(provider: MachineContext['provider'] = 'twilio'): MachineContext {
  return {
    provider,
    accountId: 'acct-1',
    callId: `${provider}:CA0001`,
    stateKey: 'test-state-key',
    trackingNumber: ASSIGNMENT.number,
    names: { publisher: 'Acme Leads', subSource: 'sub-1', campaign: 'Roofing TX' },
  };
}

// ---------------------------------------------------------------- XML, parsed for real

export interface Node {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: Node[];
  readonly text: string;
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: true,
});

function toNode(entry: Record<string, unknown>): Node | null {
  const name = Object.keys(entry).find((k) => k !== ':@');
  if (name === undefined || name === '#text' || name === '?xml') return null;
  const kids = (entry[name] as Record<string, unknown>[]) ?? [];
  const children = kids.map(toNode).filter((n): n is Node => n !== null);
  const text = kids.filter((k) => '#text' in k).map((k) => String(k['#text'])).join('');
  return { name, attrs: (entry[':@'] as Record<string, string>) ?? {}, children, text };
}

/** Parses a document (refusing one that is not well-formed) into its root element. */
export function parseXml(xml: string): Node {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`not well-formed: ${JSON.stringify(valid)}`);
  if (!xml.startsWith('<?xml')) throw new Error('the declaration must come first');
  const roots = (parser.parse(xml) as Record<string, unknown>[]).map(toNode).filter((n): n is Node => n !== null);
  if (roots.length !== 1) throw new Error(`expected one root, got ${roots.length}`);
  return roots[0] as Node;
}

/** Every element, attribute and nesting of the document that the vocabulary does not allow. */
export function vocabularyViolations(root: Node, vocab: XmlVocabulary): string[] {
  const out: string[] = [];
  if (root.name !== vocab.root) out.push(`root ${root.name}`);
  if (Object.keys(root.attrs).length > 0) out.push('attributes on the root');
  const walk = (n: Node, allowed: readonly string[], path: string) => {
    if (!allowed.includes(n.name)) out.push(`${path}/${n.name} not allowed here`);
    const rule = vocab.elements[n.name];
    if (rule === undefined) return void out.push(`${path}/${n.name} unknown`);
    for (const a of Object.keys(n.attrs)) if (!rule.attributes.includes(a)) out.push(`${path}/${n.name}@${a}`);
    if (!rule.text && n.text.trim() !== '') out.push(`${path}/${n.name} has text`);
    for (const c of n.children) walk(c, rule.children, `${path}/${n.name}`);
  };
  for (const c of root.children) walk(c, vocab.topLevel, '');
  return out;
}
