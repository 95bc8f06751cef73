/**
 * Pilot reports in S3 (the archive bucket, under `pilot-reports/<accountId>/<pilotId>/report.{json,csv}`; see
 * shared/domain/pilots/pilots.ts `reportKeys`): written by the workflow's report task or the enforcer, read and presigned
 * by the API. Keys are deterministic, so a second writer overwrites the same objects.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { PilotReportStore } from '../../app/pilots/ports';
import { s3 } from '../platform/clients/s3';

export const REPORT_LINK_TTL_SEC = 15 * 60;

export class S3PilotReports implements PilotReportStore {
  private readonly client: () => S3Client;

  constructor(
    private readonly bucket: string,
    client?: S3Client,
  ) {
    this.client = client ? () => client : s3;
  }

  async put(report: { jsonKey: string; json: string; csvKey: string; csv: string }): Promise<void> {
    const put = (Key: string, Body: string, ContentType: string) =>
      this.client().send(new PutObjectCommand({ Bucket: this.bucket, Key, Body, ContentType, ServerSideEncryption: 'AES256' }));
    await Promise.all([put(report.jsonKey, report.json, 'application/json'), put(report.csvKey, report.csv, 'text/csv; charset=utf-8')]);
  }

  async get(key: string): Promise<string | null> {
    try {
      const out = await this.client().send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await out.Body?.transformToString('utf-8')) ?? null;
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return null;
      throw err;
    }
  }

  presign(key: string): Promise<string> {
    return getSignedUrl(this.client(), new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: REPORT_LINK_TTL_SEC });
  }
}
