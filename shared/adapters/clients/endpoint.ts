/**
 * Shared by the per-service client modules next to this file. Each AWS SDK client lives in its own module so that
 * a function loads only the SDK packages it uses: the SDK is external to the bundles (infra/bundling.ts), so every
 * `import` of a client package is paid at cold start, used or not (client-s3 alone is the largest of them).
 *
 * Endpoints: the SDK itself honours `AWS_ENDPOINT_URL_<SERVICE>`; we pass them explicitly as well so the behaviour
 * does not depend on SDK defaults (the local stack sets them).
 */
export function endpoint(service: 'DYNAMODB' | 'SQS' | 'S3' | 'SSM' | 'SFN'): string | undefined {
  const value = process.env[`AWS_ENDPOINT_URL_${service}`] ?? process.env.AWS_ENDPOINT_URL;
  return value === undefined || value === '' ? undefined : value;
}

/** A per-container singleton, created on first use (the module is loaded at cold start, the client when needed). */
export function lazy<T>(create: () => T): () => T {
  let instance: T | undefined;
  return () => (instance ??= create());
}
