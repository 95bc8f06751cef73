/**
 * The call-flow state machine: from (flow version, step, the decisions the adapter made for it) to the next
 * provider-neutral instruction (instructions.ts) and the routing audit it adds to the call. Pure: the adapter reads
 * what `needFor` asks (an admission, a fresh routing plan), calls `next`, renders the verbs for its provider, and, for
 * a dial, takes the target's lease before answering (a lease lost to a concurrent call: `next` again with that target
 * at capacity).
 *
 * The flow, step by step:
 *   incoming      admission at stage `screen` (stage `connect` when the flow has no IVR). Refused: a caller refusal
 *                 (unknown number, blocked, DNC, withheld, out of geography) is `<Reject>`, the first verb, so the call
 *                 is never answered; an availability refusal (hours, window, caps, no target) gets the flow's
 *                 `unavailable` (a reject is still possible here). Admitted: greeting, then the IVR (or the dial).
 *   gather n      the answer matched an option: `qualify` / `route` run admission at stage `connect` on that route
 *                 with the digits pressed; `end` says its message and hangs up. No input, or no option matched: the
 *                 retry prompt and the IVR again while attempts remain, then the flow's `noInput` action.
 *   dial i        the dialled target's end. answered: the conversation is over, hang up. canceled: the caller left.
 *                 busy, no answer, failed: the next eligible target after position i on a fresh plan (its skips
 *                 recorded), or the flow's `unavailable` once none is left.
 *   whisper       the agent hears the whisper naming source and campaign; the call is bridged when it ends.
 *   voicemail     the recording ended: hang up.
 *   fallback      the decision could not be made in its budget: the flow's fail-safe from cache (a default target,
 *                 or a message), recorded as degraded. A call a pilot may govern is never connected by the fail-safe,
 *                 since no reservation can be taken without the store: it hears the message instead.
 * After the call is answered a `<Reject>` is meaningless (the provider has answered), so a refusal then ends with the
 * flow's message and `hangup`.
 */
import type { AdmissionDecision, AdmissionRule } from '../routing/admission';
import { nextEligible, type RouteStep } from '../routing/order';
import type { SkipReason, Target } from '../routing/targets';
import { whisperText, type CallFlowVersion, type IvrAction, type IvrMenu, type Speech } from './flow';
import type { SpokenVerb, Verb } from './instructions';
import { eventsPath, voicePath, type PathContext, type VoiceState } from './state';

export const DIAL_OUTCOMES = ['answered', 'busy', 'no_answer', 'failed', 'canceled'] as const;
export type DialOutcome = (typeof DIAL_OUTCOMES)[number];

export type Step =
  | { readonly kind: 'incoming' }
  | { readonly kind: 'gather'; readonly attempt: number; readonly digits: string | null }
  | { readonly kind: 'dial_result'; readonly route: string; readonly position: number; readonly outcome: DialOutcome }
  | { readonly kind: 'whisper'; readonly route: string; readonly position: number }
  | { readonly kind: 'voicemail_done' }
  | { readonly kind: 'fallback'; readonly pilotMayGovern: boolean };

/** The step of a request from its state and what the provider posted (digits of a gather, the dial's outcome). */
export function stepOf(state: VoiceState, posted: { readonly digits?: string | null; readonly dialOutcome?: DialOutcome; readonly pilotMayGovern?: boolean }): Step {
  switch (state.step) {
    case 'incoming':
      return { kind: 'incoming' };
    case 'gather':
      return { kind: 'gather', attempt: state.attempt, digits: state.none ? null : (posted.digits ?? null) || null };
    case 'dial':
      return { kind: 'dial_result', route: state.route, position: state.pos, outcome: posted.dialOutcome ?? 'failed' };
    case 'whisper':
      return { kind: 'whisper', route: state.route, position: state.pos };
    case 'voicemail':
      return { kind: 'voicemail_done' };
    case 'fallback':
      return { kind: 'fallback', pilotMayGovern: posted.pilotMayGovern ?? true };
    default: {
      const exhaustive: never = state;
      return exhaustive;
    }
  }
}

export interface CallNames {
  readonly publisher: string;
  readonly subSource: string | null;
  readonly campaign: string;
}

export interface MachineContext extends PathContext {
  /** The tracking number dialled, E.164. */
  readonly trackingNumber: string;
  readonly names: CallNames;
}

/** What the adapter must decide before `next` can answer the step. */
export type Need =
  | { readonly kind: 'none' }
  | { readonly kind: 'admission'; readonly stage: 'screen' | 'connect'; readonly route: string; readonly digits: string | null }
  | { readonly kind: 'replan'; readonly route: string };

export type AuditEvent =
  | { readonly event: 'admitted'; readonly stage: 'screen' | 'connect'; readonly reservation: { readonly pilotId: string; readonly amountCents: number } | null }
  | { readonly event: 'refused'; readonly stage: 'screen' | 'connect'; readonly reason: AdmissionRule }
  | { readonly event: 'ivr'; readonly attempt: number; readonly result: 'option' | 'no_input' | 'invalid'; readonly digits: string | null }
  | { readonly event: 'skipped'; readonly targetId: string; readonly position: number; readonly reason: SkipReason }
  | { readonly event: 'dialling'; readonly targetId: string; readonly position: number }
  | { readonly event: 'outcome'; readonly targetId: string | null; readonly position: number; readonly outcome: DialOutcome }
  | { readonly event: 'unavailable'; readonly action: 'message' | 'voicemail' | 'reject' }
  | { readonly event: 'ended'; readonly how: 'ivr_end' | 'refused' | 'completed' | 'caller_left' | 'voicemail' }
  | { readonly event: 'degraded'; readonly action: 'target' | 'message' }
  | { readonly event: 'no_flow' };

export interface MachineInput {
  readonly ctx: MachineContext;
  /** The version pinned by the request's state (the one in force at arrival for `incoming`); null: none. */
  readonly flow: CallFlowVersion | null;
  readonly step: Step;
  /** The admission `needFor` asked for. */
  readonly admission?: AdmissionDecision | null;
  /** The fresh plan of the route `needFor` asked for. */
  readonly plan?: readonly RouteStep[] | null;
  readonly targets: ReadonlyMap<string, Target>;
}

export interface MachineOutput {
  readonly verbs: readonly Verb[];
  readonly audit: readonly AuditEvent[];
  /** The target this document dials: take its lease before answering. */
  readonly dial: { readonly targetId: string; readonly position: number; readonly route: string } | null;
}

/** Said when nothing else is configured (no flow, or a fail-safe that may not connect): never silence. */
export const DEFAULT_UNAVAILABLE: Speech = {
  kind: 'say',
  text: 'We are sorry, we cannot take your call right now. Please call again later. Goodbye.',
  voice: null,
  language: 'en-US',
};

/** Refusals of the caller (answered with a decline, never the flow's voicemail); the rest are about availability. */
const CALLER_REFUSALS: ReadonlySet<AdmissionRule> = new Set([
  'unknown_number',
  'blocked_caller',
  'blocked_signal',
  'caller_id_withheld',
  'out_of_geo',
  'not_qualified',
]);

function spoken(s: Speech): SpokenVerb {
  return s.kind === 'say' ? { verb: 'say', text: s.text, voice: s.voice, language: s.language } : { verb: 'play', url: s.url };
}

type Classified = { readonly kind: 'option'; readonly then: IvrAction } | { readonly kind: 'no_input' } | { readonly kind: 'invalid' };

export function classifyAnswer(ivr: IvrMenu, digits: string | null): Classified {
  if (digits === null || digits === '') return { kind: 'no_input' };
  const option = ivr.options.find((o) => o.digits === digits);
  return option ? { kind: 'option', then: option.then } : { kind: 'invalid' };
}

/** The IVR action a gather step leads to (null: ask again). */
function ivrOutcome(flow: CallFlowVersion, step: { attempt: number; digits: string | null }): { action: IvrAction; digits: string | null } | null {
  const ivr = flow.ivr as IvrMenu;
  const answer = classifyAnswer(ivr, step.digits);
  if (answer.kind === 'option') return { action: answer.then, digits: step.digits };
  if (step.attempt <= ivr.retries) return null;
  return { action: ivr.noInput, digits: null };
}

export function needFor(flow: CallFlowVersion | null, step: Step): Need {
  if (flow === null) return { kind: 'none' };
  switch (step.kind) {
    case 'incoming':
      return { kind: 'admission', stage: flow.ivr === null ? 'connect' : 'screen', route: 'default', digits: null };
    case 'gather': {
      if (flow.ivr === null) return { kind: 'none' };
      const out = ivrOutcome(flow, step);
      if (out === null || out.action.action === 'end') return { kind: 'none' };
      return { kind: 'admission', stage: 'connect', route: out.action.action === 'route' ? out.action.route : 'default', digits: out.digits };
    }
    case 'dial_result':
      return step.outcome === 'answered' || step.outcome === 'canceled' ? { kind: 'none' } : { kind: 'replan', route: step.route };
    default:
      return { kind: 'none' };
  }
}

function gatherVerbs(ctx: MachineContext, flow: CallFlowVersion, attempt: number): Verb[] {
  const ivr = flow.ivr as IvrMenu;
  const prompt = [...(attempt > 1 && ivr.retryPrompt ? [spoken(ivr.retryPrompt)] : []), spoken(ivr.prompt)];
  return [
    {
      verb: 'gather',
      prompt,
      numDigits: ivr.options[0]?.digits.length ?? 1,
      timeoutSec: ivr.timeoutSec,
      action: voicePath(ctx, { step: 'gather', v: flow.version, attempt, none: false }),
      noInput: voicePath(ctx, { step: 'gather', v: flow.version, attempt, none: true }),
    },
  ];
}

function dialVerb(ctx: MachineContext, flow: CallFlowVersion, target: Target, route: string, position: number): Verb {
  return {
    verb: 'dial',
    destination: target.destination,
    ringTimeoutSec: target.ringTimeoutSec ?? flow.ringTimeoutSec,
    timeLimitSec: flow.maxCallSec,
    record: flow.recording,
    trackingNumber: ctx.trackingNumber,
    action: voicePath(ctx, { step: 'dial', v: flow.version, route, pos: position }),
    statusCallback: eventsPath(ctx, [
      ['leg', 'dial'],
      ['route', route],
      ['pos', String(position)],
      ['target', target.targetId],
    ]),
    recordingStatusCallback: flow.recording === 'off' ? null : eventsPath(ctx, [['rec', 'call']]),
    whisperUrl: flow.whisper === null ? null : voicePath(ctx, { step: 'whisper', v: flow.version, route, pos: position }),
  };
}

function unavailable(ctx: MachineContext, flow: CallFlowVersion, answered: boolean, audit: AuditEvent[]): MachineOutput {
  const u = flow.unavailable;
  audit.push({ event: 'unavailable', action: u.action });
  switch (u.action) {
    case 'message':
      return { verbs: [spoken(u.message), { verb: 'hangup' }], audit, dial: null };
    case 'voicemail':
      return {
        verbs: [
          spoken(u.prompt),
          {
            verb: 'record',
            maxLengthSec: u.maxLengthSec,
            action: voicePath(ctx, { step: 'voicemail', v: flow.version }),
            recordingStatusCallback: eventsPath(ctx, [['rec', 'voicemail']]),
          },
        ],
        audit,
        dial: null,
      };
    case 'reject':
      return { verbs: answered ? [{ verb: 'hangup' }] : [{ verb: 'reject', reason: 'rejected' }], audit, dial: null };
    default: {
      const exhaustive: never = u;
      return exhaustive;
    }
  }
}

function refused(ctx: MachineContext, flow: CallFlowVersion, reason: AdmissionRule, stage: 'screen' | 'connect', answered: boolean, audit: AuditEvent[]): MachineOutput {
  audit.push({ event: 'refused', stage, reason });
  if (!CALLER_REFUSALS.has(reason)) return unavailable(ctx, flow, answered, audit);
  audit.push({ event: 'ended', how: 'refused' });
  if (!answered) return { verbs: [{ verb: 'reject', reason: 'rejected' }], audit, dial: null };
  return { verbs: [...(flow.refusedMessage ? [spoken(flow.refusedMessage)] : []), { verb: 'hangup' }], audit, dial: null };
}

/** Dial the first eligible target of `plan` after `afterPosition`, recording the skips; `unavailable` when none is left. */
function dialNext(
  ctx: MachineContext,
  flow: CallFlowVersion,
  plan: readonly RouteStep[],
  route: string,
  afterPosition: number,
  targets: ReadonlyMap<string, Target>,
  lead: Verb[],
  audit: AuditEvent[],
): MachineOutput {
  const next = nextEligible(plan, afterPosition);
  const skipped = next?.skipped ?? plan.filter((s) => s.position > afterPosition);
  for (const s of skipped) if (s.status !== 'eligible') audit.push({ event: 'skipped', targetId: s.targetId, position: s.position, reason: s.status });
  const target = next ? targets.get(next.step.targetId) : undefined;
  if (next === null || target === undefined) {
    const out = unavailable(ctx, flow, true, audit);
    return { ...out, verbs: [...lead, ...out.verbs] };
  }
  audit.push({ event: 'dialling', targetId: target.targetId, position: next.step.position });
  return { verbs: [...lead, dialVerb(ctx, flow, target, route, next.step.position)], audit, dial: { targetId: target.targetId, position: next.step.position, route } };
}

/** After an admission: route (greeting first on the first request) or refuse. */
function afterAdmission(input: MachineInput, flow: CallFlowVersion, answered: boolean, audit: AuditEvent[]): MachineOutput {
  const decision = input.admission;
  if (decision === null || decision === undefined) throw new Error('next(): this step needs an admission (needFor)');
  if (decision.kind === 'refuse') return refused(input.ctx, flow, decision.reason, decision.stage, answered, audit);
  audit.push({ event: 'admitted', stage: decision.stage, reservation: decision.reservation });
  const greeting = !answered && flow.greeting ? [spoken(flow.greeting)] : [];
  if (decision.stage === 'screen') return { verbs: [...greeting, ...gatherVerbs(input.ctx, flow, 1)], audit, dial: null };
  const need = needFor(flow, input.step);
  const route = need.kind === 'admission' ? need.route : 'default';
  return dialNext(input.ctx, flow, decision.route ?? [], route, -1, input.targets, greeting, audit);
}

function failSafe(input: MachineInput, pilotMayGovern: boolean, audit: AuditEvent[]): MachineOutput {
  const flow = input.flow;
  const fs = flow?.failSafe ?? { action: 'message' as const, message: DEFAULT_UNAVAILABLE };
  if (fs.action === 'target' && !pilotMayGovern && flow !== null) {
    audit.push({ event: 'degraded', action: 'target' });
    const dial: Verb = {
      verb: 'dial',
      destination: fs.destination,
      ringTimeoutSec: fs.ringTimeoutSec,
      timeLimitSec: flow.maxCallSec,
      record: flow.recording,
      trackingNumber: input.ctx.trackingNumber,
      action: null,
      statusCallback: eventsPath(input.ctx, [['leg', 'failsafe']]),
      recordingStatusCallback: flow.recording === 'off' ? null : eventsPath(input.ctx, [['rec', 'call']]),
      whisperUrl: null,
    };
    return { verbs: [...(fs.message ? [spoken(fs.message)] : []), dial, { verb: 'hangup' }], audit, dial: null };
  }
  audit.push({ event: 'degraded', action: 'message' });
  const message = fs.action === 'message' ? fs.message : (fs.message ?? DEFAULT_UNAVAILABLE);
  return { verbs: [spoken(message), { verb: 'hangup' }], audit, dial: null };
}

export function next(input: MachineInput): MachineOutput {
  const { ctx, flow, step } = input;
  const audit: AuditEvent[] = [];
  if (step.kind === 'fallback') return failSafe(input, step.pilotMayGovern, audit);
  if (flow === null) {
    // A number pointed at CallLedger whose campaign has no flow (or no flow in force yet): decline, unanswered.
    audit.push({ event: 'no_flow' });
    return { verbs: step.kind === 'incoming' ? [{ verb: 'reject', reason: 'rejected' }] : [{ verb: 'hangup' }], audit, dial: null };
  }
  switch (step.kind) {
    case 'incoming':
      return afterAdmission(input, flow, false, audit);
    case 'gather': {
      if (flow.ivr === null) return { verbs: [{ verb: 'hangup' }], audit, dial: null };
      const answer = classifyAnswer(flow.ivr, step.digits);
      audit.push({ event: 'ivr', attempt: step.attempt, result: answer.kind, digits: answer.kind === 'option' ? step.digits : null });
      const out = ivrOutcome(flow, step);
      if (out === null) return { verbs: gatherVerbs(ctx, flow, step.attempt + 1), audit, dial: null };
      if (out.action.action === 'end') {
        audit.push({ event: 'ended', how: 'ivr_end' });
        return { verbs: [...(out.action.message ? [spoken(out.action.message)] : []), { verb: 'hangup' }], audit, dial: null };
      }
      return afterAdmission(input, flow, true, audit);
    }
    case 'dial_result': {
      const targetId = input.plan?.find((s) => s.position === step.position)?.targetId ?? null;
      audit.push({ event: 'outcome', targetId, position: step.position, outcome: step.outcome });
      if (step.outcome === 'answered' || step.outcome === 'canceled') {
        audit.push({ event: 'ended', how: step.outcome === 'answered' ? 'completed' : 'caller_left' });
        return { verbs: [{ verb: 'hangup' }], audit, dial: null };
      }
      if (input.plan === null || input.plan === undefined) throw new Error('next(): a failed dial needs a fresh plan (needFor)');
      return dialNext(ctx, flow, input.plan, step.route, step.position, input.targets, [], audit);
    }
    case 'whisper': {
      const w = flow.whisper;
      if (w === null) return { verbs: [], audit, dial: null };
      return { verbs: [{ verb: 'say', text: whisperText(w, ctx.names), voice: w.voice, language: w.language }], audit, dial: null };
    }
    case 'voicemail_done':
      audit.push({ event: 'ended', how: 'voicemail' });
      return { verbs: [{ verb: 'hangup' }], audit, dial: null };
    default: {
      const exhaustive: never = step;
      return exhaustive;
    }
  }
}
