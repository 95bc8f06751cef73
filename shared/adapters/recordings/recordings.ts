/**
 * Recording media: download from the provider with its credentials (shared/domain/recordings/media-auth.ts) and stream into the recordings bucket (SSE-S3),
 * hashing (sha256) and counting bytes on the way through, so the file is never held in memory or on disk.
 * (Presigned download URLs for the read API: recording-urls.ts, so that neither function loads the other's SDK
 * packages.)
 *
 * Every recording is stored with its account's retention class and hold state as S3 object tags (the
 * bucket's lifecycle rules expire by tag; shared/domain/recordings/retention.ts), and `S3RecordingObjects` changes the hold tag
 * and deletes recordings (every version: the bucket is versioned) for legal holds and deletion requests.
 *
 * The URL arrives in a webhook, so it is attacker-influenced even after signature checks: only the hosts allowed for
 * the call's provider are fetched (Twilio: RECORDING_URL_ALLOWED_HOSTS; the others: CARRIER_RECORDING_HOSTS), so a
 * carrier's credentials go to that carrier's hosts alone, over https (plain http only for loopback, i.e. the local fake media
 * server), and the account's credentials are sent to nothing else (fetch drops Authorization on cross-origin
 * redirects).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectTaggingCommand,
  ListObjectVersionsCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { RecordingMedia } from '../../app/kernel/ports';
import type { Provider } from '../../domain/calls/events';
import type { Carrier } from '../../domain/catalog/carriers';
import { authorizationOf, type MediaCredentials } from '../../domain/recordings/media-auth';
import { isHeld, taggingHeader, withHold, type RecordingTags } from '../../domain/recordings/retention';
import { s3 } from '../platform/clients/s3';

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
  /** Twilio's media hosts. */
  allowedHosts: readonly string[];
  /** Each other carrier's media hosts; a carrier absent here has none (its recordings are refused). */
  carrierHosts?: Readonly<Partial<Record<Carrier, readonly string[]>>>;
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

  private hostsFor(provider: Provider): readonly string[] {
    return provider === 'twilio' ? this.options.allowedHosts : (this.options.carrierHosts?.[provider] ?? []);
  }

  async store(args: {
    url: string;
    provider: Provider;
    credentials: MediaCredentials;
    key: string;
    /** Object tags (retention class and hold); set in the same request as the object, never after it. */
    tags?: RecordingTags;
  }): Promise<{ sha256: string; bytes: number; contentType: string }> {
    const url = assertAllowedRecordingUrl(args.url, this.hostsFor(args.provider));
    const signal = AbortSignal.timeout(this.options.timeoutMs ?? 45_000);
    const authorization = authorizationOf(args.credentials);
    const res = await fetch(url, {
      headers: authorization === null ? {} : { authorization },
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
        ...(args.tags !== undefined ? { Tagging: taggingHeader(args.tags) } : {}),
      },
    }).done();
    return { sha256: hash.digest('hex'), bytes, contentType };
  }
}

/** Rounds of "set the hold tag, read the state again" before giving up (each is one GetItem + two S3 requests). */
const HOLD_SYNC_ROUNDS = 4;

/** Stored recordings as objects: their hold tag and their deletion. */
export class S3RecordingObjects {
  private readonly client: () => S3Client;

  constructor(
    private readonly bucket: string,
    client?: S3Client,
  ) {
    this.client = client ? () => client : s3;
  }

  async getTags(key: string): Promise<Record<string, string>> {
    const out = await this.client().send(new GetObjectTaggingCommand({ Bucket: this.bucket, Key: key }));
    return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  }

  /** Sets the hold tag (`expiry=hold`, or back to the object's class); other tags are kept. Returns the new tags. */
  async setHold(key: string, held: boolean): Promise<RecordingTags> {
    const current = await this.getTags(key);
    const next = withHold(current, held);
    if (isHeld(current) === held && current['retention-class'] === next['retention-class']) return current;
    await this.client().send(
      new PutObjectTaggingCommand({
        Bucket: this.bucket,
        Key: key,
        Tagging: { TagSet: Object.entries(next).map(([Key, Value]) => ({ Key, Value })) },
      }),
    );
    return next;
  }

  /**
   * Makes the object's hold tag follow the hold state kept on the call item, whatever order concurrent writers'
   * requests land in: tag from a fresh read, then read again; repeat until the state read after the tag write is the
   * one written. Every writer (dispute opened or closed, recording stored) does this after its own change, so the
   * last tag write always matches the last state. Throws when the state keeps changing.
   */
  async syncHold(key: string, readHeld: () => Promise<boolean>): Promise<boolean> {
    let held = await readHeld();
    for (let round = 0; round < HOLD_SYNC_ROUNDS; round++) {
      await this.setHold(key, held);
      const now = await readHeld();
      if (now === held) return held;
      held = now;
    }
    throw new Error(`legal hold of ${key} kept changing while it was being applied`);
  }

  /**
   * Deletes a recording for good: the current object, then every version and delete marker of exactly this key
   * (the bucket is versioned, so a plain delete would only hide it behind a delete marker for 90 days). Idempotent.
   * Returns how many objects/versions were removed.
   */
  async deleteRecording(key: string): Promise<number> {
    await this.client().send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    let removed = 1;
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      const out = await this.client().send(
        new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
      );
      const versions = [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])].filter((v) => v.Key === key && v.VersionId !== undefined);
      for (const v of versions) {
        await this.client().send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: v.VersionId }));
        removed += 1;
      }
      if (out.IsTruncated !== true) return removed;
      keyMarker = out.NextKeyMarker;
      versionMarker = out.NextVersionIdMarker;
    }
  }
}
