/**
 * Starting and stopping pilot executions (the `PilotWorkflow` port of shared/app/pilot-ports.ts).
 *
 * In AWS: Step Functions StartExecution / StopExecution with `@aws-sdk/client-sfn`. That client is NOT a dependency
 * of this repository yet (it is not in package.json or node_modules): it is loaded with a dynamic import from the
 * Lambda Node.js 24 runtime, which ships the whole AWS SDK v3 (the bundles leave `@aws-sdk/*` external anyway, see
 * infra/bundling.ts). TODO(lead): add `@aws-sdk/client-sfn` to package.json and replace `loadSfn` with a static
 * import (and `SfnModule` with its types); nothing else changes.
 *
 * Locally: the local stack registers its aws-local-stepfunctions runner (infra/local/stepfunctions.ts) with
 * `registerPilotWorkflow` before the handlers load, so the API's use case runs the very definition CDK deploys.
 */
import type { PilotExecutionInput, PilotWorkflow } from '../app/pilot-ports';

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

/** The few shapes of @aws-sdk/client-sfn used here. */
interface SfnModule {
  SFNClient: new (config: { endpoint?: string }) => { send(command: unknown): Promise<{ executionArn?: string }> };
  StartExecutionCommand: new (input: { stateMachineArn: string; name: string; input: string }) => unknown;
  StopExecutionCommand: new (input: { executionArn: string; cause?: string }) => unknown;
}

/** A variable, so that the type checker does not look for the package (see the header). */
const SFN_MODULE = '@aws-sdk/client-sfn';
let sfn: Promise<{ module: SfnModule; client: InstanceType<SfnModule['SFNClient']> }> | undefined;

function loadSfn() {
  return (sfn ??= (import(SFN_MODULE) as Promise<SfnModule>).then((module) => ({
    module,
    client: new module.SFNClient({ endpoint: process.env.AWS_ENDPOINT_URL_SFN || undefined }),
  })));
}

export class SfnPilotWorkflow implements PilotWorkflow {
  constructor(private readonly stateMachineArn: string) {}

  async start(name: string, input: PilotExecutionInput): Promise<string> {
    const { module, client } = await loadSfn();
    // Standard workflows: the same name and input return the running execution instead of failing (idempotent).
    const out = await client.send(new module.StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }));
    if (out.executionArn === undefined) throw new Error('StartExecution returned no executionArn');
    return out.executionArn;
  }

  async stop(executionArn: string, cause: string): Promise<void> {
    const { module, client } = await loadSfn();
    try {
      await client.send(new module.StopExecutionCommand({ executionArn, cause: cause.slice(0, 256) }));
    } catch (err) {
      // Already finished or never existed: nothing to stop.
      if ((err as { name?: string }).name === 'ExecutionDoesNotExist') return;
      throw err;
    }
  }
}
