import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { withRequestAccounting } from '../dynamodb/ddb-stats';
import { clientOptions, DEPENDENCY_TAG, dependencyTag, lazy } from './endpoint';

/** The container's DynamoDB client: every request it sends is counted (ddb-stats.ts). */
export const dynamodb = lazy(() => {
  const client = withRequestAccounting(new DynamoDBClient(clientOptions('dynamodb')));
  client.middlewareStack.add(dependencyTag('dynamodb'), DEPENDENCY_TAG);
  return client;
});

/**
 * The client a repository sends with: the one it was given (tests, tools, the local stack), counted like the
 * container's own, or the container's. A stand-in without a middleware stack (a unit test's stub) is used as is.
 */
export function dynamodbClient(client: DynamoDBClient | undefined): () => DynamoDBClient {
  if (client === undefined) return dynamodb;
  if ((client as Partial<DynamoDBClient>).middlewareStack !== undefined) withRequestAccounting(client);
  return () => client;
}
