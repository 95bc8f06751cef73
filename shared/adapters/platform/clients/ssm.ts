import { SSMClient } from '@aws-sdk/client-ssm';
import { clientOptions, DEPENDENCY_TAG, dependencyTag, lazy } from './endpoint';

export const ssm = lazy(() => {
  const client = new SSMClient(clientOptions('ssm'));
  client.middlewareStack.add(dependencyTag('ssm'), DEPENDENCY_TAG);
  return client;
});
