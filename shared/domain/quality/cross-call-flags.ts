/**
 * The cross-call findings as stored on a call by the quality pass: flags only, grown and never shrunk, in a small
 * plain-value form (encodeCrossCallFlags / decodeCrossCallFlags).
 */
import { QUALITY_SIGNALS, type QualityFinding, type QualitySignal } from './signals';

/**
 * What the scheduled quality pass (shared/app/quality/quality-pass.ts) stored on a rated call: the signals it found from the
 * calls around this one (repeat_caller, velocity, coached_ivr by identical_timing) and from the stored IVR timing
 * (coached_ivr by too_fast), with the rules that fired. FLAGS ONLY: the call was rated (and maybe charged) before;
 * these never change its rating or the ledger. Grown, never shrunk: more calls only ever add signals (later calls
 * arriving late can only raise counts), so the pass adds what is new and keeps what it stored.
 */
export interface CrossCallFlags {
  /** In QUALITY_SIGNALS order, each with the rules that fired. */
  readonly findings: readonly { readonly signal: QualitySignal; readonly rules: readonly string[] }[];
  /** repeat_caller: the other source's call that made it (for a dispute or a QA review); null otherwise. */
  readonly priorCallId: string | null;
  /** coached_ivr: the measured answer delay (ivr-timing.ts); null otherwise. */
  readonly answerDelayMs: number | null;
  /** When the pass first stored a flag on the call. */
  readonly flaggedAt: string;
}

export function crossCallSignalsOf(flags: CrossCallFlags | null | undefined): QualitySignal[] {
  return (flags?.findings ?? []).map((f) => f.signal);
}

/** The flags after adding `findings`, or null when they add no signal or rule (nothing to write). */
export function addCrossCallFindings(prior: CrossCallFlags | null, findings: readonly QualityFinding[], atIso: string): CrossCallFlags | null {
  const rules = new Map<QualitySignal, string[]>((prior?.findings ?? []).map((f) => [f.signal, [...f.rules]]));
  let changed = false;
  let priorCallId = prior?.priorCallId ?? null;
  let answerDelayMs = prior?.answerDelayMs ?? null;
  for (const f of findings) {
    const have = rules.get(f.signal) ?? [];
    for (const r of f.rules) {
      if (have.includes(r)) continue;
      have.push(r);
      changed = true;
    }
    rules.set(f.signal, have);
    if (f.signal === 'repeat_caller' && priorCallId === null && typeof f.evidence.priorCallId === 'string') priorCallId = f.evidence.priorCallId;
    if (f.signal === 'coached_ivr' && answerDelayMs === null && typeof f.evidence.answerDelayMs === 'number') answerDelayMs = f.evidence.answerDelayMs;
  }
  if (!changed) return null;
  return {
    findings: QUALITY_SIGNALS.filter((s) => rules.has(s)).map((signal) => ({ signal, rules: [...rules.get(signal)!].sort() })),
    priorCallId,
    answerDelayMs,
    flaggedAt: prior?.flaggedAt ?? atIso,
  };
}

/**
 * The stored form (a small Map on the call item, docs/CONTRACTS.md): `f` = `signal:rule+rule` space-separated,
 * `pc` the prior call id, `d` the answer delay (ms), `a` when first flagged (epoch ms). Plain values, no AWS types.
 */
export function encodeCrossCallFlags(flags: CrossCallFlags): Record<string, string | number> {
  return {
    f: flags.findings.map((x) => `${x.signal}:${x.rules.join('+')}`).join(' '),
    ...(flags.priorCallId === null ? {} : { pc: flags.priorCallId }),
    ...(flags.answerDelayMs === null ? {} : { d: flags.answerDelayMs }),
    a: Date.parse(flags.flaggedAt),
  };
}

export function decodeCrossCallFlags(raw: unknown): CrossCallFlags | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.f !== 'string' || r.f === '' || typeof r.a !== 'number') return null;
  const findings = r.f
    .split(' ')
    .map((part) => {
      const [signal, rules = ''] = part.split(':');
      return { signal: signal as QualitySignal, rules: rules === '' ? [] : rules.split('+') };
    })
    .filter((x) => (QUALITY_SIGNALS as readonly string[]).includes(x.signal));
  return {
    findings,
    priorCallId: typeof r.pc === 'string' ? r.pc : null,
    answerDelayMs: typeof r.d === 'number' ? r.d : null,
    flaggedAt: new Date(r.a).toISOString(),
  };
}
