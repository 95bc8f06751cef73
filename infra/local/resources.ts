/**
 * Creates CallLedger's tables, queues and buckets in the local emulators, from the same definitions the CDK
 * stack uses (infra/resources.ts): keys, indexes, TTL, visibility timeouts, retention and DLQ redrive.
 */
import {
  CreateTableCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { BUCKETS, QUEUES, TABLES, dlqName, physicalName, type QueueDef, type TableDef } from '../resources';
import { localClients, loopbackQueueUrl, type EmulatorEndpoints } from './emulators';

export interface ResourceNames {
  readonly mainTable: string;
  readonly ledgerTable: string;
  readonly aggregatesTable: string;
  readonly ingestQueueUrl: string;
  readonly ingestDlqUrl: string;
  readonly recordingsQueueUrl: string;
  readonly recordingsDlqUrl: string;
  readonly archiveBucket: string;
  readonly recordingsBucket: string;
  readonly anchorsBucket: string;
}


export async function createTable(dynamodb: DynamoDBClient, name: string, def: TableDef): Promise<void> {
  const attributes = new Map<string, AttributeDefinition>();
  for (const key of [def.partitionKey, def.sortKey, ...def.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey])]) {
    attributes.set(key.name, { AttributeName: key.name, AttributeType: key.type });
  }
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attributes.values()],
        KeySchema: [
          { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: def.globalSecondaryIndexes.length
          ? def.globalSecondaryIndexes.map((index) => ({
              IndexName: index.indexName,
              KeySchema: [
                { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
                { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
              ],
              // As in CDK (infra/constructs/tables.ts): ALL unless the definition says KEYS_ONLY.
              Projection: { ProjectionType: index.projection ?? 'ALL' },
            }))
          : undefined,
        // As in CDK (infra/constructs/tables.ts); DynamoDB Local serves the stream (infra/local/stream-poller.ts).
        StreamSpecification: def.stream === undefined ? undefined : { StreamEnabled: true, StreamViewType: def.stream },
      }),
    );
  } catch (err) {
    // Re-running against the same emulator with the same prefix: the table is already there.
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  if (def.timeToLiveAttribute) {
    await dynamodb
      .send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: def.timeToLiveAttribute, Enabled: true },
        }),
      )
      .catch((err: Error) => {
        // "TimeToLive is already enabled" on a re-run is fine.
        if (!/already enabled/i.test(err.message)) throw err;
      });
  }
}

export interface CreatedQueue {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

/** Creates a queue and its DLQ with the definition's timeouts, retention and redrive policy. */
export async function createQueue(sqs: SQSClient, sqsEndpoint: string, name: string, dlq: string, def: QueueDef): Promise<CreatedQueue> {
  const dlqUrl = await createOne(sqs, sqsEndpoint, dlq, { MessageRetentionPeriod: String(def.dlqRetentionPeriodSec) });
  const dlqArn = await queueArn(sqs, dlqUrl);
  const queueUrl = await createOne(sqs, sqsEndpoint, name, {
    VisibilityTimeout: String(def.visibilityTimeoutSec),
    MessageRetentionPeriod: String(def.retentionPeriodSec),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: def.maxReceiveCount }),
  });
  return { queueUrl, queueArn: await queueArn(sqs, queueUrl), dlqUrl, dlqArn };
}

async function createOne(sqs: SQSClient, sqsEndpoint: string, name: string, attributes: Record<string, string>): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  return loopbackQueueUrl(QueueUrl!, sqsEndpoint);
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return Attributes!.QueueArn!;
}

/** Lifecycle rules and encryption (BUCKETS) are AWS-side storage policy set by CDK; nothing local depends on them. */
export async function createBucket(s3: S3Client, name: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: name })).catch((err: Error) => {
    if (err.name !== 'BucketAlreadyOwnedByYou') throw err;
  });
}

/**
 * Creates every table, queue (with DLQ) and bucket of infra/resources.ts under `prefix`.
 * Queue URLs are returned in loopback form (see `loopbackQueueUrl`).
 */
export async function createResources(endpoints: EmulatorEndpoints, prefix: string): Promise<ResourceNames> {
  const clients = localClients(endpoints);
  try {
    const name = (id: string) => physicalName(prefix, id);
    const [, , , ingest, recordings] = await Promise.all([
      createTable(clients.dynamodb, name(TABLES.main.id), TABLES.main),
      createTable(clients.dynamodb, name(TABLES.ledger.id), TABLES.ledger),
      createTable(clients.dynamodb, name(TABLES.aggregates.id), TABLES.aggregates),
      createQueue(clients.sqs, endpoints.sqs, name(QUEUES.ingest.id), dlqName(prefix, QUEUES.ingest), QUEUES.ingest),
      createQueue(clients.sqs, endpoints.sqs, name(QUEUES.recordings.id), dlqName(prefix, QUEUES.recordings), QUEUES.recordings),
      createBucket(clients.s3, name(BUCKETS.archive.id)),
      createBucket(clients.s3, name(BUCKETS.recordings.id)),
      // Object Lock is an AWS-side policy (CDK); locally a plain bucket.
      createBucket(clients.s3, name(BUCKETS.anchors.id)),
    ]);
    return {
      mainTable: name(TABLES.main.id),
      ledgerTable: name(TABLES.ledger.id),
      aggregatesTable: name(TABLES.aggregates.id),
      ingestQueueUrl: ingest.queueUrl,
      ingestDlqUrl: ingest.dlqUrl,
      recordingsQueueUrl: recordings.queueUrl,
      recordingsDlqUrl: recordings.dlqUrl,
      archiveBucket: name(BUCKETS.archive.id),
      recordingsBucket: name(BUCKETS.recordings.id),
      anchorsBucket: name(BUCKETS.anchors.id),
    };
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}
