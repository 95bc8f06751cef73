/**
 * The Step Functions adapter of the PilotWorkflow port: the requests it sends (StartExecution named after the
 * pilot, with the execution input the state machine reads; StopExecution with a bounded cause) and how it maps
 * the service's answers. The client is a recording stub: what is tested is our mapping, not the SDK.
 */
import { StartExecutionCommand, StopExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { SfnPilotWorkflow } from '../../../shared/adapters/pilots/workflow';

function stub(answer: (command: unknown) => unknown) {
  const sent: unknown[] = [];
  const client = { send: async (command: unknown) => (sent.push(command), answer(command)) } as unknown as SFNClient;
  return { sent, client: () => client };
}

const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:callledger-dev-pilots';
const input = { accountId: 'acme', pilotId: 'pil_1', startsAt: '2026-12-01T14:00:00.000Z', monitorSeconds: 60, settleSeconds: 300 };

describe('SfnPilotWorkflow', () => {
  it('starts an execution named after the pilot with the JSON input and returns its ARN', async () => {
    const s = stub(() => ({ executionArn: `${ARN}:pil_1` }));
    expect(await new SfnPilotWorkflow(ARN, s.client).start('pil_1', input)).toBe(`${ARN}:pil_1`);
    expect(s.sent).toHaveLength(1);
    const command = s.sent[0] as StartExecutionCommand;
    expect(command).toBeInstanceOf(StartExecutionCommand);
    expect(command.input).toEqual({ stateMachineArn: ARN, name: 'pil_1', input: JSON.stringify(input) });
  });

  it('refuses an answer without an execution ARN', async () => {
    await expect(new SfnPilotWorkflow(ARN, stub(() => ({})).client).start('pil_1', input)).rejects.toThrow(/no executionArn/);
  });

  it('stops with the cause cut to 256 characters; an execution that no longer exists is already stopped', async () => {
    const s = stub(() => ({}));
    await new SfnPilotWorkflow(ARN, s.client).stop(`${ARN}:pil_1`, 'x'.repeat(400));
    const command = s.sent[0] as StopExecutionCommand;
    expect(command).toBeInstanceOf(StopExecutionCommand);
    expect(command.input.cause).toHaveLength(256);
    const gone = stub(() => Promise.reject(Object.assign(new Error('gone'), { name: 'ExecutionDoesNotExist' })));
    await expect(new SfnPilotWorkflow(ARN, gone.client).stop(`${ARN}:pil_1`, 'stop')).resolves.toBeUndefined();
    const denied = stub(() => Promise.reject(Object.assign(new Error('denied'), { name: 'AccessDeniedException' })));
    await expect(new SfnPilotWorkflow(ARN, denied.client).stop(`${ARN}:pil_1`, 'stop')).rejects.toThrow('denied');
  });
});
