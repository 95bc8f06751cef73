/**
 * The sweep of expired pilot reservations in the synthesised template: run every minute by EventBridge Scheduler,
 * an alarm on its errors, and an IAM role that reads the main table and writes only pilot counters (PILOT#…) and the
 * calls' reservation pointers (CALL#…): no ledger, no deletes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../../infra/resources';
import { buildCallLedgerApp } from '../../../infra/stack';

type Json = Record<string, any>;

const CDK_JSON = JSON.parse(readFileSync(new URL('../../../cdk.json', import.meta.url), 'utf8')) as Json;
const outdir = mkdtempSync(path.join(tmpdir(), 'callledger-sweep-'));
const { app, stack } = buildCallLedgerApp({ outdir, context: { ...CDK_JSON.context, env: 'dev', 'aws:cdk:bundling-stacks': [] } });
const json = app.synth().getStackArtifact(stack.artifactId).template as Json;
const resourcesOf = (type: string): Json[] => Object.values(json.Resources as Json).filter((r: Json) => r.Type === type) as Json[];
const fn = stack.functions.sweepReservations;
const logicalId = stack.getLogicalId(fn.fn.node.defaultChild as CfnElement);

describe('the sweep of expired reservations (CDK)', () => {
  it('runs every minute through EventBridge Scheduler', () => {
    const schedule = resourcesOf('AWS::Scheduler::Schedule').find((s) => JSON.stringify(s.Properties.Target.Arn).includes(logicalId));
    expect(schedule?.Properties).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED', FlexibleTimeWindow: { Mode: 'OFF' } });
    expect(FUNCTIONS.sweepReservations.schedule.rateMinutes).toBe(1);
  });

  it('alarms when a run fails', () => {
    const alarm = resourcesOf('AWS::CloudWatch::Alarm').find((a) => a.Properties.MetricName === 'Errors' && JSON.stringify(a.Properties.Dimensions).includes(logicalId));
    expect(alarm?.Properties).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  it('reads the main table, updates only PILOT# and CALL# items, puts only CALL# items; nothing on the ledger, no deletes', () => {
    const role = stack.resolve(fn.role.roleName);
    const statements = resourcesOf('AWS::IAM::Policy')
      .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([role]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
      .filter((s) => ([] as string[]).concat(s.Action).some((a) => a.startsWith('dynamodb:')));
    const mainArn = JSON.stringify(stack.resolve(stack.data.tables.main.tableArn));
    const ledgerArn = JSON.stringify(stack.resolve(stack.data.tables.ledger.tableArn));
    expect(JSON.stringify(statements)).not.toContain(ledgerArn);
    const leading = (s: Json) => s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];
    for (const s of statements) {
      const actions = ([] as string[]).concat(s.Action);
      expect(actions.some((a) => a.includes('Delete') || a === 'dynamodb:*'), actions.join()).toBe(false);
      if (actions.includes('dynamodb:UpdateItem')) expect(leading(s)).toEqual(['PILOT#*', 'CALL#*']);
      if (actions.includes('dynamodb:PutItem')) expect(leading(s)).toEqual(['CALL#*']);
      expect(JSON.stringify(s.Resource)).toContain(mainArn.slice(1, -1));
    }
    expect(statements.flatMap((s) => ([] as string[]).concat(s.Action))).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:PutItem']));
  });
});
