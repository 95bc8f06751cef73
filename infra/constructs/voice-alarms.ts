/**
 * Alarms of the voice functions (the Voice URLs: a caller is on the line while they decide), beside the errors
 * alarm every function has (alarms.ts):
 * - fail-safe answers: the decision could not be made within its budget (DynamoDB slow or down) and the call was
 *   answered from cache with the flow's fail-safe. Counted from the function's own log line (a metric filter on its
 *   log group: no metrics library in the bundle, no write on the answer path); one in five minutes pages, since every
 *   one is a caller the buyer's routing did not decide for;
 * - slow answers: the function's p99 duration over the alarm threshold for 15 minutes (callers hear silence while it
 *   runs; Twilio gives up at 15 s and plays its own error), well before the decision budget is the answer.
 * Missing data is "not breaching", as for every alarm of the stack.
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, MetricFilter, type ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { FAIL_SAFE_LOG_MESSAGE } from '../../shared/app/routing/voice-log';

export interface VoiceAlarmsProps {
  readonly alarmNamePrefix: string;
  readonly topic: ITopic;
  /** The voice functions, with their log groups. */
  readonly functions: Readonly<Record<string, { readonly fn: IFunction; readonly logGroup: ILogGroup }>>;
  /** p99 answer duration that pages when held for 15 minutes, ms. */
  readonly slowAnswerMs: number;
}

export const VOICE_METRICS_NAMESPACE = 'CallLedger/Voice';

export class VoiceAlarms extends Construct {
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: VoiceAlarmsProps) {
    super(scope, id);
    const action = new SnsAction(props.topic);
    for (const [name, { fn, logGroup }] of Object.entries(props.functions)) {
      const filter = new MetricFilter(this, `${name}FailSafe`, {
        logGroup,
        metricNamespace: VOICE_METRICS_NAMESPACE,
        metricName: `${name}FailSafeAnswers`,
        filterPattern: FilterPattern.stringValue('$.message', '=', FAIL_SAFE_LOG_MESSAGE),
        metricValue: '1',
      });
      const failSafe = new Alarm(this, `${name}FailSafeAlarm`, {
        alarmName: `${props.alarmNamePrefix}-${name}-fail-safe`,
        alarmDescription: `${name} answered calls with the flow's fail-safe: the decision missed its budget (DynamoDB slow or down). Callers reached the fallback, not the buyer's routing.`,
        metric: filter.metric({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      const slow = new Alarm(this, `${name}SlowAnswerAlarm`, {
        alarmName: `${props.alarmNamePrefix}-${name}-slow-answer`,
        alarmDescription: `${name}'s p99 duration stayed above ${props.slowAnswerMs} ms for 15 minutes: callers wait in silence while it decides.`,
        metric: fn.metricDuration({ period: Duration.minutes(5), statistic: 'p99' }),
        threshold: props.slowAnswerMs,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      for (const a of [failSafe, slow]) {
        a.addAlarmAction(action);
        a.addOkAction(action);
        this.alarms.push(a);
      }
    }
  }
}
