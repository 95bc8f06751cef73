/**
 * Opaque pagination cursors: base64url JSON of a DynamoDB key whose attributes are all strings.
 * A cursor is bound to the account it was issued for, so it cannot be replayed against another account's data.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { BadRequest } from '../domain/problems';

export function encodeCursor(key: Record<string, string>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor into an ExclusiveStartKey with exactly `names` as string attributes, and checks that its
 * partition attribute equals `expectPartition`. Anything else is a 400 naming the `cursor` parameter.
 */
export function decodeCursor(
  cursor: string,
  names: readonly string[],
  partition: { name: string; value: string },
): Record<string, AttributeValue> {
  const invalid = () => new BadRequest('The cursor is not valid for this query.', [{ field: 'cursor', message: 'is not a cursor issued for this query' }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid();
  const obj = parsed as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length !== names.length || !names.every((n) => typeof obj[n] === 'string')) throw invalid();
  if (obj[partition.name] !== partition.value) throw invalid();
  return Object.fromEntries(names.map((n) => [n, { S: obj[n] as string }]));
}
