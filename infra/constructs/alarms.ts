/**
 * Operational alarms, all notifying one SNS topic (plus an email subscription when configured):
 * - a message in any dead-letter queue (a webhook or recording that failed maxReceiveCount times),
 * - HTTP API 5xx responses (Twilio retries on 5xx; sustained 5xx means lost or late events),
 * - errors of each function,
 * - ingest backlog: the oldest message waiting longer than the configured age (ledger writer stuck or throttled),
 * - a call's events refused because the call belongs to another account (metric CallAccountConflict, ledger writer).
 * Missing data is "not breaching": idle environments stay OK.
 */
import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { ALARMED_METRICS } from '../resources';
import type { WorkQueue } from './queues';

export interface OperationalAlarmsProps {
  readonly topicName: string;
  readonly alarmEmail?: string;
  readonly alarmNamePrefix: string;
  readonly api: HttpApi;
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly queues: Readonly<Record<string, WorkQueue>>;
  /** The queue whose backlog age is watched (the ledger writer's input). */
  readonly backlogQueue: WorkQueue;
  readonly backlogAlarmSeconds: number;
}

export class OperationalAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationalAlarmsProps) {
    super(scope, id);

    this.topic = new Topic(this, 'Topic', { topicName: props.topicName, enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);

    const alarm = (alarmId: string, metric: IMetric, threshold: number, description: string, periods = 1): void => {
      const created = new Alarm(this, alarmId, {
        alarmName: `${props.alarmNamePrefix}-${alarmId}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
    };

    for (const { def, dlq } of Object.values(props.queues)) {
      alarm(
        `${def.id}DlqNotEmpty`,
        dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        1,
        `Messages in the ${def.id} dead-letter queue: they failed ${def.maxReceiveCount} times. Inspect, fix, redrive.`,
      );
    }

    alarm(
      'Api5xx',
      props.api.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      1,
      'The HTTP API answered 5xx. Twilio retries webhooks on 5xx; sustained errors delay or lose call events.',
    );

    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(
        `${name}Errors`,
        fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        1,
        `The ${name} function threw (invocation errors, timeouts or crashes).`,
      );
    }

    alarm(
      `${props.backlogQueue.def.id}Backlog`,
      props.backlogQueue.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
      props.backlogAlarmSeconds,
      `The oldest ${props.backlogQueue.def.id} message waited over ${props.backlogAlarmSeconds} s: the consumer is failing or throttled.`,
      3,
    );

    alarm(
      'CallAccountConflict',
      new Metric({
        namespace: ALARMED_METRICS.namespace,
        metricName: ALARMED_METRICS.callAccountConflict,
        dimensionsMap: { service: ALARMED_METRICS.service },
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
      1,
      'Webhook events were refused because their CallSid belongs to another account (two accounts sharing a Twilio ' +
        'account, or a forged webhook with a valid token). The owner\'s call is unchanged; the refused event ids are ' +
        'in the CONFLICT#<accountId> items of the main table and the raw webhooks in the archive.',
    );
  }
}
