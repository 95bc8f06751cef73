import { createHash, randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, QUEUES } from '../../../infra/resources';
import { localClients, startEmulators, type Emulators, type LocalClients } from '../../../infra/local/emulators';
import { startHttpAdapter } from '../../../infra/local/http-adapter';
import { createQueue, createResources, type CreatedQueue } from '../../../infra/local/resources';
import { startPollers, type Pollers, type SqsHandler } from '../../../infra/local/sqs-poller';
import { componentChecks } from '../../../infra/local/health';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('SQS pollers (Lambda event source mapping stand-in)', () => {
  let emulators: Emulators;
  let clients: LocalClients;
  const running: Pollers[] = [];

  beforeAll(async () => {
    emulators = await startEmulators();
    clients = localClients(emulators.endpoints);
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await emulators?.stop();
  });

  /** A queue of its own with a 1 s visibility timeout and redrive after 2 receives. */
  const shortQueue = (name: string): Promise<CreatedQueue> =>
    createQueue(clients.sqs, emulators.endpoints.sqs, `${name}-${randomUUID().slice(0, 8)}`, `${name}-dlq-${randomUUID().slice(0, 8)}`, {
      ...QUEUES.ingest,
      visibilityTimeoutSec: 1,
      maxReceiveCount: 2,
    });

  const poll = async (queue: CreatedQueue, handler: SqsHandler, batchSize = 10) => {
    const pollers = await startPollers({
      sqs: clients.sqs,
      region: emulators.region,
      waitTimeSeconds: 1,
      queues: [{ name: 'q', queueUrl: queue.queueUrl, batchSize, maxBatchingWindowSec: 0.2, fn: FUNCTIONS.ledgerWriter, handler }],
    });
    running.push(pollers);
    return pollers;
  };

  it('delivers real SQSEvent records and deletes all but the reported failures, which redrive to the DLQ', async () => {
    const queue = await shortQueue('partial');
    const seen: SQSRecord[] = [];
    const pollers = await poll(queue, async (event: SQSEvent): Promise<SQSBatchResponse> => {
      seen.push(...event.Records);
      return { batchItemFailures: event.Records.filter((r) => r.body === 'bad').map((r) => ({ itemIdentifier: r.messageId })) };
    });
    for (const body of ['ok-1', 'bad', 'ok-2']) {
      await clients.sqs.send(
        new SendMessageCommand({
          QueueUrl: queue.queueUrl,
          MessageBody: body,
          MessageAttributes: { kind: { DataType: 'String', StringValue: `k-${body}` } },
        }),
      );
    }

    const dead = await until(async () => {
      const r = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, WaitTimeSeconds: 1 }));
      return r.Messages?.[0];
    }, 15_000);
    expect(dead.Body).toBe('bad');
    await pollers.waitForIdle(10_000);

    const bodies = seen.map((r) => r.body).sort();
    // Successes once each; the failure once per receive up to maxReceiveCount (2), then the DLQ.
    expect(bodies).toEqual(['bad', 'bad', 'ok-1', 'ok-2']);
    expect(seen.filter((r) => r.body === 'bad').map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    const ok = seen.find((r) => r.body === 'ok-1')!;
    expect(ok).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: queue.queueArn,
      awsRegion: emulators.region,
      md5OfBody: md5('ok-1'),
      messageAttributes: { kind: { dataType: 'String', stringValue: 'k-ok-1', stringListValues: [], binaryListValues: [] } },
      attributes: { ApproximateReceiveCount: '1' },
    });
    expect(ok.messageId).toMatch(/\S+/);
    expect(ok.receiptHandle).toMatch(/\S+/);
    expect(Number(ok.attributes.SentTimestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(pollers.stats().q).toMatchObject({ received: 4, succeeded: 2, failed: 2, inFlight: 0, handlerErrors: 0 });
  });

  it('a handler that throws deletes nothing: the whole batch is redelivered after the visibility timeout', async () => {
    const queue = await shortQueue('throw');
    const attempts: string[][] = [];
    const pollers = await poll(queue, async (event) => {
      attempts.push(event.Records.map((r) => `${r.body}@${r.attributes.ApproximateReceiveCount}`));
      if (event.Records.some((r) => r.attributes.ApproximateReceiveCount === '1')) throw new Error('transient');
    });
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: 'm1' }));
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: 'm2' }));
    await until(async () => (pollers.stats().q!.succeeded === 2 ? true : undefined), 15_000);
    await pollers.waitForIdle(10_000);

    const all = attempts.flat().sort();
    expect(all).toEqual(['m1@1', 'm1@2', 'm2@1', 'm2@2']);
    expect(pollers.stats().q).toMatchObject({ received: 4, succeeded: 2, failed: 2, handlerErrors: expect.any(Number) });
    expect(pollers.stats().q!.handlerErrors).toBeGreaterThanOrEqual(1);
    const dlq = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queue.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    expect(dlq.Attributes!.ApproximateNumberOfMessages).toBe('0');
  });

  it('an unknown itemIdentifier fails the whole batch, as Lambda does', async () => {
    const queue = await shortQueue('unknown');
    const seen: string[] = [];
    const pollers = await poll(queue, async (event) => {
      seen.push(...event.Records.map((r) => r.attributes.ApproximateReceiveCount));
      return event.Records[0]!.attributes.ApproximateReceiveCount === '1' ? { batchItemFailures: [{ itemIdentifier: 'not-in-batch' }] } : undefined;
    });
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: 'x' }));
    await until(async () => (pollers.stats().q!.succeeded === 1 ? true : undefined), 15_000);
    expect(seen).toEqual(['1', '2']);
  });

  it('waitForIdle waits for a running handler', async () => {
    const queue = await shortQueue('idle');
    let finished = false;
    const pollers = await poll(queue, async () => {
      await new Promise((r) => setTimeout(r, 700));
      finished = true;
    });
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: 'slow' }));
    await until(async () => (pollers.stats().q!.inFlight > 0 ? true : undefined), 5000);
    await pollers.waitForIdle(10_000);
    expect(finished).toBe(true);
    await expect(pollers.waitForIdle(10_000)).resolves.toBeUndefined();
  });

  it('/health turns from 503 to 200 when the pollers run, and back to 503 when they stop', async () => {
    const names = await createResources(emulators.endpoints, `h${randomUUID().slice(0, 8)}`);
    let pollers: Pollers | undefined;
    const adapter = await startHttpAdapter({
      port: 0,
      routes: [],
      functions: FUNCTIONS,
      loadHandler: () => Promise.reject(new Error('no routes')),
      health: componentChecks(clients, names, () => pollers),
    });
    try {
      const before = await fetch(`${adapter.url}/health`);
      expect(before.status).toBe(503);
      expect(await before.json()).toMatchObject({
        components: { dynamodb: 'up', sqs: 'up', s3: 'up', pollers: 'down' },
        failures: { pollers: expect.any(String) },
      });

      pollers = await startPollers({
        sqs: clients.sqs,
        region: emulators.region,
        waitTimeSeconds: 1,
        queues: [{ name: 'ingest', queueUrl: names.ingestQueueUrl, batchSize: 10, maxBatchingWindowSec: 0, fn: FUNCTIONS.ledgerWriter, handler: async () => {} }],
      });
      const ok = await fetch(`${adapter.url}/health`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ status: 'ok', components: { dynamodb: 'up', sqs: 'up', s3: 'up', pollers: 'up' } });

      await pollers.stop();
      expect((await fetch(`${adapter.url}/health`)).status).toBe(503);
    } finally {
      await pollers?.stop();
      await adapter.stop();
    }
  });
});
