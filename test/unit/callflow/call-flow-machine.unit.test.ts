/**
 * The call-flow state machine (machine.ts) and its renderers: every step of the flow, and every rendered document
 * parsed with a real XML parser and held to what its provider documents (render/vocabulary.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Verb } from '../../../shared/domain/callflow/instructions';
import { needFor, next, stepOf, type MachineInput, type MachineOutput, type Step } from '../../../shared/domain/callflow/machine';
import { render } from '../../../shared/domain/callflow/render';
import { renderNcco } from '../../../shared/domain/callflow/render/ncco';
import { renderPlivo } from '../../../shared/domain/callflow/render/plivo';
import { renderTexml, renderTwiml } from '../../../shared/domain/callflow/render/twiml';
import { NCCO_ACTIONS, NCCO_NESTED, PLIVO_XML, TEXML, TWIML } from '../../../shared/domain/callflow/render/vocabulary';
import { el, isXmlText, serialize } from '../../../shared/domain/callflow/render/xml';
import { parseState } from '../../../shared/domain/callflow/state';
import { admit, type AdmissionInput } from '../../../shared/domain/routing/admission';
import { planRoute } from '../../../shared/domain/routing/order';
import { callerGeo } from '../../../shared/domain/rating/rules';
import type { Provider } from '../../../shared/domain/calls/events';
import { admissionInput, FLOW, flowVersion, machineContext, parseXml, target, targetMap, vocabularyViolations, type Node } from '../../support/callflow-fixtures';

const BASE = 'https://calls.example.com';
const TARGETS = targetMap(target('t-a', { priority: 1 }), target('t-b', { priority: 2, destination: { kind: 'sip', uri: 'sip:agent@pbx.example.com' } }), target('t-c'));
const GEO = callerGeo({ from: '+15125550123', fromState: 'TX', fromZip: '78701' });

/** Runs one step as the adapter would: what needFor asks, then next. */
function run(step: Step, opts: { provider?: Provider; flow?: ReturnType<typeof flowVersion> | null; admission?: Partial<AdmissionInput>; facts?: AdmissionInput['targetFacts'] } = {}): MachineOutput {
  const flow = opts.flow === undefined ? flowVersion() : opts.flow;
  const need = needFor(flow, step);
  const facts = opts.facts ?? new Map();
  const input: MachineInput = {
    ctx: machineContext(opts.provider ?? 'twilio'),
    flow,
    step,
    targets: TARGETS,
    admission:
      need.kind === 'admission'
        ? admit(admissionInput({ stage: need.stage, route: flow?.routes[need.route] ?? [], targets: TARGETS, targetFacts: facts, call: { ...admissionInput().call, digits: need.digits }, ...opts.admission }))
        : null,
    plan: need.kind === 'replan' && flow ? planRoute(flow.routes[need.route] ?? [], TARGETS, facts, GEO, 'twilio:CA0001', Date.parse('2026-11-24T16:00:00Z')) : null,
  };
  return next(input);
}

const verbs = (o: MachineOutput) => o.verbs.map((v) => v.verb);

describe('the call flow, step by step', () => {
  it('incoming, screened in: greeting, then the IVR with its no-input redirect; nothing dialled yet', () => {
    const out = run({ kind: 'incoming' });
    expect(verbs(out)).toEqual(['say', 'gather']);
    expect(out.dial).toBeNull();
    expect(out.audit).toEqual([{ event: 'admitted', stage: 'screen', reservation: null }]);
    const gather = out.verbs[1] as Extract<Verb, { verb: 'gather' }>;
    expect(gather).toMatchObject({ numDigits: 1, timeoutSec: 5, action: '/voice/twilio/acct-1?step=gather&v=3&attempt=1', noInput: '/voice/twilio/acct-1?step=gather&v=3&attempt=1&none=1' });
  });

  it('incoming, a refused caller is declined unanswered: <Reject> first', () => {
    const out = run({ kind: 'incoming' }, { admission: { blocked: { blockId: 'blk_0123456789abcdef' } } });
    expect(out.verbs).toEqual([{ verb: 'reject', reason: 'rejected' }]);
    expect(out.audit).toContainEqual({ event: 'refused', stage: 'screen', reason: 'blocked_caller' });
  });

  it('incoming, out of hours: the flow’s unavailable action (voicemail here)', () => {
    const out = run({ kind: 'incoming' }, { admission: { campaign: { campaignId: 'roofing-tx', hours: { timeZone: 'America/Chicago', windows: [{ day: 'sun', open: '09:00', close: '10:00' }] }, geography: null } } });
    expect(verbs(out)).toEqual(['say', 'record']);
    expect(out.verbs[1]).toMatchObject({ maxLengthSec: 120, action: '/voice/twilio/acct-1?step=voicemail&v=3', recordingStatusCallback: '/webhooks/twilio/acct-1?rec=voicemail' });
  });

  it('a flow without IVR admits at connect on the first request and dials with greeting first', () => {
    const out = run({ kind: 'incoming' }, { flow: flowVersion({ ...FLOW, ivr: null }) });
    expect(verbs(out)).toEqual(['say', 'dial']);
    expect(out.dial).toEqual({ targetId: 't-a', position: 0, route: 'default' });
  });

  it('a qualifying answer dials the first target with every callback it needs', () => {
    const out = run({ kind: 'gather', attempt: 1, digits: '1' });
    expect(out.audit.slice(0, 2)).toEqual([{ event: 'ivr', attempt: 1, result: 'option', digits: '1' }, { event: 'admitted', stage: 'connect', reservation: null }]);
    expect(out.verbs).toEqual([
      {
        verb: 'dial',
        destination: { kind: 'number', e164: '+15125550199' },
        ringTimeoutSec: 20,
        timeLimitSec: 3600,
        record: 'dual',
        trackingNumber: '+15125550101',
        action: '/voice/twilio/acct-1?step=dial&v=3&route=default&pos=0',
        statusCallback: '/webhooks/twilio/acct-1?leg=dial&route=default&pos=0&target=t-a',
        recordingStatusCallback: '/webhooks/twilio/acct-1?rec=call',
        whisperUrl: '/voice/twilio/acct-1?step=whisper&v=3&route=default&pos=0',
      },
    ]);
  });

  it('an answer that routes elsewhere dials that route', () => {
    expect(run({ kind: 'gather', attempt: 1, digits: '2' }).dial).toEqual({ targetId: 't-c', position: 0, route: 'repairs' });
  });

  it('an answer that ends the call says goodbye and hangs up, with no admission', () => {
    expect(needFor(flowVersion(), { kind: 'gather', attempt: 1, digits: '9' })).toEqual({ kind: 'none' });
    expect(verbs(run({ kind: 'gather', attempt: 1, digits: '9' }))).toEqual(['say', 'hangup']);
  });

  it('no input: the retry prompt and the IVR again, then the flow’s no-input action', () => {
    const retry = run({ kind: 'gather', attempt: 1, digits: null });
    expect(retry.verbs[0]).toMatchObject({ verb: 'gather', action: '/voice/twilio/acct-1?step=gather&v=3&attempt=2' });
    expect((retry.verbs[0] as Extract<Verb, { verb: 'gather' }>).prompt.map((p) => p.verb === 'say' && p.text)).toEqual(['Sorry, I did not get that.', FLOW.ivr?.prompt.kind === 'say' && FLOW.ivr.prompt.text]);
    expect(run({ kind: 'gather', attempt: 1, digits: '7' }).audit[0]).toEqual({ event: 'ivr', attempt: 1, result: 'invalid', digits: null });
    expect(verbs(run({ kind: 'gather', attempt: 2, digits: null }))).toEqual(['hangup']);
  });

  it('refused after the call was answered: the refused message and hang up (a reject is meaningless then)', () => {
    const out = run({ kind: 'gather', attempt: 1, digits: '1' }, { admission: { blocked: { blockId: 'blk_0123456789abcdef' } } });
    expect(verbs(out)).toEqual(['say', 'hangup']);
    const rejecting = flowVersion({ ...FLOW, unavailable: { action: 'reject' } });
    expect(verbs(run({ kind: 'gather', attempt: 1, digits: '1' }, { flow: rejecting, admission: { caps: { concurrentCalls: 1, hourlyCalls: null, dailyCalls: null }, counts: { active: 1, thisHour: 0, today: 0 } } }))).toEqual(['hangup']);
  });

  it('a busy target: the next eligible one; one at capacity is skipped with its reason; then unavailable', () => {
    const out = run({ kind: 'dial_result', route: 'default', position: 0, outcome: 'busy' });
    expect(out.dial).toEqual({ targetId: 't-b', position: 1, route: 'default' });
    expect(out.audit[0]).toEqual({ event: 'outcome', targetId: 't-a', position: 0, outcome: 'busy' });
    const full = run({ kind: 'dial_result', route: 'default', position: 0, outcome: 'no_answer' }, { facts: new Map([['t-b', { liveLeases: 2, callsThisHour: 0, callsToday: 0 }]]) });
    expect(full.audit).toContainEqual({ event: 'skipped', targetId: 't-b', position: 1, reason: 'at_capacity' });
    expect(verbs(full)).toEqual(['say', 'record']);
  });

  it('answered: the conversation is over; the whisper names source and campaign', () => {
    expect(verbs(run({ kind: 'dial_result', route: 'default', position: 0, outcome: 'answered' }))).toEqual(['hangup']);
    expect(run({ kind: 'whisper', route: 'default', position: 0 }).verbs).toEqual([{ verb: 'say', text: 'Call from Acme Leads for Roofing TX.', voice: null, language: 'en-US' }]);
  });

  it('fail-safe: the default target when no pilot may govern, else the message; never silence', () => {
    const target = run({ kind: 'fallback', pilotMayGovern: false });
    expect(verbs(target)).toEqual(['dial', 'hangup']);
    expect(target.verbs[0]).toMatchObject({ action: null, destination: { e164: '+15125550188' } });
    expect(target.audit).toEqual([{ event: 'degraded', action: 'target' }]);
    expect(verbs(run({ kind: 'fallback', pilotMayGovern: true }))).toEqual(['say', 'hangup']);
    expect(verbs(run({ kind: 'fallback', pilotMayGovern: false }, { flow: null }))).toEqual(['say', 'hangup']);
  });

  it('no flow for the campaign: declined unanswered', () => {
    expect(run({ kind: 'incoming' }, { flow: null }).verbs).toEqual([{ verb: 'reject', reason: 'rejected' }]);
  });

  it('steps from states: a no-input gather has no digits, whatever was posted', () => {
    expect(stepOf({ step: 'gather', v: 3, attempt: 1, none: true }, { digits: '1' })).toEqual({ kind: 'gather', attempt: 1, digits: null });
    expect(stepOf({ step: 'dial', v: 3, route: 'default', pos: 1 }, { dialOutcome: 'busy' })).toEqual({ kind: 'dial_result', route: 'default', position: 1, outcome: 'busy' });
  });
});

// ---------------------------------------------------------------- renderers

const STEPS: Step[] = [
  { kind: 'incoming' },
  { kind: 'gather', attempt: 1, digits: '1' },
  { kind: 'gather', attempt: 1, digits: '2' },
  { kind: 'gather', attempt: 1, digits: null },
  { kind: 'gather', attempt: 1, digits: '9' },
  { kind: 'dial_result', route: 'default', position: 0, outcome: 'busy' },
  { kind: 'dial_result', route: 'default', position: 1, outcome: 'failed' },
  { kind: 'dial_result', route: 'default', position: 0, outcome: 'answered' },
  { kind: 'whisper', route: 'default', position: 0 },
  { kind: 'voicemail_done' },
  { kind: 'fallback', pilotMayGovern: false },
  { kind: 'fallback', pilotMayGovern: true },
];
const FLOWS = [
  flowVersion(),
  flowVersion({ ...FLOW, ivr: null, recording: 'from_answer', whisper: null, unavailable: { action: 'reject' } }),
  flowVersion({ ...FLOW, recording: 'off', greeting: { kind: 'play', url: 'https://cdn.example.com/hello.mp3' }, unavailable: { action: 'message', message: { kind: 'say', text: 'Closed & gone <now>.', voice: null, language: 'en-US' } } }),
];
const REFUSALS: Partial<AdmissionInput>[] = [{}, { blocked: { blockId: 'blk_0123456789abcdef' } }, { campaign: { campaignId: 'roofing-tx', hours: { timeZone: 'UTC', windows: [{ day: 'sun', open: '00:00', close: '00:01' }] }, geography: null } }];

function everyDocument(provider: Provider): MachineOutput[] {
  return FLOWS.flatMap((flow) => REFUSALS.flatMap((admission) => STEPS.map((step) => run(step, { provider, flow, admission }))));
}

function urls(node: Node): string[] {
  const own = [...Object.entries(node.attrs).filter(([k]) => /url|action|callback/i.test(k) && !/(Method|Event)$/.test(k)).map(([, v]) => v), ...(node.name === 'Redirect' ? [node.text] : [])];
  return [...own, ...node.children.flatMap(urls)];
}

function checkUrl(url: string, provider: Provider) {
  expect(url.startsWith(`${BASE}/`) || url.startsWith('https://cdn.example.com/')).toBe(true);
  if (!url.startsWith(BASE)) return;
  const u = new URL(url);
  expect([`/voice/${provider}/acct-1`, `/webhooks/${provider}/acct-1`]).toContain(u.pathname);
  if (u.pathname.startsWith('/voice/')) expect(parseState(Object.fromEntries(u.searchParams), machineContext(provider)).ok).toBe(true);
}

describe('renderers: every document uses only what its provider documents, and every URL reaches a handler', () => {
  for (const [provider, vocab, renderer] of [
    ['twilio', TWIML, renderTwiml],
    ['telnyx', TEXML, renderTexml],
    ['plivo', PLIVO_XML, renderPlivo],
  ] as const) {
    it(`${provider}: well-formed XML within the allow-list`, () => {
      for (const out of everyDocument(provider)) {
        const xml = renderer(out.verbs, BASE);
        const root = parseXml(xml);
        expect(vocabularyViolations(root, vocab), xml).toEqual([]);
        for (const url of urls(root)) checkUrl(url, provider);
        // A decline is only ever the first verb.
        root.children.forEach((c, i) => {
          if (c.name === 'Reject') expect(i).toBe(0);
        });
      }
    });
  }

  it('vonage: NCCO actions and nested objects within the allow-list', () => {
    for (const out of everyDocument('vonage')) {
      const ncco = renderNcco(out.verbs, BASE);
      for (const a of ncco) {
        const allowed = NCCO_ACTIONS[a.action as string];
        expect(allowed, JSON.stringify(a)).toBeDefined();
        for (const k of Object.keys(a)) expect(allowed).toContain(k);
        if (a.dtmf) for (const k of Object.keys(a.dtmf as object)) expect(NCCO_NESTED.dtmf).toContain(k);
        for (const e of (a.endpoint as Record<string, unknown>[] | undefined) ?? []) {
          for (const k of Object.keys(e)) expect(NCCO_NESTED[`endpoint:${e.type as string}`]).toContain(k);
          if (e.onAnswer) for (const k of Object.keys(e.onAnswer as object)) expect(NCCO_NESTED.onAnswer).toContain(k);
          if (e.type === 'phone') expect(e.number).toMatch(/^\d+$/);
        }
        for (const u of [...((a.eventUrl as string[]) ?? []), ...((a.streamUrl as string[]) ?? [])]) checkUrl(u, 'vonage');
      }
    }
  });

  it('the same decision in four languages: a qualified call dials the same target everywhere', () => {
    const docs = (['twilio', 'telnyx', 'plivo', 'vonage'] as const).map((p) => render(p, run({ kind: 'gather', attempt: 1, digits: '1' }, { provider: p }).verbs, BASE));
    expect(docs.map((d) => d.contentType)).toEqual(['text/xml; charset=utf-8', 'text/xml; charset=utf-8', 'application/xml; charset=utf-8', 'application/json']);
    const twiml = parseXml(docs[0]?.body ?? '');
    expect(twiml.children[0]).toMatchObject({ name: 'Dial', attrs: { timeout: '20', timeLimit: '3600', record: 'record-from-answer-dual' } });
    expect(twiml.children[0]?.children[0]).toMatchObject({ name: 'Number', text: '+15125550199', attrs: { statusCallbackEvent: 'initiated ringing answered completed' } });
    expect(parseXml(docs[1]?.body ?? '').children[0]?.attrs.recordingChannels).toBe('dual');
    const plivo = parseXml(docs[2]?.body ?? '');
    expect(plivo.children.map((c) => c.name)).toEqual(['Record', 'Dial']);
    expect(plivo.children[1]?.children[0]).toMatchObject({ name: 'Number', text: '15125550199' });
    const ncco = JSON.parse(docs[3]?.body ?? '[]') as Record<string, unknown>[];
    expect(ncco.map((a) => a.action)).toEqual(['record', 'connect']);
    expect(ncco[1]).toMatchObject({ from: '15125550101', timeout: 20, limit: 3600, eventType: 'synchronous', endpoint: [{ type: 'phone', number: '15125550199' }] });
  });

  it('a gather is followed by a redirect to its no-input URL on the XML dialects; Vonage’s input posts the time-out itself', () => {
    const out = run({ kind: 'incoming' });
    expect(parseXml(renderTwiml(out.verbs, BASE)).children.map((c) => c.name)).toEqual(['Say', 'Gather', 'Redirect']);
    expect(parseXml(renderPlivo(out.verbs, BASE)).children.map((c) => c.name)).toEqual(['Speak', 'GetInput', 'Redirect']);
    expect(renderNcco(out.verbs, BASE).map((a) => a.action)).toEqual(['talk', 'talk', 'input']);
  });
});

describe('property: any text in a greeting or whisper renders to well-formed XML that parses back to the same text', () => {
  const textArb = fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).filter(isXmlText);
  it('text content, on every XML dialect', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        const verbs: Verb[] = [{ verb: 'say', text, voice: null, language: 'en-US' }, { verb: 'hangup' }];
        for (const xml of [renderTwiml(verbs, BASE), renderTexml(verbs, BASE), renderPlivo(verbs, BASE)]) {
          expect(parseXml(xml).children[0]?.text).toBe(text);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('attribute values', () => {
    fc.assert(
      fc.property(textArb, (value) => {
        const root = parseXml(`<?xml version="1.0" encoding="UTF-8"?>${serialize(el('Response', [['a', value]], el('Say', [['voice', value]], value)))}`);
        expect(root.attrs.a).toBe(value);
        expect(root.children[0]?.attrs.voice).toBe(value);
      }),
      { numRuns: 500 },
    );
  });

  it('characters XML cannot carry are dropped, never breaking the document', () => {
    const xml = renderTwiml([{ verb: 'say', text: 'a\u0000b\u0007c\uFFFEd\uD800e', voice: null, language: 'en-US' }], BASE);
    expect(parseXml(xml).children[0]?.text).toBe('abcde');
  });
});
