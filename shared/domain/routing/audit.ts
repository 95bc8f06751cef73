/**
 * The routing audit of one call (`GET /v1/calls/{callId}`, field `routing`), folded from what the voice function and
 * the dialled legs' callbacks recorded: the admission decision that governed the call (the last one made: the IVR's
 * answer decides over the first screen) and every target of its route, attempted with its outcome or skipped with
 * its reason. Pure.
 *
 * An attempt's outcome is the Dial's result when its action came back (answered, busy, no_answer, failed,
 * canceled), else what the leg's own status callbacks said, else `dialling` (still ringing, or the call ended before
 * Twilio reported). A target listed twice (skipped by a refused admission's plan, then by the machine) shows once.
 */
import { createHash } from 'node:crypto';
import type { AuditEvent, DialOutcome, Step } from '../callflow/machine';
import type { AdmissionDecision, AdmissionRule, AdmissionRuleResult } from './admission';
import type { SkipReason } from './targets';

/**
 * The identity of a voice request within its call: its step and what was posted with it (the IVR's digits, the dial's
 * outcome). A provider retrying a request it did not hear back from sends the same step with the same parameters, so
 * the same key; two requests of one call that differ in step, attempt, position or input never share one. Hashed
 * (SHA-256, 16 base64url characters): the record keeps no digits a caller pressed, and every key has the same size.
 */
export function answerKey(step: Step): string {
  const fields: readonly unknown[] = (() => {
    switch (step.kind) {
      case 'incoming':
      case 'voicemail_done':
        return [step.kind];
      case 'gather':
        return [step.kind, step.attempt, step.digits];
      case 'dial_result':
        return [step.kind, step.route, step.position, step.outcome];
      case 'whisper':
        return [step.kind, step.route, step.position];
      case 'fallback':
        return [step.kind, step.pilotMayGovern];
      default: {
        const exhaustive: never = step;
        return exhaustive;
      }
    }
  })();
  return createHash('sha256').update(JSON.stringify(fields)).digest('base64url').slice(0, 16);
}

export type StoredRoutingEvent =
  | (AuditEvent & { readonly atMs: number })
  | { readonly event: 'leg'; readonly targetId: string; readonly position: number; readonly status: string; readonly durationSec: number | null; readonly atMs: number };

export interface RoutingRecord {
  readonly accountId: string;
  readonly callId: string;
  readonly flowVersion: number | null;
  /** The tracking number the call was answered for (a whisper's request names only the target it dialled). */
  readonly trackingNumber: string | null;
  readonly admissions: readonly (AdmissionDecision & { readonly atMs: number })[];
  readonly events: readonly StoredRoutingEvent[];
  /** Set when a step was answered by the fail-safe (the decision could not be made in its budget). */
  readonly degraded: boolean;
}

export type AttemptOutcome = SkipReason | DialOutcome | 'dialling';

export interface RoutingAttempt {
  readonly targetId: string;
  readonly position: number;
  readonly outcome: AttemptOutcome;
  /** The dialled leg's statuses as its callbacks reported them (empty for a skipped target). */
  readonly legStatuses: readonly string[];
}

export interface AdmissionView {
  readonly stage: 'screen' | 'connect';
  readonly kind: 'route' | 'refuse';
  readonly reason: AdmissionRule | null;
  readonly reasons: readonly AdmissionRule[];
  readonly flags: readonly AdmissionRule[];
  readonly termsVersion: number | null;
  readonly reservation: { readonly pilotId: string; readonly amountCents: number } | null;
  readonly rules: readonly AdmissionRuleResult[];
  readonly decidedAt: string;
}

export interface RoutingView {
  readonly flowVersion: number | null;
  readonly degraded: boolean;
  readonly admission: AdmissionView | null;
  readonly attempts: readonly RoutingAttempt[];
}

const LEG_OUTCOME: Readonly<Record<string, DialOutcome>> = { completed: 'answered', busy: 'busy', 'no-answer': 'no_answer', failed: 'failed', canceled: 'canceled' };

function admissionView(d: AdmissionDecision & { readonly atMs: number }): AdmissionView {
  return {
    stage: d.stage,
    kind: d.kind,
    reason: d.kind === 'refuse' ? d.reason : null,
    reasons: d.kind === 'refuse' ? d.reasons : [],
    flags: d.flags,
    termsVersion: d.termsVersion,
    reservation: d.kind === 'route' ? d.reservation : null,
    rules: d.rules,
    decidedAt: new Date(d.atMs).toISOString(),
  };
}

export function routingView(record: RoutingRecord): RoutingView {
  const last = record.admissions.at(-1) ?? null;
  const attempts = new Map<string, { targetId: string; position: number; outcome: AttemptOutcome; legStatuses: string[]; decided: boolean }>();
  const key = (targetId: string, position: number) => `${position}/${targetId}`;
  const at = (targetId: string, position: number) => {
    let a = attempts.get(key(targetId, position));
    if (a === undefined) {
      a = { targetId, position, outcome: 'dialling', legStatuses: [], decided: false };
      attempts.set(key(targetId, position), a);
    }
    return a;
  };
  if (last?.kind === 'refuse' && last.route !== null) {
    for (const step of last.route) if (step.status !== 'eligible') Object.assign(at(step.targetId, step.position), { outcome: step.status, decided: true });
  }
  for (const e of record.events) {
    if (e.event === 'skipped') Object.assign(at(e.targetId, e.position), { outcome: e.reason, decided: true });
    else if (e.event === 'dialling') at(e.targetId, e.position);
    else if (e.event === 'outcome') {
      // An answered dial makes no fresh plan, so its outcome names only the position dialled.
      const targetId = e.targetId ?? [...attempts.values()].find((a) => a.position === e.position)?.targetId ?? null;
      if (targetId !== null) Object.assign(at(targetId, e.position), { outcome: e.outcome, decided: true });
    }
    else if (e.event === 'leg') {
      const a = at(e.targetId, e.position);
      a.legStatuses.push(e.status);
      const fromLeg = LEG_OUTCOME[e.status];
      // The Dial action's result wins; a completed leg whose Dial action never came was answered only if it talked.
      if (!a.decided && fromLeg !== undefined) a.outcome = e.status === 'completed' && (e.durationSec ?? 0) === 0 ? 'no_answer' : fromLeg;
    }
  }
  return {
    flowVersion: record.flowVersion,
    degraded: record.degraded,
    admission: last === null ? null : admissionView(last),
    attempts: [...attempts.values()].sort((a, b) => a.position - b.position).map(({ targetId, position, outcome, legStatuses }) => ({ targetId, position, outcome, legStatuses })),
  };
}
