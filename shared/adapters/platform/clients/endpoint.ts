/**
 * Shared by the per-service client modules next to this file. Each AWS SDK client lives in its own module so that
 * a function loads only the SDK packages it uses: the SDK is external to the bundles (infra/bundling.ts), so every
 * `import` of a client package is paid at cold start, used or not (client-s3 alone is the largest of them).
 *
 * Endpoints: the SDK itself honours `AWS_ENDPOINT_URL_<SERVICE>`; we pass them explicitly as well so the behaviour
 * does not depend on SDK defaults (the local stack sets them).
 *
 * Time budgets: every client is built with `clientOptions(dependency)`, so a call to a dependency that does not
 * answer ends, retries included, well inside the shortest Lambda timeout (docs/ARCHITECTURE.md, "Time budgets").
 * Without them the SDK waits for ever (its request timeout defaults to 0): a frozen DynamoDB held an API request
 * until the function timed out and it was answered 500.
 */
import type { Dependency } from '../dependency-failure';
import { tagDependency } from '../dependency-failure';

type Service = 'DYNAMODB' | 'SQS' | 'S3' | 'SSM' | 'SFN' | 'KMS';

export function endpoint(service: Service): string | undefined {
  const value = process.env[`AWS_ENDPOINT_URL_${service}`] ?? process.env.AWS_ENDPOINT_URL;
  return value === undefined || value === '' ? undefined : value;
}

/** A per-container singleton, created on first use (the module is loaded at cold start, the client when needed). */
export function lazy<T>(create: () => T): () => T {
  let instance: T | undefined;
  return () => (instance ??= create());
}

export interface SdkBudget {
  /** TCP (and TLS) connect, per attempt. */
  readonly connectionTimeoutMs: number;
  /** From sending the request to the response's headers, per attempt (connect included). */
  readonly requestTimeoutMs: number;
  /** Attempts in all, the first one included (SDK `maxAttempts`, standard retry mode). */
  readonly maxAttempts: number;
}

/**
 * The longest wait the SDK's standard retry mode inserts before one retry: its throttling backoff base (1 s in the
 * @smithy/core version locked here; other errors wait at most 50 ms). A throttled attempt itself answers at once.
 */
export const MAX_RETRY_BACKOFF_MS = 1000;

/**
 * Per dependency. The shortest function timeout is the ingest function's 10 s (infra/resources.ts FUNCTIONS), and it
 * calls DynamoDB (the account, when not cached), SSM (the auth token, cached 5 min) and SQS in sequence: each worst
 * case stays at or under half of it. DynamoDB, SQS, SSM, Step Functions and KMS answer in milliseconds when healthy;
 * 2 s is two orders of magnitude of headroom, and the one retry absorbs a lost connection or a single slow answer.
 * S3 gets 3 s: request bodies go up to a 5 MB multipart part (recordings), sent before the response can start.
 * Two attempts, not the SDK's default three: a third would push the worst case past the budget, and every caller
 * has a retry of its own above this one (SQS redelivers the writer's messages; API clients get 503 + Retry-After;
 * Twilio retries per its connection settings, docs/CONTRACTS.md "Dependency failures").
 */
export const SDK_BUDGETS: Readonly<Record<Dependency, SdkBudget>> = {
  dynamodb: { connectionTimeoutMs: 1000, requestTimeoutMs: 2000, maxAttempts: 2 },
  sqs: { connectionTimeoutMs: 1000, requestTimeoutMs: 2000, maxAttempts: 2 },
  s3: { connectionTimeoutMs: 1000, requestTimeoutMs: 3000, maxAttempts: 2 },
  ssm: { connectionTimeoutMs: 1000, requestTimeoutMs: 2000, maxAttempts: 2 },
  sfn: { connectionTimeoutMs: 1000, requestTimeoutMs: 2000, maxAttempts: 2 },
  kms: { connectionTimeoutMs: 1000, requestTimeoutMs: 2000, maxAttempts: 2 },
};

/** The longest one SDK call to `dependency` can take before it throws: every attempt timing out, plus the backoffs. */
export function worstCaseMs(budget: SdkBudget): number {
  return budget.maxAttempts * budget.requestTimeoutMs + (budget.maxAttempts - 1) * MAX_RETRY_BACKOFF_MS;
}

const SERVICES: Readonly<Record<Dependency, Service>> = { dynamodb: 'DYNAMODB', sqs: 'SQS', s3: 'S3', ssm: 'SSM', sfn: 'SFN', kms: 'KMS' };

/**
 * The client configuration every function's client of `dependency` is built with: the endpoint, the retry policy
 * and the per-attempt timeouts. `throwOnRequestTimeout`: without it @smithy/node-http-handler (≥ 4.4, SDK ≥ 3.910)
 * only logs a warning when `requestTimeout` passes and keeps waiting.
 */
export function clientOptions(dependency: Dependency) {
  const budget = SDK_BUDGETS[dependency];
  return {
    endpoint: endpoint(SERVICES[dependency]),
    maxAttempts: budget.maxAttempts,
    retryMode: 'standard',
    requestHandler: {
      connectionTimeout: budget.connectionTimeoutMs,
      requestTimeout: budget.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  } as const;
}

/**
 * A middleware that marks every error a client's call finally throws (after the SDK's retries) with the dependency
 * it came from, so the one classifier (../dependency-failure.ts) can say which component failed without an SDK
 * import per service. Added at the initialize step (DEPENDENCY_TAG), the outermost: it sees what the caller sees.
 */
export function dependencyTag(dependency: Dependency) {
  return <A, O>(next: (args: A) => Promise<O>) =>
    async (args: A): Promise<O> => {
      try {
        return await next(args);
      } catch (err) {
        throw tagDependency(err, dependency);
      }
    };
}

export const DEPENDENCY_TAG = { step: 'initialize', name: 'callledgerDependencyTag', override: true } as const;
