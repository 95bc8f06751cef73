/**
 * SQS work queues built from QUEUES (infra/resources.ts), each with its dead-letter queue.
 * SSE with SQS-managed keys (no KMS grants for producers/consumers), TLS-only queue policies.
 */
import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUES, dlqName, physicalName, type QueueDef } from '../resources';

export type QueueKey = keyof typeof QUEUES;

export interface WorkQueue {
  readonly def: QueueDef;
  readonly queue: Queue;
  readonly dlq: Queue;
}

export class WorkQueues extends Construct {
  readonly queues: Record<QueueKey, WorkQueue>;

  constructor(scope: Construct, id: string, props: { readonly resourcePrefix: string }) {
    super(scope, id);
    const build = (def: QueueDef): WorkQueue => {
      const name = physicalName(props.resourcePrefix, def.id);
      const dlq = new Queue(this, `${def.id}Dlq`, {
        queueName: dlqName(props.resourcePrefix, def),
        retentionPeriod: Duration.seconds(def.dlqRetentionPeriodSec),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      const queue = new Queue(this, def.id, {
        queueName: name,
        visibilityTimeout: Duration.seconds(def.visibilityTimeoutSec),
        retentionPeriod: Duration.seconds(def.retentionPeriodSec),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        deadLetterQueue: { queue: dlq, maxReceiveCount: def.maxReceiveCount },
      });
      return { def, queue, dlq };
    };
    this.queues = Object.fromEntries(
      (Object.entries(QUEUES) as [QueueKey, QueueDef][]).map(([key, def]) => [key, build(def)]),
    ) as Record<QueueKey, WorkQueue>;
  }
}
