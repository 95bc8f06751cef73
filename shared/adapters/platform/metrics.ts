/**
 * CloudWatch EMF metrics (Powertools Metrics), one instance per container, and the middleware that flushes them.
 * Locally (POWERTOOLS_DEV=true) Powertools prints nothing.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { RatingDecision } from '../../domain/rating/decision';
import type { Telemetry } from '../../app/kernel/ports';
import { ALARMED_METRICS } from '../../../infra/resources';
import { SERVICE } from './log';

export const metrics = new Metrics({ serviceName: SERVICE, namespace: 'CallLedger' });

/**
 * Metrics a CloudWatch alarm watches (infra/constructs/alarms.ts): an alarm matches a metric by its exact dimensions,
 * so these are written, one EMF line each, with the fixed namespace and `service` dimension of ALARMED_METRICS, not
 * with whatever service name the function's logger and other metrics carry.
 */
const alarmed = new Metrics({ serviceName: ALARMED_METRICS.service, namespace: ALARMED_METRICS.namespace, singleMetric: true });

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
  callAccountConflict: () => alarmed.addMetric(ALARMED_METRICS.callAccountConflict, MetricUnit.Count, 1),
  recordingStored: (bytes) => {
    metrics.addMetric('RecordingsStored', MetricUnit.Count, 1);
    metrics.addMetric('RecordingBytes', MetricUnit.Bytes, bytes);
  },
  recordingFetchFailed: () => metrics.addMetric('RecordingFetchFailures', MetricUnit.Count, 1),
};

/**
 * middy middleware that flushes the stored metrics after each invocation (also on error), like Powertools'
 * `logMetrics`, but only when there are some: `publishStoredMetrics()` warns "No application metrics to publish"
 * on stderr for every invocation that recorded none (every rejected webhook: its metric is a single-metric line,
 * already written), which flooded the local terminal and the test output.
 *
 * The cold-start metric keeps Powertools' semantics: `ColdStart` = 1 with the `function_name` dimension, once per
 * container, on its first invocation, as its own EMF line (Powertools writes it through a single metric).
 */
export function publishMetrics<E, R>(target: Metrics = metrics): MiddlewareObj<E, R, Error, Context> {
  const flush = (): void => {
    if (target.hasStoredMetrics()) {
      target.publishStoredMetrics();
    } else {
      // Nothing to write; still drop per-invocation dimensions and metadata, as a publish would.
      target.clearDimensions();
      target.clearMetadata();
    }
  };
  return {
    before: (request) => target.captureColdStartMetric(request.context.functionName),
    after: flush,
    onError: flush,
  };
}
