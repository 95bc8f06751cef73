/** SQS producers: the ingest queue (canonical events) and the recordings queue (fetch jobs). */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { IngestMessage } from '../../domain/calls/events';
import type { IngestQueue } from '../../app/calls/ports';
import type { NetworkPostbackMessage } from '../../domain/networks/postback-message';
import type { NetworkPostbackQueue } from '../../app/networks/postback-ingest';
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
/** Network postbacks go to the ingest queue too: one consumer orders a call's rating and its claims' matching. */
export class SqsNetworkPostbackQueue extends SqsProducer<NetworkPostbackMessage> implements NetworkPostbackQueue {}
export class SqsRecordingJobQueue extends SqsProducer<RecordingJob> implements RecordingJobQueue {}
