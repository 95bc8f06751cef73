/**
 * Lambda: keeps the daily aggregates from the main table's stream (STREAMS.callChanges in
 * infra/resources.ts: call items only, both images). Thin: parse the records, hand the changes to
 * shared/app/reports/aggregates.ts, report the earliest failed record so the stream resumes there (partial batch response).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { STREAMS } from '../infra/resources';
import { aggregatorDeps } from '../shared/adapters/reports/deps';
import { loadConfig } from '../shared/adapters/platform/env';
import { logger } from '../shared/adapters/platform/log';
import { parseCall } from '../shared/adapters/calls/main-repo';
import { aggregateCallChanges, type CallChange } from '../shared/app/reports/aggregates';

const config = loadConfig(['mainTable', 'aggregatesTable']);
const deps = aggregatorDeps(config);
const PREFIX = STREAMS.callChanges.keyPrefix;

function changeOf(record: DynamoDBRecord): CallChange | null {
  const pk = record.dynamodb?.Keys?.pk?.S;
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  if (pk === undefined || !pk.startsWith(PREFIX) || sequenceNumber === undefined) return null;
  const image = (i: unknown) => (i === undefined ? null : parseCall(i as Record<string, AttributeValue>));
  return { callId: pk.slice(PREFIX.length), sequenceNumber, before: image(record.dynamodb?.OldImage), after: image(record.dynamodb?.NewImage) };
}

export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const changes = event.Records.map(changeOf).filter((c): c is CallChange => c !== null);
  const result = await aggregateCallChanges(changes, deps);
  for (const f of result.failures) logger.error('call aggregates not refreshed', { callId: f.callId, error: f.error as Error });
  logger.debug('aggregates', {
    records: event.Records.length,
    applied: result.applied,
    unchanged: result.unchanged,
    skipped: result.skipped,
    batches: result.batches,
    itemsWritten: result.itemsWritten,
  });
  return { batchItemFailures: result.failedSequenceNumber === null ? [] : [{ itemIdentifier: result.failedSequenceNumber }] };
}
