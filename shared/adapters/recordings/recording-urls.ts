/** Presigned GET URLs for stored recordings (the read API's `recording.url`, valid for 15 minutes). */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { RecordingMedia } from '../../app/kernel/ports';
import { PRESIGN_TTL_SEC } from '../../app/recordings/links';
import { s3 } from '../platform/clients/s3';

export { PRESIGN_TTL_SEC };

export class S3RecordingUrls implements Pick<RecordingMedia, 'presignGet'> {
  private readonly client: () => S3Client;

  constructor(
    private readonly bucket: string,
    client?: S3Client,
  ) {
    this.client = client ? () => client : s3;
  }

  presignGet(key: string): Promise<string> {
    return getSignedUrl(this.client(), new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: PRESIGN_TTL_SEC });
  }
}
