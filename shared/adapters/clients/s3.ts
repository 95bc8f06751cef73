import { S3Client } from '@aws-sdk/client-s3';
import { endpoint, lazy } from './endpoint';

/** Path-style addressing when an endpoint is set: emulators do not serve virtual-hosted bucket names. */
export const s3 = lazy(() => {
  const ep = endpoint('S3');
  return new S3Client({ endpoint: ep, forcePathStyle: ep !== undefined });
});
