/**
 * The call simulator played against TwiML from the real call-flow domain (machine + TwiML renderer behind an
 * in-process server that checks every signature with the `twilio` package): each flow a caller can take, and a
 * property that the simulator's ground truth is what the server was told.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { CallFlow } from '../../../shared/domain/callflow/flow';
import type { Target, TargetFacts } from '../../../shared/domain/routing/targets';
import { playCall, playCalls, summarize, type CallScriptInput, type SimulatedCall, type SimulatorConfig, type TargetOutcome } from '../../../events/voice';
import { ASSIGNMENT, AT, FLOW, flowVersion, target, targetMap } from '../../support/callflow-fixtures';
import { machineVoiceHandler, startSignedServer, type Observed, type SignedServer } from '../../support/voice-sim-server';

const PUBLIC = 'https://calls.example.com';
const TOKEN = 'sim-auth-token-0123456789abcdef';
const ACCOUNT_SID = `AC${'5'.repeat(32)}`;
const CALLER = '+15125550123';
const A = '+15125550111';
const B = 'sip:agent@pbx.example.com';
const C = '+15125550133';
const TARGETS = targetMap(
  target('t-a', { destination: { kind: 'number', e164: A }, priority: 1 }),
  target('t-b', { destination: { kind: 'sip', uri: B }, priority: 2 }),
  target('t-c', { destination: { kind: 'number', e164: C } }),
);
const DESTINATION: Record<string, string> = { 't-a': A, 't-b': B, 't-c': C };

const servers: SignedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function stack(opts: { flow?: CallFlow; facts?: Map<string, TargetFacts>; blocked?: Set<string>; targets?: ReadonlyMap<string, Target> } = {}) {
  const machine = machineVoiceHandler({ flow: flowVersion(opts.flow ?? FLOW), targets: opts.targets ?? TARGETS, facts: opts.facts, blocked: opts.blocked, atMs: AT, publicBaseUrl: PUBLIC });
  const server = await startSignedServer(TOKEN, PUBLIC, machine.handle);
  servers.push(server);
  const config: SimulatorConfig = { publicBaseUrl: PUBLIC, baseUrl: server.baseUrl, accounts: { 'acct-1': { authToken: TOKEN, accountSid: ACCOUNT_SID } } };
  return { server, config, observed: (sid: string) => machine.observed.get(sid) as Observed, machine };
}

function script(overrides: Partial<CallScriptInput> = {}): CallScriptInput {
  return {
    accountId: 'acct-1',
    from: CALLER,
    to: ASSIGNMENT.number,
    startAt: new Date(AT).toISOString(),
    fromGeo: { city: 'AUSTIN', state: 'TX', zip: '78701', country: 'US' },
    ...overrides,
  };
}

const purposes = (c: SimulatedCall) => c.trace.requests.map((r) => r.purpose);

describe('the simulator plays the call flow as Twilio would', () => {
  it('a qualified IVR answer: greeting, IVR, the first target with whisper, recording and every leg event; all signed', async () => {
    const { server, config, observed } = await stack();
    const call = await playCall(script({ gathers: [{ press: '1', afterSec: 2 }], targets: { [A]: { outcome: 'answer', ringSec: 6, talkSec: 95 } } }), config);

    expect(server.received.length).toBeGreaterThan(0);
    expect(server.received.every((r) => r.signatureValid)).toBe(true);
    expect(purposes(call)).toEqual(['voice', 'gather_action', 'leg_status', 'leg_status', 'leg_status', 'whisper', 'leg_status', 'dial_action', 'call_status', 'recording_status']);
    const first = call.trace.requests[0]!;
    expect(first.url).toBe(`${PUBLIC}/voice/twilio/acct-1`);
    expect(first.params).toMatchObject({ CallStatus: 'ringing', Direction: 'inbound', ApiVersion: '2010-04-01', From: CALLER, Caller: CALLER, To: ASSIGNMENT.number, Called: ASSIGNMENT.number, AccountSid: ACCOUNT_SID });
    expect(first.params.StirVerstat).toBeUndefined();

    // The prompt was served at the arrival; the greeting (6 words, 3 s) and the prompt (16 words, 7 s) played, the key came 2 s later.
    const g = call.trace.gathers[0]!;
    expect(g.servedAtMs).toBe(AT);
    expect(g.promptStartedAtMs - AT).toBe(3000);
    expect(g.promptEndedAtMs - g.promptStartedAtMs).toBe(7000);
    expect(g.inputAtMs! - g.promptEndedAtMs).toBe(2000);

    expect(call.truth).toMatchObject({ connected: true, answeredTarget: A, answeredBy: 'human', talkSec: 95, digits: ['1'], finalStatus: 'completed', billable: true, rejected: false });
    const o = observed(call.trace.callSid);
    expect(o.digits).toEqual(['1']);
    expect(o.legEvents).toEqual([
      { targetId: 't-a', pos: 0, status: 'initiated', sequence: 0, durationSec: null },
      { targetId: 't-a', pos: 0, status: 'ringing', sequence: 1, durationSec: null },
      { targetId: 't-a', pos: 0, status: 'in-progress', sequence: 2, durationSec: null },
      { targetId: 't-a', pos: 0, status: 'completed', sequence: 3, durationSec: call.truth.targetLegSec },
    ]);
    expect(o.whispers).toBe(1);
    expect(o.dialResults).toEqual([{ pos: 0, status: 'completed', durationSec: call.truth.targetLegSec, bridged: 'true' }]);
    expect(call.truth.targetLegSec).toBe(call.truth.talkSec + call.trace.legs[0]!.whisperSec);
    expect(o.parent).toEqual({ status: 'completed', durationSec: call.truth.durationSec });
    expect(o.recordings).toEqual([{ kind: 'call', source: 'DialVerb', durationSec: call.truth.recordings[0]!.durationSec, channels: 2, status: 'completed' }]);
    expect(o.audit).toContainEqual({ event: 'ended', how: 'completed' });
  });

  it('the leg callbacks carry the simulated instants and the parent call they belong to', async () => {
    const { config } = await stack();
    const call = await playCall(script({ gathers: [{ press: '1' }], targets: { [A]: { outcome: 'answer', ringSec: 6, talkSec: 30 } } }), config);
    const legs = call.trace.requests.filter((r) => r.purpose === 'leg_status');
    expect(legs.map((r) => r.params.Timestamp)).toEqual(legs.map((r) => new Date(r.atMs).toUTCString().replace('GMT', '+0000')));
    expect(legs.every((r) => r.params.ParentCallSid === call.trace.callSid && r.params.Direction === 'outbound-dial' && r.params.To === A)).toBe(true);
    const answered = legs.find((r) => r.params.CallStatus === 'in-progress')!;
    const initiated = legs.find((r) => r.params.CallStatus === 'initiated')!;
    expect(answered.atMs - initiated.atMs).toBe(6000);
  });

  it('an unqualified answer ends politely: nothing dialled, answered, not billable', async () => {
    const { config, observed } = await stack();
    const call = await playCall(script({ gathers: [{ press: '9' }] }), config);
    expect(purposes(call)).toEqual(['voice', 'gather_action', 'call_status']);
    expect(call.trace.verbs.map((v) => v.verb).slice(-2)).toEqual(['Say', 'Hangup']);
    expect(call.truth).toMatchObject({ answered: true, connected: false, answeredTarget: null, billable: false, digits: ['9'], finalStatus: 'completed' });
    expect(observed(call.trace.callSid).audit).toContainEqual({ event: 'ended', how: 'ivr_end' });
  });

  it('no input: the gather falls through to its no-input redirect, the IVR asks again, then the flow ends the call', async () => {
    const { config, observed } = await stack();
    const call = await playCall(script(), config);
    expect(call.trace.gathers.map((g) => g.result)).toEqual(['timeout', 'timeout']);
    expect(purposes(call)).toEqual(['voice', 'redirect', 'redirect', 'call_status']);
    expect(call.truth).toMatchObject({ digits: [], connected: false, billable: false });
    const o = observed(call.trace.callSid);
    expect(o.steps).toEqual(['incoming', 'gather', 'gather']);
    expect(o.audit.filter((e) => e.event === 'ivr')).toEqual([
      { event: 'ivr', attempt: 1, result: 'no_input', digits: null },
      { event: 'ivr', attempt: 2, result: 'no_input', digits: null },
    ]);
    // The retry prompt is said before the menu on the second attempt.
    expect(call.trace.verbs.filter((v) => v.note === 'in Gather')).toHaveLength(3);
  });

  it('a blocked caller is declined with <Reject>, never answered: no-answer, no duration', async () => {
    const { config, observed } = await stack({ blocked: new Set([CALLER]) });
    const call = await playCall(script({ gathers: [{ press: '1' }] }), config);
    expect(call.trace.verbs).toEqual([expect.objectContaining({ verb: 'Reject', note: 'declined unanswered' })]);
    expect(call.truth).toMatchObject({ rejected: true, answered: false, finalStatus: 'no-answer', durationSec: 0, connected: false, billable: false });
    expect(observed(call.trace.callSid).parent).toEqual({ status: 'no-answer', durationSec: 0 });
  });

  it('no target can take the call and the flow says a message: answered, told, hung up', async () => {
    const flow: CallFlow = { ...FLOW, ivr: null, unavailable: { action: 'message', message: { kind: 'say', text: 'Nobody can take your call.', voice: null, language: 'en-US' } } };
    const full: TargetFacts = { liveLeases: 2, callsThisHour: 0, callsToday: 0 };
    const { config, observed } = await stack({ flow, facts: new Map([['t-a', full], ['t-b', full]]) });
    const call = await playCall(script(), config);
    expect(call.trace.verbs.map((v) => v.verb)).toEqual(['Say', 'Hangup']);
    expect(call.truth).toMatchObject({ answered: true, connected: false, billable: false, finalStatus: 'completed' });
    expect(observed(call.trace.callSid).audit).toContainEqual(expect.objectContaining({ event: 'refused', reason: 'no_target' }));
  });

  it('the first target busy, the next one answers: two legs, two Dial results, the second connected', async () => {
    const { config, observed } = await stack();
    const call = await playCall(script({ gathers: [{ press: '1' }], targets: { [A]: { outcome: 'busy', ringSec: 2 }, [B]: { outcome: 'answer', talkSec: 40 } } }), config);
    expect(call.trace.legs.map((l) => [l.destination, l.status, l.bridged])).toEqual([[A, 'busy', false], [B, 'completed', true]]);
    expect(call.truth).toMatchObject({ connected: true, answeredTarget: B, talkSec: 40, billable: true });
    const o = observed(call.trace.callSid);
    expect(o.dialResults.map((d) => [d.pos, d.status])).toEqual([[0, 'busy'], [1, 'completed']]);
    // A busy leg never rings.
    expect(o.legEvents.filter((e) => e.targetId === 't-a').map((e) => e.status)).toEqual(['initiated', 'busy']);
  });

  it('a target at its concurrency cap is skipped and the next one dialled', async () => {
    const { config, observed } = await stack({ facts: new Map([['t-a', { liveLeases: 2, callsThisHour: 0, callsToday: 0 }]]) });
    const call = await playCall(script({ gathers: [{ press: '1' }], targets: { [B]: { outcome: 'answer', talkSec: 20 } } }), config);
    expect(call.trace.legs.map((l) => l.destination)).toEqual([B]);
    expect(observed(call.trace.callSid).audit).toContainEqual({ event: 'skipped', targetId: 't-a', position: 0, reason: 'at_capacity' });
  });

  it('every target busy: the flow’s voicemail records, its action hears Digits=hangup, its recording is called back', async () => {
    const { config, observed } = await stack();
    const call = await playCall(
      script({ gathers: [{ press: '1' }], targets: { [A]: { outcome: 'busy' }, [B]: { outcome: 'no_answer' } }, voicemail: { speakSec: 30, then: 'hangup' } }),
      config,
    );
    expect(purposes(call).slice(-3)).toEqual(['record_action', 'call_status', 'recording_status']);
    const action = call.trace.requests.find((r) => r.purpose === 'record_action')!;
    expect(action.params).toMatchObject({ Digits: 'hangup', RecordingDuration: '30', CallStatus: 'completed' });
    expect(call.trace.endReason).toBe('caller_hangup');
    // The no-answer leg rang for the flow's timeout plus Twilio's 5 s buffer.
    const noAnswer = call.trace.legs[1]!;
    expect(noAnswer.status).toBe('no-answer');
    expect(noAnswer.endedAtMs - noAnswer.initiatedAtMs).toBe((FLOW.ringTimeoutSec + 5) * 1000);
    expect(call.truth).toMatchObject({ connected: false, billable: false, recordings: [{ source: 'RecordVerb', durationSec: 30, status: 'completed' }] });
    const o = observed(call.trace.callSid);
    expect(o.recordings).toEqual([{ kind: 'voicemail', source: 'RecordVerb', durationSec: 30, channels: 1, status: 'completed' }]);
    expect(o.audit).toContainEqual({ event: 'unavailable', action: 'voicemail' });
  });

  it('an answering machine is connected but is not a billable answer', async () => {
    const { config } = await stack();
    const call = await playCall(script({ gathers: [{ press: '1' }], targets: { [A]: { outcome: 'machine', talkSec: 25 } } }), config);
    expect(call.truth).toMatchObject({ connected: true, answeredBy: 'machine', billable: false });
  });

  it('the caller hangs up on the agent: the Dial action still comes (CallStatus completed), its answer is not run', async () => {
    const { config } = await stack();
    const call = await playCall(script({ gathers: [{ press: '1' }], targets: { [A]: { outcome: 'answer', talkSec: 12, hangup: 'caller' } } }), config);
    const action = call.trace.requests.find((r) => r.purpose === 'dial_action')!;
    expect(action.params.CallStatus).toBe('completed');
    expect(call.trace.endReason).toBe('caller_hangup');
    expect(call.trace.verbs.filter((v) => v.leg === 'parent').at(-1)!.verb).toBe('Dial');
  });

  it('the caller hangs up during the IVR prompt: nothing submitted, the call over at that instant', async () => {
    const { config, observed } = await stack();
    const call = await playCall(script({ gathers: [{ press: '1' }], hangupAfterSec: 5 }), config);
    expect(call.trace.gathers).toEqual([expect.objectContaining({ result: 'caller_hangup', digits: null, inputAtMs: null })]);
    expect(purposes(call)).toEqual(['voice', 'call_status']);
    expect(call.trace.endedAtMs - AT).toBe(5000);
    expect(call.truth).toMatchObject({ digits: [], connected: false, durationSec: 5, finalStatus: 'completed' });
    expect(observed(call.trace.callSid).parent).toEqual({ status: 'completed', durationSec: 5 });
  });

  it('the caller hangs up while the target rings: the leg canceled, the Dial action told canceled', async () => {
    const { config, observed } = await stack();
    const call = await playCall(script({ gathers: [{ press: '1' }], targets: { [A]: { outcome: 'no_answer' } }, hangupAfterSec: 20 }), config);
    expect(call.trace.legs).toEqual([expect.objectContaining({ destination: A, status: 'canceled', endedAtMs: AT + 20_000 })]);
    const o = observed(call.trace.callSid);
    expect(o.dialResults).toEqual([{ pos: 0, status: 'canceled', durationSec: null, bridged: 'false' }]);
    expect(o.legEvents.map((e) => e.status)).toEqual(['initiated', 'ringing', 'canceled']);
    expect(o.audit).toContainEqual({ event: 'ended', how: 'caller_left' });
    expect(call.truth).toMatchObject({ connected: false, billable: false, durationSec: 20 });
  });

  it('the caller hangs up mid-conversation: the talk ends then, and so does the call', async () => {
    const { config } = await stack();
    const call = await playCall(script({ gathers: [{ press: '1' }], targets: { [A]: { outcome: 'answer', ringSec: 4, talkSec: 300 } }, hangupAfterSec: 60 }), config);
    const leg = call.trace.legs[0]!;
    expect(call.truth.talkSec).toBe(60 - (leg.answeredAtMs! - AT) / 1000 - leg.whisperSec);
    expect(call.trace.endedAtMs - AT).toBe(60_000);
    expect(call.trace.endReason).toBe('caller_hangup');
  });

  it('billable follows the script’s buffer and duration basis', async () => {
    const { config } = await stack();
    const shortTalk = { gathers: [{ press: '1' }], targets: { [A]: { outcome: 'answer' as const, talkSec: 80 } } };
    const talk = await playCall(script({ ...shortTalk, billing: { bufferSec: 90, durationBasis: 'talk' } }), config);
    const total = await playCall(script({ ...shortTalk, billing: { bufferSec: 90, durationBasis: 'total' } }), config);
    expect(talk.truth.billable).toBe(false);
    expect(total.truth.durationSec).toBeGreaterThanOrEqual(90);
    expect(total.truth.billable).toBe(true);
  });

  it('many calls at once: a bounded number in flight, progress for each, results in order', async () => {
    const { config, machine } = await stack();
    const scripts = Array.from({ length: 12 }, (_, i) => script({ gathers: [{ press: i % 2 === 0 ? '1' : '9' }], targets: { [A]: { outcome: 'answer', talkSec: 10 + i } } }));
    const seen: number[] = [];
    let maxInFlight = 0;
    const results = await playCalls(scripts, config, {
      concurrency: 3,
      onProgress: (p) => {
        seen.push(p.done);
        maxInFlight = Math.max(maxInFlight, p.inFlight + 1);
      },
    });
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.map((r) => (r.ok ? r.truth.talkSec : -1))).toEqual(scripts.map((_, i) => (i % 2 === 0 ? 10 + i : 0)));
    expect(machine.observed.size).toBe(12);
    const talk = scripts.reduce((sum, _, i) => sum + (i % 2 === 0 ? 10 + i : 0), 0);
    expect(summarize(results)).toEqual({ calls: 12, failed: 0, answered: 12, rejected: 0, connected: 6, billable: 6, talkSec: talk, byTarget: { [A]: { connected: 6, billable: 6, talkSec: talk } } });
  });
});

// ------------------------------------------------------------------------------------------ the property

const outcomeArb: fc.Arbitrary<TargetOutcome> = fc.oneof(
  fc.record({ outcome: fc.constant('answer' as const), ringSec: fc.integer({ min: 0, max: 40 }), talkSec: fc.integer({ min: 0, max: 600 }), hangup: fc.constantFrom('agent' as const, 'caller' as const) }),
  fc.record({ outcome: fc.constant('machine' as const), ringSec: fc.integer({ min: 0, max: 40 }), talkSec: fc.integer({ min: 0, max: 120 }) }),
  fc.record({ outcome: fc.constant('busy' as const), ringSec: fc.integer({ min: 0, max: 10 }) }),
  fc.constant({ outcome: 'no_answer' as const }),
  fc.record({ outcome: fc.constant('failed' as const), ringSec: fc.integer({ min: 0, max: 10 }) }),
);
const pressArb = fc.oneof(
  fc.record({ press: fc.constantFrom('1', '2', '9', '5', '12', '1#'), afterSec: fc.integer({ min: 0, max: 8 }) }),
  fc.constant({ press: null }),
);

describe('the simulator’s ground truth is what the voice route was told', () => {
  it('property: digits, the answered target, its leg duration, the call’s end and the recordings agree', async () => {
    const { server, config, observed } = await stack({ blocked: new Set(['+15125550177']) });
    await fc.assert(
      fc.asyncProperty(
        fc.array(pressArb, { maxLength: 3 }),
        fc.record({ a: outcomeArb, b: outcomeArb, c: outcomeArb }),
        fc.integer({ min: 0, max: 90 }),
        fc.boolean(),
        fc.option(fc.integer({ min: 0, max: 240 }), { nil: null }),
        fc.record({ order: fc.constantFrom('as_fired' as const, 'reversed' as const, 'shuffled' as const), seed: fc.nat({ max: 1000 }) }),
        async (gathers, outcomes, speakSec, blocked, hangupAfterSec, delivery) => {
          const call = await playCall(
            script({ from: blocked ? '+15125550177' : CALLER, gathers, targets: { [A]: outcomes.a, [B]: outcomes.b, [C]: outcomes.c }, voicemail: { speakSec, then: 'hangup' }, hangupAfterSec, delivery }),
            config,
          );
          const o = observed(call.trace.callSid);
          // The server learns who took the call from the Dial result that was bridged, and the leg dialled at that position.
          const bridged = o.dialResults.find((d) => d.status === 'completed' && d.bridged === 'true');
          const bridgedLeg = bridged === undefined ? undefined : o.legEvents.find((e) => e.pos === bridged.pos);
          expect(o.digits).toEqual(call.truth.digits);
          expect(bridgedLeg === undefined ? null : DESTINATION[bridgedLeg.targetId]).toBe(call.truth.answeredTarget);
          expect(bridged?.durationSec ?? 0).toBe(call.truth.targetLegSec);
          expect(o.parent).toEqual({ status: call.truth.finalStatus, durationSec: call.truth.durationSec });
          const told = o.recordings.map((r) => [r.source, r.durationSec]);
          expect(told).toEqual(call.truth.recordings.filter((r) => r.status !== 'absent').map((r) => [r.source, r.durationSec]));
          expect(call.truth.billable).toBe(call.truth.connected && call.truth.answeredBy === 'human');
        },
      ),
      { numRuns: 60 },
    );
    expect(server.received.every((r) => r.signatureValid)).toBe(true);
  });
});
