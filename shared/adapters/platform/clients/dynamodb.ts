import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { clientOptions, DEPENDENCY_TAG, dependencyTag, lazy } from './endpoint';

export const dynamodb = lazy(() => {
  const client = new DynamoDBClient(clientOptions('dynamodb'));
  client.middlewareStack.add(dependencyTag('dynamodb'), DEPENDENCY_TAG);
  return client;
});
