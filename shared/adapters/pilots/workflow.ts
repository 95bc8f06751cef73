/**
 * Starting and stopping pilot executions (the `PilotWorkflow` port of shared/app/pilots/ports.ts).
 *
 * In AWS: Step Functions StartExecution / StopExecution with `@aws-sdk/client-sfn` (external to the bundle, from
 * the Lambda runtime, like every `@aws-sdk/*` package: infra/bundling.ts).
 *
 * Locally: the local stack registers its aws-local-stepfunctions runner (infra/local/stepfunctions.ts) with
 * `registerPilotWorkflow` before the handlers load, so the API's use case runs the very definition CDK deploys.
 */
import { StartExecutionCommand, StopExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { PilotExecutionInput, PilotWorkflow } from '../../app/pilots/ports';
import { sfn } from '../platform/clients/sfn';

let registered: PilotWorkflow | undefined;

/** The local stack's runner (one per process); `undefined` unregisters it. */
export function registerPilotWorkflow(workflow: PilotWorkflow | undefined): void {
  registered = workflow;
}

/** The registered runner, else Step Functions at `stateMachineArn`. */
export function resolvePilotWorkflow(stateMachineArn: string | undefined): PilotWorkflow {
  if (registered !== undefined) return registered;
  if (stateMachineArn === undefined) throw new Error('pilot workflow: PILOT_STATE_MACHINE_ARN is not set and no local runner is registered');
  return new SfnPilotWorkflow(stateMachineArn);
}

export class SfnPilotWorkflow implements PilotWorkflow {
  constructor(
    private readonly stateMachineArn: string,
    private readonly client: () => SFNClient = sfn,
  ) {}

  async start(name: string, input: PilotExecutionInput): Promise<string> {
    // Standard workflows: the same name and input return the running execution instead of failing (idempotent).
    const out = await this.client().send(new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }));
    if (out.executionArn === undefined) throw new Error('StartExecution returned no executionArn');
    return out.executionArn;
  }

  async stop(executionArn: string, cause: string): Promise<void> {
    try {
      await this.client().send(new StopExecutionCommand({ executionArn, cause: cause.slice(0, 256) }));
    } catch (err) {
      // Already finished or never existed: nothing to stop.
      if ((err as { name?: string }).name === 'ExecutionDoesNotExist') return;
      throw err;
    }
  }
}
