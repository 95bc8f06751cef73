/**
 * The deployed `GET /health` probes (shared/app/kernel/health.ts), one cheap request per dependency through the functions'
 * own clients (same time budgets as every other call; the use case cuts each off sooner):
 * - dynamodb: GetItem of a key that never exists in the main table (reads nothing, 0.5 RCU);
 * - sqs: GetQueueAttributes (QueueArn) of the ingest queue, the queue a webhook's 204 depends on;
 * - s3: HeadObject of a key that never exists in the anchors bucket.
 * A component is up when it answered over HTTP, whatever it answered short of a dependency failure: a 404 for the
 * missing object is S3 answering. An error with no HTTP answer (no connection, no credentials) is down.
 *
 * The SQS client package is loaded on the first probe, not at cold start: the api function uses SQS for nothing
 * else, and each client package is paid at module load (clients/endpoint.ts).
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Probe } from '../../app/kernel/health';
import { dynamodb } from './clients/dynamodb';
import { clientOptions, DEPENDENCY_TAG, dependencyTag, lazy } from './clients/endpoint';
import { s3 } from './clients/s3';
import { dependencyFailure } from './dependency-failure';

/** The probe's own key: never written, so the read costs nothing and returns nothing. */
const PROBE_KEY = 'HEALTH#probe';

/** Resolves if the dependency answered over HTTP (a 4xx included) without a dependency failure. */
async function answered(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
    if (typeof status !== 'number' || dependencyFailure(err) !== null) throw err;
  }
}

const sqsClient = lazy(async () => {
  const { SQSClient, GetQueueAttributesCommand } = await import('@aws-sdk/client-sqs');
  const client = new SQSClient(clientOptions('sqs'));
  client.middlewareStack.add(dependencyTag('sqs'), DEPENDENCY_TAG);
  return { client, GetQueueAttributesCommand };
});

export function healthProbes(names: { mainTable: string; ingestQueueUrl: string; anchorsBucket: string }): Record<'dynamodb' | 'sqs' | 's3', Probe> {
  return {
    dynamodb: (abortSignal) =>
      answered(dynamodb().send(new GetItemCommand({ TableName: names.mainTable, Key: { pk: { S: PROBE_KEY }, sk: { S: PROBE_KEY } } }), { abortSignal })),
    sqs: async (abortSignal) => {
      const { client, GetQueueAttributesCommand } = await sqsClient();
      await answered(client.send(new GetQueueAttributesCommand({ QueueUrl: names.ingestQueueUrl, AttributeNames: ['QueueArn'] }), { abortSignal }));
    },
    s3: (abortSignal) => answered(s3().send(new HeadObjectCommand({ Bucket: names.anchorsBucket, Key: `anchors/${PROBE_KEY}` }), { abortSignal })),
  };
}
