/**
 * The pilot workflow, in Amazon States Language, defined ONCE: the CDK stack deploys this definition
 * (infra/constructs/pilots.ts, `DefinitionBody.fromString`) and the local stack runs the very same one with
 * aws-local-stepfunctions (infra/local/stepfunctions.ts); a test compares the synthesised template's definition
 * with this function's output. Plain data: no aws-cdk-lib here.
 *
 *   WaitForStart (until startsAt) → Activate → ┌→ WaitForCheck (monitorSeconds) → Check → Decide ─continue─┘
 *                                               ├─ cap ───────────────────────────→ Close → AwaitInFlight (settleSeconds) → Report → Done
 *                                               ├─ window → Settle (settleSeconds) → Close → Report
 *                                               └─ closed (stopped, or closed by the enforcer) → Report
 *   any Task: Retry with exponential backoff and jitter, then Catch → RecordFailure → Failed (alarmed)
 *
 * Every Task invokes the one pilot-workflow function (functions/pilot-workflow.ts) with `{action, accountId,
 * pilotId[, reason | error]}` and keeps its result beside the execution input (ResultPath), so the waits keep
 * reading `startsAt`, `monitorSeconds` and `settleSeconds` from the input (PilotExecutionInput). Waits read paths,
 * not constants: a local run speeds them up by giving small values (or overriding the Wait states).
 */

export type Asl = Record<string, unknown> & { readonly StartAt: string; readonly States: Record<string, Record<string, unknown>> };

/** Task states (each bound to the pilot-workflow handler locally) and Wait states (overridable locally). */
export const PILOT_TASK_STATES = ['Activate', 'Check', 'Close', 'Report', 'RecordFailure'] as const;
export const PILOT_WAIT_STATES = ['WaitForStart', 'WaitForCheck', 'Settle', 'AwaitInFlight'] as const;

/** Retries of a task: transient Lambda and DynamoDB errors are retried for about 4 minutes before the Catch. */
export const TASK_RETRY = [
  {
    ErrorEquals: ['States.ALL'],
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: 2,
    MaxDelaySeconds: 60,
    JitterStrategy: 'FULL',
  },
] as const;

const ids = { 'accountId.$': '$.accountId', 'pilotId.$': '$.pilotId' };

function task(resource: string, parameters: Record<string, unknown>, resultPath: string | null, next: string, withCatch = true): Record<string, unknown> {
  return {
    Type: 'Task',
    Resource: resource,
    Parameters: { ...parameters, ...ids },
    ResultPath: resultPath,
    // A task of this workflow is short (DynamoDB, S3, a few webhooks with a 5 s timeout each): a hung invocation fails.
    TimeoutSeconds: 120,
    Retry: TASK_RETRY,
    ...(withCatch ? { Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }] } : {}),
    Next: next,
  };
}

/** The state machine definition, given the ARN of the pilot-workflow function (a CDK token in the stack). */
export function pilotWorkflowDefinition(taskFunctionArn: string): Asl {
  return {
    Comment: 'CallLedger pilot: wait for the window, activate, monitor spend and window, close, report (infra/pilot-workflow.ts)',
    StartAt: 'WaitForStart',
    States: {
      WaitForStart: { Type: 'Wait', TimestampPath: '$.startsAt', Next: 'Activate' },
      Activate: task(taskFunctionArn, { action: 'activate' }, '$.activation', 'WaitForCheck'),
      WaitForCheck: { Type: 'Wait', SecondsPath: '$.monitorSeconds', Next: 'Check' },
      Check: task(taskFunctionArn, { action: 'check' }, '$.check', 'Decide'),
      Decide: {
        Type: 'Choice',
        Choices: [
          { Variable: '$.check.decision', StringEquals: 'continue', Next: 'WaitForCheck' },
          { Variable: '$.check.decision', StringEquals: 'cap', Next: 'Close' },
          { Variable: '$.check.decision', StringEquals: 'window', Next: 'Settle' },
          { Variable: '$.check.decision', StringEquals: 'closed', Next: 'Report' },
        ],
        // No other decision exists; a Default that reached RecordFailure would have no $.error to record.
        Default: 'Failed',
      },
      Settle: { Type: 'Wait', SecondsPath: '$.settleSeconds', Next: 'Close' },
      Close: task(taskFunctionArn, { action: 'close', 'reason.$': '$.check.decision' }, '$.close', 'AfterClose'),
      // Closed on its cap while calls may still be in progress (they will be rated over_cap): wait for them too,
      // so that the report counts them. After the window the settle time has already passed.
      AfterClose: {
        Type: 'Choice',
        Choices: [{ Variable: '$.check.decision', StringEquals: 'cap', Next: 'AwaitInFlight' }],
        Default: 'Report',
      },
      AwaitInFlight: { Type: 'Wait', SecondsPath: '$.settleSeconds', Next: 'Report' },
      Report: task(taskFunctionArn, { action: 'report' }, '$.report', 'Done'),
      Done: { Type: 'Succeed' },
      // Records `failed` on the pilot (the enforcer still closes and reports it), then fails the execution.
      RecordFailure: {
        ...task(taskFunctionArn, { action: 'fail', 'error.$': '$.error' }, null, 'Failed', false),
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.recordError', Next: 'Failed' }],
      },
      Failed: { Type: 'Fail', Error: 'PilotWorkflowFailed', Cause: 'A task failed after its retries; the pilot is marked failed and left to enforce-caps.' },
    },
  };
}
