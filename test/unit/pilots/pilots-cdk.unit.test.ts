/**
 * Pilots in the synthesised template: the Standard state machine (logs ALL, tracing), its definition —
 * the very one the local stack runs (infra/local/stepfunctions.ts), modulo the task function's ARN — retries and
 * catches on every task, the state machine's IAM, the pilot functions' IAM (pilot partitions only, never a call
 * item; no ledger writes), the every-minute schedule of enforce-caps, and the alarms.
 */
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { startLocalPilotWorkflow } from '../../../infra/local/stepfunctions';
import { PILOT_TASK_STATES, pilotWorkflowDefinition } from '../../../infra/pilot-workflow';
import { FUNCTIONS, physicalName } from '../../../infra/resources';
import { buildCallLedgerApp } from '../../../infra/stack';

type Json = Record<string, any>;

const CDK_JSON = JSON.parse(readFileSync(new URL('../../../cdk.json', import.meta.url), 'utf8')) as Json;
const DEV = CDK_JSON.context.environments.dev as Json;

const synth = (() => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'callledger-pilots-'));
  const { app, stack } = buildCallLedgerApp({ outdir, context: { ...CDK_JSON.context, env: 'dev', 'aws:cdk:bundling-stacks': [] } });
  const json = app.synth().getStackArtifact(stack.artifactId).template as Json;
  return { stack, json };
})();

const { stack, json } = synth;
const logicalId = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const resourcesOf = (type: string): [string, Json][] => Object.entries(json.Resources as Json).filter(([, r]) => r.Type === type) as [string, Json][];
const smId = logicalId(stack.pilots.stateMachine);
const sm = json.Resources[smId] as Json;
const taskFnId = logicalId(stack.functions.pilotWorkflow.fn);
const PLACEHOLDER = 'arn:aws:lambda:us-east-1:000000000000:function:placeholder';

/** The template's definition string with the task function's ARN (a GetAtt) replaced by a placeholder. */
function templateDefinition(): Json {
  const def = sm.Properties.DefinitionString as Json;
  const parts = def['Fn::Join'][1] as unknown[];
  return JSON.parse(
    parts
      .map((p) => {
        if (typeof p === 'string') return p;
        expect(p).toEqual({ 'Fn::GetAtt': [taskFnId, 'Arn'] });
        return PLACEHOLDER;
      })
      .join(''),
  );
}

function policiesOf(fnKey: keyof typeof FUNCTIONS): Json[] {
  const role = stack.resolve(stack.functions[fnKey].role.roleName);
  return resourcesOf('AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([role]))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
}
const actionsOf = (s: Json): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('pilot state machine', () => {
  it('is a Standard state machine with logs at level ALL to its own log group and X-Ray tracing', () => {
    expect(sm.Properties).toMatchObject({
      StateMachineType: 'STANDARD',
      StateMachineName: physicalName(DEV.resourcePrefix, 'pilots'),
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: stack.resolve(stack.pilots.logGroup.logGroupArn) } }] },
    });
  });

  it('deploys exactly the definition the local runner executes (modulo the task function ARN)', () => {
    const local = startLocalPilotWorkflow({ handler: async () => ({}) });
    const rewrite = (d: unknown) => JSON.parse(JSON.stringify(d).replaceAll('arn:aws:lambda:us-east-1:000000000000:function:callledger-local-pilot-workflow', PLACEHOLDER));
    expect(templateDefinition()).toEqual(rewrite(local.definition));
    expect(templateDefinition()).toEqual(pilotWorkflowDefinition(PLACEHOLDER));
  });

  it('waits on paths from the execution input; every task retries with backoff and is caught into a failure state', () => {
    const d = templateDefinition();
    expect(d.States.WaitForStart).toMatchObject({ Type: 'Wait', TimestampPath: '$.startsAt' });
    expect(d.States.WaitForCheck).toMatchObject({ Type: 'Wait', SecondsPath: '$.monitorSeconds' });
    expect(d.States.Settle).toMatchObject({ Type: 'Wait', SecondsPath: '$.settleSeconds' });
    const tasks = Object.entries(d.States as Json).filter(([, s]) => s.Type === 'Task');
    expect(tasks.map(([n]) => n).sort()).toEqual([...PILOT_TASK_STATES].sort());
    for (const [name, s] of tasks) {
      expect(s.Resource, name).toBe(PLACEHOLDER);
      expect(s.Retry[0], name).toMatchObject({ ErrorEquals: ['States.ALL'], MaxAttempts: expect.any(Number) });
      expect(s.Retry[0].BackoffRate, name).toBeGreaterThan(1);
      expect(s.Catch?.[0]?.Next, name).toBe(name === 'RecordFailure' ? 'Failed' : 'RecordFailure');
    }
    expect(d.States.Failed.Type).toBe('Fail');
    expect(d.States.Decide.Choices.map((c: Json) => [c.StringEquals, c.Next])).toEqual([
      ['continue', 'WaitForCheck'],
      ['cap', 'Close'],
      ['window', 'Settle'],
      ['closed', 'Report'],
    ]);
  });

  it('its role may invoke the task function only', () => {
    const roleId = (sm.Properties.RoleArn as Json)['Fn::GetAtt'][0] as string;
    const statements = resourcesOf('AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
    const invoke = statements.filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(1);
    expect(JSON.stringify(invoke[0]!.Resource)).toContain(taskFnId);
    const others = statements.flatMap(actionsOf).filter((a) => !a.startsWith('logs:') && !a.startsWith('xray:') && a !== 'lambda:InvokeFunction');
    expect(others).toEqual([]);
  });

  it('alarms on failed and timed-out executions, to the alarm topic', () => {
    const topic = stack.resolve(stack.alarms.topic.topicArn);
    const alarms = resourcesOf('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties).filter((a) => a.Namespace === 'AWS/States');
    expect(alarms.map((a) => a.MetricName).sort()).toEqual(['ExecutionsFailed', 'ExecutionsTimedOut']);
    for (const a of alarms) {
      expect(a.Dimensions).toEqual([{ Name: 'StateMachineArn', Value: { Ref: smId } }]);
      expect(a.AlarmActions).toEqual([topic]);
    }
  });
});

describe('pilot IAM and schedule', () => {
  const mainArn = () => stack.resolve(stack.data.tables.main.tableArn);

  it('the API starts executions of this state machine, stops only its executions, and knows its ARN', () => {
    const st = policiesOf('api');
    expect(st).toContainEqual(expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: smId } }));
    const stop = st.find((s) => actionsOf(s).includes('states:StopExecution'))!;
    expect(JSON.stringify(stop.Resource)).toContain(`:execution:${physicalName(DEV.resourcePrefix, 'pilots')}:*`);
    const fn = json.Resources[logicalId(stack.functions.api.fn)] as Json;
    expect(fn.Properties.Environment.Variables.PILOT_STATE_MACHINE_ARN).toEqual({ Ref: smId });
  });

  const PILOT_ONLY = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['PILOT#*', 'ACCT#*', 'PILOTS'] } };

  it.each(['pilotWorkflow', 'enforceCaps'] as const)('%s puts and updates main-table items only in pilot partitions (LeadingKeys), never a call item', (fn) => {
    const writes = policiesOf(fn).filter((s) => actionsOf(s).some((a) => a === 'dynamodb:UpdateItem' || a === 'dynamodb:PutItem'));
    expect(writes.length).toBeGreaterThan(0);
    for (const s of writes) {
      expect(s.Resource).toEqual(mainArn());
      expect(s.Condition).toEqual(PILOT_ONLY);
    }
  });

  it('the API gets pilot-partition updates for stop and the execution ARN (its other main-table updates are the re-rating grant)', () => {
    expect(policiesOf('api')).toContainEqual(expect.objectContaining({ Action: 'dynamodb:UpdateItem', Resource: mainArn(), Condition: PILOT_ONLY }));
  });

  it('the workflow and the enforcer write only pilot items and report objects: no ledger writes, no deletes, no SSM', () => {
    const ledgerArn = JSON.stringify(stack.resolve(stack.data.tables.ledger.tableArn));
    for (const fn of ['pilotWorkflow', 'enforceCaps'] as const) {
      const st = policiesOf(fn);
      for (const s of st) {
        const actions = actionsOf(s);
        if (JSON.stringify(s.Resource).includes(ledgerArn)) expect(actions.every((a) => /^dynamodb:(Get|BatchGet|Query|Describe)/.test(a)), `${fn} ${actions}`).toBe(true);
        expect(actions.some((a) => a.includes('Delete') || a.startsWith('ssm:') || a === '*'), `${fn} ${actions}`).toBe(false);
        if (actions.includes('dynamodb:PutItem')) expect(s.Condition, fn).toBeDefined();
      }
      const put = st.find((s) => actionsOf(s).includes('s3:PutObject'))!;
      expect(JSON.stringify(put.Resource)).toContain('/pilot-reports/*');
    }
  });

  it('runs enforce-caps every minute through EventBridge Scheduler', () => {
    const schedules = resourcesOf('AWS::Scheduler::Schedule').map(([, s]) => s.Properties);
    const enforce = schedules.find((s) => JSON.stringify(s.Target.Arn).includes(logicalId(stack.functions.enforceCaps.fn)));
    expect(enforce).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED', FlexibleTimeWindow: { Mode: 'OFF' } });
  });
});
