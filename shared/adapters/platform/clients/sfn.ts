import { SFNClient } from '@aws-sdk/client-sfn';
import { clientOptions, DEPENDENCY_TAG, dependencyTag, lazy } from './endpoint';

export const sfn = lazy(() => {
  const client = new SFNClient(clientOptions('sfn'));
  client.middlewareStack.add(dependencyTag('sfn'), DEPENDENCY_TAG);
  return client;
});
