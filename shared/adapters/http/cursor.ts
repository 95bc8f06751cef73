/**
 * Page cursors, two layers:
 * - the position: base64url JSON of a DynamoDB key whose attributes are all strings (`encodeCursor`), checked for
 *   shape and partition when a repository reads it back (`decodeCursor`);
 * - the cursor the API hands out: the position sealed with AES-256-GCM (`cursorSealer`), the query's scope as
 *   additional authenticated data (shared/app/kernel/pagination.ts), so a client can neither read, edit nor move it.
 *
 * The sealing key is derived (HKDF-SHA256) from the caller-hash key the API already resolves (CALLER_HASH_KEY_REF),
 * with its own label, so no further secret has to be provisioned and the derived key reveals nothing of the
 * caller-hash key. Changing that key invalidates outstanding cursors (a 400: the client starts from the first page).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { invalidInput } from '../../app/kernel/errors';
import type { CursorSealer } from '../../app/kernel/pagination';

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
  const invalid = () => invalidInput('The cursor is not valid for this query.', [{ field: 'cursor', message: 'is not a cursor issued for this query' }]);
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

const SEALED_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

function sealingKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'callledger', 'callledger/page-cursor/v1', 32));
}

/**
 * Seals positions under a key derived from `secret()` (resolved, and the key derived, once per secret value).
 * A cursor is base64url of `version (1 byte) | iv (12) | tag (16) | ciphertext`.
 */
export function cursorSealer(secret: () => Promise<string>): CursorSealer {
  let cached: { secret: string; key: Buffer } | undefined;
  const key = async (): Promise<Buffer> => {
    const value = await secret();
    if (cached?.secret !== value) cached = { secret: value, key: sealingKey(value) };
    return cached.key;
  };
  return {
    async seal(scope, position) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', await key(), iv);
      cipher.setAAD(Buffer.from(scope, 'utf8'));
      const sealed = Buffer.concat([cipher.update(position, 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.of(SEALED_VERSION), iv, cipher.getAuthTag(), sealed]).toString('base64url');
    },
    async open(scope, cursor) {
      const bytes = Buffer.from(cursor, 'base64url');
      // Buffer skips characters outside the alphabet: only the exact text that was issued opens.
      if (bytes.toString('base64url') !== cursor || bytes.length <= 1 + IV_BYTES + TAG_BYTES || bytes[0] !== SEALED_VERSION) return null;
      try {
        const decipher = createDecipheriv('aes-256-gcm', await key(), bytes.subarray(1, 1 + IV_BYTES));
        decipher.setAAD(Buffer.from(scope, 'utf8'));
        decipher.setAuthTag(bytes.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
        return Buffer.concat([decipher.update(bytes.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        return null;
      }
    },
  };
}
