/**
 * The daily aggregates in the synthesised template: the main table's stream (both images), the aggregates
 * table, the aggregator's event source mapping (call items only, partial batch responses, bisection, bounded
 * retries, a DLQ), and its IAM: the call item and config read-only, the aggregates table without deletes; the api
 * may only query the aggregates.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { STREAMS } from '../../../infra/resources';
import { buildCallLedgerApp } from '../../../infra/stack';

type Json = Record<string, any>;

const CDK_JSON = JSON.parse(readFileSync(new URL('../../../cdk.json', import.meta.url), 'utf8')) as Json;
const outdir = mkdtempSync(path.join(tmpdir(), 'callledger-aggregates-'));
const { app, stack } = buildCallLedgerApp({ outdir, context: { ...CDK_JSON.context, env: 'dev', 'aws:cdk:bundling-stacks': [] } });
const json = app.synth().getStackArtifact(stack.artifactId).template as Json;
const logicalId = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const resourcesOf = (type: string): [string, Json][] => Object.entries(json.Resources as Json).filter(([, r]) => r.Type === type) as [string, Json][];

const mainId = logicalId(stack.data.tables.main);
const aggregatesId = logicalId(stack.data.tables.aggregates);
const aggregatorId = logicalId(stack.functions.aggregator.fn);
const apiId = logicalId(stack.functions.api.fn);

/** Every DynamoDB action a function's role policies grant on a table (by the table's logical id in the ARN). */
function dynamoActions(fnId: string, tableId: string): string[] {
  const roleRef = json.Resources[fnId].Properties.Role['Fn::GetAtt'][0] as string;
  const actions = new Set<string>();
  for (const [, policy] of resourcesOf('AWS::IAM::Policy')) {
    if (!(policy.Properties.Roles as Json[]).some((r) => r.Ref === roleRef)) continue;
    for (const st of policy.Properties.PolicyDocument.Statement as Json[]) {
      if (!JSON.stringify(st.Resource).includes(tableId)) continue;
      for (const a of [st.Action].flat() as string[]) if (a.startsWith('dynamodb:')) actions.add(a);
    }
  }
  return [...actions].sort();
}

describe('daily aggregates in the template', () => {
  it('streams the main table with both images; the aggregates table has none', () => {
    expect(json.Resources[mainId].Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(json.Resources[aggregatesId].Properties.StreamSpecification).toBeUndefined();
    expect(json.Resources[aggregatesId].Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('feeds the aggregator call items only, with partial batch responses, bisection, bounded retries and a DLQ', () => {
    const mappings = resourcesOf('AWS::Lambda::EventSourceMapping').filter(([, m]) => m.Properties.FunctionName.Ref === aggregatorId);
    expect(mappings).toHaveLength(1);
    const p = mappings[0]![1].Properties;
    expect(p.EventSourceArn).toEqual({ 'Fn::GetAtt': [mainId, 'StreamArn'] });
    expect(p).toMatchObject({
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: STREAMS.callChanges.batchSize,
      MaximumRetryAttempts: STREAMS.callChanges.retryAttempts,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(JSON.parse(p.FilterCriteria.Filters[0].Pattern)).toEqual({ dynamodb: { Keys: { pk: { S: [{ prefix: 'CALL#' }] } } } });
    const dlqArn = p.DestinationConfig.OnFailure.Destination['Fn::GetAtt'];
    expect(json.Resources[dlqArn[0]].Type).toBe('AWS::SQS::Queue');
  });

  it('alarms on a record in the stream DLQ and on the aggregator falling behind the stream', () => {
    const names = resourcesOf('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const dlq = names.find((a) => String(a.AlarmName).endsWith('-aggregator-stream-dlq'));
    const age = names.find((a) => String(a.AlarmName).endsWith('-aggregator-iterator-age'));
    expect(dlq).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
    expect(age).toMatchObject({ MetricName: 'IteratorAge', Threshold: 300_000 });
    expect(age!.AlarmActions).toHaveLength(1);
  });

  it('grants the aggregator reads of the main table and no deletes anywhere; the api only queries the aggregates', () => {
    expect(dynamoActions(aggregatorId, mainId).filter((a) => !a.startsWith('dynamodb:DescribeStream') && !['dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'].includes(a))).toEqual(['dynamodb:GetItem']);
    expect(dynamoActions(aggregatorId, aggregatesId)).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    expect(dynamoActions(apiId, aggregatesId)).toEqual(['dynamodb:Query']);
    expect(json.Resources[aggregatorId].Properties.Environment.Variables.AGGREGATES_TABLE).toEqual({ Ref: aggregatesId });
  });
});
