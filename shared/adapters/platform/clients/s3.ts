import { S3Client } from '@aws-sdk/client-s3';
import { clientOptions, DEPENDENCY_TAG, dependencyTag, lazy } from './endpoint';

/** Path-style addressing when an endpoint is set: emulators do not serve virtual-hosted bucket names. */
export const s3 = lazy(() => {
  const options = clientOptions('s3');
  const client = new S3Client({ ...options, forcePathStyle: options.endpoint !== undefined });
  client.middlewareStack.add(dependencyTag('s3'), DEPENDENCY_TAG);
  return client;
});
