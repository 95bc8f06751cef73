/**
 * The local stand-in for the pilot state machine: aws-local-stepfunctions runs the definition CDK deploys
 * (infra/pilot-workflow.ts `pilotWorkflowDefinition`; a unit test compares it with the synthesised template), with
 * every Task state bound to the real pilot-workflow handler (functions/pilot-workflow.ts), called as Lambda would
 * call it. It implements the `PilotWorkflow` port, so the local API starts and stops executions through it exactly
 * as the deployed API does through Step Functions (infra/local/stack.ts registers it).
 *
 * Time: `timeScale` divides every Wait (until the window opens, between checks, the settle time), so a pilot of a
 * few minutes runs in seconds; the tasks themselves keep the real clock (a sped-up run activates before `startsAt`;
 * the ledger writer still judges each call by its own start time, so nothing is charged outside the window).
 * The library times a Wait with ONE setTimeout, and Node.js fires a timer longer than 2^31 − 1 ms (24.8 days) at once
 * (TimeoutOverflowWarning): a pilot starting a month ahead would be activated immediately. So the wait until
 * `startsAt` — the one wait whose length has no bound — is done here, before the execution runs, as a chain of timers
 * of at most that length (`sleepUntil`), and WaitForStart then passes at once; the other waits are bounded by their
 * settings (PILOT_MONITOR_SECONDS ≤ 1 h, PILOT_SETTLE_SECONDS ≤ 1 day), and an input whose wait would not fit one
 * timer is refused when the execution starts rather than run early.
 * Executions are kept in memory with their status; the same name returns the same execution (as Step Functions
 * does for the same name and input). `abort` kills one mid-loop (crash tests).
 */
import type { Context } from 'aws-lambda';
import { ExecutionAbortedError, StateMachine } from 'aws-local-stepfunctions';
import { PILOT_ENV } from '../../shared/adapters/pilots/env';
import type { PilotExecutionInput, PilotWorkflow } from '../../shared/app/pilots/ports';
import { PILOT_TASK_STATES, pilotWorkflowDefinition, type Asl } from '../pilot-workflow';
import { FUNCTIONS } from '../resources';
import { invokeHandler } from './invoke';

/** The ARN the local definition names for the task function (only its shape matters: every Task is overridden). */
export const LOCAL_TASK_FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:callledger-local-pilot-workflow';
const LOCAL_STATE_MACHINE = 'callledger-local-pilots';

/** The longest delay one Node.js timer can hold (2^31 − 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Resolves once `Date.now()` reaches `untilMs`, however far ahead, or as soon as `signal` aborts: one timer of at most
 * MAX_TIMER_MS at a time, each re-armed for what is left (so a timer that fires a little early or late does not move
 * the deadline).
 */
export function sleepUntil(untilMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const arm = () => {
      const left = untilMs - Date.now();
      if (left <= 0) {
        signal.removeEventListener('abort', onAbort);
        resolve();
        return;
      }
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    arm();
  });
}

export type PilotTaskHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface LocalPilotWorkflowOptions {
  /** The pilot-workflow function's handler. */
  readonly handler: PilotTaskHandler;
  /** Waits last `1 / timeScale` of their time (default 1: real time). */
  readonly timeScale?: number;
  /** Pause before a retry, ms (default 200: the deployed backoff is seconds to a minute). */
  readonly retryPauseMs?: number;
  readonly log?: (line: string) => void;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface LocalExecution {
  readonly executionArn: string;
  readonly name: string;
  readonly input: PilotExecutionInput;
  status: ExecutionStatus;
  output: unknown;
  error: string | null;
  /** Settles when the execution ends, whatever the outcome. */
  readonly done: Promise<void>;
  readonly abort: () => void;
}

export interface LocalPilotWorkflow extends PilotWorkflow {
  /** The definition this runner executes. */
  readonly definition: Asl;
  execution(executionArn: string): LocalExecution | undefined;
  executions(): readonly LocalExecution[];
  /** Kills an execution as a crash would (no state of it runs again): its status becomes ABORTED. */
  abort(executionArn: string): void;
  /** Aborts every running execution and waits for them to end. */
  stopAll(): Promise<void>;
}

export function startLocalPilotWorkflow(opts: LocalPilotWorkflowOptions): LocalPilotWorkflow {
  const definition = pilotWorkflowDefinition(LOCAL_TASK_FUNCTION_ARN);
  // A copy: the library annotates the object it is given (e.g. `QueryLanguage` on each state).
  const machine = new StateMachine(structuredClone(definition) as never, { validationOptions: { checkPaths: true, checkArn: true } });
  const scale = opts.timeScale ?? 1;
  if (!(scale >= 1)) throw new Error(`timeScale must be >= 1, got ${scale}`);
  const log = opts.log ?? (() => {});
  const executions = new Map<string, LocalExecution>();

  const invoke = (input: unknown) => invokeHandler(FUNCTIONS.pilotWorkflow, opts.handler, input) as Promise<never>;

  const start = async (name: string, input: PilotExecutionInput): Promise<string> => {
    const executionArn = `arn:aws:states:us-east-1:000000000000:execution:${LOCAL_STATE_MACHINE}:${name}`;
    const existing = executions.get(executionArn);
    if (existing !== undefined) {
      if (JSON.stringify(existing.input) !== JSON.stringify(input)) throw Object.assign(new Error(`execution ${name} exists with another input`), { name: 'ExecutionAlreadyExists' });
      return executionArn;
    }
    const startedAt = new Date();
    const untilStartMs = Math.max(0, Date.parse(input.startsAt) - startedAt.getTime());
    const startWaitEndsAt = startedAt.getTime() + Math.round(untilStartMs / scale);
    const boundedWaits = {
      WaitForCheck: Math.round((input.monitorSeconds * 1000) / scale),
      Settle: Math.round((input.settleSeconds * 1000) / scale),
      AwaitInFlight: Math.round((input.settleSeconds * 1000) / scale),
    };
    for (const [state, ms] of Object.entries(boundedWaits)) {
      if (ms > MAX_TIMER_MS) throw new Error(`execution ${name}: the ${state} wait of ${ms} ms is longer than one timer can hold locally (${MAX_TIMER_MS} ms)`);
    }
    const aborted = new AbortController();
    let running: { abort: () => void } | undefined;
    const result = (async () => {
      await sleepUntil(startWaitEndsAt, aborted.signal);
      if (aborted.signal.aborted) throw new ExecutionAbortedError();
      const run = machine.run(input as never, {
        overrides: {
          taskResourceLocalHandlers: Object.fromEntries(PILOT_TASK_STATES.map((state) => [state, invoke])),
          // Waited above (`sleepUntil`): the state passes at once.
          waitTimeOverrides: { WaitForStart: 0, ...boundedWaits },
          retryIntervalOverrides: Object.fromEntries(PILOT_TASK_STATES.map((state) => [state, opts.retryPauseMs ?? 200])),
        },
        context: { Execution: { Id: executionArn, Name: name, Input: input as never, StartTime: startedAt.toISOString() } } as never,
      });
      running = run;
      return run.result;
    })();
    const execution: LocalExecution = {
      executionArn,
      name,
      input,
      status: 'RUNNING',
      output: null,
      error: null,
      abort: () => {
        aborted.abort();
        running?.abort();
      },
      done: result.then(
        (output) => {
          execution.status = 'SUCCEEDED';
          execution.output = output;
        },
        (err: unknown) => {
          if (err instanceof ExecutionAbortedError) {
            execution.status = 'ABORTED';
            return;
          }
          execution.status = 'FAILED';
          execution.error = err instanceof Error ? err.message : String(err);
          log(`pilot execution ${name} failed: ${execution.error}`);
        },
      ),
    };
    executions.set(executionArn, execution);
    return executionArn;
  };

  const abort = (executionArn: string) => {
    const e = executions.get(executionArn);
    if (e !== undefined && e.status === 'RUNNING') e.abort();
  };

  return {
    definition,
    start,
    stop: async (executionArn) => abort(executionArn),
    abort,
    execution: (arn) => executions.get(arn),
    executions: () => [...executions.values()],
    stopAll: async () => {
      for (const e of executions.values()) if (e.status === 'RUNNING') e.abort();
      await Promise.all([...executions.values()].map((e) => e.done));
    },
  };
}

/**
 * The pilot settings of the local handlers (shared/adapters/pilots/env.ts), unless the environment sets them:
 * notifications may go to 127.0.0.1 and http, checks every 10 s, 30 s of settle time and of finish grace.
 */
export function localPilotEnv(current: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const pick = (name: string, fallback: string) => (current[name] === undefined || current[name] === '' ? fallback : current[name]!);
  return {
    [PILOT_ENV.notifyAllowLocal]: pick(PILOT_ENV.notifyAllowLocal, 'true'),
    [PILOT_ENV.monitorSeconds]: pick(PILOT_ENV.monitorSeconds, '10'),
    [PILOT_ENV.settleSeconds]: pick(PILOT_ENV.settleSeconds, '30'),
    [PILOT_ENV.finishGraceSeconds]: pick(PILOT_ENV.finishGraceSeconds, '30'),
  };
}

/** The option, else LOCAL_PILOT_TIME_SCALE, else 1. */
export function resolvePilotTimeScale(option: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const raw = option ?? (env.LOCAL_PILOT_TIME_SCALE === undefined || env.LOCAL_PILOT_TIME_SCALE === '' ? 1 : Number(env.LOCAL_PILOT_TIME_SCALE));
  if (!(raw >= 1)) throw new Error(`the local pilot time scale must be a number >= 1, got ${JSON.stringify(option ?? env.LOCAL_PILOT_TIME_SCALE)}`);
  return raw;
}
