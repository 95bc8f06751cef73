/**
 * The pilot workflow's tasks (activate, check, close, report, fail: one Lambda, functions/pilot-workflow.ts,
 * dispatching on `action`) and the scheduled enforcer (functions/enforce-caps.ts). Both act on the same items with
 * the same conditional writes, so they may run at the same time, twice, or after a crash, without harm:
 *
 * - closing is the counter's `open = true → false` write: one closer wins, a second is a no-op;
 * - a state change is conditional on the states that may lead to it (domain PILOT_TRANSITIONS);
 * - a notification is sent by whoever claims its key on the record first (at most once per key);
 * - the report is recorded once (condition: none yet); writing its S3 objects twice is harmless.
 *
 * No cap is enforced here: the rating transaction does that (pilot-terms.ts). Closing only stops what the cap
 * would still allow (the window's end, a stop, or a remainder too small for any price).
 */
import { stateAfterClose, stateAfterReport } from '../../domain/pilots/lifecycle';
import { notificationFor, thresholdsDue } from '../../domain/pilots/notifications';
import type { CloseReason, CounterSnapshot, PilotRecord, PilotState } from '../../domain/pilots/pilots';
import { currentPilotDay, enforcementDecision, minimumPriceCents, monitorDecision, pilotChargeTotals, pilotProgress, reconcileCounter, type MonitorDecision } from '../../domain/pilots/progress';
import { buildPilotReport, reportCsv, reportKeys } from '../../domain/pilots/report';
import type { PilotActivity, PilotCampaigns, PilotNotifier, PilotReportStore, PilotStore } from './ports';
import type { Log } from '../kernel/ports';


/**
 * The ledger range of a pilot's money: from its window's start, with no end. Charges are booked at their call's start
 * (inside the window), but a reversal of one is booked when it is written (ledger/entries.ts), which may be after the window.
 */
function pilotLedgerRange(rec: Pick<PilotRecord, 'accountId' | 'campaignId' | 'startsAt'>): { accountId: string; campaignId: string; from: string; to: string } {
  return { accountId: rec.accountId, campaignId: rec.campaignId, from: rec.startsAt, to: '9999' };
}

export interface PilotTaskDeps {
  readonly store: PilotStore;
  readonly activity: PilotActivity;
  readonly campaigns: PilotCampaigns;
  readonly reports: PilotReportStore;
  readonly notifier: PilotNotifier;
  readonly now: () => Date;
  readonly log: Log;
}

export type PilotTaskInput =
  | { readonly action: 'activate' | 'check' | 'report'; readonly accountId: string; readonly pilotId: string }
  | { readonly action: 'close'; readonly accountId: string; readonly pilotId: string; readonly reason: CloseReason }
  | { readonly action: 'fail'; readonly accountId: string; readonly pilotId: string; readonly error?: { readonly Error?: string } };

export interface TaskResult {
  readonly state: PilotState;
}
export interface CheckResult extends TaskResult {
  readonly decision: MonitorDecision;
  readonly percentOfCap: number;
}

/** A task input that is not one of the above is a bug in the definition: thrown (the state's Retry, then Catch). */
export function parseTaskInput(input: unknown): PilotTaskInput {
  const i = input as Partial<Record<string, unknown>> | null;
  const ok = i !== null && typeof i === 'object' && typeof i.accountId === 'string' && typeof i.pilotId === 'string';
  if (ok && (i.action === 'activate' || i.action === 'check' || i.action === 'report' || i.action === 'fail')) return i as PilotTaskInput;
  if (ok && i.action === 'close' && (i.reason === 'cap' || i.reason === 'window' || i.reason === 'stopped')) return i as PilotTaskInput;
  throw new Error(`pilot task: invalid input (action ${JSON.stringify(i?.action)})`);
}

export async function runPilotTask(input: PilotTaskInput, deps: PilotTaskDeps): Promise<TaskResult | CheckResult> {
  const rec = await mustGet(input.accountId, input.pilotId, deps);
  switch (input.action) {
    case 'activate':
      return { state: await activate(rec, deps) };
    case 'check':
      return check(rec, deps);
    case 'close':
      return { state: (await close(rec, input.reason, deps)).state };
    case 'report':
      return { state: await finish(rec, deps) };
    case 'fail':
      return { state: await markFailed(rec, input.error?.Error ?? 'unknown', deps) };
    default: {
      const exhaustive: never = input;
      throw new Error(`pilot task: unknown action ${JSON.stringify(exhaustive)}`);
    }
  }
}

async function mustGet(accountId: string, pilotId: string, deps: PilotTaskDeps): Promise<PilotRecord> {
  const rec = await deps.store.getPilot(accountId, pilotId);
  if (rec === null) throw new Error(`pilot ${pilotId} of ${accountId} does not exist`);
  return rec;
}

async function counterOf(rec: PilotRecord, deps: PilotTaskDeps): Promise<CounterSnapshot> {
  const counter = await deps.store.getCounter(rec.accountId, rec.pilotId);
  if (counter === null) throw new Error(`pilot ${rec.pilotId} has no counter`);
  return counter;
}

/** Sends the notification `key` if this caller is the first to claim it (and the pilot has URLs to tell). */
async function notifyOnce(key: string, rec: PilotRecord, state: PilotState, counter: CounterSnapshot, deps: PilotTaskDeps): Promise<void> {
  if (rec.notify.length === 0 || rec.notified.includes(key)) return;
  if (!(await deps.store.claimNotification(rec.accountId, rec.pilotId, key))) return;
  await deps.notifier.send(rec.notify, notificationFor(key, rec, state, counter, deps.now().toISOString()));
}

/** scheduled → active (when the window opens; the numbers are billable through the campaign's pilot terms). */
async function activate(rec: PilotRecord, deps: PilotTaskDeps): Promise<PilotState> {
  const at = deps.now().toISOString();
  if (rec.state !== 'scheduled') return rec.state;
  if (await deps.store.transition(rec.accountId, rec.pilotId, 'active', at)) {
    deps.log.info('pilot activated', { accountId: rec.accountId, pilotId: rec.pilotId });
    await notifyOnce('activated', rec, 'active', await counterOf(rec, deps), deps);
    return 'active';
  }
  return (await mustGet(rec.accountId, rec.pilotId, deps)).state;
}

/** The instant whose terms price the calls still to come: now, or the window's start if it is still ahead. */
function pricesAt(rec: PilotRecord, nowMs: number): number {
  return Math.max(nowMs, Date.parse(rec.startsAt));
}

/** The monitor's check: thresholds crossed are told; the decision drives the loop (ASL Choice on `decision`). */
async function check(rec: PilotRecord, deps: PilotTaskDeps): Promise<CheckResult> {
  const nowMs = deps.now().getTime();
  const counter = await counterOf(rec, deps);
  const campaign = await deps.campaigns.readCampaign(rec.accountId, rec.campaignId);
  const minPrice = campaign === null ? null : minimumPriceCents(campaign, pricesAt(rec, nowMs));
  const progress = pilotProgress(rec, counter, nowMs);
  for (const key of thresholdsDue(progress.percentOfCap, rec.notified)) await notifyOnce(key, rec, rec.state, counter, deps);
  return { decision: monitorDecision(rec, counter, nowMs, minPrice), state: rec.state, percentOfCap: progress.percentOfCap };
}

/**
 * Closes the counter (no charge after this) and moves the state to what the counter says closed it: a concurrent
 * closer (stop, enforcer) may have won with another reason, and its reason stands.
 */
export async function close(rec: PilotRecord, reason: CloseReason, deps: PilotTaskDeps): Promise<{ state: PilotState; won: boolean }> {
  const at = deps.now().toISOString();
  const won = await deps.store.closeCounter(rec.accountId, rec.pilotId, reason, at);
  const counter = await counterOf(rec, deps);
  const closedBy = counter.closedReason ?? reason;
  if (won) deps.log.info('pilot closed', { accountId: rec.accountId, pilotId: rec.pilotId, reason, spentCents: counter.spentCents });
  const target = stateAfterClose(closedBy);
  await deps.store.transition(rec.accountId, rec.pilotId, target, at);
  const now = await mustGet(rec.accountId, rec.pilotId, deps);
  await notifyOnce('closed', now, now.state, counter, deps);
  return { state: now.state, won };
}

/**
 * After the close: the report (JSON and CSV in S3), recorded once on the pilot; then the pilot leaves the
 * enforcer's list. Safe to run concurrently and again.
 */
export async function finish(rec: PilotRecord, deps: PilotTaskDeps): Promise<PilotState> {
  const at = deps.now().toISOString();
  let counter = await counterOf(rec, deps);
  if (counter.open) {
    // Reached only through the workflow's "already closed" branch or a direct call: close first, never report an open pilot.
    await close(rec, 'window', deps);
    counter = await counterOf(rec, deps);
  }
  let current = await mustGet(rec.accountId, rec.pilotId, deps);
  if (current.report !== null) {
    await deps.store.retire(rec.accountId, rec.pilotId, at);
    return current.state;
  }
  // A closer that crashed between the counter and the record leaves the record behind: catch it up.
  if (current.state === 'scheduled' || current.state === 'active') {
    await deps.store.transition(rec.accountId, rec.pilotId, stateAfterClose(counter.closedReason ?? 'window'), at);
    current = await mustGet(rec.accountId, rec.pilotId, deps);
  }
  await notifyOnce('closed', current, current.state, counter, deps);

  const [calls, entries] = await Promise.all([
    deps.activity.callsInRange({ accountId: rec.accountId, campaignId: rec.campaignId, from: rec.startsAt, to: rec.endsAt }),
    deps.activity.entriesInRange(pilotLedgerRange(rec)),
  ]);
  const state = stateAfterReport(current.state);
  const report = buildPilotReport({ pilot: current, calls, entries, counter, state, generatedAt: at });
  const keys = reportKeys(rec.accountId, rec.pilotId);
  await deps.reports.put({ jsonKey: keys.jsonKey, json: JSON.stringify(report, null, 2), csvKey: keys.csvKey, csv: reportCsv(report) });
  const recorded = await deps.store.setReport(rec.accountId, rec.pilotId, { ...keys, builtAt: at }, state, at);
  const after = await mustGet(rec.accountId, rec.pilotId, deps);
  if (recorded) {
    deps.log.info('pilot report stored', { accountId: rec.accountId, pilotId: rec.pilotId, calls: report.totals.calls, spendCents: report.totals.spendCents });
    if (!report.ledgerMatchesCounter) {
      deps.log.warn('pilot counter and ledger differ', { accountId: rec.accountId, pilotId: rec.pilotId, counterCents: counter.spentCents, ledgerCents: report.totals.spendCents });
    }
  }
  await notifyOnce('report_ready', after, after.state, counter, deps);
  if (after.report !== null) await deps.store.retire(rec.accountId, rec.pilotId, at);
  return after.state;
}

async function markFailed(rec: PilotRecord, error: string, deps: PilotTaskDeps): Promise<PilotState> {
  // Only the error name: causes may quote inputs.
  const failure = error.slice(0, 200);
  deps.log.error('pilot workflow failed', { accountId: rec.accountId, pilotId: rec.pilotId, failure });
  await deps.store.transition(rec.accountId, rec.pilotId, 'failed', deps.now().toISOString(), { failure });
  return (await mustGet(rec.accountId, rec.pilotId, deps)).state;
}

// ------------------------------------------------------------------ scheduled enforcement

export interface EnforceOptions {
  /**
   * How long after a close the enforcer leaves the report to the workflow (which builds it right after closing).
   * Pilots stopped, failed or without an execution are finished at once.
   */
  readonly finishGraceMs?: number;
  /** Pilots enforced at once. */
  readonly concurrency?: number;
}

export interface EnforceSummary {
  readonly pilots: number;
  readonly activated: number;
  readonly closed: number;
  readonly reported: number;
  readonly reconciled: number;
  readonly drift: number;
  readonly failed: number;
  /** The pilots this run closed (won the counter's close). */
  readonly closedPilotIds: readonly string[];
}

type Outcome = { activated?: boolean; closed?: boolean; reported?: boolean; reconciled?: boolean; drift?: boolean };

/**
 * `enforce-caps` (every minute): for every live pilot, activate it if its window opened and the workflow did not;
 * reconcile its counter with the ledger; create the current day's counter (the daily cap resets at the campaign's
 * local midnight because each day has its own counter); tell thresholds crossed; close it when its cap is reached or
 * its window is over (plus the settle time); and finish (report) closed pilots the workflow did not finish.
 * Idempotent and safe to run twice at once: every write is conditional (see the header).
 */
export async function enforceCaps(deps: PilotTaskDeps, options: EnforceOptions = {}): Promise<EnforceSummary> {
  const live = await deps.store.listLivePilots();
  const summary = { pilots: live.length, activated: 0, closed: 0, reported: 0, reconciled: 0, drift: 0, failed: 0, closedPilotIds: [] as string[] };
  const queue = [...live];
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      try {
        const o = await enforceOne(next.accountId, next.pilotId, deps, options);
        if (o.activated) summary.activated += 1;
        if (o.closed) {
          summary.closed += 1;
          summary.closedPilotIds.push(next.pilotId);
        }
        if (o.reported) summary.reported += 1;
        if (o.reconciled) summary.reconciled += 1;
        if (o.drift) summary.drift += 1;
      } catch (err) {
        // One pilot's failure must not stop the others; the next run tries again.
        summary.failed += 1;
        deps.log.error('enforce-caps: pilot failed', { accountId: next.accountId, pilotId: next.pilotId, error: err instanceof Error ? err.name + ': ' + err.message : String(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
  return summary;
}

async function enforceOne(accountId: string, pilotId: string, deps: PilotTaskDeps, options: EnforceOptions): Promise<Outcome> {
  const out: Outcome = {};
  let rec = await deps.store.getPilot(accountId, pilotId);
  const at = deps.now().toISOString();
  if (rec === null || rec.report !== null) {
    await deps.store.retire(accountId, pilotId, at);
    return out;
  }
  let counter = await counterOf(rec, deps);
  const nowMs = deps.now().getTime();
  const started = nowMs >= Date.parse(rec.startsAt);

  if (counter.open) {
    if (started && rec.state === 'scheduled') {
      out.activated = (await activate(rec, deps)) === 'active';
      rec = await mustGet(accountId, pilotId, deps);
    }
    if (started) {
      const entries = await deps.activity.entriesInRange(pilotLedgerRange(rec));
      const r = reconcileCounter(counter, pilotChargeTotals(entries, pilotId));
      if (r.action === 'raise' && (await deps.store.raiseCounter(accountId, pilotId, counter, r))) {
        out.reconciled = true;
        deps.log.warn('pilot counter raised to the ledger', { accountId, pilotId, fromCents: counter.spentCents, toCents: r.spentCents });
        counter = await counterOf(rec, deps);
      } else if (r.action === 'drift') {
        out.drift = true;
        deps.log.warn('pilot counter ahead of the ledger', { accountId, pilotId, counterAheadCents: r.counterAheadCents });
      }
      if (rec.dailyCapCents !== null && nowMs < Date.parse(rec.endsAt)) await deps.store.ensureDay(accountId, pilotId, currentPilotDay(rec, nowMs));
      for (const key of thresholdsDue(pilotProgress(rec, counter, nowMs).percentOfCap, rec.notified)) await notifyOnce(key, rec, rec.state, counter, deps);
    }
    const campaign = await deps.campaigns.readCampaign(accountId, rec.campaignId);
    const decision = enforcementDecision(rec, counter, nowMs, campaign === null ? null : minimumPriceCents(campaign, pricesAt(rec, nowMs)));
    if (decision === 'close_cap' || decision === 'close_window') {
      out.closed = (await close(rec, decision === 'close_cap' ? 'cap' : 'window', deps)).won;
      rec = await mustGet(accountId, pilotId, deps);
      counter = await counterOf(rec, deps);
    }
  }

  if (!counter.open) {
    const grace = options.finishGraceMs ?? 5 * 60_000;
    const closedMs = counter.closedAt === null ? 0 : Date.parse(counter.closedAt);
    const workflowGone = rec.state === 'stopped' || rec.state === 'failed' || rec.executionArn === null;
    if (workflowGone || deps.now().getTime() - closedMs >= grace) {
      await finish(rec, deps);
      out.reported = (await mustGet(accountId, pilotId, deps)).report !== null;
    }
  }
  return out;
}
