/**
 * DynamoDB request and capacity counters for this process (the benchmark reads them to report requests and consumed
 * write units per billable call), kept by ONE SDK middleware on every DynamoDB client the adapters use
 * (`withRequestAccounting`): no repository counts by hand, so no request can be forgotten.
 * - `requests`: every item request sent (reads and writes, failed ones included: DynamoDB bills a refused
 *   conditional write too), counted once per `send`, whatever the SDK's retries did underneath;
 * - `writeUnits` / `readUnits`: what DynamoDB reported. The middleware asks for ReturnConsumedCapacity=TOTAL unless
 *   the request already asks for something (INDEXES reports the same total). DynamoDB Local reports by rules of its
 *   own (4 units per KB for a transactional write), so locally this is not what AWS would bill;
 * - `awsWriteUnits`: the same writes priced by AWS's published rules (capacity.ts), for the writes whose command
 *   carries a price (`priceWrite`): only the adapter that built the items knows their size before and after.
 */
import type { ConsumedCapacity, DynamoDBClient } from '@aws-sdk/client-dynamodb';

export const ddbStats = {
  requests: 0,
  readUnits: 0,
  writeUnits: 0,
  awsWriteUnits: 0,
  reset(): void {
    this.requests = 0;
    this.readUnits = 0;
    this.writeUnits = 0;
    this.awsWriteUnits = 0;
  },
};

/** Which counter a command's units go to: the operation decides, not the shape of the response. */
const KIND: Readonly<Record<string, 'read' | 'write'>> = {
  GetItemCommand: 'read',
  BatchGetItemCommand: 'read',
  QueryCommand: 'read',
  ScanCommand: 'read',
  TransactGetItemsCommand: 'read',
  PutItemCommand: 'write',
  UpdateItemCommand: 'write',
  DeleteItemCommand: 'write',
  BatchWriteItemCommand: 'write',
  TransactWriteItemsCommand: 'write',
};

/** Where a command's AWS-model price travels from its own middleware (priceWrite) to the accounting one. */
const PRICE = 'callledgerAwsWritePrice';

type Context = { commandName?: string; [PRICE]?: (output: unknown) => number };
type Args = { input: unknown };
type Next = (args: Args) => Promise<{ output: unknown }>;

function record(kind: 'read' | 'write', consumed: ConsumedCapacity | readonly ConsumedCapacity[] | undefined, awsWriteUnits: number): void {
  ddbStats.requests += 1;
  const list: readonly ConsumedCapacity[] = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed as ConsumedCapacity];
  const units = list.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
  if (kind === 'write') ddbStats.writeUnits += units;
  else ddbStats.readUnits += units;
  ddbStats.awsWriteUnits += awsWriteUnits;
}

/**
 * Counts each item request once with the capacity DynamoDB reports for it, and, on success, the AWS-model price its
 * command carries. Other commands (DescribeTable, ListTables…) pass through uncounted: they consume no capacity.
 */
const accounting =
  (next: Next, context: Context) =>
  async (args: Args): Promise<{ output: unknown }> => {
    const kind = context.commandName === undefined ? undefined : KIND[context.commandName];
    if (kind === undefined) return next(args);
    const input = args.input as { ReturnConsumedCapacity?: string };
    let result: { output: unknown };
    try {
      result = await next({ ...args, input: { ...input, ReturnConsumedCapacity: input.ReturnConsumedCapacity ?? 'TOTAL' } });
    } catch (err) {
      record(kind, undefined, 0);
      throw err;
    }
    const output = result.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] };
    record(kind, output.ConsumedCapacity, context[PRICE]?.(result.output) ?? 0);
    return result;
  };

const PRICED = { step: 'initialize', name: 'callledgerAwsWritePrice' } as const;
const ACCOUNTING = { step: 'initialize', name: 'callledgerDdbAccounting', priority: 'high' } as const;
const accounted = new WeakSet<DynamoDBClient>();

/** Adds the accounting middleware to `client` (once: a client handed to several repositories is counted once). */
export function withRequestAccounting<C extends DynamoDBClient>(client: C): C {
  if (accounted.has(client)) return client;
  client.middlewareStack.add(accounting as never, ACCOUNTING);
  accounted.add(client);
  return client;
}

/**
 * Attaches to one write command its price under AWS's rules, computed from the command's successful output (e.g.
 * the image before an update, from ReturnValues=ALL_OLD). The price is called once, after DynamoDB accepted the
 * write, so a pricing function may also remember the image it computes.
 */
export function priceWrite<C extends { readonly middlewareStack: { add(middleware: never, options: typeof PRICED): void } }, O>(
  command: C,
  price: (output: O) => number,
): C {
  const carry = (next: Next, context: Context) => (args: Args) => {
    context[PRICE] = price as (output: unknown) => number;
    return next(args);
  };
  command.middlewareStack.add(carry as never, PRICED);
  return command;
}
