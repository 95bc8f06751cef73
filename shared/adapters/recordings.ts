/**
 * Recording media: download from the provider with basic auth and stream into the recordings bucket (SSE-S3),
 * hashing (sha256) and counting bytes on the way through, so the file is never held in memory or on disk.
 * (Presigned download URLs for the read API: recording-urls.ts, so that neither function loads the other's SDK
 * packages.)
 *
 * The URL arrives in a webhook, so it is attacker-influenced even after signature checks: only hosts in
 * RECORDING_URL_ALLOWED_HOSTS are fetched, over https (plain http only for loopback, i.e. the local fake media
 * server), and the account's credentials are sent to nothing else (fetch drops Authorization on cross-origin
 * redirects).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { RecordingMedia } from '../app/ports';
import { s3 } from './clients/s3';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The recording cannot be fetched (yet): the SQS message is retried, then dead-lettered. */
export class RecordingFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordingFetchError';
  }
}

/** Throws unless `url` is http(s) on an allowed host (`host` or `host:port` entries). */
export function assertAllowedRecordingUrl(url: string, allowedHosts: readonly string[]): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RecordingFetchError('recording URL is not a URL');
  }
  const hostname = parsed.hostname.toLowerCase();
  const host = parsed.host.toLowerCase();
  if (!allowedHosts.includes(hostname) && !allowedHosts.includes(host)) {
    throw new RecordingFetchError(`recording host ${host} is not allowed`);
  }
  const secure = parsed.protocol === 'https:' || (parsed.protocol === 'http:' && LOOPBACK.has(hostname));
  if (!secure) throw new RecordingFetchError(`recording URL must use https (got ${parsed.protocol})`);
  if (parsed.username !== '' || parsed.password !== '') throw new RecordingFetchError('recording URL must not carry credentials');
  return parsed;
}

export interface S3RecordingStoreOptions {
  bucket: string;
  allowedHosts: readonly string[];
  client?: S3Client;
  /** Whole download budget (default 45 s, inside the fetcher's 60 s Lambda timeout). */
  timeoutMs?: number;
}

export class S3RecordingStore implements Pick<RecordingMedia, 'store'> {
  private readonly client: () => S3Client;

  constructor(private readonly options: S3RecordingStoreOptions) {
    const client = options.client;
    this.client = client ? () => client : s3;
  }

  async store(args: { url: string; username: string; password: string; key: string }): Promise<{ sha256: string; bytes: number; contentType: string }> {
    const url = assertAllowedRecordingUrl(args.url, this.options.allowedHosts);
    const signal = AbortSignal.timeout(this.options.timeoutMs ?? 45_000);
    const res = await fetch(url, {
      headers: { authorization: `Basic ${Buffer.from(`${args.username}:${args.password}`).toString('base64')}` },
      redirect: 'follow',
      signal,
    });
    if (!res.ok || res.body === null) {
      await res.body?.cancel();
      throw new RecordingFetchError(`recording download failed: HTTP ${res.status}`);
    }
    const contentType = res.headers.get('content-type')?.split(';')[0]?.trim() || 'application/octet-stream';
    const hash = createHash('sha256');
    let bytes = 0;
    const source = res.body;
    // An async generator keeps errors flowing: a broken download fails the upload instead of storing a stub.
    async function* tap(): AsyncGenerator<Uint8Array> {
      for await (const chunk of source) {
        hash.update(chunk);
        bytes += chunk.byteLength;
        yield chunk;
      }
    }
    await new Upload({
      client: this.client(),
      params: {
        Bucket: this.options.bucket,
        Key: args.key,
        Body: Readable.from(tap()),
        ContentType: contentType,
        ServerSideEncryption: 'AES256',
      },
    }).done();
    return { sha256: hash.digest('hex'), bytes, contentType };
  }
}
