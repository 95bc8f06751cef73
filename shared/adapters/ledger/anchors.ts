/**
 * External anchors of the ledger's seal chains (docs/ARCHITECTURE.md, "Tamper evidence"): one small JSON object
 * per sealer run that sealed something, `anchors/<accountId>/<seq, 12 digits>.json` =
 * `{accountId, seq, sealHash, coversTo}`, in a bucket with S3 Object Lock (infra/resources.ts BUCKETS.anchors).
 *
 * Write-once: the put carries `If-None-Match: *`, so an existing key is never replaced (S3 answers 412), and the
 * bucket policy in AWS denies any put without that header; Object Lock keeps every version for the retention
 * period. Locally fauxqs ignores both, which no test relies on.
 *
 * Reading the newest anchor without trusting the database: keys sort by sequence number, so a listing that starts
 * at the database's newest seal finds it (and anything newer, should seals have been deleted) in one request; only
 * when nothing is found from there (the last run's anchor write failed) does it list the account's anchors from
 * the start, ~9 pages a year of hourly seals.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import type { AnchorReader } from '../../app/ledger/verify';
import type { AnchorWriter } from '../../app/ledger/seal-accounts';
import type { SealAnchor } from '../../domain/ledger/tamper';
import { s3 } from '../platform/clients/s3';

const SEQ_DIGITS = 12;

export function anchorPrefix(accountId: string): string {
  return `anchors/${accountId}/`;
}

export function anchorKey(accountId: string, seq: number): string {
  return `${anchorPrefix(accountId)}${String(seq).padStart(SEQ_DIGITS, '0')}.json`;
}

const AnchorSchema = z.object({
  accountId: z.string(),
  seq: z.int().check(z.gte(1)),
  sealHash: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  coversTo: z.string(),
});

export class S3AnchorStore implements AnchorWriter, AnchorReader {
  private readonly bucket: string;
  private readonly client: () => S3Client;

  constructor(options: { bucket: string; client?: S3Client }) {
    this.bucket = options.bucket;
    const client = options.client;
    this.client = client ? () => client : s3;
  }

  async putAnchor(anchor: SealAnchor): Promise<'stored' | 'exists'> {
    const body: SealAnchor = { accountId: anchor.accountId, seq: anchor.seq, sealHash: anchor.sealHash, coversTo: anchor.coversTo };
    try {
      await this.client().send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: anchorKey(anchor.accountId, anchor.seq),
          Body: JSON.stringify(body),
          ContentType: 'application/json',
          IfNoneMatch: '*',
          // Object Lock buckets require an integrity checksum on every put.
          ChecksumAlgorithm: 'SHA256',
          ServerSideEncryption: 'AES256',
        }),
      );
      return 'stored';
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'PreconditionFailed' || e.$metadata?.httpStatusCode === 412) return 'exists';
      throw err;
    }
  }

  async latestAnchor(accountId: string, atLeastSeq: number): Promise<SealAnchor | null> {
    const prefix = anchorPrefix(accountId);
    let key = atLeastSeq > 0 ? await this.lastKey(prefix, anchorKey(accountId, atLeastSeq - 1)) : null;
    key ??= await this.lastKey(prefix, undefined);
    if (key === null) return null;
    const out = await this.client().send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const text = (await out.Body?.transformToString('utf8')) ?? '';
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = AnchorSchema.safeParse(json);
    if (!parsed.success || parsed.data.accountId !== accountId || anchorKey(accountId, parsed.data.seq) !== key) {
      throw new Error(`anchor object ${key} is not a valid anchor of account ${accountId}`);
    }
    return parsed.data;
  }

  /** The last anchor key under `prefix` after `startAfter` (all pages), or null. */
  private async lastKey(prefix: string, startAfter: string | undefined): Promise<string | null> {
    const shape = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\d{${SEQ_DIGITS}}\\.json$`);
    let last: string | null = null;
    let token: string | undefined;
    do {
      const out = await this.client().send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, StartAfter: startAfter, ContinuationToken: token }),
      );
      for (const o of out.Contents ?? []) if (o.Key !== undefined && shape.test(o.Key)) last = o.Key;
      token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
    return last;
  }
}
