/**
 * Use case: answer one request of a voice URL — Twilio's (`POST /voice/twilio/{accountId}`, and every Gather, Dial and
 * whisper URL CallLedger writes under it), verified exactly like a webhook (ingest.ts verifyTwilioRequest), or a
 * carrier's, verified by voice-carriers.ts. From there every carrier gets the same decision (answerVerified):
 *
 *   1. the call's configuration from the per-container caches: the tracking number's assignment, the campaign (its
 *      terms, pilots and call-flow versions: the version in force at arrival, or the one the URL pins), the account's
 *      targets, the publisher's name for the whisper;
 *   2. what the state machine needs (machine.ts needFor): an admission (routing/admission.ts admit, the one decision,
 *      built from the same versioned terms as rating) or a fresh routing plan (order.ts planRoute);
 *   3. the machine's answer (next), then ONE conditional write (RoutingStore.commit): the pilot reservation
 *      (reservations.ts reserve), the dialled target's lease (leases.ts acquire) and the routing audit. A failed
 *      reservation is a cap refusal (admission runs again with it and refuses `over_cap`); a lease lost to other calls
 *      makes that target `at_capacity` and the machine picks the next one; so no cap is exceeded on the phone line;
 *   4. the first request and the IVR answer go on to the ledger through the ingest queue like any webhook (the
 *      incoming call's attestation and the digits; the IVR timing is measured from when this function served the
 *      prompt, the incoming request's arrival);
 *   5. the answer, rendered from the machine's verbs in the carrier's language (render/index.ts) with every URL under
 *      PUBLIC_BASE_URL.
 *
 * Fail-safe: steps 1–3 run within `budgetMs`. When they cannot (the store slow or down), the call is answered from the
 * last flow this container saw for the number with its fail-safe (machine.ts, step `fallback`), or the default
 * message: never silence, never an error document. A malformed or unauthenticated request is still its 4xx.
 */
import { callerIdentity, identityHash } from '../../domain/calls/caller';
import { parseTwilioEvent, type FormParams } from '../../domain/calls/providers/twilio';
import { asCampaign, asTrackingNumber, assignmentAt } from '../../domain/catalog/config';
import type { AssignedNumber, Campaign } from '../../domain/catalog/types';
import { flowInForce, flowVersion, type CallFlowVersion } from '../../domain/callflow/flow';
import { needFor, next, stepOf, type DialOutcome, type MachineContext, type MachineOutput, type Need, type Step } from '../../domain/callflow/machine';
import { render } from '../../domain/callflow/render';
import { parseState, type VoiceState } from '../../domain/callflow/state';
import { BadRequest } from '../../domain/kernel/problems';
import { DomainError } from '../../domain/kernel/errors';
import { pilotForCall, type CapRefusal, type PilotMatch } from '../../domain/pilots/caps';
import { admit, type AdmissionDecision, type AdmissionInput } from '../../domain/routing/admission';
import { answerKey } from '../../domain/routing/audit';
import { planRoute } from '../../domain/routing/order';
import { reserve } from '../../domain/routing/reservations';
import { callerGeoOf, type Target, type TargetFacts } from '../../domain/routing/targets';
import { termsInForce } from '../../domain/terms/terms';
import type { ConfigStore, Log, SecretStore } from '../kernel/ports';
import type { BlockListReader } from '../rating/ports';
import type { IngestQueue } from '../calls/ports';
import type { IngestMessage, Provider } from '../../domain/calls/events';
import { FORM_CONTENT_TYPE, verifyTwilioRequest, type WebhookRequest } from '../calls/ingest';
import type { RoutingStore, TargetStore } from './ports';

export interface VoiceDeps {
  readonly config: Pick<ConfigStore, 'getAccount' | 'getTrackingNumber' | 'getCampaign' | 'getPublisher'>;
  readonly secrets: Pick<SecretStore, 'getSecret'>;
  readonly targets: Pick<TargetStore, 'listTargets'>;
  readonly blocks: BlockListReader;
  readonly callerHashKey: () => Promise<string>;
  readonly routing: RoutingStore;
  readonly queue: IngestQueue;
  readonly publicBaseUrl: string;
  readonly now: () => Date;
  /** The decision's budget, ms: past it the call is answered by the fail-safe. */
  readonly budgetMs: number;
  readonly log: Log;
  /** The last flow (and names) seen per tracking number: what the fail-safe answers from. One per container. */
  readonly lastKnown: Map<string, { readonly flow: CallFlowVersion; readonly ctx: MachineContext; readonly pilotMayGovern: boolean }>;
}

export interface VoiceAnswer {
  readonly contentType: string;
  readonly body: string;
  /** The fail-safe answered. */
  readonly degraded: boolean;
}

/** Seconds a lease outlives its ring or its call when no callback comes (leases.ts: crash safety). */
const LEASE_GRACE_SEC = 30;
/** How long after the call's limit a reservation waits for rating before it may expire. */
const SETTLE_GRACE_SEC = 600;
/** Retries of the answer's write after a lost lease or a cap refusal (each changes the decision). */
const MAX_COMMITS = 6;

const str = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));

const DIAL_STATUS: Record<string, DialOutcome> = { busy: 'busy', 'no-answer': 'no_answer', failed: 'failed', canceled: 'canceled' };

/** Twilio's DialCallStatus as the machine's outcome; completed with DialBridged=false: the whisper hung up, nobody took it. */
export function dialOutcomeOf(status: string, bridged: string): DialOutcome {
  if (status === 'completed' || status === 'answered') return bridged === 'false' ? 'no_answer' : 'answered';
  return DIAL_STATUS[status] ?? 'failed';
}

export type VoiceRequest = WebhookRequest & { readonly query: Readonly<Record<string, string | undefined>> };

export async function answerVoice(req: VoiceRequest, deps: VoiceDeps): Promise<VoiceAnswer> {
  const { accountId, params, body } = await verifyTwilioRequest(req, deps);
  const callSid = str(params.ParentCallSid) || str(params.CallSid);
  if (callSid === '') throw new BadRequest('CallSid is required.', [{ field: 'CallSid', message: 'is required' }]);
  const toLedger = (receivedAt: string): IngestMessage => ({
    v: 1,
    event: parseTwilioEvent(params, { accountId, receivedAt }),
    raw: { contentType: req.contentType ?? FORM_CONTENT_TYPE, body, receivedAt },
  });
  return answerVerified({ provider: 'twilio', accountId, callId: `twilio:${callSid}`, params, query: req.query, stateKey: '', toLedger }, deps);
}

/**
 * A voice request its carrier's verifier accepted, mapped to the TwiML-style parameters the decision reads (From, To,
 * Digits, DialCallStatus, DialBridged, ParentCallSid). What differs by carrier is only this: the verification, this
 * mapping, the key of `st` and the renderer; the decision below is the same for every carrier.
 */
export interface VerifiedVoiceRequest {
  readonly provider: Provider;
  readonly accountId: string;
  readonly callId: string;
  readonly params: FormParams;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** The key `st` is made with (state.ts voiceStateKey); unused for providers that sign the URL. */
  readonly stateKey: string;
  /** The incoming call or the IVR answer as an ingest message; null: this carrier's own webhooks report the call. */
  readonly toLedger: ((receivedAt: string) => IngestMessage | null) | null;
}

export async function answerVerified(req: VerifiedVoiceRequest, deps: VoiceDeps): Promise<VoiceAnswer> {
  const { accountId, callId, params, provider, stateKey } = req;
  const parsed = parseState(req.query, { provider, callId, stateKey });
  if (!parsed.ok) throw new BadRequest('The voice state in the query is not valid.', parsed.errors);
  const nowMs = deps.now().getTime();
  const call: CallRequest = { provider, stateKey, accountId, callId, params, nowMs, state: parsed.state };
  // The ledger's event is read before anything is written: a request it refuses is its 400 with no routing written.
  const message = ledgerMessage(call, req.toLedger);
  try {
    const answer = await withinBudget(deps.budgetMs, () => decide(call, deps));
    if (message !== null) await deps.queue.send(message);
    return answer;
  } catch (err) {
    if (err instanceof DomainError) throw err;
    deps.log.warn('voice decision failed: answered by the fail-safe', { provider, accountId, callId, step: parsed.state.step, error: err instanceof Error ? err.name : 'unknown' });
    return failSafe(call, deps);
  }
}

interface CallRequest {
  readonly provider: Provider;
  readonly stateKey: string;
  readonly accountId: string;
  readonly callId: string;
  readonly params: FormParams;
  readonly nowMs: number;
  readonly state: VoiceState;
}

class BudgetExceeded extends Error {
  override readonly name = 'BudgetExceeded';
}

async function withinBudget<T>(budgetMs: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BudgetExceeded(`decision over ${budgetMs} ms`)), budgetMs);
  });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The first request (the incoming call) and the IVR answer go to the ledger as events, stamped when they arrived. */
function ledgerMessage(call: CallRequest, toLedger: VerifiedVoiceRequest['toLedger']): IngestMessage | null {
  const gathered = call.state.step === 'gather' && !call.state.none && str(call.params.Digits) !== '';
  if (toLedger === null || (call.state.step !== 'incoming' && !gathered)) return null;
  return toLedger(new Date(call.nowMs).toISOString());
}

interface Loaded {
  readonly assignment: AssignedNumber | null;
  readonly campaign: Campaign | null;
  readonly flow: CallFlowVersion | null;
  readonly targets: ReadonlyMap<string, Target>;
  readonly ctx: MachineContext;
}

async function load(call: CallRequest, deps: VoiceDeps): Promise<Loaded> {
  // A whisper is requested for the dialled leg (To: the target): the tracking number is the one its call was answered for.
  const to = str(call.params.ParentCallSid) === '' ? str(call.params.To) : ((await deps.routing.readRouting(call.callId))?.trackingNumber ?? '');
  const item = to === '' ? null : await deps.config.getTrackingNumber(to, call.nowMs);
  const number = item === null ? null : asTrackingNumber(item);
  const assignment = number !== null && number.accountId === call.accountId ? assignmentAt(number, call.nowMs) : null;
  const [campaignItem, publisher, targetList] = await Promise.all([
    assignment === null ? null : deps.config.getCampaign(call.accountId, assignment.campaignId, call.nowMs),
    assignment === null ? null : deps.config.getPublisher(call.accountId, assignment.publisherId),
    deps.targets.listTargets(call.accountId),
  ]);
  const campaign = campaignItem === null ? null : asCampaign(campaignItem);
  const versions = campaign?.flowVersions ?? [];
  const s = call.state;
  const flow = s.step === 'incoming' || s.step === 'fallback' ? flowInForce(versions, call.nowMs) : flowVersion(versions, s.v);
  const ctx: MachineContext = {
    provider: call.provider,
    accountId: call.accountId,
    callId: call.callId,
    stateKey: call.stateKey,
    trackingNumber: to,
    names: { publisher: publisher?.name ?? '', subSource: assignment?.subSource ?? null, campaign: campaign?.name ?? '' },
  };
  if (flow !== null) deps.lastKnown.set(to, { flow, ctx, pilotMayGovern: (campaign?.pilots?.length ?? 0) > 0 });
  return { assignment, campaign, flow, targets: new Map(targetList.map((t) => [t.targetId, t])), ctx };
}

/** Everything admission needs besides the stage, the route and the facts that change between attempts. */
async function admissionBase(call: CallRequest, loaded: Loaded, deps: VoiceDeps): Promise<{ input: Omit<AdmissionInput, 'stage' | 'route' | 'capRefusal' | 'targetFacts'>; pilot: PilotMatch | null }> {
  const { assignment, campaign, flow } = loaded;
  const from = str(call.params.From);
  const identity = callerIdentity(from, call.provider);
  const hash = identity.kind === 'withheld' ? null : identityHash(await deps.callerHashKey(), identity);
  const blocked = hash === null ? null : await deps.blocks.blockedCaller(call.accountId, hash, call.nowMs);
  const terms = campaign === null ? null : termsInForce(campaign.termsVersions, call.nowMs);
  const pilot = assignment === null || campaign === null ? null : pilotForCall(campaign.pilots, assignment.publisherId, call.nowMs);
  const input = {
    callId: call.callId,
    call: { from, to: str(call.params.To), fromState: str(call.params.FromState) || null, fromZip: str(call.params.FromZip) || null, tags: [], digits: null },
    atMs: call.nowMs,
    assignment,
    campaign: campaign === null ? null : { campaignId: campaign.campaignId, hours: campaign.hours, geography: campaign.geography },
    termsVersions: campaign?.termsVersions ?? [],
    priorBilled: null,
    blocked,
    quality: null,
    withheld: { callerIdWithheld: identity.numberClass === 'withheld', withheldCallerId: terms?.withheldCallerId ?? 'non_billable' },
    pilot,
    caps: flow?.caps ?? null,
    counts: { active: 0, thisHour: 0, today: 0 },
    targets: loaded.targets,
  } satisfies Omit<AdmissionInput, 'stage' | 'route' | 'capRefusal' | 'targetFacts'>;
  return { input, pilot };
}

function stepFor(call: CallRequest): Step {
  return stepOf(call.state, {
    digits: str(call.params.Digits) || null,
    dialOutcome: dialOutcomeOf(str(call.params.DialCallStatus), str(call.params.DialBridged)),
  });
}

async function decide(call: CallRequest, deps: VoiceDeps): Promise<VoiceAnswer> {
  const loaded = await load(call, deps);
  const { flow } = loaded;
  const step = stepFor(call);
  const need: Need = needFor(flow, step);
  const base = need.kind === 'admission' ? await admissionBase(call, loaded, deps) : null;
  const from = str(call.params.From);
  const geo = callerGeoOf({ from, fromState: str(call.params.FromState) || null, fromZip: str(call.params.FromZip) || null });
  const facts = new Map<string, TargetFacts>();
  let capRefusal: CapRefusal | null = null;
  // A retried request of a call that already holds its reservation: dial without taking a second one.
  let reserved = false;
  let taken: ReturnType<typeof reservationOf> = null;

  for (let attempt = 1; attempt <= MAX_COMMITS; attempt++) {
    const admission: AdmissionDecision | null =
      need.kind === 'admission' && base !== null
        ? admit({ ...base.input, stage: need.stage, call: { ...base.input.call, digits: need.digits }, route: flow?.routes[need.route] ?? [], capRefusal, targetFacts: facts })
        : null;
    const plan = need.kind === 'replan' ? planRoute(flow?.routes[need.route] ?? [], loaded.targets, facts, geo, call.callId, call.nowMs) : null;
    const out: MachineOutput = next({ ctx: loaded.ctx, flow, step, admission, plan, targets: loaded.targets });
    const reservation = reserved ? null : reservationOf(admission, base?.pilot ?? null, out, flow, call);
    const result = await deps.routing.commit({
      accountId: call.accountId,
      callId: call.callId,
      atMs: call.nowMs,
      reservation,
      lease: leaseOf(out, loaded, flow),
      admission,
      audit: out.audit,
      flowVersion: flow?.version ?? null,
      trackingNumber: loaded.ctx.trackingNumber,
      requestKey: answerKey(step),
    });
    // A reservation is taken before the lease: it stands whatever the lease's fate (the next target, or a release below).
    if (reservation !== null && (result.ok || result.failed === 'lease')) {
      reserved = true;
      taken = reservation;
    }
    if (result.ok) {
      // Reserved on an earlier attempt, and then no target could be dialled: the money goes back now.
      if (taken !== null && out.dial === null && taken.write.reservation !== null) {
        await deps.routing.releaseReservation(call.accountId, taken.pilot.pilotId, taken.write.reservation, call.nowMs);
      }
      const rendered = render(call.provider, out.verbs, deps.publicBaseUrl);
      return { contentType: rendered.contentType, body: rendered.body, degraded: false };
    }
    if (result.failed === 'lease') {
      const cap = loaded.targets.get(result.targetId)?.concurrencyCap ?? 0;
      facts.set(result.targetId, { liveLeases: cap, callsThisHour: 0, callsToday: 0 });
    } else {
      // null: the call already holds its reservation (a retried request); any refusal names the cap that failed.
      if (result.refusal === null) reserved = true;
      else capRefusal = result.refusal;
    }
  }
  throw new Error(`voice answer for ${call.callId} did not settle after ${MAX_COMMITS} writes`);
}

/** A pilot call admitted to dial holds the most it can cost (admission's `reservation`) for as long as the call may last. */
function reservationOf(admission: AdmissionDecision | null, pilot: PilotMatch | null, out: MachineOutput, flow: CallFlowVersion | null, call: CallRequest) {
  if (admission?.kind !== 'route' || admission.reservation === null || pilot === null || out.dial === null || flow === null) return null;
  const targets = flow.routes[out.dial.route]?.length ?? 1;
  const budget = { ringSec: targets * flow.ringTimeoutSec, maxCallSec: flow.maxCallSec, settleGraceSec: SETTLE_GRACE_SEC };
  return { pilot: pilot.pilot, write: reserve(pilot.pilot, call.callId, admission.reservation.amountCents, call.nowMs, budget) };
}

function leaseOf(out: MachineOutput, loaded: Loaded, flow: CallFlowVersion | null) {
  const target = out.dial === null ? undefined : loaded.targets.get(out.dial.targetId);
  if (target === undefined || target.concurrencyCap === null || flow === null) return null;
  return {
    targetId: target.targetId,
    cap: target.concurrencyCap,
    times: { ringTimeoutSec: target.ringTimeoutSec ?? flow.ringTimeoutSec, maxCallSec: flow.maxCallSec, graceSec: LEASE_GRACE_SEC },
  };
}

/**
 * The answer when the decision could not be made: the flow this container last saw for the number, at step
 * `fallback` (its fail-safe target, or its message); none seen: the default message. A call a pilot may govern is
 * never connected this way (no reservation can be taken without the store). The degraded decision is recorded
 * best effort, without delaying the answer.
 */
function failSafe(call: CallRequest, deps: VoiceDeps): VoiceAnswer {
  const known = deps.lastKnown.get(str(call.params.To)) ?? null;
  const ctx: MachineContext = known?.ctx
    ? { ...known.ctx, provider: call.provider, stateKey: call.stateKey, callId: call.callId }
    : { provider: call.provider, accountId: call.accountId, callId: call.callId, stateKey: call.stateKey, trackingNumber: str(call.params.To), names: { publisher: '', subSource: null, campaign: '' } };
  const out = next({ ctx, flow: known?.flow ?? null, step: { kind: 'fallback', pilotMayGovern: known?.pilotMayGovern ?? true }, targets: new Map() });
  void deps.routing.recordDegraded(call.accountId, call.callId, call.nowMs, out.audit).catch(() => undefined);
  const rendered = render(call.provider, out.verbs, deps.publicBaseUrl);
  return { contentType: rendered.contentType, body: rendered.body, degraded: true };
}
