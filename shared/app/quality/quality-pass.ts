/**
 * The scheduled cross-call quality pass (functions/quality-pass.ts): the signals a single call's rating
 * cannot see — repeat_caller (the same caller through another publisher or sub-source), velocity (a caller or a
 * number block calling many times in a short span), coached_ivr by identical_timing (many callers answering the IVR
 * with the same delay) — and coached_ivr by too_fast where the rating did not have the IVR timing at hand. It runs the
 * pure streaming detector (quality-signals.ts createCrossCallDetector) over the account's STORED calls in start order
 * and stores what it finds on each call, next to the rating, never in it.
 *
 * Flags only. The calls were rated, and maybe charged, before the pass sees them; a flag never changes a rating, an
 * amount or the ledger. A buyer acts on them with the tools that exist: a dispute within the publisher's credit
 * policy, a QA review, a block list entry or `blockSignals` for future calls (docs/CONTRACTS.md, "Cross-call signals").
 *
 * Per account and run (now = the run's clock):
 *   targets   calls that started in [checkpoint − settleMs, now) (first run: [now − backfillMs, now));
 *   context   the detector's look-back before the first target (the longest of its windows: repeatWindowHours,
 *             velocity and identical-timing minutes), observed but never written;
 *   writes    a target whose findings add a signal or rule to what is stored (attribute `xq`; findings the rating
 *             already recorded are left out); nothing else. Flags only grow: a late call can only raise counts;
 *   checkpoint `through = now`, conditional on the one read (two overlapping runs: one stores it, both are harmless).
 * Why `settleMs`: a call enters the index when it is RATED, at its end (up to Twilio's 4 h call limit, plus queueing),
 * under its START time; re-reading the settle span each run picks up calls that were in progress at the last run and
 * the flags of later calls they change. Re-reading is idempotent: the same calls give the same findings, so an
 * overlapping window writes nothing.
 *
 * Cost: each run reads look-back + settle + the time since the last run of the account's calls from gsi1 (≈0.125 RRU
 * per 1 KB call item, eventually consistent): at 10,000 calls a day, hourly, ~76 h × 417 calls/h ≈ 32,000 items ≈
 * 4,000 RRU a run. Writes happen only for newly flagged calls (one UpdateItem each; the item is projected into gsi1
 * and gsi3, so ~3–6 WCU), and one checkpoint Put per account and run. Memory: one lean record per call in the read
 * span (~200 B) plus the detector's bounded state.
 */
import { isChildLeg, foldCall } from '../../domain/calls/fold';
import { ivrTimingOf } from '../../domain/quality/ivr-timing';
import type { CallEvent, CallStatusEvent } from '../../domain/calls/events';
import { DEFAULT_QUALITY_CONFIG, type QualityConfig, type QualityFinding } from '../../domain/quality/signals';
import { addCrossCallFindings, type CrossCallFlags } from '../../domain/quality/cross-call-flags';
import { attestationFinding, tooFastIvrFinding, type QualityFacts } from '../../domain/quality/call-signals';
import { compareCrossCallInputs, createCrossCallDetector, type CrossCallInput } from '../../domain/quality/cross-call';
import { keyedBlockDigits, numberBlockOf } from '../../domain/quality/caller-traits';
import { settleWithLimit } from '../kernel/concurrency';
import type { AccountDirectory } from '../ledger/seal-accounts';
import type { ConfigStore, Log, StoredCall } from '../kernel/ports';

export interface QualityPassCheckpoint {
  /** Targets of the next run start at this instant minus settleMs (ISO, `toISOString()` form). */
  readonly through: string;
  readonly runAt: string;
}

export interface QualityPassStore {
  /** Rated calls of the account whose gsi1 sort key is in [fromIso, toIso], ascending (start, then call id). */
  streamCalls(accountId: string, fromIso: string, toIso: string): AsyncIterable<StoredCall>;
  /** Stores the flags if the item still holds `expected` (null: none); 'changed' when it did not (nothing written). */
  setCrossCallFlags(callId: string, flags: CrossCallFlags, expected: CrossCallFlags | null): Promise<'written' | 'changed'>;
  getCheckpoint(accountId: string): Promise<QualityPassCheckpoint | null>;
  putCheckpoint(accountId: string, next: QualityPassCheckpoint, expected: QualityPassCheckpoint | null): Promise<'stored' | 'changed'>;
}

export interface QualityPassTelemetry {
  qualityPassRun(summary: QualityPassSummary): void;
}

export interface QualityPassDeps {
  readonly accounts: AccountDirectory;
  readonly store: QualityPassStore;
  /** The account's quality thresholds (`Account.quality`; absent: DEFAULT_QUALITY_CONFIG). */
  readonly config: Pick<ConfigStore, 'getAccount'>;
  readonly now: () => Date;
  readonly log: Log;
  readonly telemetry?: QualityPassTelemetry;
}

export interface QualityPassOptions {
  /** Calls of the last settleMs before the checkpoint are examined again (rated late, or changed by late calls). */
  readonly settleMs: number;
  /** How far back the first run of an account looks. */
  readonly backfillMs: number;
  /** Accounts processed at the same time. */
  readonly concurrency: number;
  /** Checked before each account starts; true → the rest are skipped this run. */
  readonly shouldStop?: () => boolean;
}

export const DEFAULT_QUALITY_PASS_OPTIONS: Omit<QualityPassOptions, 'shouldStop'> = {
  // Twilio ends a call after 4 h (the default `timeLimit`); 30 min more for the status callback and the queue.
  settleMs: 4.5 * 3_600_000,
  backfillMs: 7 * 24 * 3_600_000,
  concurrency: 4,
};

export interface AccountPassResult {
  readonly accountId: string;
  /** Calls read (context and targets). */
  readonly read: number;
  readonly targets: number;
  /** Calls whose flags this run stored (new signals or rules). */
  readonly flagged: number;
  /** Writes refused because the item changed since it was read (retried next run). */
  readonly conflicts: number;
  readonly from: string;
  readonly through: string;
  readonly checkpointStored: boolean;
}

export type AccountPassOutcome =
  | ({ readonly status: 'done' } & AccountPassResult)
  | { readonly accountId: string; readonly status: 'skipped' }
  | { readonly accountId: string; readonly status: 'failed'; readonly error: string };

export interface QualityPassSummary {
  readonly accounts: number;
  readonly callsRead: number;
  readonly callsFlagged: number;
  readonly conflicts: number;
  readonly skipped: number;
  readonly failed: readonly string[];
  readonly outcomes: readonly AccountPassOutcome[];
}

/** How far before a call the detector must have seen calls for its findings on it to be exact. */
export function lookBackMs(config: QualityConfig): number {
  return Math.max(config.repeatWindowHours * 3_600_000, config.velocity.windowMinutes * 60_000, config.coachedIvr.identicalTimingWindowMinutes * 60_000);
}

/** A stored call as the pass needs it: the detector's input and what is already flagged. */
interface PassCall extends CrossCallInput {
  readonly recorded: readonly string[];
  readonly stored: CrossCallFlags | null;
  /** robocall_suspect by attestation from the stored incoming-call event (for calls rated before it arrived). */
  readonly attestation: QualityFinding | null;
}

/**
 * The caller's number block as the pass compares it ("PII"): the keyed block the rating recorded (CallerTraits),
 * if it was made at the account's current digit count (after a change of velocity.numberBlockDigits, calls rated
 * before it have no block for one velocity window). Items rated before caller numbers were sealed kept the number in their slots: their
 * block is taken from it in clear, which never equals a keyed one (the velocity window after the deployment counts a
 * block's old and new calls apart).
 */
function numberBlockOfStored(call: StoredCall, from: string, config: QualityConfig): string | null {
  const digits = config.velocity.numberBlockDigits;
  if (call.callerTraits !== undefined) {
    const block = call.callerTraits.numberBlock;
    return block !== null && keyedBlockDigits(block) === digits ? block : null;
  }
  return from === '' ? null : numberBlockOf(from, digits);
}

/** Null for a call the detector cannot place (not rated, no source, no start). */
export function passCallOf(call: StoredCall, config: QualityConfig): PassCall | null {
  const r = call.rating;
  if (r === null || r.publisherId === null || call.startedAt === null) return null;
  const own = call.events.filter((e) => !isChildLeg(e));
  const terminal = own.length > 0 ? foldCall(own).terminal : null;
  return {
    callId: call.callId,
    startedAtMs: Date.parse(call.startedAt),
    publisherId: r.publisherId,
    subSource: r.subSource,
    callerHash: call.callerHash ?? null,
    numberBlock: numberBlockOfStored(call, terminal?.from ?? '', config),
    ivr: ivrTimingOf(call.events),
    recorded: r.recorded?.signals ?? [],
    stored: call.crossCall ?? null,
    attestation: attestationOfStored(own, terminal),
  };
}

/** The attestation rule on the stored incoming-call (ringing) event, when there is one. */
function attestationOfStored(own: readonly CallEvent[], terminal: { readonly direction?: string | null } | null): QualityFinding | null {
  const incoming = own.find((e): e is CallStatusEvent => e.kind === 'call.status' && e.status === 'ringing');
  if (incoming === undefined) return null;
  const direction = (terminal?.direction ?? incoming.direction ?? null) as QualityFacts['direction'];
  return attestationFinding({ stirVerstat: incoming.stirVerstat, direction });
}

/**
 * The pass's findings on one call: the detector's, plus too_fast from its stored IVR timing and the attestation rule
 * from its stored incoming-call event (both for calls rated before those arrived), minus what rating recorded.
 */
function findingsToStore(call: PassCall, detected: readonly QualityFinding[], config: QualityConfig): QualityFinding[] {
  const tooFast = tooFastIvrFinding(call, config);
  return [...detected, ...(tooFast === null ? [] : [tooFast]), ...(call.attestation === null ? [] : [call.attestation])].filter((f) => !call.recorded.includes(f.signal));
}

export async function runQualityPassForAccount(
  accountId: string,
  deps: Pick<QualityPassDeps, 'store' | 'config' | 'now'>,
  options: Pick<QualityPassOptions, 'settleMs' | 'backfillMs'>,
): Promise<AccountPassResult> {
  const now = deps.now();
  const nowIso = now.toISOString();
  const account = await deps.config.getAccount(accountId);
  const config = account?.quality ?? DEFAULT_QUALITY_CONFIG;
  const checkpoint = await deps.store.getCheckpoint(accountId);
  const targetsFromMs = checkpoint === null ? now.getTime() - options.backfillMs : Date.parse(checkpoint.through) - options.settleMs;
  const readFromIso = new Date(targetsFromMs - lookBackMs(config)).toISOString();

  const calls: PassCall[] = [];
  for await (const stored of deps.store.streamCalls(accountId, readFromIso, nowIso)) {
    const c = passCallOf(stored, config);
    if (c !== null) calls.push(c);
  }
  // The index's order is the detector's (ISO start, then call id) for ASCII ids; sorting makes it so for any id.
  calls.sort(compareCrossCallInputs);

  const detector = createCrossCallDetector(config);
  const toWrite: { call: PassCall; flags: CrossCallFlags }[] = [];
  let targets = 0;
  for (const call of calls) {
    const detected = detector.observe(call);
    if (call.startedAtMs < targetsFromMs) continue;
    targets++;
    const flags = addCrossCallFindings(call.stored, findingsToStore(call, detected, config), nowIso);
    if (flags !== null) toWrite.push({ call, flags });
  }
  const written = await settleWithLimit(toWrite, 8, (w) => deps.store.setCrossCallFlags(w.call.callId, w.flags, w.call.stored));
  const failedWrite = written.find((r) => r.status === 'rejected');
  if (failedWrite !== undefined) throw (failedWrite as PromiseRejectedResult).reason;
  const outcomes = written.map((r) => (r as PromiseFulfilledResult<'written' | 'changed'>).value);
  // The checkpoint moves only after every write settled: a crash before it re-runs the same window (idempotent).
  const stored = await deps.store.putCheckpoint(accountId, { through: nowIso, runAt: nowIso }, checkpoint);
  return {
    accountId,
    read: calls.length,
    targets,
    flagged: outcomes.filter((o) => o === 'written').length,
    conflicts: outcomes.filter((o) => o === 'changed').length,
    from: new Date(targetsFromMs).toISOString(),
    through: nowIso,
    checkpointStored: stored === 'stored',
  };
}

function message(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** One run over every registered account; one account's failure does not stop the others. */
export async function runQualityPass(deps: QualityPassDeps, options: QualityPassOptions): Promise<QualityPassSummary> {
  const accountIds = await deps.accounts.listAccountIds();
  const settled = await settleWithLimit(accountIds, options.concurrency, async (accountId): Promise<AccountPassOutcome> => {
    if (options.shouldStop?.() === true) return { accountId, status: 'skipped' };
    try {
      const result = await runQualityPassForAccount(accountId, deps, options);
      deps.log.info('quality pass', { ...result });
      return { status: 'done', ...result };
    } catch (err) {
      deps.log.error('quality pass failed', { accountId, error: message(err) });
      return { accountId, status: 'failed', error: message(err) };
    }
  });
  const outcomes = settled.map((r) => (r as PromiseFulfilledResult<AccountPassOutcome>).value);
  const done = outcomes.filter((o): o is Extract<AccountPassOutcome, { status: 'done' }> => o.status === 'done');
  const summary: QualityPassSummary = {
    accounts: accountIds.length,
    callsRead: done.reduce((n, o) => n + o.read, 0),
    callsFlagged: done.reduce((n, o) => n + o.flagged, 0),
    conflicts: done.reduce((n, o) => n + o.conflicts, 0),
    skipped: outcomes.filter((o) => o.status === 'skipped').length,
    failed: outcomes.filter((o) => o.status === 'failed').map((o) => o.accountId),
    outcomes,
  };
  const { outcomes: _outcomes, ...counts } = summary;
  deps.log.info('quality pass run', { ...counts, failed: summary.failed.length });
  deps.telemetry?.qualityPassRun(summary);
  return summary;
}
