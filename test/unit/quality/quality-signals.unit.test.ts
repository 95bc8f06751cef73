/**
 * Quality signals: each per-call rule at its edges (buffer and margin end, attestation values, number
 * classes, AMD, talk ratio, IVR delay), repeat_caller from a last-seen record, the streaming detector's windows and
 * eviction, the source score and histogram, the config schema, and the planted corpus: precision and recall per
 * signal printed and asserted (1 and 1), nothing on the clean baseline or the compliance-only calls.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateQualityCorpus, scoreSignals, scoreTable, type QualityCorpusCall } from '../../../events/quality-corpus';
import { attestationOf, callSignals, type QualityFacts, type QualityTerms } from '../../../shared/domain/quality/call-signals';
import { callerNumberClass, numberBlockOf } from '../../../shared/domain/quality/caller-traits';
import { compareCrossCallInputs, createCrossCallDetector, type CrossCallInput } from '../../../shared/domain/quality/cross-call';
import { MAX_SOURCES_PER_CALLER, nextLastSeen, repeatCallerFrom } from '../../../shared/domain/quality/repeat-caller';
import { DEFAULT_QUALITY_CONFIG, QUALITY_SIGNALS, blockedSignalRule, mergeFindings, sourceKey, type QualityConfig, type QualityFinding, type QualitySignal } from '../../../shared/domain/quality/signals';
import { countSignalsBySource, nearBufferBaseline, nearBufferHistogram, sourceFraudScore } from '../../../shared/domain/quality/source-score';
import { QualityConfigSchema, parseQualityConfig } from '../../../shared/domain/quality/signals-schema';

const T0 = Date.parse('2026-03-02T14:00:00.000Z');
const MIN = 60_000;
const HOUR = 3_600_000;
const C = DEFAULT_QUALITY_CONFIG;
const TOTAL: QualityTerms = { bufferSec: 90, durationBasis: 'total' };
const TALK: QualityTerms = { bufferSec: 60, durationBasis: 'talk' };

const clean = (over: Partial<QualityFacts> = {}): QualityFacts => ({
  status: 'completed',
  from: '+15125550142',
  totalSec: 240,
  talkSec: 220,
  answeredBy: null,
  stirVerstat: 'TN-Validation-Passed-A',
  direction: 'inbound',
  recordingDurationSec: 220,
  ivr: { promptStartedAtMs: T0, answeredAtMs: T0 + 4_000 },
  ...over,
});
const signalsOf = (f: readonly QualityFinding[]) => f.map((x) => x.signal);
const only = (f: readonly QualityFinding[], s: QualitySignal) => f.find((x) => x.signal === s);

describe('per call: near_buffer_hangup', () => {
  it('fires from exactly the buffer up to (not including) buffer + margin, on connected calls only', () => {
    const at = (totalSec: number, status: QualityFacts['status'] = 'completed') =>
      signalsOf(callSignals(clean({ totalSec, talkSec: totalSec - 10, status }), TOTAL)).includes('near_buffer_hangup');
    expect(at(89)).toBe(false);
    expect(at(90)).toBe(true);
    expect(at(99)).toBe(true);
    expect(at(100)).toBe(false);
    expect(at(95, 'busy')).toBe(false);
    expect(only(callSignals(clean({ totalSec: 90, talkSec: 80 }), TOTAL), 'near_buffer_hangup')?.evidence).toEqual({
      durationBasis: 'total',
      billableSec: 90,
      bufferSec: 90,
      marginSec: 10,
    });
  });

  it('measures on the terms basis (talk: unmeasured talk is 0 s) and a margin of 0 turns it off', () => {
    expect(signalsOf(callSignals(clean({ totalSec: 300, talkSec: 65 }), TALK))).toContain('near_buffer_hangup');
    expect(signalsOf(callSignals(clean({ totalSec: 65, talkSec: null, recordingDurationSec: null }), TALK))).not.toContain('near_buffer_hangup');
    expect(signalsOf(callSignals(clean({ totalSec: 90 }), TOTAL, { ...C, nearBufferMarginSec: 0 }))).toEqual([]);
  });
});

describe('per call: silent_or_short_talk', () => {
  it('fires when talk is below both 20 % of the call and 30 s, on calls of at least 60 s', () => {
    const fires = (totalSec: number, talkSec: number | null, recordingDurationSec: number | null = null) =>
      signalsOf(callSignals(clean({ totalSec, talkSec, recordingDurationSec }), TOTAL)).includes('silent_or_short_talk');
    expect(fires(120, 5)).toBe(true);
    expect(fires(120, 23)).toBe(true); // 19 %
    expect(fires(120, 24)).toBe(false); // exactly 20 %
    expect(fires(300, 40)).toBe(false); // 13 % but 40 s of talk is a conversation
    expect(fires(59, 0)).toBe(false); // too short to judge
    expect(fires(60, 0)).toBe(true);
    expect(fires(120, null, null)).toBe(false); // nothing measured, no evidence
    expect(fires(120, null, 4)).toBe(true); // the recording alone
    expect(fires(120, 4, 110)).toBe(false); // a recording of the whole call outweighs the leg
  });
});

describe('per call: robocall_suspect', () => {
  it('passes attestation A and B only; C, failed, no validation, absent and unknown values fire', () => {
    const cases: [string | null, string][] = [
      ['TN-Validation-Passed-A', 'A'],
      ['TN-Validation-Passed-B', 'B'],
      ['TN-Validation-Passed-C', 'C'],
      ['TN-Validation-Failed', 'failed'],
      ['TN-Validation-Failed-A', 'failed'],
      ['No-TN-Validation', 'no_validation'],
      [null, 'absent'],
      ['', 'absent'],
      ['Something-New', 'unrecognised'],
    ];
    for (const [value, cls] of cases) {
      expect(attestationOf(value), String(value)).toBe(cls);
      const f = only(callSignals(clean({ stirVerstat: value }), TOTAL), 'robocall_suspect');
      expect(f?.rules.includes('attestation') ?? false, String(value)).toBe(cls !== 'A' && cls !== 'B');
    }
  });

  it('classifies caller numbers without exposing them: invalid and unallocatable fire, withheld does not', () => {
    const cases: [string, string][] = [
      ['+15125550142', 'valid'],
      ['+442071838750', 'valid'],
      ['+19995550142', 'unallocatable'], // NPA 999
      ['+15120550142', 'unallocatable'], // exchange 0xx
      ['+10005550142', 'unallocatable'],
      ['+1512555014', 'invalid'], // one digit short
      ['+151255501422', 'invalid'],
      // Not a number, SIP URI or client id: a description of a withheld caller id (Twilio: "or other descriptions").
      ['12ab', 'withheld'],
      ['anonymous', 'withheld'],
      // An address with no number in it is an identity, but no possible number.
      ['client:alice', 'invalid'],
      ['', 'withheld'],
    ];
    for (const [from, cls] of cases) {
      expect(callerNumberClass(from), from).toBe(cls);
      const f = only(callSignals(clean({ from }), TOTAL), 'robocall_suspect');
      expect(f?.rules ?? [], from).toEqual(cls === 'invalid' || cls === 'unallocatable' ? ['caller_number'] : []);
      expect(JSON.stringify(f ?? {}), from).not.toContain('5550142');
    }
  });

  it('fires on machine or fax detection of an inbound caller, not on outbound legs', () => {
    for (const a of ['machine_start', 'machine_end_beep', 'fax'])
      expect(only(callSignals(clean({ answeredBy: a }), TOTAL), 'robocall_suspect')?.rules).toEqual(['machine_detected']);
    for (const a of ['human', 'unknown', null]) expect(callSignals(clean({ answeredBy: a }), TOTAL)).toEqual([]);
    expect(callSignals(clean({ direction: 'outbound-api', answeredBy: 'machine_start', stirVerstat: null }), TOTAL)).toEqual([]);
    expect(only(callSignals(clean({ direction: null, stirVerstat: null }), TOTAL), 'robocall_suspect')?.rules).toEqual(['attestation']);
  });
});

describe('per call: coached_ivr (too fast)', () => {
  it('fires below minHumanMs after the prompt started, not at it', () => {
    const at = (delay: number) => only(callSignals(clean({ ivr: { promptStartedAtMs: T0, answeredAtMs: T0 + delay } }), TOTAL), 'coached_ivr');
    expect(at(200)?.evidence).toEqual({ answerDelayMs: 200, minHumanMs: 1_500 });
    expect(at(1_499)?.rules).toEqual(['too_fast']);
    expect(at(1_500)).toBeUndefined();
    expect(at(-50)?.rules).toEqual(['too_fast']);
    expect(callSignals(clean({ ivr: null }), TOTAL)).toEqual([]);
  });
});

describe('repeat_caller from a last-seen record', () => {
  const call = (callId: string, startedAtMs: number, publisherId: string, subSource: string | null = null) => ({ callId, startedAtMs, publisherId, subSource });

  it('fires for another publisher or sub-source inside the window, either side, never for the same source', () => {
    const seen = nextLastSeen([], call('a', T0, 'pub-a', 'x'));
    expect(repeatCallerFrom(seen, call('b', T0 + 71 * HOUR, 'pub-b'))?.evidence).toMatchObject({
      priorCallId: 'a',
      priorPublisherId: 'pub-a',
      priorSubSource: 'x',
      hoursApart: 71,
      windowHours: 72,
    });
    expect(repeatCallerFrom(seen, call('b', T0 + 72 * HOUR, 'pub-b'))).toBeNull(); // exactly the window: outside
    expect(repeatCallerFrom(seen, call('b', T0 - 5 * HOUR, 'pub-b'))).not.toBeNull(); // a later call rated first
    expect(repeatCallerFrom(seen, call('b', T0 + HOUR, 'pub-a', 'y'))).not.toBeNull();
    expect(repeatCallerFrom(seen, call('b', T0 + HOUR, 'pub-a', 'x'))).toBeNull();
    expect(repeatCallerFrom(seen, call('a', T0, 'pub-b'))).toBeNull(); // the call itself
  });

  it('keeps the latest call per source, newest first, drops entries older than the window, and stays small', () => {
    let seen = nextLastSeen([], call('a1', T0, 'pub-a'));
    seen = nextLastSeen(seen, call('a0', T0 - HOUR, 'pub-a')); // an older call of the same source does not replace
    expect(seen.map((e) => e.callId)).toEqual(['a1']);
    for (let i = 0; i < 10; i++) seen = nextLastSeen(seen, call(`p${i}`, T0 + (i + 1) * MIN, `pub-${i}`));
    expect(seen).toHaveLength(MAX_SOURCES_PER_CALLER);
    expect(seen[0]!.callId).toBe('p9');
    seen = nextLastSeen(seen, call('late', T0 + 100 * HOUR, 'pub-z'));
    expect(seen.map((e) => e.callId)).toEqual(['late']);
  });
});

describe('streaming detector', () => {
  let n = 0;
  const input = (over: Partial<CrossCallInput> & { startedAtMs: number }): CrossCallInput => ({
    callId: `c${String(n++).padStart(5, '0')}`,
    publisherId: 'pub-a',
    subSource: null,
    callerHash: `h${n}`,
    numberBlock: `1-512${n}`,
    ivr: null,
    ...over,
  });

  it('repeat_caller: another source within the window fires; eviction forgets callers after it', () => {
    const d = createCrossCallDetector();
    expect(d.observe(input({ startedAtMs: T0, callerHash: 'x' }))).toEqual([]);
    expect(signalsOf(d.observe(input({ startedAtMs: T0 + 5 * HOUR, callerHash: 'x', publisherId: 'pub-b' })))).toEqual(['repeat_caller']);
    expect(d.observe(input({ startedAtMs: T0 + 6 * HOUR, callerHash: 'x', publisherId: 'pub-b' }))[0]?.evidence).toMatchObject({ priorPublisherId: 'pub-a' });
    expect(d.stateSize().callers).toBe(1);
    d.observe(input({ startedAtMs: T0 + 80 * HOUR }));
    expect(d.stateSize()).toMatchObject({ callers: 1, repeatEntries: 1 }); // only the new caller
    expect(d.observe(input({ startedAtMs: T0 + 81 * HOUR, callerHash: 'x', publisherId: 'pub-c' }))).toEqual([]);
  });

  it('velocity: the count-th call of a caller, the blockCount-th of a block, inside the window only', () => {
    const d = createCrossCallDetector();
    const caller = (m: number) => signalsOf(d.observe(input({ startedAtMs: T0 + m * MIN, callerHash: 'v', numberBlock: null })));
    expect(caller(0)).toEqual([]);
    expect(caller(10)).toEqual([]);
    expect(caller(29)).toEqual(['velocity']);
    expect(caller(40)).toEqual([]); // the call at 0 and 10 are 30+ min old: 2 in window
    const d2 = createCrossCallDetector();
    const hits = [0, 1, 2, 3, 4, 5, 6].map((m) => d2.observe(input({ startedAtMs: T0 + m * MIN, numberBlock: '1-469555' })));
    expect(hits.map((h) => h.length)).toEqual([0, 0, 0, 0, 0, 1, 1]);
    expect(hits[5]![0]!.evidence).toMatchObject({ hits: [{ scope: 'number_block', callsInWindow: 6, threshold: 6, numberBlock: '1-469555' }] });
    expect(d2.observe(input({ startedAtMs: T0 + 35 * MIN + 1, numberBlock: '1-469555' }))).toEqual([]); // 0..5 evicted
  });

  it('coached_ivr by identical timing: K distinct callers within tolerance inside the window', () => {
    const d = createCrossCallDetector();
    const at = (m: number, delay: number, callerHash: string) =>
      d.observe(input({ startedAtMs: T0 + m * MIN, callerHash, ivr: { promptStartedAtMs: T0 + m * MIN + 2_000, answeredAtMs: T0 + m * MIN + 2_000 + delay } }));
    expect(at(0, 3_400, 'a')).toEqual([]);
    expect(at(1, 3_410, 'b')).toEqual([]);
    expect(at(2, 3_390, 'c')).toEqual([]);
    expect(at(3, 6_000, 'd')).toEqual([]); // far off
    expect(at(4, 3_400, 'a')).toEqual([]); // a repeat of caller a: still 3 callers
    expect(at(5, 3_395, 'e')).toEqual([]); // b is 15 ms away, but only a, b, c and e: 4 callers
    const sixth = at(6, 3_400, 'f'); // a 0, b 10, c 10, e 5 ms away
    expect(sixth.map((f) => [f.signal, f.rules])).toEqual([['coached_ivr', ['identical_timing']]]);
    expect(sixth[0]!.evidence).toMatchObject({ answerDelayMs: 3_400, matchingCallers: 5, toleranceMs: 25 });
    expect(at(70, 3_400, 'g')).toEqual([]); // the others left the 60-minute window
  });

  it('refuses calls out of start order', () => {
    const d = createCrossCallDetector();
    d.observe(input({ startedAtMs: T0 }));
    expect(() => d.observe(input({ startedAtMs: T0 - 1 }))).toThrow(RangeError);
  });

  it('keeps state bounded by the windows (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            gapMs: fc.integer({ min: 0, max: 3 * HOUR }),
            caller: fc.integer({ min: 0, max: 30 }),
            block: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }),
            delay: fc.option(fc.integer({ min: 0, max: 8_000 }), { nil: null }),
            pub: fc.constantFrom('p1', 'p2', 'p3'),
          }),
          { maxLength: 300 },
        ),
        (steps) => {
          const d = createCrossCallDetector();
          const starts: number[] = [];
          let t = T0;
          steps.forEach((s, i) => {
            t += s.gapMs;
            starts.push(t);
            d.observe({
              callId: `c${String(i).padStart(4, '0')}`,
              startedAtMs: t,
              publisherId: s.pub,
              subSource: null,
              callerHash: `h${s.caller}`,
              numberBlock: s.block === null ? null : `b${s.block}`,
              ivr: s.delay === null ? null : { promptStartedAtMs: t, answeredAtMs: t + s.delay },
            });
            const within = (ms: number) => starts.filter((x) => t - x < ms).length;
            const size = d.stateSize();
            expect(size.repeatEntries).toBeLessThanOrEqual(within(C.repeatWindowHours * HOUR));
            expect(size.callers).toBeLessThanOrEqual(31);
            expect(size.velocityEntries).toBeLessThanOrEqual(2 * within(C.velocity.windowMinutes * MIN));
            expect(size.ivrEntries).toBeLessThanOrEqual(within(C.coachedIvr.identicalTimingWindowMinutes * MIN));
          });
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('determinism and order independence (properties)', () => {
  const factsArb: fc.Arbitrary<QualityFacts> = fc.record({
    status: fc.constantFrom('completed', 'busy', 'no-answer'),
    from: fc.constantFrom('+15125550142', '+19995550142', '+1512555014', 'anonymous', '+14695550100'),
    totalSec: fc.integer({ min: 0, max: 900 }),
    talkSec: fc.option(fc.integer({ min: 0, max: 900 }), { nil: null }),
    answeredBy: fc.constantFrom(null, 'human', 'machine_start', 'fax'),
    stirVerstat: fc.constantFrom(null, 'TN-Validation-Passed-A', 'TN-Validation-Passed-C', 'No-TN-Validation'),
    direction: fc.constantFrom('inbound', 'outbound-api', null),
    recordingDurationSec: fc.option(fc.integer({ min: 0, max: 900 }), { nil: null }),
    ivr: fc.option(fc.record({ promptStartedAtMs: fc.constant(T0), answeredAtMs: fc.integer({ min: T0 - 100, max: T0 + 10_000 }) }), { nil: null }),
  }) as fc.Arbitrary<QualityFacts>;

  it('per-call signals depend on the call alone: the same in any order, run after run', () => {
    fc.assert(
      fc.property(fc.array(factsArb, { minLength: 1, maxLength: 30 }), fc.nat(), (facts, seed) => {
        const once = facts.map((f) => callSignals(f, TOTAL));
        const order = facts.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 101) - ((b * 7919 + seed) % 101));
        const shuffled = new Map(order.map((i) => [i, callSignals(facts[i]!, TOTAL)]));
        expect(facts.map((_, i) => shuffled.get(i))).toEqual(once);
        expect(facts.map((f) => callSignals(f, TOTAL))).toEqual(once);
      }),
      { numRuns: 100 },
    );
  });

  it('the streaming detector gives the same findings for the same set of calls, whatever order they were collected in', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ t: fc.integer({ min: 0, max: 4 * HOUR }), caller: fc.integer({ min: 0, max: 6 }), pub: fc.constantFrom('p1', 'p2'), delay: fc.integer({ min: 150, max: 260 }) }),
          { maxLength: 80 },
        ),
        (raw) => {
          const calls: CrossCallInput[] = raw.map((r, i) => ({
            callId: `c${String(i).padStart(3, '0')}`,
            startedAtMs: T0 + r.t,
            publisherId: r.pub,
            subSource: null,
            callerHash: `h${r.caller}`,
            numberBlock: `b${r.caller % 3}`,
            ivr: { promptStartedAtMs: T0 + r.t, answeredAtMs: T0 + r.t + r.delay },
          }));
          const run = (list: readonly CrossCallInput[]) => {
            const d = createCrossCallDetector();
            return new Map([...list].sort(compareCrossCallInputs).map((c) => [c.callId, d.observe(c)]));
          };
          const a = run(calls);
          expect(run([...calls].reverse())).toEqual(a);
          expect(run(calls)).toEqual(a);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('per source: histogram and fraud score', () => {
  it('bins billable seconds around the buffer, the bin at the buffer being the first that bills', () => {
    const h = nearBufferHistogram(
      [89, 90, 95, 99, 100, 30, 150, 151, 25].map((billableSec) => ({ connected: true, billableSec })).concat([{ connected: false, billableSec: 95 }]),
      90,
      10,
      6,
    );
    expect(h.bins).toHaveLength(12);
    expect(h.bins[5]).toEqual({ fromSec: 80, toSec: 90, count: 1 });
    expect(h.bins[6]).toEqual({ fromSec: 90, toSec: 100, count: 3 });
    expect(h.bins[7]).toEqual({ fromSec: 100, toSec: 110, count: 1 });
    expect(h.below).toBe(1); // 25 (< 30)
    expect(h.bins[0]).toEqual({ fromSec: 30, toSec: 40, count: 1 });
    expect(h.above).toBe(2); // 150, 151
    expect(() => nearBufferHistogram([], 90, 0)).toThrow(RangeError);
  });

  it('scores 0 for a clean source, one signal at full strength its weight, signals combined towards 100', () => {
    const zero = Object.fromEntries(QUALITY_SIGNALS.map((s) => [s, 0])) as Record<QualitySignal, number>;
    const totals = { calls: 100, connected: 100 };
    expect(sourceFraudScore(zero, totals, { nearBufferShare: 0.05 })).toMatchObject({ score: 0, flagged: false, sufficient: true });
    const robo = sourceFraudScore({ ...zero, robocall_suspect: 5 }, totals, { nearBufferShare: 0 });
    expect(robo.score).toBe(40); // 5 % of calls: half strength (full at 10 %) × weight 0.8
    expect(robo.contributions.find((c) => c.signal === 'robocall_suspect')).toEqual({ signal: 'robocall_suspect', count: 5, share: 0.05, strength: 0.5, weight: 0.8, points: 40 });
    expect(sourceFraudScore({ ...zero, robocall_suspect: 30 }, totals, { nearBufferShare: 0 })).toMatchObject({ score: 80, flagged: true });
    const atBaseline = sourceFraudScore({ ...zero, near_buffer_hangup: 5 }, totals, { nearBufferShare: 0.05 });
    expect(atBaseline.score).toBe(0);
    expect(atBaseline.nearBuffer).toEqual({ share: 0.05, baselineShare: 0.05, ratio: 1 });
    expect(sourceFraudScore({ ...zero, near_buffer_hangup: 10 }, totals, { nearBufferShare: 0.05 }).score).toBe(30); // ratio 2: half strength × 0.6
    expect(sourceFraudScore({ ...zero, near_buffer_hangup: 3 }, totals, { nearBufferShare: 0 }).nearBuffer.baselineShare).toBe(0.02); // floored
    const both = sourceFraudScore({ ...zero, robocall_suspect: 30, velocity: 30 }, totals, { nearBufferShare: 0 });
    expect(both.score).toBe(90); // 1 − 0.2 × 0.5
    const everything = Object.fromEntries(QUALITY_SIGNALS.map((s) => [s, 50])) as Record<QualitySignal, number>;
    expect(sourceFraudScore(everything, totals, { nearBufferShare: 0.01 }).score).toBe(100);
    expect(sourceFraudScore(zero, { calls: 5, connected: 5 }, { nearBufferShare: 0 }).sufficient).toBe(false);
  });
});

describe('blocking and merging', () => {
  it('fails blocked_signal only for signals the account blocks', () => {
    const findings = callSignals(clean({ stirVerstat: null, totalSec: 92 }), TOTAL);
    expect(signalsOf(findings)).toEqual(['near_buffer_hangup', 'robocall_suspect']);
    expect(blockedSignalRule(findings).passed).toBe(true);
    expect(blockedSignalRule(findings, { ...C, blockSignals: ['robocall_suspect'] })).toEqual({
      rule: 'blocked_signal',
      passed: false,
      inputs: { signals: ['near_buffer_hangup', 'robocall_suspect'], blockSignals: ['robocall_suspect'], blockedBy: ['robocall_suspect'] },
    });
  });

  it('merges the rules of one signal from the per-call and streaming passes', () => {
    const merged = mergeFindings(
      [{ signal: 'coached_ivr', rules: ['too_fast'], evidence: { answerDelayMs: 200, minHumanMs: 1500 } }],
      [
        { signal: 'repeat_caller', rules: ['other_source'], evidence: {} },
        { signal: 'coached_ivr', rules: ['identical_timing'], evidence: { answerDelayMs: 200, matchingCallers: 6 } },
      ],
    );
    expect(merged.map((f) => [f.signal, f.rules])).toEqual([
      ['repeat_caller', ['other_source']],
      ['coached_ivr', ['too_fast', 'identical_timing']],
    ]);
  });
});

describe('configuration schema', () => {
  it('fills the documented defaults and refuses nonsense', () => {
    expect(parseQualityConfig({})).toEqual(DEFAULT_QUALITY_CONFIG);
    expect(parseQualityConfig(undefined)).toEqual(DEFAULT_QUALITY_CONFIG);
    const c: QualityConfig = parseQualityConfig({ velocity: { count: 5 }, blockSignals: ['robocall_suspect'] });
    expect(c.velocity).toEqual({ ...C.velocity, count: 5 });
    expect(c.blockSignals).toEqual(['robocall_suspect']);
    for (const bad of [{ nearBufferMarginSec: -1 }, { blockSignals: ['nope'] }, { blockSignals: ['velocity', 'velocity'] }, { silentTalk: { maxTalkRatio: 0 } }, { extra: 1 }])
      expect(QualityConfigSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });

  it('derives number blocks from possible numbers only', () => {
    expect(numberBlockOf('+15125550142', 6)).toBe('1-512555');
    expect(numberBlockOf('+442071838750', 4)).toBe('44-2071');
    expect(numberBlockOf('anonymous', 6)).toBeNull();
    expect(numberBlockOf('+1512555014', 6)).toBeNull();
  });
});

// ------------------------------------------------------------------------------------------------ the corpus

function detectAll(calls: readonly QualityCorpusCall[], terms: QualityTerms, config: QualityConfig): Map<string, QualityFinding[]> {
  const detector = createCrossCallDetector(config);
  return new Map(calls.map((c) => [c.callId, mergeFindings(callSignals(c.facts, terms, config), detector.observe(c))]));
}

describe('the planted corpus', () => {
  const corpus = generateQualityCorpus({ rngSeed: 6 });
  const findings = detectAll(corpus.calls, corpus.terms, corpus.config);
  const predicted = new Map([...findings].map(([id, f]) => [id, signalsOf(f)]));

  it('is deterministic and in feed order', () => {
    expect(generateQualityCorpus({ rngSeed: 6 })).toEqual(corpus);
    expect(generateQualityCorpus({ rngSeed: 7 }).calls).not.toEqual(corpus.calls);
    expect([...corpus.calls].sort(compareCrossCallInputs)).toEqual(corpus.calls);
    const scenarios = new Set(corpus.calls.map((c) => c.scenario));
    expect(scenarios.size).toBe(9);
  });

  it('flags every planted call and nothing else: precision and recall 1 for every signal', () => {
    const scores = scoreSignals(corpus.calls, predicted);
    console.log(
      '\nquality signals on the planted corpus (%d calls, %d labelled)\n%s',
      corpus.calls.length,
      corpus.calls.filter((c) => c.labels.signals.length > 0).length,
      scoreTable(scores),
    );
    for (const s of scores) {
      expect(s.truePositives + s.falseNegatives, s.signal).toBeGreaterThan(0);
      expect({ signal: s.signal, precision: s.precision, recall: s.recall }).toEqual({ signal: s.signal, precision: 1, recall: 1 });
    }
  });

  it('raises no signal on the clean baseline or on calls that are only a compliance problem', () => {
    const quiet = corpus.calls.filter((c) => c.scenario === 'baseline' || c.scenario === 'dnc_listed' || c.scenario === 'outbound_no_consent');
    expect(quiet.length).toBeGreaterThan(500);
    const noisy = quiet.filter((c) => predicted.get(c.callId)!.length > 0).map((c) => [c.callId, c.scenario, predicted.get(c.callId)]);
    expect(noisy).toEqual([]);
    expect(corpus.calls.filter((c) => c.labels.compliance.length > 0).map((c) => c.labels.compliance[0])).toEqual(
      expect.arrayContaining(['dnc_listed', 'outbound_without_consent']),
    );
  });

  it('never puts a caller number in the evidence', () => {
    for (const c of corpus.calls) {
      const national = c.facts.from.replace(/^\+1/, '');
      expect(JSON.stringify(findings.get(c.callId)), c.callId).not.toContain(national);
    }
  });

  it('scores each junk source by its planted signal, the near-buffer source well above the account baseline', () => {
    const rated = corpus.calls.map((c) => ({
      publisherId: c.publisherId,
      subSource: c.subSource,
      connected: c.facts.status === 'completed',
      billableSec: c.facts.totalSec,
      signals: predicted.get(c.callId)!,
    }));
    const counts = countSignalsBySource(rated);
    const baseline = nearBufferBaseline(counts);
    const scored = new Map(counts.map((s) => [sourceKey(s), { counts: s, score: sourceFraudScore(s.bySignal, s, { nearBufferShare: baseline }) }]));
    const top = (key: string) => {
      const s = scored.get(key)!.score;
      return [...s.contributions].sort((a, b) => b.points - a.points)[0]!.signal;
    };
    console.log(
      '\nsource fraud scores (account near-buffer share %s)\n%s',
      baseline.toFixed(3),
      [...scored].map(([k, v]) => `${k.padEnd(20)} calls ${String(v.counts.calls).padStart(4)}  score ${String(v.score.score).padStart(3)}${v.score.flagged ? ' flagged' : '        '}  near-buffer ×${v.score.nearBuffer.ratio}`).join('\n'),
    );
    const flagged = [...scored].filter(([, v]) => v.score.flagged).map(([k]) => k);
    expect(flagged).toEqual(['pub-compare/site-a', 'pub-compare/site-b', 'pub-search/bing', 'pub-search/google', 'pub-social/tiktok']);
    expect(top('pub-social/tiktok')).toBe('near_buffer_hangup');
    expect(scored.get('pub-social/tiktok')!.score.nearBuffer.ratio).toBeGreaterThan(3);
    expect(top('pub-compare/site-b')).toBe('robocall_suspect');
    expect(top('pub-search/bing')).toBe('coached_ivr');
    expect(scored.get('pub-dialer/')!.score.score).toBe(0);
    for (const [, v] of scored) expect(v.score.score).toBeLessThanOrEqual(100);

    const tiktok = nearBufferHistogram(rated.filter((r) => r.subSource === 'tiktok'), corpus.terms.bufferSec, corpus.config.nearBufferMarginSec);
    const atBuffer = tiktok.bins.find((b) => b.fromSec === corpus.terms.bufferSec)!;
    expect(atBuffer.count).toBe(30);
    expect(atBuffer.count).toBeGreaterThan(Math.max(...tiktok.bins.filter((b) => b !== atBuffer).map((b) => b.count)));

    const baselineOnly = countSignalsBySource(rated.filter((_, i) => corpus.calls[i]!.scenario === 'baseline'));
    for (const s of baselineOnly) expect(sourceFraudScore(s.bySignal, s, { nearBufferShare: baseline }).score, sourceKey(s)).toBe(0);
  });
});
