import { KMSClient } from '@aws-sdk/client-kms';
import { clientOptions, DEPENDENCY_TAG, dependencyTag } from './endpoint';

/** Not a singleton: the PII key wiring makes one per container (shared/adapters/privacy/pii-cipher.ts). */
export function kmsClient(): KMSClient {
  const client = new KMSClient(clientOptions('kms'));
  client.middlewareStack.add(dependencyTag('kms'), DEPENDENCY_TAG);
  return client;
}
