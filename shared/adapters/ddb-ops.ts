/**
 * The one GetItem of the adapters: consumed capacity requested and counted in ddbStats (ddb-stats.ts), like every
 * other DynamoDB request, so the bench and the capacity tests see every read.
 */
import { GetItemCommand, type AttributeValue, type DynamoDBClient, type GetItemCommandInput } from '@aws-sdk/client-dynamodb';
import { recordDdb } from './ddb-stats';

/** The item as stored (keys included), or undefined when there is none. */
export async function getItem(client: DynamoDBClient, input: Omit<GetItemCommandInput, 'ReturnConsumedCapacity'>): Promise<Record<string, AttributeValue> | undefined> {
  const out = await client.send(new GetItemCommand({ ...input, ReturnConsumedCapacity: 'TOTAL' }));
  recordDdb('read', out.ConsumedCapacity);
  return out.Item;
}
