import { SQSClient } from '@aws-sdk/client-sqs';
import { clientOptions, DEPENDENCY_TAG, dependencyTag, lazy } from './endpoint';

export const sqs = lazy(() => {
  const client = new SQSClient(clientOptions('sqs'));
  client.middlewareStack.add(dependencyTag('sqs'), DEPENDENCY_TAG);
  return client;
});
