/** SQS producers: the ingest queue (canonical events) and the recordings queue (fetch jobs). */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { IngestMessage } from '../../domain/calls/events';
import type { IngestQueue } from '../../app/calls/ports';
import type { RecordingJob } from '../../app/recordings/ports';
import type { RecordingJobQueue } from '../../app/rating/ports';
import { sqs } from '../platform/clients/sqs';

class SqsProducer<T> {
  private readonly client: () => SQSClient;

  constructor(
    private readonly queueUrl: string,
    client?: SQSClient,
  ) {
    this.client = client ? () => client : sqs;
  }

  async send(body: T): Promise<void> {
    await this.client().send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(body) }));
  }
}

export class SqsIngestQueue extends SqsProducer<IngestMessage> implements IngestQueue {}
export class SqsRecordingJobQueue extends SqsProducer<RecordingJob> implements RecordingJobQueue {}
