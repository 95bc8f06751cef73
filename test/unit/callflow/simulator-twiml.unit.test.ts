/**
 * The call simulator reads and runs TwiML as Twilio documents it: what it refuses (and names), Gather's input and
 * no-input rules, Redirect, Dial's nouns, modes, timeouts, whisper and action, Record, Reject, Pause, the fallback
 * URL and the application error, HTTP redirects, GET requests, and the signature on every request (checked by the
 * server with the `twilio` package).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { playCall, SimulationError, type CallScriptInput, type SimulatedCall, type SimulatorConfig } from '../../../events/voice';
import { startSignedServer, type Answer, type Received, type SignedServer } from '../../support/voice-sim-server';

const PUBLIC = 'https://calls.example.com';
const TOKEN = 'twiml-sim-token-0123456789abcdef';
const START = Date.parse('2026-11-24T16:00:00.000Z');
const X = '+15125550161';
const Y = '+15125550162';

const servers: SignedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const xml = (body: string) => `<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`;
type Route = string | Answer | ((r: Received) => string | Answer);

/** Serves TwiML by path (with query); callbacks under /webhooks get 204. */
async function serve(routes: Record<string, Route>, config: Partial<SimulatorConfig> = {}) {
  const server = await startSignedServer(TOKEN, PUBLIC, (r) => {
    const key = r.url.slice(PUBLIC.length);
    const route = routes[key] ?? routes[r.path];
    if (route === undefined) return r.path.startsWith('/webhooks/') ? { status: 204, contentType: null } : { status: 404, contentType: 'text/plain', body: 'no route' };
    const answer = typeof route === 'function' ? route(r) : route;
    return typeof answer === 'string' ? { body: answer } : answer;
  });
  servers.push(server);
  const simulator: SimulatorConfig = { publicBaseUrl: PUBLIC, baseUrl: server.baseUrl, accounts: { acct: { authToken: TOKEN, accountSid: `AC${'7'.repeat(32)}` } }, ...config };
  return { server, config: simulator };
}

function script(overrides: Partial<CallScriptInput> = {}): CallScriptInput {
  return { accountId: 'acct', from: '+15125550123', to: '+15125550101', startAt: new Date(START).toISOString(), ...overrides };
}

async function refusal(p: Promise<SimulatedCall>): Promise<SimulationError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SimulationError);
  return e as SimulationError;
}

const VOICE = '/voice/twilio/acct';
const purposes = (c: SimulatedCall) => c.trace.requests.map((r) => r.purpose);

describe('what the simulator refuses, naming it', () => {
  it('an element Twilio does not document, or one in the wrong case', async () => {
    const { config } = await serve({ [VOICE]: xml('<Say>Hello</Say><Foo/><say>hi</say>') });
    const e = await refusal(playCall(script(), config));
    expect(e.message).toMatch(/does not document: Response\/Foo, Response\/say/);
    expect(e.trace.requests).toHaveLength(1);
  });

  it('an attribute Twilio does not document, and a value outside what it documents', async () => {
    const { config } = await serve({ [VOICE]: xml('<Gather foo="1" timeout="soon"/><Dial timeout="3"><Number statusCallbackEvent="answered hangup">+15125550161</Number></Dial>') });
    const e = await refusal(playCall(script(), config));
    expect(e.message).toContain('Gather@foo');
    expect(e.message).toContain('Gather@timeout="soon"');
    expect(e.message).toContain('Dial@timeout="3"');
    expect(e.message).toContain('Number@statusCallbackEvent="answered hangup"');
  });

  it('a verb nested where Twilio does not allow it', async () => {
    const { config } = await serve({ [VOICE]: xml('<Gather><Dial>+15125550161</Dial></Gather>') });
    expect((await refusal(playCall(script(), config))).message).toContain('Response/Gather/Dial (not allowed in Gather)');
    const empty = await serve({ [VOICE]: xml('<Dial timeout="10"/>') });
    expect((await refusal(playCall(script(), empty.config))).message).toContain('Response/Dial dials nothing');
  });

  it('documented TwiML the simulator does not play', async () => {
    const { config } = await serve({ [VOICE]: xml('<Enqueue>support</Enqueue>') });
    expect((await refusal(playCall(script(), config))).message).toMatch(/does not play: Response\/Enqueue/);
  });

  it('a URL outside PUBLIC_BASE_URL', async () => {
    const { config } = await serve({ [VOICE]: xml('<Redirect>https://elsewhere.example.net/next</Redirect>') });
    expect((await refusal(playCall(script(), config))).message).toMatch(/outside PUBLIC_BASE_URL: https:\/\/elsewhere\.example\.net\/next/);
  });

  it('an answer Twilio cannot read: wrong content type (12300), whitespace before the declaration (12100)', async () => {
    const json = await serve({ [VOICE]: { contentType: 'application/json', body: '{}' } });
    expect((await refusal(playCall(script(), json.config))).message).toMatch(/12300/);
    const ws = await serve({ [VOICE]: ` ${xml('<Hangup/>')}` });
    expect((await refusal(playCall(script(), ws.config))).message).toMatch(/12100/);
  });

  it('a document that loops for ever', async () => {
    const { config } = await serve({ [VOICE]: xml(`<Redirect>${PUBLIC}${VOICE}</Redirect>`) }, { maxDocuments: 5 });
    expect((await refusal(playCall(script(), config))).message).toMatch(/a TwiML loop/);
  });

  it('a script that is not valid data, naming the field', async () => {
    const { config } = await serve({});
    await expect(playCall(script({ from: '5125550123' }), config)).rejects.toThrow(/from/);
  });
});

describe('Twilio’s failures, as Twilio handles them', () => {
  it('an HTTP error with a Fallback URL: the fallback gets ErrorCode and ErrorUrl, signed, and runs', async () => {
    const { server, config } = await serve({ [VOICE]: { status: 500, contentType: 'text/plain', body: 'boom' }, '/voice/fallback': xml('<Say>Sorry.</Say><Hangup/>') }, { fallbackPath: () => '/voice/fallback' });
    const call = await playCall(script(), config);
    expect(purposes(call)).toEqual(['voice', 'fallback', 'call_status']);
    expect(call.trace.requests[1]!.params).toMatchObject({ ErrorCode: '11200', ErrorUrl: `${PUBLIC}${VOICE}` });
    expect(call.trace.errors).toEqual(['voice 11200 HTTP 500']);
    expect(call.trace.endReason).toBe('hangup');
    expect(server.received.every((r) => r.signatureValid)).toBe(true);
  });

  it('an HTTP error without a fallback: the application-error message, the call answered and ended', async () => {
    const { config } = await serve({ [VOICE]: { status: 503, contentType: 'text/plain', body: '' } });
    const call = await playCall(script(), config);
    expect(call.trace.endReason).toBe('application_error');
    expect(call.truth).toMatchObject({ answered: true, connected: false, finalStatus: 'completed' });
  });

  it('not strict: an unreadable answer goes to the fallback like any failure', async () => {
    const { config } = await serve({ [VOICE]: { contentType: null, body: xml('<Hangup/>') }, '/voice/fallback': xml('<Hangup/>') }, { fallbackPath: () => '/voice/fallback', strict: false });
    const call = await playCall(script(), config);
    expect(call.trace.requests[1]!.params.ErrorCode).toBe('12300');
  });

  it('HTTP redirects are followed, each URL signed as requested', async () => {
    const { server, config } = await serve({ [VOICE]: { status: 302, headers: { location: '/voice/moved' }, contentType: 'text/plain' }, '/voice/moved': xml('<Hangup/>') });
    const call = await playCall(script(), config);
    expect(call.trace.requests.map((r) => r.url.slice(PUBLIC.length))).toEqual([VOICE, '/voice/moved', '/webhooks/twilio/acct']);
    expect(server.received.every((r) => r.signatureValid)).toBe(true);
  });
});

describe('the call’s parameters', () => {
  it('a withheld caller and an attested call: From as the description, StirVerstat as given', async () => {
    const { server, config } = await serve({ [VOICE]: xml('<Hangup/>') });
    await playCall(script({ from: null, withheldAs: 'Restricted', stirVerstat: 'TN-Validation-Passed-A' }), config);
    expect(server.received[0]!.params).toMatchObject({ From: 'Restricted', Caller: 'Restricted', StirVerstat: 'TN-Validation-Passed-A', CallStatus: 'ringing', Direction: 'inbound' });
  });

  it('the number’s status callback: the final status with CallDuration and Duration in minutes, at the simulated end', async () => {
    const { server, config } = await serve({ [VOICE]: xml('<Say>one two three four five six seven eight nine ten</Say><Pause length="61"/>') });
    const call = await playCall(script(), config);
    const status = server.received.at(-1)!;
    expect(status.path).toBe('/webhooks/twilio/acct');
    expect(status.params).toMatchObject({ CallStatus: 'completed', CallDuration: '65', Duration: '2', CallbackSource: 'call-progress-events', SequenceNumber: '0', Timestamp: 'Tue, 24 Nov 2026 16:01:05 +0000' });
    expect(call.truth.durationSec).toBe(65);
  });
});

describe('Gather', () => {
  it('no input and no actionOnEmptyResult: the next verb runs, the action is never requested', async () => {
    const { server, config } = await serve({ [VOICE]: xml('<Gather action="/g" timeout="3"><Say>Press</Say></Gather><Say>Nothing pressed</Say>') });
    const call = await playCall(script(), config);
    expect(server.received.some((r) => r.path === '/g')).toBe(false);
    expect(call.trace.verbs.map((v) => v.verb)).toEqual(['Gather', 'Say', 'Say']);
    expect(call.trace.gathers[0]).toMatchObject({ result: 'timeout', inputAtMs: null, digits: null });
    expect(call.truth.durationSec).toBe(1 + 3 + 1);
  });

  it('actionOnEmptyResult: the action is requested with empty Digits', async () => {
    const { server, config } = await serve({ [VOICE]: xml('<Gather action="/g" actionOnEmptyResult="true"/>'), '/g': xml('<Hangup/>') });
    await playCall(script(), config);
    expect(server.received.find((r) => r.path === '/g')!.params).toMatchObject({ Digits: '', CallStatus: 'in-progress' });
  });

  it('without action the digits go to the document’s own URL', async () => {
    const { server, config } = await serve({ [VOICE]: (r) => xml(r.params.Digits === undefined ? '<Gather numDigits="1"/>' : '<Hangup/>') });
    await playCall(script({ gathers: [{ press: '3' }] }), config);
    expect(server.received.filter((r) => r.path === VOICE).map((r) => r.params.Digits)).toEqual([undefined, '3']);
  });

  it('numDigits reached, the finish key, or the timeout with what was pressed', async () => {
    const doc = xml('<Gather action="/g" numDigits="4" timeout="4"><Say>Enter</Say></Gather>');
    const { server, config } = await serve({ [VOICE]: doc, '/g': xml('<Hangup/>') });
    const early = await playCall(script({ gathers: [{ press: '123456', afterSec: 1 }] }), config);
    const finished = await playCall(script({ gathers: [{ press: '12#', afterSec: 1 }] }), config);
    const partial = await playCall(script({ gathers: [{ press: '12', afterSec: 1 }] }), config);
    const posted = server.received.filter((r) => r.path === '/g').map((r) => [r.params.Digits, r.params.FinishedOnKey]);
    expect(posted).toEqual([['1234', ''], ['12', '#'], ['12', '']]);
    expect([early, finished, partial].map((c) => c.truth.durationSec)).toEqual([2, 2, 6]);
  });

  it('a GET action: the parameters in the query, the signature over the full URL', async () => {
    const { server, config } = await serve({ [VOICE]: xml('<Gather action="/g?menu=main" method="GET" numDigits="1"/>'), '/g': xml('<Hangup/>') });
    await playCall(script({ gathers: [{ press: '7' }] }), config);
    const get = server.received.find((r) => r.path === '/g')!;
    expect(get.method).toBe('GET');
    expect(get.query).toMatchObject({ menu: 'main', Digits: '7' });
    expect(get.signatureValid).toBe(true);
  });

  it('the trace says when the prompt was served, when it ended and when the keys came', async () => {
    const { config } = await serve({ [VOICE]: xml('<Say>Welcome</Say><Redirect>/menu</Redirect>'), '/menu': xml('<Gather action="/g" numDigits="1"><Say>one two three four five</Say></Gather>'), '/g': xml('<Hangup/>') });
    const call = await playCall(script({ gathers: [{ press: '1', afterSec: 4 }] }), config);
    expect(call.trace.gathers[0]).toEqual({ servedAtMs: START + 1000, promptStartedAtMs: START + 1000, promptEndedAtMs: START + 3000, inputAtMs: START + 7000, digits: '1', result: 'digits' });
  });
});

describe('Dial', () => {
  const leg = (cb: string) => `statusCallback="${cb}" statusCallbackEvent="initiated ringing answered completed"`;

  it('without action the call goes on to the next verb; a no-answer rings the timeout plus 5 s', async () => {
    const { config } = await serve({ [VOICE]: xml(`<Dial timeout="10"><Number>${X}</Number></Dial><Say>after</Say>`) });
    const call = await playCall(script(), config);
    expect(call.trace.legs).toEqual([expect.objectContaining({ destination: X, status: 'no-answer', bridged: false })]);
    expect(call.trace.legs[0]!.endedAtMs - call.trace.legs[0]!.initiatedAtMs).toBe(15_000);
    expect(call.trace.verbs.map((v) => v.verb)).toEqual(['Dial', 'Say']);
  });

  it('a number as the Dial’s text is dialled like a <Number>', async () => {
    const { server, config } = await serve({ [VOICE]: xml(`<Dial action="/d">${X}</Dial>`), '/d': xml('<Hangup/>') });
    const call = await playCall(script({ targets: { [X]: { outcome: 'answer', talkSec: 30 } } }), config);
    expect(call.truth).toMatchObject({ connected: true, answeredTarget: X, talkSec: 30 });
    expect(server.received.find((r) => r.path === '/d')!.params).toMatchObject({ DialCallStatus: 'completed', DialCallDuration: '30', DialBridged: 'true' });
  });

  it('several nouns ring at once: the first to answer is connected, the others are canceled', async () => {
    const { server, config } = await serve({ [VOICE]: xml(`<Dial action="/d"><Number ${leg('/webhooks/x')}>${X}</Number><Number ${leg('/webhooks/y')}>${Y}</Number></Dial>`), '/d': xml('<Hangup/>') });
    const call = await playCall(script({ targets: { [X]: { outcome: 'answer', ringSec: 8, talkSec: 10 }, [Y]: { outcome: 'answer', ringSec: 3, talkSec: 20 } } }), config);
    expect(call.truth.answeredTarget).toBe(Y);
    expect(call.trace.legs.map((l) => [l.destination, l.status])).toEqual([[X, 'canceled'], [Y, 'completed']]);
    expect(server.received.filter((r) => r.path === '/webhooks/x').map((r) => r.params.CallStatus)).toEqual(['initiated', 'ringing', 'canceled']);
    expect(server.received.filter((r) => r.path === '/webhooks/y').map((r) => r.params.CallStatus)).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
    expect(server.received.find((r) => r.path === '/d')!.params.DialCallSid).toBe(call.trace.legs[1]!.callSid);
  });

  it('sequential="true": one noun after the other, each with the timeout', async () => {
    const { config } = await serve({ [VOICE]: xml(`<Dial sequential="true" timeout="5"><Number>${X}</Number><Number>${Y}</Number></Dial>`) });
    const call = await playCall(script({ targets: { [X]: { outcome: 'no_answer' }, [Y]: { outcome: 'answer', ringSec: 2, talkSec: 5 } } }), config);
    expect(call.trace.legs.map((l) => [l.destination, l.status, l.initiatedAtMs - START])).toEqual([[X, 'no-answer', 0], [Y, 'completed', 10_000]]);
  });

  it('only the events statusCallbackEvent names are sent (default: completed), numbered in order', async () => {
    const { server, config } = await serve({ [VOICE]: xml(`<Dial><Sip statusCallback="/webhooks/leg">sip:agent@pbx.example.com</Sip></Dial>`) });
    await playCall(script({ targets: { 'sip:agent@pbx.example.com': { outcome: 'answer', talkSec: 9 } } }), config);
    const events = server.received.filter((r) => r.path === '/webhooks/leg');
    expect(events.map((r) => [r.params.CallStatus, r.params.SequenceNumber, r.params.CallDuration])).toEqual([['completed', '0', '9']]);
  });

  it('callbacks held to the end and delivered reversed, each twice with the same signature and idempotency token', async () => {
    const { server, config } = await serve({ [VOICE]: xml(`<Dial action="/d"><Number ${leg('/webhooks/x')}>${X}</Number></Dial>`), '/d': xml('<Hangup/>') });
    const call = await playCall(script({ targets: { [X]: { outcome: 'answer', talkSec: 10 } }, delivery: { order: 'reversed', duplicates: true } }), config);
    expect(server.received.slice(0, 3).map((r) => r.path)).toEqual([VOICE, '/d', '/webhooks/twilio/acct']);
    const x = server.received.filter((r) => r.path === '/webhooks/x');
    expect(x.map((r) => r.params.CallStatus)).toEqual(['completed', 'completed', 'in-progress', 'in-progress', 'ringing', 'ringing', 'initiated', 'initiated']);
    for (let i = 0; i < x.length; i += 2) {
      expect(x[i + 1]!.headers['x-twilio-signature']).toBe(x[i]!.headers['x-twilio-signature']);
      expect(x[i + 1]!.headers['i-twilio-idempotency-token']).toBe(x[i]!.headers['i-twilio-idempotency-token']);
    }
    expect(new Set(x.map((r) => r.headers['i-twilio-idempotency-token'])).size).toBe(4);
    expect(call.trace.requests.filter((r) => r.redelivery).map((r) => r.purpose)).toEqual(['call_status', 'leg_status', 'leg_status', 'leg_status', 'leg_status']);
  });

  it('a whisper that hangs up: completed but not bridged, nobody connected', async () => {
    const { server, config } = await serve({ [VOICE]: xml(`<Dial action="/d"><Number url="/w">${X}</Number></Dial>`), '/w': xml('<Say>Press nothing</Say><Hangup/>'), '/d': xml('<Hangup/>') });
    const call = await playCall(script({ targets: { [X]: { outcome: 'answer', talkSec: 50 } } }), config);
    expect(server.received.find((r) => r.path === '/w')!.params).toMatchObject({ Direction: 'outbound-dial', ParentCallSid: call.trace.callSid, To: X, CallStatus: 'in-progress' });
    expect(server.received.find((r) => r.path === '/d')!.params).toMatchObject({ DialCallStatus: 'completed', DialBridged: 'false' });
    expect(call.truth).toMatchObject({ connected: false, talkSec: 0, billable: false });
  });

  it('a whisper may not dial', async () => {
    const { config } = await serve({ [VOICE]: xml(`<Dial><Number url="/w">${X}</Number></Dial>`), '/w': xml(`<Dial>${Y}</Dial>`) });
    expect((await refusal(playCall(script({ targets: { [X]: { outcome: 'answer', talkSec: 5 } } }), config))).message).toContain('Response/Dial (not allowed in Response)');
  });

  it('answerOnBridge with nobody answering leaves the call unanswered: no-answer, no duration', async () => {
    const { config } = await serve({ [VOICE]: xml(`<Dial answerOnBridge="true" timeout="5"><Number>${X}</Number></Dial>`) });
    const call = await playCall(script(), config);
    expect(call.truth).toMatchObject({ answered: false, finalStatus: 'no-answer', durationSec: 0 });
  });

  it('answerOnBridge answers the call when the leg is bridged', async () => {
    const { config } = await serve({ [VOICE]: xml(`<Dial answerOnBridge="true"><Number>${X}</Number></Dial>`) });
    const call = await playCall(script({ targets: { [X]: { outcome: 'answer', ringSec: 7, talkSec: 20 } } }), config);
    expect(call.trace.answeredAtMs).toBe(START + 7000);
    expect(call.truth.durationSec).toBe(20);
  });

  it('record on the Dial: the recording callback after the call’s, with the bridged time and two channels for dual', async () => {
    const { server, config } = await serve({ [VOICE]: xml(`<Dial record="record-from-answer-dual" recordingStatusCallback="/webhooks/rec"><Number>${X}</Number></Dial>`) });
    await playCall(script({ targets: { [X]: { outcome: 'answer', talkSec: 42 } }, recording: { status: 'completed', delaySec: 7 } }), config);
    const tail = server.received.slice(-2);
    expect(tail.map((r) => r.path)).toEqual(['/webhooks/twilio/acct', '/webhooks/rec']);
    expect(tail[1]!.params).toMatchObject({ RecordingStatus: 'completed', RecordingDuration: '42', RecordingChannels: '2', RecordingSource: 'DialVerb' });
  });
});

describe('Record, Reject, Pause, Hangup', () => {
  it('a recording the script says failed is called back failed, after the call', async () => {
    const { server, config } = await serve({ [VOICE]: xml('<Record action="/r" recordingStatusCallback="/webhooks/rec"/>'), '/r': xml('<Hangup/>') });
    const call = await playCall(script({ voicemail: { speakSec: 12, then: 'key' }, recording: { status: 'failed', delaySec: 3 } }), config);
    const rec = server.received.filter((r) => r.path === '/webhooks/rec');
    expect(rec.map((r) => [r.params.RecordingStatus, r.params.RecordingTrack])).toEqual([['failed', 'inbound']]);
    expect(server.received.find((r) => r.path === '/r')!.params.Digits).toBe('#');
    expect(call.truth.recordings).toEqual([{ source: 'RecordVerb', durationSec: 12, status: 'failed' }]);
  });

  it('Record: in-progress and completed callbacks when asked, the action with the recording', async () => {
    const { server, config } = await serve({
      [VOICE]: xml('<Record action="/r" maxLength="20" recordingStatusCallback="/webhooks/rec" recordingStatusCallbackEvent="in-progress completed"/>'),
      '/r': xml('<Hangup/>'),
    });
    const call = await playCall(script({ voicemail: { speakSec: 45, then: 'silence' } }), config);
    expect(server.received.filter((r) => r.path === '/webhooks/rec').map((r) => r.params.RecordingStatus)).toEqual(['in-progress', 'completed']);
    expect(server.received.find((r) => r.path === '/r')!.params).toMatchObject({ RecordingDuration: '20', Digits: '' });
    expect(call.truth.recordings).toEqual([{ source: 'RecordVerb', durationSec: 20, status: 'completed' }]);
  });

  it('Record with nothing said: no recording, the next verb runs', async () => {
    const { server, config } = await serve({ [VOICE]: xml('<Record action="/r"/><Say>Goodbye</Say>') });
    const call = await playCall(script({ voicemail: { speakSec: 0, then: 'hangup' } }), config);
    expect(server.received.some((r) => r.path === '/r')).toBe(false);
    expect(call.trace.verbs.map((v) => v.verb)).toEqual(['Record', 'Say']);
  });

  it('Reject first declines unanswered (busy by its reason); after the call is answered it only hangs up', async () => {
    const busy = await serve({ [VOICE]: xml('<Reject reason="busy"/>') });
    expect((await playCall(script(), busy.config)).truth).toMatchObject({ rejected: true, answered: false, finalStatus: 'busy' });
    const late = await serve({ [VOICE]: xml('<Say>Hi</Say><Reject/>') });
    const call = await playCall(script(), late.config);
    expect(call.truth).toMatchObject({ rejected: false, answered: true, finalStatus: 'completed' });
    expect(call.trace.verbs[1]!.note).toMatch(/like <Hangup>/);
  });

  it('a caller who hangs up before the pickup leaves an unanswered call: no-answer', async () => {
    const { config } = await serve({ [VOICE]: xml('<Pause length="10"/><Say>Hi</Say>') });
    const call = await playCall(script({ hangupAfterSec: 3 }), config);
    expect(call.truth).toMatchObject({ answered: false, finalStatus: 'no-answer', durationSec: 0 });
    expect(call.trace.endedAtMs - START).toBe(3000);
  });

  it('a caller who hangs up while recording: the recording stops then, the action hears Digits=hangup', async () => {
    const { server, config } = await serve({ [VOICE]: xml('<Record action="/r" playBeep="false"/>'), '/r': xml('<Hangup/>') });
    await playCall(script({ voicemail: { speakSec: 60, then: 'silence' }, hangupAfterSec: 25 }), config);
    expect(server.received.find((r) => r.path === '/r')!.params).toMatchObject({ RecordingDuration: '25', Digits: 'hangup', CallStatus: 'completed' });
  });

  it('a first Pause delays the pickup; an empty <Response/> is answered and ends', async () => {
    const paused = await serve({ [VOICE]: xml('<Pause length="3"/><Say>Hi</Say>') });
    expect((await playCall(script(), paused.config)).trace.answeredAtMs).toBe(START + 3000);
    const empty = await serve({ [VOICE]: xml('') });
    expect((await playCall(script(), empty.config)).truth).toMatchObject({ answered: true, finalStatus: 'completed', durationSec: 0 });
  });
});
