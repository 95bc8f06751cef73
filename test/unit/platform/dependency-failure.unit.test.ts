/**
 * Dependency failures: the one classifier over the SDK's real error classes and real network failures of the
 * functions' own (budgeted, tagged) clients; the time budgets against the functions' timeouts; and the one place
 * errors become HTTP answering 503 + Retry-After for them, 500 for bugs.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  ConditionalCheckFailedException,
  DynamoDBServiceException,
  GetItemCommand,
  InternalServerError,
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  ResourceNotFoundException,
  ThrottlingException,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import { S3ServiceException, NoSuchKey } from '@aws-sdk/client-s3';
import { KmsThrottled, QueueDoesNotExist, RequestThrottled, SQSServiceException } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FUNCTIONS } from '../../../infra/resources';
import { ROUTES } from '../../../infra/routes';
import { SDK_BUDGETS, worstCaseMs } from '../../../shared/adapters/platform/clients/endpoint';
import { dependencyFailure } from '../../../shared/adapters/platform/dependency-failure';
import { problemResponse } from '../../../shared/adapters/http/problems';
import { openApiDocument } from '../../../shared/adapters/http/openapi';
import { NotFound } from '../../../shared/domain/kernel/problems';

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode, attempts: 2 } });

describe('dependencyFailure over the SDK error classes', () => {
  it.each([
    ['DynamoDB ProvisionedThroughputExceeded', new ProvisionedThroughputExceededException({ message: 'rate', ...meta(400) }), 'throttled'],
    ['DynamoDB RequestLimitExceeded', new RequestLimitExceeded({ message: 'account limit', ...meta(400) }), 'throttled'],
    ['DynamoDB ThrottlingException', new ThrottlingException({ message: 'slow down', ...meta(400) }), 'throttled'],
    ['DynamoDB InternalServerError', new InternalServerError({ message: 'oops', ...meta(500) }), 'unavailable'],
    [
      'DynamoDB ServiceUnavailable (no modelled class: the base class with the 503)',
      new DynamoDBServiceException({ name: 'ServiceUnavailable', $fault: 'server', message: 'unavailable', ...meta(503) }),
      'unavailable',
    ],
    [
      'a DynamoDB transaction cancelled by throttling',
      new TransactionCanceledException({ message: 'cancelled', CancellationReasons: [{ Code: 'None' }, { Code: 'ThrottlingError' }], ...meta(400) }),
      'throttled',
    ],
    ['SQS RequestThrottled', new RequestThrottled({ message: 'throttled', ...meta(400) }), 'throttled'],
    ['SQS KmsThrottled', new KmsThrottled({ message: 'kms', ...meta(400) }), 'throttled'],
    ['SQS internal error', new SQSServiceException({ name: 'InternalError', $fault: 'server', message: 'internal', ...meta(500) }), 'unavailable'],
    ['S3 SlowDown', new S3ServiceException({ name: 'SlowDown', $fault: 'server', message: 'reduce your request rate', ...meta(503) }), 'throttled'],
    ['S3 InternalError', new S3ServiceException({ name: 'InternalError', $fault: 'server', message: 'internal', ...meta(500) }), 'unavailable'],
    ['an unmodelled 502 from a proxy', new DynamoDBServiceException({ name: 'UnknownError', $fault: 'server', message: '', ...meta(502) }), 'unavailable'],
  ])('%s → %s', (_what, err, kind) => {
    expect(dependencyFailure(err)).toMatchObject({ kind, error: err.name, httpStatus: err.$metadata.httpStatusCode, attempts: 2 });
  });

  it.each([
    ['a failed condition', new ConditionalCheckFailedException({ message: 'condition', ...meta(400) })],
    ['a transaction cancelled by a condition', new TransactionCanceledException({ message: 'cancelled', CancellationReasons: [{ Code: 'ConditionalCheckFailed' }], ...meta(400) })],
    ['a transaction conflict (handled by the callers)', new TransactionConflictException({ message: 'conflict', ...meta(400) })],
    ['a missing table (a deployment bug)', new ResourceNotFoundException({ message: 'no table', ...meta(400) })],
    ['a missing queue (a deployment bug)', new QueueDoesNotExist({ message: 'no queue', ...meta(400) })],
    ['a missing S3 key', new NoSuchKey({ message: 'no key', ...meta(404) })],
    ['access denied (an IAM bug)', new S3ServiceException({ name: 'AccessDenied', $fault: 'client', message: 'denied', ...meta(403) })],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'x')")],
    // middy's, when a handler overruns the function's deadline: our timeout, not a dependency's answer.
    ['a TimeoutError that no SDK call raised', Object.assign(new Error('[AbortError]: The operation was aborted.'), { name: 'TimeoutError' })],
    ['a refused connection that no SDK call raised', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })],
    ['a plain Error', new Error('invariant broken')],
    ['a string', 'boom'],
    ['undefined', undefined],
  ])('%s is not a dependency failure', (_what, err) => {
    expect(dependencyFailure(err)).toBeNull();
  });

  it('finds a failure wrapped as a cause', () => {
    const inner = new ProvisionedThroughputExceededException({ message: 'rate', ...meta(400) });
    expect(dependencyFailure(new Error('archive failed', { cause: inner }))).toMatchObject({ kind: 'throttled', error: 'ProvisionedThroughputExceededException' });
  });
});

describe('the functions\u2019 clients: real network failures, tagged with their dependency, inside the budget', () => {
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];
  let refusedPort: number;
  beforeAll(async () => {
    // Accepts connections and never answers: what a frozen (SIGSTOPped) emulator or a hung endpoint looks like.
    silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    silentPort = (silent.address() as AddressInfo).port;
    // A port nobody listens on: connection refused.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    refusedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
    vi.unstubAllEnvs();
  });
  afterEach(() => vi.resetModules());

  /** The DynamoDB client functions use, built fresh against `endpoint` (the module reads it on first use). */
  async function functionsDynamoDb(endpoint: string) {
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', endpoint);
    const { dynamodb } = await import('../../../shared/adapters/platform/clients/dynamodb');
    return dynamodb();
  }

  it('a dependency that never answers: TimeoutError after every attempt, well inside the budget', async () => {
    const client = await functionsDynamoDb(`http://127.0.0.1:${silentPort}`);
    const started = Date.now();
    const err = await client.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'x' } } })).then(
      () => null,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - started;
    expect(dependencyFailure(err)).toMatchObject({ dependency: 'dynamodb', kind: 'timeout', error: 'TimeoutError', attempts: SDK_BUDGETS.dynamodb.maxAttempts });
    // Each attempt waited its request timeout; the whole call ended within the documented worst case (plus slack
    // for a loaded machine), far from the 10 s of the shortest function.
    expect(elapsed).toBeGreaterThanOrEqual(SDK_BUDGETS.dynamodb.maxAttempts * SDK_BUDGETS.dynamodb.requestTimeoutMs - 50);
    expect(elapsed).toBeLessThan(FUNCTIONS.ingestTwilio.timeoutSec * 1000);
    client.destroy();
  });

  it('a dependency that refuses connections: a network failure, named', async () => {
    const client = await functionsDynamoDb(`http://127.0.0.1:${refusedPort}`);
    const err = await client.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'x' } } })).then(
      () => null,
      (e: unknown) => e,
    );
    expect(dependencyFailure(err)).toMatchObject({ dependency: 'dynamodb', kind: 'network', error: 'ECONNREFUSED' });
    client.destroy();
  });
});

describe('time budgets', () => {
  it('every client\u2019s worst case (all attempts timing out, plus backoff) is at most 3/4 of the shortest function timeout', () => {
    const shortestMs = Math.min(...Object.values(FUNCTIONS).map((f) => f.timeoutSec * 1000));
    expect(shortestMs).toBe(FUNCTIONS.ingestTwilio.timeoutSec * 1000);
    for (const [dependency, budget] of Object.entries(SDK_BUDGETS)) {
      expect(worstCaseMs(budget), dependency).toBeLessThanOrEqual(0.75 * shortestMs);
      expect(budget.connectionTimeoutMs, dependency).toBeLessThan(budget.requestTimeoutMs);
    }
  });

  it('the ingest function\u2019s path per webhook in steady state (SQS only: account and token are cached) is at most half its timeout', () => {
    expect(worstCaseMs(SDK_BUDGETS.sqs)).toBeLessThanOrEqual(FUNCTIONS.ingestTwilio.timeoutSec * 500);
  });
});

describe('problemResponse: the one place errors become HTTP', () => {
  let lines: string[] = [];
  beforeAll(() => {
    for (const method of ['log', 'info', 'warn', 'error'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
    }
  });
  afterEach(() => {
    lines = [];
  });
  afterAll(() => vi.restoreAllMocks());

  it('answers a dependency failure 503 problem+json with Retry-After, naming no component, and logs which one failed', () => {
    const err = Object.assign(new ProvisionedThroughputExceededException({ message: 'Rate of requests exceeds the allowed throughput for +15125550123', ...meta(400) }));
    const res = problemResponse(err, '/v1/calls');
    expect(res.statusCode).toBe(503);
    expect(res.headers).toMatchObject({ 'content-type': 'application/problem+json', 'retry-after': '5', 'cache-control': 'no-store' });
    const body = JSON.parse(res.body as string);
    expect(body).toMatchObject({ type: 'https://callledger.dev/problems/service-unavailable', title: 'Service unavailable', status: 503, instance: '/v1/calls' });
    expect(body.detail).toContain('Retry after 5 s');
    expect(res.body).not.toMatch(/dynamo|throughput/i);
    const output = lines.join('\n');
    expect(output).toContain('dependency unavailable');
    expect(output).toContain('ProvisionedThroughputExceededException');
    expect(output).toContain('throttled');
    // The SDK's message is not logged: it may quote request values.
    expect(output).not.toContain('15125550123');
  });

  it('still answers a bug 500 and a DomainError with the status of its kind', () => {
    expect(problemResponse(new TypeError('x is undefined')).statusCode).toBe(500);
    expect(problemResponse(new TypeError('x is undefined')).headers).not.toHaveProperty('retry-after');
    const notFound = problemResponse(new NotFound('No such call.'));
    expect(notFound.statusCode).toBe(404);
    expect(notFound.headers).not.toHaveProperty('retry-after');
  });
});

describe('the OpenAPI document', () => {
  const doc = openApiDocument() as { paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema: unknown }> }> }>> };
  const op = (method: string, path: string) => doc.paths[path]![method === 'ANY' ? 'post' : method.toLowerCase()]!;

  it('lists 503 problem+json with Retry-After on every route that calls a dependency, the webhook included', () => {
    for (const route of ROUTES.filter((r) => r.path !== '/v1/openapi.json' && r.path !== '/health')) {
      const r503 = op(route.method, route.path).responses['503'];
      expect(r503, `${route.method} ${route.path}`).toBeDefined();
      expect(Object.keys(r503!.content ?? {})).toEqual(['application/problem+json']);
      expect(r503!.headers).toHaveProperty('Retry-After');
    }
    expect(op('GET', '/v1/openapi.json').responses['503']).toBeUndefined();
  });

  it('documents GET /health: no auth, 200 and 503 (with Retry-After) with the same report', () => {
    const health = op('GET', '/health') as unknown as { security: unknown[]; responses: Record<string, { headers?: object; content: Record<string, { schema: unknown }> }> };
    expect(health.security).toEqual([]);
    expect(health.responses['200']!.content['application/json']!.schema).toEqual({ $ref: '#/components/schemas/HealthReport' });
    expect(health.responses['503']!.content['application/json']!.schema).toEqual({ $ref: '#/components/schemas/HealthReport' });
    expect(health.responses['503']!.headers).toHaveProperty('Retry-After');
  });
});
