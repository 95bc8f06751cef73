/**
 * The ports of the pilot use cases (pilots.ts: the API; pilot-tasks.ts: the workflow and the scheduled enforcer).
 * Adapters: shared/adapters/pilots/pilot-repo.ts (DynamoDB), pilot-reports.ts (S3), pilot-notifier.ts (HTTP), and the
 * workflow starters (Step Functions in AWS, aws-local-stepfunctions locally: infra/local/stepfunctions.ts).
 * No AWS types here.
 */
import type { Campaign } from '../../domain/catalog/types';
import type { CloseReason, CounterSnapshot, PilotRecord, PilotReportRef, PilotState } from '../../domain/pilots/pilots';
import type { PilotNotification } from '../../domain/pilots/notifications';
import type { PilotCall } from '../../domain/pilots/report';
import type { LedgerEntry } from '../../domain/ledger/entries';

export type CreateOutcome = 'created' | 'exists' | 'campaign_changed';

export interface PilotStore {
  /**
   * ONE transaction: the pilot record and its counter (both must not exist), its registry entry, and the campaign
   * with the pilot's terms appended (condition: the campaign's rev is still `expectedRev`).
   */
  createPilot(args: { record: PilotRecord; campaign: Campaign; expectedRev: number }): Promise<CreateOutcome>;
  getPilot(accountId: string, pilotId: string): Promise<PilotRecord | null>;
  getCounter(accountId: string, pilotId: string): Promise<CounterSnapshot | null>;
  /** The daily counter's spend on `date` (null: nothing counted that day yet). */
  getDaySpent(accountId: string, pilotId: string, date: string): Promise<number | null>;
  /** Creates the day's counter at 0 if absent (the daily cap's reset); a no-op when it exists. */
  ensureDay(accountId: string, pilotId: string, date: string): Promise<void>;
  /** `SET open = false` if open: true for the one caller that closed it. */
  closeCounter(accountId: string, pilotId: string, reason: CloseReason, at: string): Promise<boolean>;
  /** Raises the counter to `to` if it still reads `from` (reconciliation with the ledger); true when written. */
  raiseCounter(accountId: string, pilotId: string, from: Pick<CounterSnapshot, 'spentCents' | 'billableCalls'>, to: Pick<CounterSnapshot, 'spentCents' | 'billableCalls'>): Promise<boolean>;
  /** Moves the record to `to` if its state allows it (PILOT_TRANSITIONS); true when written. */
  transition(accountId: string, pilotId: string, to: PilotState, at: string, extra?: { failure?: string }): Promise<boolean>;
  setExecutionArn(accountId: string, pilotId: string, executionArn: string, at: string): Promise<void>;
  /** Adds `key` to the record's claimed notifications; true for the one caller that added it (it then sends). */
  claimNotification(accountId: string, pilotId: string, key: string): Promise<boolean>;
  /** Records the report once (condition: none yet) and moves the state to `state`; true when written. */
  setReport(accountId: string, pilotId: string, report: PilotReportRef, state: PilotState, at: string): Promise<boolean>;
  /** The pilots the enforcer watches: every account's, until retired. */
  listLivePilots(): Promise<{ accountId: string; pilotId: string }[]>;
  /** Takes a pilot off the enforcer's list (its report is stored). */
  retire(accountId: string, pilotId: string, at: string): Promise<void>;
}

/** Calls and ledger entries of a pilot's campaign over a time range (the report's and the view's input). */
export interface PilotActivity {
  callsInRange(args: { accountId: string; campaignId: string; from: string; to: string }): Promise<PilotCall[]>;
  entriesInRange(args: { accountId: string; campaignId: string; from: string; to: string }): Promise<readonly LedgerEntry[]>;
}

export interface PilotCampaigns {
  /** Strongly consistent, uncached. */
  readCampaign(accountId: string, campaignId: string): Promise<Campaign | null>;
}

export interface PilotReportStore {
  put(report: { jsonKey: string; json: string; csvKey: string; csv: string }): Promise<void>;
  get(key: string): Promise<string | null>;
  /** A presigned GET URL (15 minutes). */
  presign(key: string): Promise<string>;
}

export interface PilotNotifier {
  /** POSTs `body` as JSON to each URL; failures are logged, never thrown. */
  send(urls: readonly string[], body: PilotNotification): Promise<void>;
}

/** What every execution of the pilot workflow starts with (the ASL reads these paths). */
export interface PilotExecutionInput {
  readonly accountId: string;
  readonly pilotId: string;
  /** The first Wait state's TimestampPath. */
  readonly startsAt: string;
  /** The monitor loop's SecondsPath. */
  readonly monitorSeconds: number;
  /** The wait after the window before closing (SecondsPath). */
  readonly settleSeconds: number;
}

export interface PilotWorkflow {
  /** Starts (or, same name and input, finds) the pilot's execution; returns its ARN. */
  start(name: string, input: PilotExecutionInput): Promise<string>;
  /** Stops a running execution; a finished or unknown one is not an error. */
  stop(executionArn: string, cause: string): Promise<void>;
}
