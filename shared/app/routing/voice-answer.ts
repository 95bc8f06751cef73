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
 *   3. the machine's answer (next); an answer that dials first makes the counted caps' writes (counters.ts, when the
 *      campaign or the dialled target has such caps: the campaign's windows and concurrency lease at the `connect`
 *      admission that admits the call, the target's windows at each dial), and a refused count is decided again with
 *      the counts as they were (admission refuses `campaign_capped`; the target is skipped `capped`). Then ONE
 *      conditional write (RoutingStore.commit): the pilot reservation
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
import type { AssignedNumber, Campaign, Publisher } from '../../domain/catalog/types';
import { flowInForce, flowVersion, type CallFlowVersion } from '../../domain/callflow/flow';
import { needFor, next, stepOf, type DialOutcome, type MachineContext, type MachineOutput, type Need, type Step } from '../../domain/callflow/machine';
import { render } from '../../domain/callflow/render';
import { parseState, type VoiceState } from '../../domain/callflow/state';
import { BadRequest } from '../../domain/kernel/problems';
import { DomainError } from '../../domain/kernel/errors';
import { pilotForCall, type CapRefusal, type PilotMatch } from '../../domain/pilots/caps';
import { answerKey } from '../../domain/routing/audit';
import { admit, type AdmissionDecision, type AdmissionInput, type CampaignCounts } from '../../domain/routing/admission';
import { campaignCount, targetCount, type WindowCountWrite } from '../../domain/routing/counters';
import { accountBlockSignals, type CallSignal } from '../../domain/rating/rules';
import { consentFinding, consentRequired } from '../../domain/compliance/consent';
import { planRoute } from '../../domain/routing/order';
import { reserve } from '../../domain/routing/reservations';
import { callerGeoOf, NO_FACTS, type Target, type TargetFacts } from '../../domain/routing/targets';
import { termsInForce } from '../../domain/terms/terms';
import type { ConfigStore, Log, SecretStore } from '../kernel/ports';
import type { BlockListReader, ComplianceReader, ConsentReader } from '../rating/ports';
import type { IngestQueue } from '../calls/ports';
import type { IngestMessage, Provider } from '../../domain/calls/events';
import { FORM_CONTENT_TYPE, verifyTwilioRequest, type WebhookRequest } from '../calls/ingest';
import type { AdmissionCounters, RoutingStore, TargetStore } from './ports';
import { FAIL_SAFE_LOG_MESSAGE } from './voice-log';

export interface VoiceDeps {
  readonly config: Pick<ConfigStore, 'getAccount' | 'getTrackingNumber' | 'getCampaign' | 'getPublisher'>;
  readonly secrets: Pick<SecretStore, 'getSecret'>;
  readonly targets: Pick<TargetStore, 'listTargets'>;
  readonly blocks: BlockListReader;
  /** DNC listings and consent evidence, asked only when the account makes them non-billable (admission refuses them). */
  readonly dnc?: ComplianceReader;
  readonly consent?: ConsentReader;
  /**
   * The counted caps (campaign caps, target hourly/daily caps). Always wired by the voice functions (deps.ts); a flow
   * or target with such a cap and no counters fails the decision (the fail-safe answers), it is never left uncounted.
   */
  readonly counters?: AdmissionCounters;
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
/**
 * Attempts at the answer's write: each lost lease, refused count or refused reservation changes the decision. A route
 * has at most 10 targets, each refused at most once (capped or at capacity, then skipped), plus the campaign's and
 * the pilot's refusals.
 */
const MAX_COMMITS = 12;

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
    deps.log.warn(FAIL_SAFE_LOG_MESSAGE, { provider, accountId, callId, step: parsed.state.step, error: err instanceof Error ? err.name : 'unknown' });
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
  readonly publisher: Publisher | null;
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
  return { assignment, campaign, flow, targets: new Map(targetList.map((t) => [t.targetId, t])), publisher, ctx };
}

/** Everything admission needs besides the stage, the route and the facts that change between attempts. */
async function admissionBase(call: CallRequest, loaded: Loaded, deps: VoiceDeps): Promise<{ input: Omit<AdmissionInput, 'stage' | 'route' | 'capRefusal' | 'targetFacts' | 'counts'>; pilot: PilotMatch | null }> {
  const { assignment, campaign, flow } = loaded;
  const from = str(call.params.From);
  const identity = callerIdentity(from, call.provider);
  const hash = identity.kind === 'withheld' ? null : identityHash(await deps.callerHashKey(), identity);
  const [blocked, quality] = await Promise.all([hash === null ? null : deps.blocks.blockedCaller(call.accountId, hash, call.nowMs), qualityBeforeConnect(call, loaded, hash, deps)]);
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
    quality,
    withheld: { callerIdWithheld: identity.numberClass === 'withheld', withheldCallerId: terms?.withheldCallerId ?? 'non_billable' },
    pilot,
    caps: flow?.caps ?? null,
    targets: loaded.targets,
  } satisfies Omit<AdmissionInput, 'stage' | 'route' | 'capRefusal' | 'targetFacts' | 'counts'>;
  return { input, pilot };
}

/**
 * The signals admission can know before connect, from the readers rating uses (rate-call.ts qualityOf) and the
 * account's blocking choice (rules.ts accountBlockSignals, the one rating uses): `dnc_listed` (a DNC list names the
 * caller) and `consent_missing` (consent.ts: the publisher needs consent and none was captured). Each is asked only
 * when the account makes it non-billable, since only then can it refuse the call: an account without that policy
 * costs the answer no request (and the DNC reader's per-container cache answers "no list" for most that have it).
 * Null: the account blocks no signal.
 */
async function qualityBeforeConnect(call: CallRequest, loaded: Loaded, hash: string | null, deps: VoiceDeps): Promise<AdmissionInput['quality']> {
  const blockSignals = accountBlockSignals(await deps.config.getAccount(call.accountId));
  if (blockSignals.length === 0) return null;
  const dnc = hash !== null && deps.dnc !== undefined && blockSignals.includes('dnc_listed') ? deps.dnc.dncListed(call.accountId, hash, call.nowMs) : null;
  const needsConsent = deps.consent !== undefined && blockSignals.includes('consent_missing') && consentRequired(loaded.publisher);
  const consent = needsConsent && hash !== null ? deps.consent!.consentFor(call.accountId, hash, call.nowMs) : null;
  const [listed, evidence] = await Promise.all([dnc, consent]);
  const signals: CallSignal[] = [];
  if (listed !== null) signals.push('dnc_listed');
  if (needsConsent && consentFinding(true, evidence) !== null) signals.push('consent_missing');
  return { signals, blockSignals };
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
  // What admission knows of the campaign's counts: nothing until a count is refused (then the counts as they were).
  let counts: CampaignCounts = { active: 0, thisHour: 0, today: 0 };
  const counted: Counted = { campaign: null, held: false, target: null };
  // A retried request of a call that already holds its reservation: dial without taking a second one.
  let reserved = false;
  let taken: ReturnType<typeof reservationOf> = null;

  for (let attempt = 1; attempt <= MAX_COMMITS; attempt++) {
    const admission: AdmissionDecision | null =
      need.kind === 'admission' && base !== null
        ? admit({ ...base.input, stage: need.stage, call: { ...base.input.call, digits: need.digits }, route: flow?.routes[need.route] ?? [], capRefusal, counts, targetFacts: facts })
        : null;
    const plan = need.kind === 'replan' ? planRoute(flow?.routes[need.route] ?? [], loaded.targets, facts, geo, call.callId, call.nowMs) : null;
    const out: MachineOutput = next({ ctx: loaded.ctx, flow, step, admission, plan, targets: loaded.targets });
    // The counted caps, before the commit dials: a refused count changes the decision (like a lost lease).
    const refused = await countCall(call, loaded, admission, out, counted, deps);
    if (refused?.kind === 'campaign') {
      counts = refused.counts;
      continue;
    }
    if (refused?.kind === 'target') {
      facts.set(refused.targetId, { ...(facts.get(refused.targetId) ?? NO_FACTS), callsThisHour: refused.thisHour, callsToday: refused.today });
      continue;
    }
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
      await afterAnswer(call, loaded, step, out, counted, deps);
      const rendered = render(call.provider, out.verbs, deps.publicBaseUrl);
      return { contentType: rendered.contentType, body: rendered.body, degraded: false };
    }
    if (result.failed === 'lease') {
      const cap = loaded.targets.get(result.targetId)?.concurrencyCap ?? 0;
      facts.set(result.targetId, { ...(facts.get(result.targetId) ?? NO_FACTS), liveLeases: cap });
      // Counted for a target it then could not dial: the count goes back.
      if (counted.target?.owner.id === result.targetId) {
        await giveBack(deps, call, () => counters(deps).uncount(call.accountId, counted.target!));
        counted.target = null;
      }
    } else {
      // null: the call already holds its reservation (a retried request); any refusal names the cap that failed.
      if (result.refusal === null) reserved = true;
      else capRefusal = result.refusal;
    }
  }
  throw new Error(`voice answer for ${call.callId} did not settle after ${MAX_COMMITS} writes`);
}

/** What this request counted for the call (given back if it ends up not dialling). */
interface Counted {
  campaign: WindowCountWrite | null;
  /** The campaign's concurrency lease is held by the call. */
  held: boolean;
  target: WindowCountWrite | null;
}

type CountRefusal =
  | { readonly kind: 'campaign'; readonly counts: CampaignCounts }
  | { readonly kind: 'target'; readonly targetId: string; readonly thisHour: number; readonly today: number };

function counters(deps: VoiceDeps): AdmissionCounters {
  if (deps.counters === undefined) throw new Error('a counted cap is configured and the voice function has no counters');
  return deps.counters;
}

/** How long a call of this flow can hold a campaign's line: every target of its route ringing, then the time limit. */
function spanOf(flow: CallFlowVersion, route: string) {
  return { ringSec: (flow.routes[route]?.length ?? 1) * flow.ringTimeoutSec, maxCallSec: flow.maxCallSec };
}

/**
 * The counted caps of an answer that dials (counters.ts): the campaign's windows and its concurrency lease at the
 * `connect` admission that admits the call (once per call: a retried request finds its own count and slot), and the
 * dialled target's windows. The writes go out together; a refused one is returned with the counts as they were, and
 * what the others took stays counted in `counted` (used by the next attempt, or given back by afterAnswer).
 */
async function countCall(call: CallRequest, loaded: Loaded, admission: AdmissionDecision | null, out: MachineOutput, counted: Counted, deps: VoiceDeps): Promise<CountRefusal | null> {
  const { flow, campaign } = loaded;
  if (out.dial === null || flow === null) return null;
  const admitted = admission?.kind === 'route' && admission.stage === 'connect' && campaign !== null;
  const windows = admitted && counted.campaign === null ? campaignCount(campaign, flow.caps, call.callId, call.nowMs) : null;
  const cap = admitted && !counted.held ? (flow.caps?.concurrentCalls ?? null) : null;
  const target = loaded.targets.get(out.dial.targetId);
  const targetWrite = target !== undefined && counted.target?.owner.id !== target.targetId ? targetCount(target, call.callId, call.nowMs) : null;
  if (windows === null && cap === null && targetWrite === null) return null;
  const c = counters(deps);
  const [w, h, t] = await Promise.all([
    windows === null ? null : c.count(call.accountId, windows),
    cap === null || campaign === null ? null : c.hold(call.accountId, campaign.campaignId, cap, call.callId, call.nowMs, spanOf(flow, out.dial.route)),
    targetWrite === null ? null : c.count(call.accountId, targetWrite),
  ]);
  if (w?.ok === true) counted.campaign = windows;
  if (h?.ok === true) counted.held = true;
  if (t?.ok === true) counted.target = targetWrite;
  if (w?.ok === false || h?.ok === false) {
    return { kind: 'campaign', counts: { active: h?.ok === false ? h.active : 0, thisHour: w?.thisHour ?? 0, today: w?.today ?? 0 } };
  }
  if (t?.ok === false && target !== undefined) return { kind: 'target', targetId: target.targetId, thisHour: t.thisHour, today: t.today };
  return null;
}

/**
 * After an answer is committed: an answer that dials nothing gives back what this request counted (a call refused
 * after its counts were taken: the pilot's reservation, no target left); and a Dial that ended with nothing more to
 * dial (answered and over, the caller gone, every target tried) ends the call's hold on the campaign's concurrency.
 */
async function afterAnswer(call: CallRequest, loaded: Loaded, step: Step, out: MachineOutput, counted: Counted, deps: VoiceDeps): Promise<void> {
  if (out.dial !== null) return;
  const campaign = loaded.campaign;
  const cap = loaded.flow?.caps?.concurrentCalls ?? null;
  const c = deps.counters;
  if (c === undefined) return;
  await Promise.all([
    counted.campaign === null ? null : giveBack(deps, call, () => c.uncount(call.accountId, counted.campaign!)),
    counted.target === null ? null : giveBack(deps, call, () => c.uncount(call.accountId, counted.target!)),
    campaign !== null && cap !== null && (counted.held || step.kind === 'dial_result') ? giveBack(deps, call, () => c.release(call.accountId, campaign.campaignId, cap, call.callId)) : null,
  ]);
}

/**
 * A give-back is best effort: the answer is already decided and written, and a lost one errs on the safe side (a
 * count stays until its window ends, a lease until its expiry), so it never turns the answer into the fail-safe's.
 */
async function giveBack(deps: VoiceDeps, call: CallRequest, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    deps.log.warn('voice counted cap not given back: it stays until its window or lease ends', { accountId: call.accountId, callId: call.callId, error: err instanceof Error ? err.name : 'unknown' });
  }
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
