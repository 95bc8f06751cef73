/**
 * DynamoDB write capacity as AWS bills it (on-demand WRUs follow the same rules), computed from the items
 * themselves. DynamoDB Local reports ConsumedCapacity by rules of its own (it charges a transactional write
 * 4 units per KB, not 2), so the benchmark prints this model next to what the emulator says.
 *
 * Rules (AWS Developer Guide, "Item sizes and formats", "Read/write capacity", "Global secondary indexes"):
 * - item size = Σ (UTF-8 bytes of the attribute name + size of the value);
 *   String: UTF-8 bytes; Number: 1 byte per two significant digits + 1; Binary: raw bytes; Boolean/Null: 1;
 *   List/Map: 3 + Σ (element size + 1), a Map element's size including its key; Sets: Σ element sizes.
 * - a standard write costs 1 WCU per KB (rounded up, at least 1); a transactional write 2 per KB;
 * - an UpdateItem is charged on the larger of the item before and after the update;
 * - a global secondary index costs 1 WCU per KB of its projected item for each index write: a put when the item
 *   enters the index, an update when a projected attribute changes, a delete + put when the index key changes.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;

const KB = 1024;

function utf8(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Significant digits of a DynamoDB number: sign, exponent, decimal point, leading and trailing zeros dropped. */
function significantDigits(n: string): number {
  const mantissa = n.trim().replace(/^[+-]/, '').replace(/e.*$/i, '').replace('.', '');
  return mantissa.replace(/^0+/, '').replace(/0+$/, '').length;
}

function numberBytes(n: string): number {
  return Math.ceil(significantDigits(n) / 2) + 1;
}

/** Size of an attribute value, without its name. */
export function valueBytes(v: AttributeValue): number {
  if (v.S !== undefined) return utf8(v.S);
  if (v.N !== undefined) return numberBytes(v.N);
  if (v.B !== undefined) return v.B.byteLength;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.M !== undefined) return 3 + Object.entries(v.M).reduce((sum, [k, x]) => sum + utf8(k) + valueBytes(x) + 1, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((sum, x) => sum + valueBytes(x) + 1, 0);
  if (v.SS !== undefined) return v.SS.reduce((sum, x) => sum + utf8(x), 0);
  if (v.NS !== undefined) return v.NS.reduce((sum, x) => sum + numberBytes(x), 0);
  if (v.BS !== undefined) return v.BS.reduce((sum, x) => sum + x.byteLength, 0);
  throw new Error('valueBytes: unknown attribute value type');
}

/** Size of one attribute: name + value. */
export function attributeBytes(name: string, value: AttributeValue): number {
  return utf8(name) + valueBytes(value);
}

/** Item size as DynamoDB computes it for capacity. */
export function itemSizeBytes(item: Item): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + attributeBytes(name, value), 0);
}

function units(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / KB));
}

/** WCU of writing `item` (PutItem; for an UpdateItem pass the larger of before and after, or use updateWcu). */
export function estimateWcu(item: Item, options: { transactional?: boolean } = {}): number {
  return units(itemSizeBytes(item)) * (options.transactional ? 2 : 1);
}

/** WCU of an UpdateItem (alone or in a transaction): charged on the larger of the item before and after. */
export function updateWcu(before: Item | null, after: Item, options: { transactional?: boolean } = {}): number {
  const bytes = Math.max(before === null ? 0 : itemSizeBytes(before), itemSizeBytes(after));
  return units(bytes) * (options.transactional ? 2 : 1);
}

export interface IndexShape {
  readonly partitionKey: string;
  readonly sortKey: string;
  /** ALL, or the non-key attributes projected (KEYS_ONLY = []). Table keys are always projected. */
  readonly projected: 'ALL' | readonly string[];
  readonly tableKeys: readonly string[];
}

function projectedItem(item: Item, index: IndexShape): Item | null {
  if (item[index.partitionKey] === undefined || item[index.sortKey] === undefined) return null;
  if (index.projected === 'ALL') return item;
  const names = new Set([index.partitionKey, index.sortKey, ...index.tableKeys, ...index.projected]);
  return Object.fromEntries(Object.entries(item).filter(([name]) => names.has(name)));
}

function sameValue(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** WCU a write costs on one global secondary index, from the table item before (null: absent) and after. */
export function gsiWcu(before: Item | null, after: Item | null, index: IndexShape): number {
  const old = before === null ? null : projectedItem(before, index);
  const now = after === null ? null : projectedItem(after, index);
  if (old === null && now === null) return 0;
  if (old === null) return units(itemSizeBytes(now!));
  if (now === null) return units(itemSizeBytes(old));
  const keyChanged = !sameValue(old[index.partitionKey], now[index.partitionKey]) || !sameValue(old[index.sortKey], now[index.sortKey]);
  if (keyChanged) return units(itemSizeBytes(old)) + units(itemSizeBytes(now));
  const names = new Set([...Object.keys(old), ...Object.keys(now)]);
  const changed = [...names].some((name) => !sameValue(old[name], now[name]));
  return changed ? units(Math.max(itemSizeBytes(old), itemSizeBytes(now))) : 0;
}
