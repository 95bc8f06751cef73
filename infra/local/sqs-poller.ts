/**
 * The local stand-in for Lambda's SQS event source mapping: long-polls each queue with N concurrent
 * pollers (like N concurrent Lambda instances), hands the consumer handler a real `SQSEvent`, and deletes
 * exactly the records the handler did not report in `batchItemFailures`. A handler that throws deletes
 * nothing: the whole batch comes back after the visibility timeout, and the queue's redrive policy moves a
 * record to its DLQ after maxReceiveCount receives, as on AWS.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { FunctionDef } from '../resources';
import { invokeHandler } from './invoke';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface PolledQueue {
  /** Label for stats and logs (`ingest`). */
  readonly name: string;
  readonly queueUrl: string;
  /** ReceiveMessage MaxNumberOfMessages (1–10), as the event source mapping's batch size. */
  readonly batchSize: number;
  /** Lambda's MaximumBatchingWindowInSeconds: keep gathering until the batch is full or the window ends. */
  readonly maxBatchingWindowSec: number;
  readonly fn: FunctionDef;
  readonly handler: SqsHandler;
}

export interface PollerOptions {
  readonly sqs: SQSClient;
  readonly region: string;
  readonly queues: readonly PolledQueue[];
  /** Concurrent pollers per queue (default 2, like two concurrent Lambda instances). */
  readonly pollersPerQueue?: number;
  /** Long-poll wait per ReceiveMessage (default 5 s; stop() aborts it). */
  readonly waitTimeSeconds?: number;
  readonly log?: (line: string) => void;
}

export interface QueueStats {
  /** Messages received (a redelivery counts again). */
  received: number;
  /** Messages the handler succeeded on (deleted). */
  succeeded: number;
  /** Messages left on the queue: listed in batchItemFailures, or in a batch whose handler threw. */
  failed: number;
  /** Messages in a handler right now. */
  inFlight: number;
  batches: number;
  /** Handler invocations that threw. */
  handlerErrors: number;
}

export interface Pollers {
  stats(): Record<string, QueueStats>;
  /** True while every poller loop is running. */
  running(): boolean;
  /**
   * Resolves once every polled queue reports no visible, delayed or in-flight (not visible) messages and no
   * handler is running, continuously for `settleMs`. Rejects after `timeoutMs`.
   */
  waitForIdle(timeoutMs?: number, settleMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Visible, in flight (received, not yet deleted or timed out), and delayed. */
const DEPTH_ATTRIBUTES = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function toRecordAttributes(attributes: MessageAttributeValue | undefined): SQSMessageAttributes[string] | undefined {
  if (!attributes) return undefined;
  return {
    dataType: attributes.DataType!,
    stringValue: attributes.StringValue,
    binaryValue: attributes.BinaryValue ? Buffer.from(attributes.BinaryValue).toString('base64') : undefined,
    stringListValues: attributes.StringListValues ?? [],
    binaryListValues: (attributes.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
  };
}

/** One SQS message as Lambda's event source mapping presents it. */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    const converted = toRecordAttributes(value);
    if (converted) messageAttributes[name] = converted;
  }
  const system = message.Attributes ?? {};
  const record: SQSRecord = {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
      SentTimestamp: system.SentTimestamp ?? String(Date.now()),
      SenderId: system.SenderId ?? 'AIDALOCAL',
      ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(system.AWSTraceHeader ? { AWSTraceHeader: system.AWSTraceHeader } : {}),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
  if (message.MD5OfMessageAttributes) record.md5OfMessageAttributes = message.MD5OfMessageAttributes;
  return record;
}

/**
 * Which records of a batch to delete, given the handler's outcome. Lambda's rules: a thrown error or an
 * unusable response (an itemIdentifier that is empty or not in the batch) fails the whole batch; otherwise
 * every record not listed in batchItemFailures succeeded.
 */
export function recordsToDelete(records: readonly SQSRecord[], outcome: { threw: true } | { threw: false; response: SQSBatchResponse | void }): SQSRecord[] {
  if (outcome.threw) return [];
  const failures = outcome.response?.batchItemFailures ?? [];
  const ids = new Set(records.map((r) => r.messageId));
  if (failures.some((f) => !f.itemIdentifier || !ids.has(f.itemIdentifier))) return [];
  const failed = new Set(failures.map((f) => f.itemIdentifier));
  return records.filter((r) => !failed.has(r.messageId));
}

export async function startPollers(opts: PollerOptions): Promise<Pollers> {
  const log = opts.log ?? (() => {});
  const perQueue = opts.pollersPerQueue ?? 2;
  const waitTimeSeconds = opts.waitTimeSeconds ?? 5;
  const abort = new AbortController();
  const stats: Record<string, QueueStats> = {};
  let stopping = false;
  let liveLoops = 0;

  const arns = await Promise.all(
    opts.queues.map(async (q) => {
      const { Attributes } = await opts.sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.queueUrl, AttributeNames: ['QueueArn'] }));
      return Attributes!.QueueArn!;
    }),
  );

  const receive = (q: PolledQueue, max: number, wait: number) =>
    opts.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: q.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: wait,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: abort.signal },
    );

  /** One batch, gathered for up to the batching window like the event source mapping does. */
  const gather = async (q: PolledQueue): Promise<Message[]> => {
    const first = await receive(q, q.batchSize, waitTimeSeconds);
    const batch = first.Messages ?? [];
    if (batch.length === 0 || q.maxBatchingWindowSec <= 0) return batch;
    const windowEnds = Date.now() + q.maxBatchingWindowSec * 1000;
    while (batch.length < q.batchSize && !stopping) {
      const left = windowEnds - Date.now();
      if (left <= 0) break;
      const more = await receive(q, q.batchSize - batch.length, 0);
      if (more.Messages?.length) batch.push(...more.Messages);
      else await sleep(Math.min(50, left));
    }
    return batch;
  };

  const loop = async (q: PolledQueue, queueArn: string) => {
    const s = stats[q.name]!;
    while (!stopping) {
      let messages: Message[];
      try {
        messages = await gather(q);
      } catch (err) {
        if (stopping) break;
        log(`poller ${q.name}: ReceiveMessage failed: ${err instanceof Error ? err.message : String(err)}`);
        await sleep(500);
        continue;
      }
      if (messages.length === 0) continue;
      const records = messages.map((m) => toSqsRecord(m, queueArn, opts.region));
      s.received += records.length;
      s.batches += 1;
      s.inFlight += records.length;
      let outcome: Parameters<typeof recordsToDelete>[1];
      try {
        outcome = { threw: false, response: await invokeHandler(q.fn, q.handler, { Records: records }) };
      } catch (err) {
        s.handlerErrors += 1;
        log(`${q.fn.id} threw on a batch of ${records.length} from ${q.name}: ${err instanceof Error ? err.message : String(err)}`);
        outcome = { threw: true };
      }
      const done = recordsToDelete(records, outcome);
      try {
        for (let i = 0; i < done.length; i += 10) {
          const chunk = done.slice(i, i + 10);
          const result = await opts.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: q.queueUrl,
              Entries: chunk.map((r, j) => ({ Id: String(j), ReceiptHandle: r.receiptHandle })),
            }),
          );
          if (result.Failed?.length) log(`poller ${q.name}: ${result.Failed.length} deletes failed (they will be redelivered)`);
        }
      } catch (err) {
        log(`poller ${q.name}: DeleteMessageBatch failed (records will be redelivered): ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        s.inFlight -= records.length;
        s.succeeded += done.length;
        s.failed += records.length - done.length;
      }
    }
  };

  const loops: Promise<void>[] = [];
  opts.queues.forEach((q, i) => {
    stats[q.name] = { received: 0, succeeded: 0, failed: 0, inFlight: 0, batches: 0, handlerErrors: 0 };
    for (let n = 0; n < perQueue; n++) {
      liveLoops += 1;
      loops.push(
        loop(q, arns[i]!)
          .catch((err: unknown) => log(`poller ${q.name} crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`))
          .finally(() => {
            liveLoops -= 1;
          }),
      );
    }
  });

  const isIdleNow = async (): Promise<boolean> => {
    if (Object.values(stats).some((s) => s.inFlight > 0)) return false;
    const depths = await Promise.all(
      opts.queues.map((q) => opts.sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.queueUrl, AttributeNames: [...DEPTH_ATTRIBUTES] }))),
    );
    const busy = depths.some(({ Attributes: a = {} }) => DEPTH_ATTRIBUTES.some((k) => Number(a[k] ?? 0) > 0));
    return !busy && Object.values(stats).every((s) => s.inFlight === 0);
  };

  let stopped: Promise<void> | undefined;
  return {
    stats: () => Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, { ...v }])),
    running: () => !stopping && liveLoops === opts.queues.length * perQueue,
    async waitForIdle(timeoutMs = 30_000, settleMs = 250) {
      const deadline = Date.now() + timeoutMs;
      let idleSince: number | undefined;
      for (;;) {
        if (await isIdleNow()) {
          idleSince ??= Date.now();
          if (Date.now() - idleSince >= settleMs) return;
        } else {
          idleSince = undefined;
        }
        if (Date.now() > deadline) throw new Error(`queues not idle after ${timeoutMs} ms: ${JSON.stringify(stats)}`);
        await sleep(50);
      }
    },
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        abort.abort();
        await Promise.all(loops);
      })()),
  };
}
