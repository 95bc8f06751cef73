/**
 * The raw webhook archive: one gzip JSONL object per (account, UTC day of receipt) group of one consumer batch,
 * at `raw/<accountId>/<yyyy>/<mm>/<dd>/<batchId>.jsonl.gz`. One PUT per batch group rather than per webhook: at
 * 10M calls a month, per-event PUTs would be the largest line of the bill.
 */
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { IngestMessage } from '../../domain/calls/events';
import type { RawArchive } from '../../app/rating/ports';
import { s3 } from '../platform/clients/s3';

export function archiveKey(accountId: string, receivedAt: string, batchId: string): string {
  const day = receivedAt.slice(0, 10); // ISO-8601 UTC: yyyy-mm-dd
  const [yyyy, mm, dd] = day.split('-');
  return `raw/${accountId}/${yyyy}/${mm}/${dd}/${batchId}.jsonl.gz`;
}

/** Groups a batch by target object key, keeping the batch order inside each group. */
export function archiveGroups(batchId: string, messages: readonly IngestMessage[]): Map<string, IngestMessage[]> {
  const groups = new Map<string, IngestMessage[]>();
  for (const m of messages) {
    const key = archiveKey(m.event.accountId, new Date(m.raw.receivedAt).toISOString(), batchId);
    const group = groups.get(key);
    if (group) group.push(m);
    else groups.set(key, [m]);
  }
  return groups;
}

export class S3Archive implements RawArchive {
  private readonly client: () => S3Client;

  constructor(
    private readonly bucket: string,
    client?: S3Client,
  ) {
    this.client = client ? () => client : s3;
  }

  async archiveBatch(batchId: string, messages: readonly IngestMessage[]): Promise<void> {
    await Promise.all(
      [...archiveGroups(batchId, messages)].map(([key, group]) =>
        this.client().send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: gzipSync(group.map((m) => `${JSON.stringify(m)}\n`).join('')),
            ContentType: 'application/x-ndjson',
            ContentEncoding: 'gzip',
            ServerSideEncryption: 'AES256',
          }),
        ),
      ),
    );
  }
}
