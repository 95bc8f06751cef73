/**
 * The local stand-in for EventBridge Scheduler: runs a scheduled function's real handler every `everyMs`, the way
 * the SQS pollers stand in for event source mappings. Runs never overlap (the next one is timed from the end of
 * the previous), a run's error is logged and does not stop the schedule (as a failed invocation does not stop a
 * schedule in AWS), and the timer does not keep the process alive. `stop()` cancels the next run and waits for
 * the one in flight, so nothing touches the emulators after the stack tears them down.
 */
import type { Context } from 'aws-lambda';
import type { FunctionDef } from '../resources';
import { invokeHandler } from './invoke';

export type ScheduledHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface LocalScheduleOptions {
  readonly fn: FunctionDef;
  readonly handler: ScheduledHandler;
  /** Time between the end of one run and the start of the next (the first run starts `everyMs` after start). */
  readonly everyMs: number;
  readonly log?: (line: string) => void;
}

export interface LocalSchedule {
  /** Runs the handler now (waiting for a run in flight first); resolves with its result, rejects with its error. */
  runNow(): Promise<unknown>;
  /** Completed runs, failed or not. */
  runs(): number;
  stop(): Promise<void>;
}

/** The event EventBridge Scheduler sends when a schedule has no input: an empty JSON object. */
const SCHEDULED_EVENT = {};

export function startLocalSchedule(opts: LocalScheduleOptions): LocalSchedule {
  if (!Number.isFinite(opts.everyMs) || opts.everyMs <= 0) throw new Error(`everyMs must be a positive number of ms, got ${opts.everyMs}`);
  const log = opts.log ?? (() => {});
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<unknown> = Promise.resolve();
  let completed = 0;
  let stopped = false;

  const invoke = (): Promise<unknown> => {
    const run = inFlight.catch(() => {}).then(() => invokeHandler(opts.fn, opts.handler, SCHEDULED_EVENT));
    inFlight = run.finally(() => void (completed += 1));
    return inFlight;
  };
  const arm = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      invoke()
        .catch((err: unknown) => log(`${opts.fn.id}: scheduled run failed: ${err instanceof Error ? err.message : String(err)}`))
        .finally(arm);
    }, opts.everyMs);
    timer.unref();
  };
  arm();

  return {
    runNow: invoke,
    runs: () => completed,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await inFlight.catch(() => {});
    },
  };
}

/** Default time between local runs of a scheduled function. */
export const DEFAULT_LOCAL_SCHEDULE_EVERY_MS = 60_000;

/** The option, else LOCAL_SCHEDULE_EVERY_MS, else 60 s; 0 means scheduled functions do not run. */
export function resolveScheduleEveryMs(option: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const raw = option ?? (env.LOCAL_SCHEDULE_EVERY_MS === undefined || env.LOCAL_SCHEDULE_EVERY_MS === '' ? DEFAULT_LOCAL_SCHEDULE_EVERY_MS : Number(env.LOCAL_SCHEDULE_EVERY_MS));
  if (!Number.isInteger(raw) || raw < 0) throw new Error(`the local schedule interval must be a whole number of ms >= 0, got ${JSON.stringify(option ?? env.LOCAL_SCHEDULE_EVERY_MS)}`);
  return raw;
}
