/**
 * Structured logs (Powertools Logger), one logger per container. (Metrics: metrics.ts, which the read API does not
 * load.)
 *
 * Rule: a caller's phone number never reaches a log line. Code logs ids (accountId, callId, eventId) and reasons;
 * `redact` below is a second line of defence if someone logs an event or an error that quotes one: it masks the
 * values of the keys a CallEvent or a Twilio form carries a number under, and anything shaped like a phone number
 * (10 to 15 digits, optionally with `+` and separators) in any string, at any depth.
 *
 * Locally (POWERTOOLS_DEV=true, set by the local stack and the tests) the logger prints indented JSON to the
 * terminal.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Log } from '../../app/kernel/ports';

export const SERVICE = 'callledger';

export const logger = new Logger({ serviceName: SERVICE });

/** Keys whose values are caller identities or whole request bodies (CallEvent, IngestMessage, Twilio forms). */
const PII_KEYS = new Set(['from', 'caller', 'callerE164', 'From', 'Caller', 'body', 'raw', 'event']);
/**
 * A phone number in free text: 10-15 digits, optionally `+`-prefixed and split by spaces, dots, dashes or
 * parentheses, not inside a longer word (so hex ids such as CallSids and hashes are left alone).
 */
const PHONE_NUMBER = /(?<![\p{L}\p{N}_])\+?\d(?:[\s().-]{0,2}\d){9,14}(?![\p{L}\p{N}_])/gu;
const MASK = '[redacted]';

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.replace(PHONE_NUMBER, MASK);
  if (depth > 5 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value instanceof Error) return redactValue({ name: value.name, message: value.message, stack: value.stack }, depth);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = PII_KEYS.has(k) ? MASK : redactValue(v, depth + 1);
  return out;
}

export function redact(attrs: Record<string, unknown>): Record<string, unknown> {
  return redactValue(attrs, 0) as Record<string, unknown>;
}

/** The Log port on top of the Powertools logger. Messages are redacted too: they are code, but cheap to guard. */
export const log: Log = {
  debug: (message, attrs) => logger.debug(redactValue(message, 0) as string, redact(attrs ?? {})),
  info: (message, attrs) => logger.info(redactValue(message, 0) as string, redact(attrs ?? {})),
  warn: (message, attrs) => logger.warn(redactValue(message, 0) as string, redact(attrs ?? {})),
  error: (message, attrs) => logger.error(redactValue(message, 0) as string, redact(attrs ?? {})),
};
