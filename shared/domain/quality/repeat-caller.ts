/**
 * repeat_caller at rating time: the same caller (keyed hash) through ANOTHER source within repeatWindowHours, from
 * the caller's last-seen record, and the record after the call (signals.ts states the rule).
 */
import { DEFAULT_QUALITY_CONFIG, sourceKey, type QualityConfig, type QualityFinding, type SourceRef } from './signals';

/** A caller's latest call through one source. */
export interface LastSeenEntry extends SourceRef {
  readonly callId: string;
  readonly startedAtMs: number;
}

/**
 * A caller's last-seen record, as the writer keeps it per caller hash: the latest call per source, newest first,
 * at most MAX_SOURCES_PER_CALLER sources (nextLastSeen keeps it so).
 */
export type CallerLastSeen = readonly LastSeenEntry[];
export const MAX_SOURCES_PER_CALLER = 4;

export interface RepeatCallInput extends SourceRef {
  readonly callId: string;
  readonly startedAtMs: number;
}

/**
 * repeat_caller from the caller's last-seen record. Symmetric like the duplicate window (|Δ| < window): the writer
 * rates calls in arrival order, so a later call may already be in the record. The nearest other-source call wins.
 */
export function repeatCallerFrom(lastSeen: CallerLastSeen, call: RepeatCallInput, config: QualityConfig = DEFAULT_QUALITY_CONFIG): QualityFinding | null {
  const windowMs = config.repeatWindowHours * 3_600_000;
  const key = sourceKey(call);
  let best: LastSeenEntry | null = null;
  for (const e of lastSeen) {
    if (e.callId === call.callId || sourceKey(e) === key) continue;
    const apart = Math.abs(e.startedAtMs - call.startedAtMs);
    if (apart >= windowMs) continue;
    if (best === null || apart < Math.abs(best.startedAtMs - call.startedAtMs) || (apart === Math.abs(best.startedAtMs - call.startedAtMs) && e.callId < best.callId)) best = e;
  }
  if (best === null) return null;
  return {
    signal: 'repeat_caller',
    rules: ['other_source'],
    evidence: {
      priorCallId: best.callId,
      priorPublisherId: best.publisherId,
      priorSubSource: best.subSource,
      priorStartedAt: new Date(best.startedAtMs).toISOString(),
      hoursApart: Math.round((Math.abs(best.startedAtMs - call.startedAtMs) / 3_600_000) * 100) / 100,
      windowHours: config.repeatWindowHours,
    },
  };
}

/**
 * The record after this call: its source's entry replaced if this call is later, entries older than the window
 * (measured from the newest start in the record) dropped, at most MAX_SOURCES_PER_CALLER kept (newest).
 */
export function nextLastSeen(lastSeen: CallerLastSeen, call: RepeatCallInput, config: QualityConfig = DEFAULT_QUALITY_CONFIG): CallerLastSeen {
  const key = sourceKey(call);
  const own = lastSeen.find((e) => sourceKey(e) === key);
  const mine: LastSeenEntry = { publisherId: call.publisherId, subSource: call.subSource, callId: call.callId, startedAtMs: call.startedAtMs };
  const keep = own && own.startedAtMs >= call.startedAtMs ? own : mine;
  const all = [keep, ...lastSeen.filter((e) => sourceKey(e) !== key)].sort((a, b) => b.startedAtMs - a.startedAtMs || (a.callId < b.callId ? -1 : 1));
  const newest = all[0]!.startedAtMs;
  const windowMs = config.repeatWindowHours * 3_600_000;
  return all.filter((e) => newest - e.startedAtMs < windowMs).slice(0, MAX_SOURCES_PER_CALLER);
}
