/**
 * DynamoDB request accounting is one SDK middleware on the client (ddb-stats.ts): every item request is counted once
 * with the capacity DynamoDB reported, failed ones included; a write's AWS-model price rides on its command and is
 * counted only when DynamoDB accepted it. The client's transport is replaced by a middleware that answers at once.
 */
import { DynamoDBClient, GetItemCommand, ListTablesCommand, PutItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { dynamodbClient } from '../../../shared/adapters/platform/clients/dynamodb';
import { ddbStats, priceWrite, withRequestAccounting } from '../../../shared/adapters/platform/dynamodb/ddb-stats';

type Answer = { output: Record<string, unknown> } | { error: Error };

/** A client whose requests never leave the process: `answer` decides each one, `seen` keeps the inputs sent. */
function stubbedClient(answer: (commandName: string, input: Record<string, unknown>) => Answer) {
  const seen: { commandName: string; input: Record<string, unknown> }[] = [];
  const client = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  client.middlewareStack.add(
    ((_next: unknown, context: { commandName: string }) => async (args: { input: Record<string, unknown> }) => {
      seen.push({ commandName: context.commandName, input: args.input });
      const a = answer(context.commandName, args.input);
      if ('error' in a) throw a.error;
      return { output: { $metadata: {}, ...a.output }, response: {} };
    }) as never,
    { step: 'initialize', priority: 'low', name: 'stubTransport' },
  );
  return { client, seen };
}

const conditionFailed = () => Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
const put = () => new PutItemCommand({ TableName: 't', Item: { pk: { S: 'a' }, sk: { S: 'b' } } });

beforeEach(() => ddbStats.reset());

describe('DynamoDB request accounting (SDK middleware)', () => {
  it('counts a read with the units DynamoDB reported, having asked for them (TOTAL)', async () => {
    const { client, seen } = stubbedClient(() => ({ output: { ConsumedCapacity: { TableName: 't', CapacityUnits: 0.5 } } }));
    withRequestAccounting(client);
    await client.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' } } }));
    expect(seen[0]!.input.ReturnConsumedCapacity).toBe('TOTAL');
    expect({ ...ddbStats }).toMatchObject({ requests: 1, readUnits: 0.5, writeUnits: 0, awsWriteUnits: 0 });
  });

  it('keeps what a request already asks for (INDEXES) and sums a transaction over its tables', async () => {
    const { client, seen } = stubbedClient(() => ({ output: { ConsumedCapacity: [{ CapacityUnits: 8 }, { CapacityUnits: 4 }] } }));
    withRequestAccounting(client);
    await client.send(new TransactWriteItemsCommand({ TransactItems: [], ReturnConsumedCapacity: 'INDEXES' }));
    expect(seen[0]!.input.ReturnConsumedCapacity).toBe('INDEXES');
    expect({ ...ddbStats }).toMatchObject({ requests: 1, writeUnits: 12, readUnits: 0 });
  });

  it('counts a refused write as a request (no units, no price) and rethrows its error', async () => {
    const { client } = stubbedClient(() => ({ error: conditionFailed() }));
    withRequestAccounting(client);
    let priced = 0;
    await expect(client.send(priceWrite(put(), () => (priced += 1, 3)))).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    expect(priced).toBe(0);
    expect({ ...ddbStats }).toMatchObject({ requests: 1, writeUnits: 0, awsWriteUnits: 0 });
  });

  it("adds a write's AWS-model price once, computed from its output", async () => {
    const { client } = stubbedClient(() => ({ output: { Attributes: { n: { N: '2' } }, ConsumedCapacity: { CapacityUnits: 1 } } }));
    withRequestAccounting(client);
    const prices: number[] = [];
    const price = (out: { Attributes?: Record<string, { N?: string }> }) => {
      const n = Number(out.Attributes?.n?.N) + 1;
      prices.push(n);
      return n;
    };
    await client.send(priceWrite(put(), price));
    await client.send(put());
    expect(prices).toEqual([3]);
    expect({ ...ddbStats }).toMatchObject({ requests: 2, writeUnits: 2, awsWriteUnits: 3 });
  });

  it('counts a client handed to several repositories once per request, and leaves non-item commands out', async () => {
    const { client } = stubbedClient(() => ({ output: { ConsumedCapacity: { CapacityUnits: 1 } } }));
    const a = dynamodbClient(client);
    const b = dynamodbClient(client);
    await a().send(put());
    await b().send(put());
    await client.send(new ListTablesCommand({}));
    expect({ ...ddbStats }).toMatchObject({ requests: 2, writeUnits: 2 });
  });

  it("uses a unit test's stub client (no middleware stack) as it is", () => {
    const stub = { send: async () => ({}) } as unknown as DynamoDBClient;
    expect(dynamodbClient(stub)()).toBe(stub);
  });
});
