/** The `/health` checks of the local stack: each emulator answers a cheap call, and the SQS pollers run. */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { LocalClients } from './emulators';
import type { ComponentHealth } from './http-adapter';
import type { ResourceNames } from './resources';
import type { Pollers } from './sqs-poller';

const HEALTH_TIMEOUT_MS = 2000;

async function check(fn: (signal: AbortSignal) => Promise<unknown>): Promise<ComponentHealth> {
  try {
    await fn(AbortSignal.timeout(HEALTH_TIMEOUT_MS));
    return 'up';
  } catch (err) {
    return { down: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

export function componentChecks(
  clients: LocalClients,
  names: Pick<ResourceNames, 'ingestQueueUrl' | 'archiveBucket'>,
  pollers: () => Pollers | undefined,
): Record<string, () => Promise<ComponentHealth>> {
  return {
    dynamodb: () => check((abortSignal) => clients.dynamodb.send(new ListTablesCommand({ Limit: 1 }), { abortSignal })),
    sqs: () =>
      check((abortSignal) =>
        clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: names.ingestQueueUrl, AttributeNames: ['QueueArn'] }), { abortSignal }),
      ),
    s3: () => check((abortSignal) => clients.s3.send(new HeadBucketCommand({ Bucket: names.archiveBucket }), { abortSignal })),
    pollers: async () => (pollers()?.running() ? 'up' : { down: 'SQS pollers are not running' }),
  };
}

