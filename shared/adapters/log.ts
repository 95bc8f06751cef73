/**
 * Structured logs (Powertools Logger) and CloudWatch EMF metrics (Powertools Metrics), one of each per container.
 *
 * Rule: a caller's phone number never reaches a log line. Code logs ids (accountId, callId, eventId) and reasons;
 * `redact` below additionally masks anything shaped like an E.164 number under the keys a CallEvent uses, as a
 * second line of defence if someone logs an event by mistake.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { RatingDecision } from '../domain/types';
import type { Log, Telemetry } from '../app/ports';

export const SERVICE = 'callledger';

export const logger = new Logger({ serviceName: SERVICE });
export const metrics = new Metrics({ serviceName: SERVICE, namespace: 'CallLedger' });

const PII_KEYS = new Set(['from', 'caller', 'callerE164', 'From', 'Caller', 'body']);

function redact(attrs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs)) out[k] = PII_KEYS.has(k) ? '[redacted]' : v;
  return out;
}

/** The Log port on top of the Powertools logger. */
export const log: Log = {
  debug: (message, attrs) => (attrs ? logger.debug(message, redact(attrs)) : logger.debug(message)),
  info: (message, attrs) => (attrs ? logger.info(message, redact(attrs)) : logger.info(message)),
  warn: (message, attrs) => (attrs ? logger.warn(message, redact(attrs)) : logger.warn(message)),
  error: (message, attrs) => (attrs ? logger.error(message, redact(attrs)) : logger.error(message)),
};

/** One EMF line per dimensioned data point, so a reason dimension never leaks onto other metrics. */
function countWith(name: string, dimension: string, value: string): void {
  const single = metrics.singleMetric();
  single.addDimension(dimension, value);
  single.addMetric(name, MetricUnit.Count, 1);
}

/** The Telemetry port on top of Powertools Metrics (EMF). */
export const telemetry: Telemetry = {
  webhookAccepted: () => metrics.addMetric('WebhooksAccepted', MetricUnit.Count, 1),
  webhookRejected: (reason) => countWith('WebhooksRejected', 'reason', reason),
  callRated: (decision: RatingDecision) => {
    countWith('CallsRated', 'reason', decision.billable ? 'billable' : (decision.reasons[0] ?? 'unknown'));
    if (decision.billable) {
      metrics.addMetric('Charges', MetricUnit.Count, 1);
      metrics.addMetric('ChargeCents', MetricUnit.Count, decision.amountCents);
    }
  },
  ingestBatchProcessed: (messages, failed) => {
    metrics.addMetric('IngestMessagesProcessed', MetricUnit.Count, messages);
    metrics.addMetric('IngestMessagesFailed', MetricUnit.Count, failed);
  },
  recordingStored: (bytes) => {
    metrics.addMetric('RecordingsStored', MetricUnit.Count, 1);
    metrics.addMetric('RecordingBytes', MetricUnit.Bytes, bytes);
  },
  recordingFetchFailed: () => metrics.addMetric('RecordingFetchFailures', MetricUnit.Count, 1),
};
