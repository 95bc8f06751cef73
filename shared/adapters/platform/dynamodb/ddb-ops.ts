/**
 * The one GetItem of the adapters, and the one read-every-page Query loop (counted, like every DynamoDB request, by
 * the client's accounting middleware: ddb-stats.ts).
 * Also `errorName`, `cancellationReasons` and `isTransactionConflict`: how the adapters tell the SDK's conditional-check
 * and transaction errors apart.
 */
import {
  GetItemCommand,
  QueryCommand,
  type TransactWriteItem,
  type AttributeValue,
  type DynamoDBClient,
  type GetItemCommandInput,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';

/** One item of a TransactWriteItems request. */
export type TransactItem = TransactWriteItem;

/** The `name` of an SDK error (`ConditionalCheckFailedException`, `TransactionCanceledException`, …), if it has one. */
export function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | null)?.name;
}

/** A cancelled transaction's reasons, one per item in request order (empty for any other error). */
export function cancellationReasons(err: unknown): readonly { readonly Code?: string; readonly Item?: Record<string, AttributeValue> }[] {
  return (err as { CancellationReasons?: { Code?: string; Item?: Record<string, AttributeValue> }[] } | null)?.CancellationReasons ?? [];
}

/** Another transaction held one of the items at that moment: worth a retry after a pause. */
export function isTransactionConflict(err: unknown): boolean {
  return errorName(err) === 'TransactionConflictException' || cancellationReasons(err).some((r) => r.Code === 'TransactionConflict');
}

/** The item as stored (keys included), or undefined when there is none. */
export async function getItem(client: DynamoDBClient, input: GetItemCommandInput): Promise<Record<string, AttributeValue> | undefined> {
  const out = await client.send(new GetItemCommand(input));
  return out.Item;
}

/**
 * Every item a Query matches, page after page, in the order it returns them. A page is read only when the caller has
 * taken the previous one's items, so a consumer that stops early reads no further page.
 */
export async function* queryItems(
  client: DynamoDBClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey'>,
): AsyncGenerator<Record<string, AttributeValue>> {
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const out = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
    yield* out.Items ?? [];
    startKey = out.LastEvaluatedKey;
  } while (startKey !== undefined);
}
