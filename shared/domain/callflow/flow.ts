/**
 * A campaign's call flow: what the caller hears and what happens to the call, from the first ring to the buyer's
 * line. Versioned and effective-dated exactly like contract terms (terms.ts), so a call is answered under the flow in
 * force when it arrived, and every request of that call uses the same version (it rides in the callback URLs):
 * - a change appends version N+1 effective no sooner than CONFIG_LEAD_MS after it is written (config.ts
 *   effectiveInstant; earlier is 422), so a per-container cache is exact for every call that has arrived;
 * - the version in force at an instant is the highest-numbered one effective at or before it;
 * - an identical flow appends nothing, so a retried PUT is a no-op.
 * Pure: no zod here (flow-schema.ts), so the voice function bundles only what it runs.
 */
import { effectiveInstant } from '../catalog/config';
import { Unprocessable } from '../kernel/problems';
import type { CampaignCaps } from '../routing/admission';
import type { TargetDestination } from '../routing/targets';
import type { ContractTerms } from '../terms/terms';

/** Something the caller hears: synthesised text, or an audio file. */
export type Speech =
  | { readonly kind: 'say'; readonly text: string; readonly voice: string | null; readonly language: string }
  | { readonly kind: 'play'; readonly url: string };

/** What an IVR answer does: go on to routing (the campaign's default route), route to a named route, or end politely. */
export type IvrAction =
  | { readonly action: 'qualify' }
  | { readonly action: 'route'; readonly route: string }
  | { readonly action: 'end'; readonly message: Speech | null };

export interface IvrOption {
  readonly digits: string;
  readonly then: IvrAction;
}

export interface IvrMenu {
  readonly prompt: Speech;
  /** Each option's digits are pressed as one answer (all options have the same length: it is the answer's length). */
  readonly options: readonly IvrOption[];
  /** Seconds of silence, after the prompt, that end an attempt with no input. */
  readonly timeoutSec: number;
  /** Attempts after the first, on no input or an answer that is no option. */
  readonly retries: number;
  /** Said before the prompt on a retry (null: the prompt alone). */
  readonly retryPrompt: Speech | null;
  /** What no input (or no valid answer) means once the retries are used up. */
  readonly noInput: IvrAction;
}

/** Recording of the connected call: off, both parties on one channel, or the caller and the buyer on two channels. */
export const RECORDING_MODES = ['off', 'from_answer', 'dual'] as const;
export type RecordingMode = (typeof RECORDING_MODES)[number];

/** Played to the buyer's agent when they answer, before the caller is connected. `{publisher}`, `{subSource}`, `{campaign}` are filled in. */
export interface Whisper {
  readonly text: string;
  readonly voice: string | null;
  readonly language: string;
}

/** When no target can take the call: a message, a voicemail recorded like any recording, or a decline. */
export type Unavailable =
  | { readonly action: 'message'; readonly message: Speech }
  | { readonly action: 'voicemail'; readonly prompt: Speech; readonly maxLengthSec: number }
  | { readonly action: 'reject' };

/** Used when the decision cannot be made within its budget (the configuration store slow or down). */
export type FailSafe =
  | { readonly action: 'target'; readonly destination: TargetDestination; readonly ringTimeoutSec: number; readonly message: Speech | null }
  | { readonly action: 'message'; readonly message: Speech };

export interface CallFlow {
  readonly greeting: Speech | null;
  readonly ivr: IvrMenu | null;
  /** Named lists of target ids; `default` is required and is the route of a qualified call. */
  readonly routes: Readonly<Record<string, readonly string[]>>;
  /** Seconds each target rings before the next is tried (a target may set its own). */
  readonly ringTimeoutSec: number;
  /** The connected call's time limit (Dial timeLimit / NCCO limit), s. */
  readonly maxCallSec: number;
  readonly recording: RecordingMode;
  readonly whisper: Whisper | null;
  readonly unavailable: Unavailable;
  /** Said (then hang up) to a caller refused after the call was answered (e.g. the IVR answer does not qualify). */
  readonly refusedMessage: Speech | null;
  readonly caps: CampaignCaps | null;
  readonly failSafe: FailSafe;
}

export interface CallFlowVersion extends CallFlow {
  readonly version: number;
  /** ISO-8601 UTC: governs calls that arrive then or later. */
  readonly effectiveFrom: string;
  readonly createdAt: string;
}

/** The version governing a call that arrived at `atMs`, or null before the first takes effect. */
export function flowInForce(versions: readonly CallFlowVersion[], atMs: number): CallFlowVersion | null {
  let best: CallFlowVersion | null = null;
  for (const v of versions) if (Date.parse(v.effectiveFrom) <= atMs && (best === null || v.version > best.version)) best = v;
  return best;
}

export function flowVersion(versions: readonly CallFlowVersion[], version: number): CallFlowVersion | null {
  return versions.find((v) => v.version === version) ?? null;
}

/** Whether two flows say the same thing (a PUT of the same flow appends no version). */
export function sameFlow(a: CallFlow, b: CallFlow): boolean {
  return canonical(stripVersion(a)) === canonical(stripVersion(b));
}

function stripVersion(f: CallFlow): CallFlow {
  const { greeting, ivr, routes, ringTimeoutSec, maxCallSec, recording, whisper, unavailable, refusedMessage, caps, failSafe } = f;
  return { greeting, ivr, routes, ringTimeoutSec, maxCallSec, recording, whisper, unavailable, refusedMessage, caps, failSafe };
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Appends `flow` as the next version, effective at `requestedEffectiveFrom` (default and minimum: now +
 * CONFIG_LEAD_MS; earlier is 422). Identical to the latest version: nothing appended (`appended: false`).
 */
export function appendFlowVersion(
  versions: readonly CallFlowVersion[],
  flow: CallFlow,
  requestedEffectiveFrom: string | undefined,
  nowMs: number,
): { readonly versions: readonly CallFlowVersion[]; readonly appended: boolean } {
  const latest = versions.reduce<CallFlowVersion | null>((m, v) => (m === null || v.version > m.version ? v : m), null);
  if (latest !== null && sameFlow(latest, flow)) return { versions, appended: false };
  const version: CallFlowVersion = {
    ...stripVersion(flow),
    version: (latest?.version ?? 0) + 1,
    effectiveFrom: effectiveInstant(requestedEffectiveFrom, nowMs),
    createdAt: new Date(nowMs).toISOString(),
  };
  return { versions: [...versions, version], appended: true };
}

/**
 * What a flow says that its campaign's terms contradict, or that names targets that do not exist: each would route
 * a call that admission then refuses, or route nowhere. For the PUT handler to answer 422 with these fields.
 * - an IVR option or the no-input action that qualifies or routes a call whose answer the terms do not accept
 *   (terms.qualification): admission would refuse it `not_qualified` after the caller pressed the key;
 * - a route (or an IVR action's route) that is not defined, or a target id the account does not have.
 */
export function flowConflicts(flow: CallFlow, terms: ContractTerms | null, targetIds: ReadonlySet<string>): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  const accepted = terms?.qualification?.acceptedDigits ?? null;
  const checkAction = (field: string, then: IvrAction, digits: string | null) => {
    if (then.action === 'route' && flow.routes[then.route] === undefined) out.push({ field: `${field}.route`, message: `names no route of this flow` });
    if (then.action !== 'end' && accepted !== null && (digits === null || !accepted.includes(digits))) {
      out.push({ field, message: 'routes a call that the terms do not qualify (terms.qualification.acceptedDigits)' });
    }
  };
  flow.ivr?.options.forEach((o, i) => checkAction(`ivr.options.${i}.then`, o.then, o.digits));
  if (flow.ivr) checkAction('ivr.noInput', flow.ivr.noInput, null);
  if (flow.ivr === null && accepted !== null) out.push({ field: 'ivr', message: 'is required: the terms qualify calls by their IVR answer' });
  for (const [name, ids] of Object.entries(flow.routes)) {
    ids.forEach((id, i) => {
      if (!targetIds.has(id)) out.push({ field: `routes.${name}.${i}`, message: 'names no target of this account' });
    });
  }
  return out;
}

/** `flowConflicts` as the 422 the PUT handler answers. */
export function assertNoFlowConflicts(flow: CallFlow, terms: ContractTerms | null, targetIds: ReadonlySet<string>): void {
  const errors = flowConflicts(flow, terms, targetIds);
  if (errors.length > 0) throw new Unprocessable('The call flow contradicts the campaign terms or names unknown routes or targets.', errors);
}

/** The whisper's text for one call: placeholders filled with the call's publisher, sub-source and campaign names. */
export function whisperText(whisper: Whisper, names: { readonly publisher: string; readonly subSource: string | null; readonly campaign: string }): string {
  return whisper.text
    .replaceAll('{publisher}', names.publisher)
    .replaceAll('{subSource}', names.subSource ?? '')
    .replaceAll('{campaign}', names.campaign)
    .replace(/\s+/g, ' ')
    .trim();
}
