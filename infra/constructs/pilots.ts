/**
 * Pilot campaigns in AWS: the Standard state machine running infra/pilot-workflow.ts's definition (logs
 * at level ALL to its own log group, X-Ray tracing), its alarms, and the IAM of the three functions involved:
 *
 * - pilotWorkflow (the task states) and enforceCaps (every minute, by FunctionSchedules from FUNCTIONS.schedule):
 *   read the main table (pilot items, campaigns, calls by gsi1) and the ledger; write only pilot items — updates and
 *   puts restricted by `dynamodb:LeadingKeys` to the `PILOT#…` (counters), `ACCT#…` (pilot records) and `PILOTS`
 *   (registry) partitions, so neither can touch a call item or a duplicate marker; put report objects under
 *   `pilot-reports/` of the archive bucket.
 * - api: may start executions of this state machine and stop its executions (create, stop), update pilot items
 *   (the same LeadingKeys restriction: never a call item), and read report objects to presign them.
 *
 * The state machine's role may invoke the task function only. Its definition string is built from the same
 * function the local stack runs, with the function's ARN as a token: a test compares the synthesised template's
 * definition with `pilotWorkflowDefinition(<arn>)`.
 */
import { ArnFormat, Duration, Stack, Validations, type CfnElement, type RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PILOT_REPORT_PREFIX } from '../../shared/domain/pilots/report';
import { PILOT_ENV } from '../../shared/adapters/pilots/env';
import { pilotWorkflowDefinition } from '../pilot-workflow';
import { TABLES } from '../resources';
import { DDB_READ, grantTable } from './permissions';

export interface PilotWorkflowProps {
  readonly stateMachineName: string;
  readonly taskFunction: IFunction;
  readonly enforceFunction: IFunction;
  readonly apiFunction: IFunction;
  readonly mainTable: Table;
  readonly ledgerTable: Table;
  readonly reportsBucket: Bucket;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly alarmTopic: ITopic;
  readonly alarmNamePrefix: string;
}

/** The partitions pilot code may write (main table): counters, pilot records (and campaigns), the registry. */
export const PILOT_WRITE_PARTITIONS = ['PILOT#*', 'ACCT#*', 'PILOTS'] as const;

export class PilotWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: PilotWorkflowProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.logGroup = new LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}`,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(JSON.stringify(pilotWorkflowDefinition(props.taskFunction.functionArn))),
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      comment: 'CallLedger pilot campaigns (infra/pilot-workflow.ts)',
    });
    props.taskFunction.grantInvoke(this.stateMachine);

    // Task functions: read what a pilot reads, write pilot items only, put report objects.
    for (const fn of [props.taskFunction, props.enforceFunction]) {
      grantTable(fn, props.mainTable, TABLES.main, DDB_READ);
      grantTable(fn, props.ledgerTable, TABLES.ledger, DDB_READ);
      grantPilotWrites(fn, props.mainTable, ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem']);
      fn.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({ effect: Effect.ALLOW, actions: ['s3:PutObject'], resources: [props.reportsBucket.arnForObjects(`${PILOT_REPORT_PREFIX}*`)] }),
      );
    }

    // The API: start and stop this state machine's executions, update pilot items, presign reports.
    this.stateMachine.grantStartExecution(props.apiFunction);
    props.apiFunction.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['states:StopExecution'],
        resources: [stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${props.stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );
    grantPilotWrites(props.apiFunction, props.mainTable, ['dynamodb:UpdateItem']);
    props.apiFunction.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ effect: Effect.ALLOW, actions: ['s3:GetObject'], resources: [props.reportsBucket.arnForObjects(`${PILOT_REPORT_PREFIX}*`)] }),
    );
    const api = props.apiFunction as IFunction & { addEnvironment?: (k: string, v: string) => unknown };
    api.addEnvironment?.(PILOT_ENV.stateMachineArn, this.stateMachine.stateMachineArn);

    // A failed or timed-out execution leaves the pilot to enforce-caps: someone should look.
    const action = new SnsAction(props.alarmTopic);
    const alarm = (alarmId: string, metric: ReturnType<StateMachine['metricFailed']>, description: string) => {
      const a = new Alarm(this, alarmId, {
        alarmName: `${props.alarmNamePrefix}-${alarmId}`,
        alarmDescription: description,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms.push(a);
    };
    alarm(
      'PilotExecutionsFailed',
      this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      'A pilot workflow execution failed after its retries; the pilot is marked failed and enforce-caps closes and reports it.',
    );
    alarm(
      'PilotExecutionsTimedOut',
      this.stateMachine.metricTimedOut({ period: Duration.minutes(5), statistic: 'Sum' }),
      'A pilot workflow execution timed out.',
    );

    this.acknowledge(props);
  }

  /** cdk-nag findings of this construct, each with its reason, on the narrowest construct. */
  private acknowledge(props: PilotWorkflowProps): void {
    const stack = Stack.of(this);
    const logicalArn = (c: Construct) => `<${stack.getLogicalId(c.node.defaultChild as CfnElement)}.Arn>`;
    const reports = `AwsSolutions-IAM5[Resource::${logicalArn(props.reportsBucket)}/${PILOT_REPORT_PREFIX}*]`;
    // On each role (its policy carries the finding), not on the function.
    const roleOf = (fn: IFunction): Construct => fn.role ?? fn;
    for (const fn of [props.taskFunction, props.enforceFunction, props.apiFunction]) {
      Validations.of(roleOf(fn)).acknowledge({ id: reports, reason: 'Pilot reports are pilot-reports/<accountId>/<pilotId>/report.{json,csv}, one pair per pilot: access to that prefix only.' });
    }
    Validations.of(roleOf(props.apiFunction)).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${props.stateMachineName}:*]`,
      reason: 'StopExecution is per execution (one per pilot, named at run time): the grant covers the executions of the pilot state machine only.',
    });
    Validations.of(this.stateMachine).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::${logicalArn(props.taskFunction)}:*]`,
        reason: "lambda:InvokeFunction from CDK grantInvoke also names the function's qualified ARNs (versions, aliases) of this one function.",
      },
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'CloudWatch Logs delivery (logs:*LogDelivery*) and X-Ray (PutTraceSegments) support no resource-level permissions.' },
    );
  }
}

/** Puts/updates on the main table, only on items whose partition key is a pilot partition (never a call item). */
function grantPilotWrites(grantee: IGrantable, table: Table, actions: readonly string[]): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      effect: Effect.ALLOW,
      actions: [...actions],
      resources: [table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...PILOT_WRITE_PARTITIONS] } },
    }),
  );
}
