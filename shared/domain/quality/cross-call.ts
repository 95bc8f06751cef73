/**
 * The streaming quality signals, decided over calls in start order with state bounded by their windows:
 * repeat_caller, velocity and coached_ivr by rule identical_timing (signals.ts states the rules). The scheduled
 * quality pass runs the detector over stored calls.
 */
import { nextLastSeen, repeatCallerFrom, type CallerLastSeen } from './repeat-caller';
import { answerDelayMs, bySignalOrder, DEFAULT_QUALITY_CONFIG, type IvrTiming, type QualityConfig, type QualityFinding, type SourceRef } from './signals';

/** What the streaming detector needs of a call. No number: the caller's keyed hash and number block only. */
export interface CrossCallInput extends SourceRef {
  readonly callId: string;
  readonly startedAtMs: number;
  /** Keyed hash of the caller (caller.ts callerHash); null for a withheld caller (no repeat / caller velocity). */
  readonly callerHash: string | null;
  /** numberBlockOf(from, velocity.numberBlockDigits), or a keyed form of it; null: no block velocity. */
  readonly numberBlock: string | null;
  readonly ivr: IvrTiming | null;
}

/** The feed order: start time, then call id (so ties never depend on arrival order). */
export function compareCrossCallInputs(a: Pick<CrossCallInput, 'startedAtMs' | 'callId'>, b: Pick<CrossCallInput, 'startedAtMs' | 'callId'>): number {
  return a.startedAtMs - b.startedAtMs || (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0);
}

export interface CrossCallStateSize {
  /** Callers with a last-seen record (repeat_caller). */
  readonly callers: number;
  /** Last-seen entries in all records (≤ calls started within repeatWindowHours). */
  readonly repeatEntries: number;
  /** Call times held for velocity (≤ 2 × calls started within velocity.windowMinutes: one per caller, one per block). */
  readonly velocityEntries: number;
  /** Answer delays held for identical timing (≤ calls with IVR timing started within its window). */
  readonly ivrEntries: number;
}

export interface CrossCallDetector {
  /**
   * The cross-call signals of `call` given the calls observed before it (repeat_caller, velocity, coached_ivr by
   * identical_timing). Calls must come in compareCrossCallInputs order; an earlier start throws a RangeError.
   */
  observe(call: CrossCallInput): QualityFinding[];
  stateSize(): CrossCallStateSize;
}

/** FIFO of (time, key) with amortised O(1) shift. */
class TimeQueue<K> {
  private items: { t: number; key: K }[] = [];
  private head = 0;
  push(t: number, key: K): void {
    this.items.push({ t, key });
  }
  /** Pops every entry with t ≤ cutoff, calling `drop` for each. */
  evict(cutoff: number, drop: (key: K, t: number) => void): void {
    while (this.head < this.items.length && this.items[this.head]!.t <= cutoff) {
      const it = this.items[this.head++]!;
      drop(it.key, it.t);
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
  get size(): number {
    return this.items.length - this.head;
  }
  *entries(): Iterable<{ t: number; key: K }> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }
}

/** Per-key counts of the entries a TimeQueue holds. */
function countDown(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

/**
 * Streaming repeat_caller / velocity / identical IVR timing over calls in start order.
 *
 * Memory bound: every structure holds only calls that started within its window of the latest call observed:
 * last-seen records ≤ calls in the last repeatWindowHours (each record ≤ MAX_SOURCES_PER_CALLER entries); velocity
 * counts ≤ 2 entries per call in the last velocity.windowMinutes; IVR delays ≤ 1 per call in the last
 * identicalTimingWindowMinutes. Entries are evicted as the window slides (amortised O(1) per call); the identical-
 * timing check scans the IVR window (O(calls in that window) per call). At 10,000 calls a day and the defaults that
 * is ≤ 30,000 small last-seen entries and a few hundred velocity / IVR entries.
 */
export function createCrossCallDetector(config: QualityConfig = DEFAULT_QUALITY_CONFIG): CrossCallDetector {
  const repeat = repeatWindow(config);
  const velocity = velocityWindow(config);
  const timing = identicalTimingWindow(config);
  let latest = Number.NEGATIVE_INFINITY;
  let latestId = '';
  return {
    observe(call) {
      if (compareCrossCallInputs(call, { startedAtMs: latest, callId: latestId }) < 0)
        throw new RangeError(`calls must be observed in start order: ${call.callId} starts before ${latestId}`);
      latest = call.startedAtMs;
      latestId = call.callId;
      for (const w of [repeat, velocity, timing]) w.evict(call.startedAtMs);
      return [repeat.observe(call), velocity.observe(call), timing.observe(call)].filter((f): f is QualityFinding => f !== null).sort(bySignalOrder);
    },
    stateSize() {
      return { callers: repeat.callers(), repeatEntries: repeat.entries(), velocityEntries: velocity.size(), ivrEntries: timing.size() };
    },
  };
}

/** One window of the detector: forgets what started too long before `now`, then judges a call and remembers it. */
interface CallWindow {
  evict(now: number): void;
  observe(call: CrossCallInput): QualityFinding | null;
}

/** repeat_caller: each caller's last-seen record, as the writer keeps it, over repeatWindowHours. */
function repeatWindow(config: QualityConfig): CallWindow & { callers(): number; entries(): number } {
  const windowMs = config.repeatWindowHours * 3_600_000;
  const lastSeen = new Map<string, CallerLastSeen>();
  const queue = new TimeQueue<string>();
  return {
    evict(now) {
      queue.evict(now - windowMs, (caller) => {
        const kept = (lastSeen.get(caller) ?? []).filter((e) => now - e.startedAtMs < windowMs);
        if (kept.length === 0) lastSeen.delete(caller);
        else lastSeen.set(caller, kept);
      });
    },
    observe(call) {
      if (call.callerHash === null) return null;
      const record = lastSeen.get(call.callerHash) ?? [];
      const finding = repeatCallerFrom(record, call, config);
      lastSeen.set(call.callerHash, nextLastSeen(record, call, config));
      queue.push(call.startedAtMs, call.callerHash);
      return finding;
    },
    callers: () => lastSeen.size,
    entries() {
      let n = 0;
      for (const r of lastSeen.values()) n += r.length;
      return n;
    },
  };
}

/** velocity: calls per caller (`c:<hash>`) and per number block (`b:<block>`) within velocity.windowMinutes. */
function velocityWindow(config: QualityConfig): CallWindow & { size(): number } {
  const windowMs = config.velocity.windowMinutes * 60_000;
  const queue = new TimeQueue<string>();
  const counts = new Map<string, number>();
  const finding = (call: CrossCallInput): QualityFinding | null => {
    const hits: { scope: 'caller' | 'number_block'; callsInWindow: number; threshold: number; numberBlock?: string }[] = [];
    if (call.callerHash !== null) {
      const n = (counts.get(`c:${call.callerHash}`) ?? 0) + 1;
      if (n >= config.velocity.count) hits.push({ scope: 'caller', callsInWindow: n, threshold: config.velocity.count });
    }
    if (call.numberBlock !== null) {
      const n = (counts.get(`b:${call.numberBlock}`) ?? 0) + 1;
      if (n >= config.velocity.blockCount) hits.push({ scope: 'number_block', callsInWindow: n, threshold: config.velocity.blockCount, numberBlock: call.numberBlock });
    }
    if (hits.length === 0) return null;
    return {
      signal: 'velocity',
      rules: hits.map((h) => h.scope),
      evidence: { windowMinutes: config.velocity.windowMinutes, numberBlockDigits: config.velocity.numberBlockDigits, hits },
    };
  };
  return {
    evict: (now) => queue.evict(now - windowMs, (key) => countDown(counts, key)),
    observe(call) {
      const found = finding(call);
      for (const key of [call.callerHash !== null ? `c:${call.callerHash}` : null, call.numberBlock !== null ? `b:${call.numberBlock}` : null]) {
        if (key === null) continue;
        queue.push(call.startedAtMs, key);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return found;
    },
    size: () => queue.size,
  };
}

/** coached_ivr by identical_timing: the answer delays of the calls within identicalTimingWindowMinutes. */
function identicalTimingWindow(config: QualityConfig): CallWindow & { size(): number } {
  const windowMs = config.coachedIvr.identicalTimingWindowMinutes * 60_000;
  const queue = new TimeQueue<{ callerKey: string; delayMs: number }>();
  const finding = (call: CrossCallInput, delay: number): QualityFinding | null => {
    const tol = config.coachedIvr.identicalTimingToleranceMs;
    const me = call.callerHash ?? `call:${call.callId}`;
    const callers = new Set<string>([me]);
    for (const { key } of queue.entries()) if (Math.abs(key.delayMs - delay) <= tol) callers.add(key.callerKey);
    if (callers.size < config.coachedIvr.identicalTimingMinCallers) return null;
    return {
      signal: 'coached_ivr',
      rules: ['identical_timing'],
      evidence: {
        answerDelayMs: delay,
        matchingCallers: callers.size,
        toleranceMs: tol,
        minCallers: config.coachedIvr.identicalTimingMinCallers,
        windowMinutes: config.coachedIvr.identicalTimingWindowMinutes,
      },
    };
  };
  return {
    evict: (now) => queue.evict(now - windowMs, () => undefined),
    observe(call) {
      if (call.ivr === null) return null;
      const delay = answerDelayMs(call.ivr);
      const found = finding(call, delay);
      queue.push(call.startedAtMs, { callerKey: call.callerHash ?? `call:${call.callId}`, delayMs: delay });
      return found;
    },
    size: () => queue.size,
  };
}
