/**
 * Lazily created, per-container singleton AWS SDK v3 clients.
 *
 * Endpoints: the SDK itself honours `AWS_ENDPOINT_URL_<SERVICE>`; we pass them explicitly as well so the behaviour
 * does not depend on SDK defaults, and switch S3 to path-style addressing when an S3 endpoint is set (emulators do
 * not serve virtual-hosted bucket names).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';

function endpoint(service: 'DYNAMODB' | 'SQS' | 'S3' | 'SSM'): string | undefined {
  const value = process.env[`AWS_ENDPOINT_URL_${service}`] ?? process.env.AWS_ENDPOINT_URL;
  return value === undefined || value === '' ? undefined : value;
}

function lazy<T>(create: () => T): () => T {
  let instance: T | undefined;
  return () => (instance ??= create());
}

export const dynamodb = lazy(() => new DynamoDBClient({ endpoint: endpoint('DYNAMODB') }));
export const sqs = lazy(() => new SQSClient({ endpoint: endpoint('SQS') }));
export const s3 = lazy(() => {
  const ep = endpoint('S3');
  return new S3Client({ endpoint: ep, forcePathStyle: ep !== undefined });
});
export const ssm = lazy(() => new SSMClient({ endpoint: endpoint('SSM') }));

/**
 * DynamoDB request and capacity counters for this process (the benchmark reads them to report requests and
 * consumed write units per billable call). Every repository call goes through `recordDdb`.
 */
export const ddbStats = {
  requests: 0,
  readUnits: 0,
  writeUnits: 0,
  reset(): void {
    this.requests = 0;
    this.readUnits = 0;
    this.writeUnits = 0;
  },
};

/**
 * Counts one request and the capacity it consumed (a single value, or the per-table list of a transaction).
 * `kind` says which counter the units go to: the operation decides, not the shape of the response.
 */
export function recordDdb(kind: 'read' | 'write', consumed: ConsumedCapacity | readonly ConsumedCapacity[] | undefined): void {
  ddbStats.requests += 1;
  const list: readonly ConsumedCapacity[] = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed as ConsumedCapacity];
  const units = list.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
  if (kind === 'write') ddbStats.writeUnits += units;
  else ddbStats.readUnits += units;
}
