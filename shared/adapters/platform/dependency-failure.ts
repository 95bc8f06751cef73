/**
 * THE classifier of dependency failures: is a thrown value an AWS dependency that is down, overloaded or not
 * answering (the caller should come back later: 503 + Retry-After), or something else (a bug, a bad request to
 * AWS, a condition that failed: a 500, or whatever the caller maps it to)?
 *
 * It reads only what every SDK v3 error carries, so no client package is imported for it: the error's `name`
 * (the service's error code), `$fault` ('server' for 5xx faults), `$metadata.httpStatusCode`, `$retryable`
 * (`{ throttling }` where the model says so), a Node system error's `code`, and the `cause` chain. The lists follow
 * the SDK's own retry classification (@smithy/core/retry: throttling codes, transient codes and status codes,
 * Node network codes), so what the SDK retried and gave up on is exactly what is classified here. The client
 * modules tag each final error with its dependency (clients/endpoint.ts `dependencyTag`).
 *
 * Not dependency failures: conditional check failures, transaction conflicts, validation errors, missing
 * resources (a missing queue or table is a deployment bug), access denied (an IAM bug): those stay what they are.
 */

/** The AWS services functions call; `aws` when an error was not raised through one of the tagged clients. */
export type Dependency = 'dynamodb' | 'sqs' | 's3' | 'ssm' | 'sfn' | 'kms';

export type FailureKind = 'timeout' | 'throttled' | 'unavailable' | 'network';

export interface DependencyFailure {
  readonly dependency: Dependency | 'aws';
  readonly kind: FailureKind;
  /** The error's name or system code (never its message: messages may quote request values). */
  readonly error: string;
  readonly httpStatus?: number;
  /** Attempts the SDK made, when it says. */
  readonly attempts?: number;
}

const TAG = Symbol.for('callledger.dependency');

/** Throttling error codes (SDK THROTTLING_ERROR_CODES, plus the SQS/KMS names of the same thing). */
const THROTTLING = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
  'KmsThrottled',
  'KMSThrottlingException',
]);

/** Timeouts (SDK TRANSIENT_ERROR_CODES). */
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
/** Node system errors of a connection that timed out or was cut (SDK NODEJS_TIMEOUT_ERROR_CODES). */
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ECONNRESET', 'EPIPE']);
/** Node system errors of a dependency that cannot be reached (SDK NODEJS_NETWORK_ERROR_CODES + refused). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
/** Server-side faults by name, for errors whose status or fault did not survive (e.g. re-thrown copies). */
const UNAVAILABLE_NAMES = new Set([
  'InternalServerError',
  'InternalServerErrorException',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'KMSInternalException',
  'KMSInvalidStateException',
  'DependencyTimeoutException',
]);
/** DynamoDB transaction cancellation reasons that mean throttling, not a business condition. */
const THROTTLED_REASONS = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

interface SdkLikeError {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $fault?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown; readonly attempts?: unknown };
  readonly $retryable?: { readonly throttling?: unknown };
  readonly CancellationReasons?: readonly { readonly Code?: unknown }[];
  readonly cause?: unknown;
  readonly [TAG]?: Dependency;
}

/** Marks `err` (an object) as raised by `dependency`'s client; returns it, for `throw tagDependency(err, …)`. */
export function tagDependency<E>(err: E, dependency: Dependency): E {
  if (typeof err === 'object' && err !== null && !Object.isFrozen(err)) {
    Object.defineProperty(err, TAG, { value: dependency, enumerable: false, configurable: true });
  }
  return err;
}

function kindOf(e: SdkLikeError): FailureKind | null {
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  if (THROTTLING.has(name) || e.$retryable?.throttling === true || status === 429) return 'throttled';
  if (name === 'TransactionCanceledException' && (e.CancellationReasons ?? []).some((r) => typeof r.Code === 'string' && THROTTLED_REASONS.has(r.Code))) {
    return 'throttled';
  }
  if (TIMEOUT_NAMES.has(name) || TIMEOUT_CODES.has(code)) return 'timeout';
  if (NETWORK_CODES.has(code)) return 'network';
  if (e.$fault === 'server' || (status !== undefined && status >= 500) || UNAVAILABLE_NAMES.has(name)) return 'unavailable';
  return null;
}

/**
 * The dependency failure `err` is (or wraps, up to three `cause`s deep), or null if it is none. Only errors an SDK
 * call raised count: they carry `$metadata` (the SDK's retry step adds it) or a client's dependency tag. A
 * `TimeoutError` of our own (middy's, when a handler overruns the function's deadline) is not a dependency's answer.
 */
export function dependencyFailure(err: unknown): DependencyFailure | null {
  const outer = typeof err === 'object' && err !== null ? (err as SdkLikeError) : null;
  let current: unknown = err;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const e = current as SdkLikeError;
    const fromSdk = e.$metadata !== undefined || e[TAG] !== undefined || outer?.[TAG] !== undefined;
    const kind = fromSdk ? kindOf(e) : null;
    if (kind !== null) {
      const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
      const attempts = outer?.$metadata?.attempts ?? e.$metadata?.attempts;
      const code = typeof e.code === 'string' && e.code !== '' ? e.code : undefined;
      return {
        dependency: outer?.[TAG] ?? e[TAG] ?? 'aws',
        kind,
        error: code !== undefined && (typeof e.name !== 'string' || e.name === 'Error') ? code : typeof e.name === 'string' ? e.name : 'Error',
        ...(status === undefined ? {} : { httpStatus: status }),
        ...(typeof attempts === 'number' ? { attempts } : {}),
      };
    }
    current = e.cause;
  }
  return null;
}
