import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';

/**
 * DynamoDB request and capacity counters for this process (the benchmark reads them to report requests and
 * consumed write units per billable call). Every repository call goes through `recordDdb`.
 * - `writeUnits` / `readUnits`: what DynamoDB reported (ReturnConsumedCapacity=TOTAL). DynamoDB Local reports by
 *   rules of its own (4 units per KB for a transactional write), so locally this is not what AWS would bill;
 * - `awsWriteUnits`: the same writes priced by AWS's published rules (capacity.ts), from the items written.
 */
export const ddbStats = {
  requests: 0,
  readUnits: 0,
  writeUnits: 0,
  awsWriteUnits: 0,
  reset(): void {
    this.requests = 0;
    this.readUnits = 0;
    this.writeUnits = 0;
    this.awsWriteUnits = 0;
  },
};

/**
 * Counts one request and the capacity it consumed (a single value, or the per-table list of a transaction).
 * `kind` says which counter the units go to: the operation decides, not the shape of the response.
 * `awsWriteUnits` is the AWS-model price of a write (capacity.ts), when the caller could compute it.
 */
export function recordDdb(
  kind: 'read' | 'write',
  consumed: ConsumedCapacity | readonly ConsumedCapacity[] | undefined,
  awsWriteUnits = 0,
): void {
  ddbStats.requests += 1;
  const list: readonly ConsumedCapacity[] = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed as ConsumedCapacity];
  const units = list.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
  if (kind === 'write') ddbStats.writeUnits += units;
  else ddbStats.readUnits += units;
  ddbStats.awsWriteUnits += awsWriteUnits;
}
