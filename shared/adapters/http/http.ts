/**
 * API Gateway HTTP API (payload format 2.0) helpers: the raw body, headers, JSON answers and bearer-key
 * authentication. Errors become answers in problems.ts alone.
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DomainError } from '../../domain/kernel/errors';
import type { ApiKeyRecord, ConfigStore } from '../../app/kernel/ports';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** The request body exactly as sent (API Gateway base64-encodes bodies it considers binary). */
export function rawBody(event: HttpEvent): Buffer {
  if (event.body === undefined || event.body === null) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/** Case-insensitive header lookup (HTTP API lower-cases names, but local adapters and tests may not). */
export function header(event: Pick<HttpEvent, 'headers'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === wanted) return v;
  return undefined;
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

export function noContent(): HttpResult {
  return { statusCode: 204, headers: {}, body: '' };
}

function unauthorized(detail: string): DomainError {
  return new DomainError('unauthenticated', 'unauthorized', 'Unauthorized', detail);
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** `Authorization: Bearer <key>` → the key's account and role. 401 without a key or with an unknown one. */
export async function authenticate(event: Pick<HttpEvent, 'headers'>, config: Pick<ConfigStore, 'getApiKey'>): Promise<ApiKeyRecord> {
  const value = header(event, 'authorization');
  const match = value === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!match?.[1]) throw unauthorized('A valid bearer API key is required.');
  const record = await config.getApiKey(sha256Hex(match[1]));
  if (record === null) throw unauthorized('The API key is not valid.');
  return record;
}
