/**
 * Invoking a function's handler locally the way Lambda does: with a Lambda context of its own, inside its own
 * invocation scope.
 *
 * In AWS each function runs in its own execution environment, one invocation at a time, so the module-level
 * Powertools logger (shared/adapters/platform/log.ts) holds one function's context. Locally every function shares ONE process,
 * hence one logger, and invocations of different functions overlap: `injectLambdaContext` of one invocation would
 * overwrite the context another is still logging with, and lines would carry the wrong `function_name`. This is the
 * situation of Lambda's multi-concurrency runtime (several invocations at once in one environment), and Powertools
 * handles it there: when `AWS_LAMBDA_MAX_CONCURRENCY` is set, it keeps the Lambda context, temporary keys and metric
 * dimensions per invocation in the runtime's InvokeStore (AsyncLocalStorage). The local stack sets that variable
 * (`LOCAL_INVOKE_ENV`) and runs every invocation inside the store's scope (`invokeHandler`), as that runtime does.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { InvokeStoreBase } from '@aws/lambda-invoke-store';
import type { Context } from 'aws-lambda';
import type { FunctionDef } from '../resources';

const ACCOUNT_ID = '000000000000';

/** What the local handlers' environment adds so that Powertools scopes its state to each invocation. */
export const LOCAL_INVOKE_ENV: Readonly<Record<string, string>> = { AWS_LAMBDA_MAX_CONCURRENCY: '64' };

type StoreContext = Record<string | symbol, unknown>;

/**
 * The runtime's invocation store on AsyncLocalStorage (the package builds one only on its first use, and a process
 * that made an AWS SDK call before the variable was set already holds its single-invocation one, which scopes
 * nothing: installed here unconditionally).
 */
class LocalInvokeStore extends InvokeStoreBase {
  readonly #als = new AsyncLocalStorage<StoreContext>();

  getContext(): StoreContext | undefined {
    return this.#als.getStore();
  }

  hasContext(): boolean {
    return this.#als.getStore() !== undefined;
  }

  get<T = unknown>(key: string | symbol): T | undefined {
    return this.#als.getStore()?.[key] as T | undefined;
  }

  set<T = unknown>(key: string | symbol, value: T): void {
    if (this.isProtectedKey(key)) throw new Error(`Cannot modify protected Lambda context field: ${String(key)}`);
    const store = this.#als.getStore();
    if (store === undefined) throw new Error('No context available');
    store[key] = value;
  }

  run<T>(context: StoreContext, fn: () => T): T {
    return this.#als.run(context, fn);
  }
}

function invokeStore(): LocalInvokeStore {
  const g = globalThis as { awslambda?: { InvokeStore?: unknown } };
  g.awslambda ??= {};
  if (!(g.awslambda.InvokeStore instanceof LocalInvokeStore)) g.awslambda.InvokeStore = new LocalInvokeStore();
  return g.awslambda.InvokeStore as LocalInvokeStore;
}

/** A minimal Lambda context carrying the function's name, configured memory and timeout. */
export function lambdaContext(def: FunctionDef, requestId: string = randomUUID()): Context {
  const deadline = Date.now() + def.timeoutSec * 1000;
  const name = `local-${def.id}`;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT_ID}:function:${name}`,
    memoryLimitInMB: String(def.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `local/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Calls `handler` as one invocation of function `def`: its own context, its own invocation scope. */
export function invokeHandler<E, R>(def: FunctionDef, handler: (event: E, context: Context) => Promise<R>, event: E, requestId: string = randomUUID()): Promise<R> {
  const context = lambdaContext(def, requestId);
  return invokeStore().run({ [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: requestId }, () => handler(event, context));
}
