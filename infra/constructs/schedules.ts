/**
 * EventBridge Scheduler schedules for the functions in FUNCTIONS that have a `schedule` (infra/resources.ts): a
 * fixed rate, no flexible window, no payload. Scheduler invokes the function asynchronously through one role it
 * assumes (only for this account: `aws:SourceAccount`), which may invoke exactly those functions.
 *
 * Delivery is retried a few times within an hour (throttling, service errors); a run that still does not happen is
 * covered by the next one, since every scheduled function here is idempotent and catches up (the sealer seals all
 * intervals that are ready). Failures inside the function are the function's Errors alarm, not the schedule's.
 */
import { Aws, Duration, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, ScheduleExpression, TimeWindow } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { FUNCTIONS, type FunctionId } from '../resources';

export interface FunctionSchedulesProps {
  readonly functions: Readonly<Record<FunctionId, IFunction>>;
  /** Prefix of the schedule names (`<prefix>-<functionId>`). */
  readonly namePrefix: string;
}

export class FunctionSchedules extends Construct {
  readonly role: Role;
  readonly schedules: Partial<Record<FunctionId, Schedule>> = {};

  constructor(scope: Construct, id: string, props: FunctionSchedulesProps) {
    super(scope, id);
    this.role = new Role(this, 'InvokeRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } } }),
      description: 'CallLedger: EventBridge Scheduler invokes the scheduled functions',
    });
    for (const def of Object.values(FUNCTIONS)) {
      if (!('schedule' in def)) continue;
      const fn = props.functions[def.id];
      this.schedules[def.id] = new Schedule(this, def.id, {
        scheduleName: `${props.namePrefix}-${def.id}`,
        description: `CallLedger ${def.id}, every ${def.schedule.rateMinutes} minutes`,
        schedule: ScheduleExpression.rate(Duration.minutes(def.schedule.rateMinutes)),
        timeWindow: TimeWindow.off(),
        target: new LambdaInvoke(fn, { role: this.role, retryAttempts: 3, maxEventAge: Duration.hours(1) }),
      });
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${this.logicalIdOf(fn)}.Arn>:*]`,
        reason: 'lambda:InvokeFunction from CDK grantInvoke also names the function\'s qualified ARNs (versions, aliases) of this one function.',
      });
    }
  }

  private logicalIdOf(fn: IFunction): string {
    const child = fn.node.defaultChild as { logicalId?: string } | undefined;
    return fn.stack.getLogicalId(child as never);
  }
}
