/**
 * S3 object tagging for fauxqs, which has none (recordings carry their retention class and legal hold as
 * tags; shared/domain/recordings/retention.ts).
 *
 * Measured with fauxqs 2.4.1 and the AWS SDK v3 client: `PutObjectTagging` (PUT `?tagging`) is routed to PutObject
 * and REPLACES the object's body with the tagging XML, `GetObjectTagging` returns the object's body (the SDK fails
 * to parse it), the `x-amz-tagging` header of PutObject is ignored, and `?legal-hold` / `?retention` overwrite the
 * object the same way. So this adds, in front of fauxqs's own routes (a Fastify `onRequest` hook on its app):
 * - PUT/GET/DELETE `/<bucket>/<key>?tagging` (404 NoSuchKey for a missing object, 400 InvalidTag past 10 tags);
 * - the `x-amz-tagging` header of a single-part PutObject (multipart uploads: not supported, as nothing local
 *   uploads recordings above the 5 MiB part size);
 * - tags dropped when the object is deleted (DeleteObject);
 * - 501 NotImplemented for the object subresources fauxqs would otherwise turn into an overwrite (`legal-hold`,
 *   `retention`, `acl`, `versionId` on a delete), so that a caller can never corrupt an object silently.
 * Tags live in memory, like fauxqs's objects, and with `file` also in that JSON file (rewritten whole on every change,
 * through a rename, so a crash leaves the old or the new set; read back at start). The real S3 semantics kept: a tag set is replaced whole, at most 10
 * tags, and tagging never changes the object's body or its LastModified.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const MAX_TAGS = 10;
const UNSUPPORTED = ['legal-hold', 'retention', 'acl', 'object-lock'];

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** The TagSet of a `<Tagging>` document. */
export function parseTagging(xml: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const m of xml.matchAll(/<Tag>\s*<Key>([\s\S]*?)<\/Key>\s*<Value>([\s\S]*?)<\/Value>\s*<\/Tag>/g)) {
    tags.set(unescapeXml(m[1]!), unescapeXml(m[2]!));
  }
  return tags;
}

function taggingXml(tags: ReadonlyMap<string, string>): string {
  const set = [...tags].map(([k, v]) => `<Tag><Key>${escapeXml(k)}</Key><Value>${escapeXml(v)}</Value></Tag>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Tagging xmlns="${XMLNS}"><TagSet>${set}</TagSet></Tagging>`;
}

function s3Error(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply
    .status(status)
    .header('content-type', 'application/xml')
    .send(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message><RequestId>local</RequestId></Error>`);
}

async function readBody(request: FastifyRequest): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request.raw) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString('utf8');
}

/** The bucket and key of a path-style object request (null for bucket-level requests). */
function objectOf(request: FastifyRequest): { bucket: string; key: string } | null {
  const params = (request.params ?? {}) as Record<string, string | undefined>;
  const bucket = params.bucket;
  const key = params['*'];
  return bucket === undefined || key === undefined || key === '' ? null : { bucket, key };
}

/** `bucket/key` → tags, from a file written by `installS3Tagging` (empty when there is none yet). */
function loadTags(file: string): Map<string, Map<string, string>> {
  let json: Record<string, Record<string, string>>;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new Error(`cannot read the S3 tags file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return new Map(Object.entries(json).map(([id, tags]) => [id, new Map(Object.entries(tags))]));
}

/**
 * Adds object tagging to a fauxqs app; call before it listens. `file`: where the tags persist (fauxqs's own
 * persistence does not know them). Returns the tag store (for inspection only).
 */
export function installS3Tagging(app: FastifyInstance, opts: { readonly file?: string } = {}): ReadonlyMap<string, ReadonlyMap<string, string>> {
  const file = opts.file;
  const tags = file === undefined ? new Map<string, Map<string, string>>() : loadTags(file);
  const save = () => {
    if (file === undefined) return;
    writeFileSync(`${file}.tmp`, JSON.stringify(Object.fromEntries([...tags].map(([id, t]) => [id, Object.fromEntries(t)]))));
    renameSync(`${file}.tmp`, file);
  };
  // Every change goes through here, so the file follows the map.
  const store = {
    get: (id: string) => tags.get(id),
    set: (id: string, value: Map<string, string>) => {
      tags.set(id, value);
      save();
    },
    delete: (id: string) => {
      if (tags.delete(id)) save();
    },
  };
  const id = (o: { bucket: string; key: string }) => `${o.bucket}/${o.key}`;

  async function exists(o: { bucket: string; key: string }): Promise<boolean> {
    const res = await app.inject({ method: 'HEAD', url: `/${encodeURIComponent(o.bucket)}/${o.key.split('/').map(encodeURIComponent).join('/')}` });
    return res.statusCode === 200;
  }

  app.addHook('onRequest', async (request, reply) => {
    const o = objectOf(request);
    if (o === null) return;
    const query = (request.query ?? {}) as Record<string, unknown>;
    const method = request.method.toUpperCase();
    if (UNSUPPORTED.some((q) => q in query) || (method === 'DELETE' && 'versionId' in query)) {
      return s3Error(reply, 501, 'NotImplemented', `fauxqs (local) does not implement this object subresource: ${Object.keys(query).join(', ')}`);
    }
    if ('tagging' in query) {
      if (!(await exists(o))) return s3Error(reply, 404, 'NoSuchKey', 'The specified key does not exist.');
      if (method === 'GET') return reply.status(200).header('content-type', 'application/xml').send(taggingXml(store.get(id(o)) ?? new Map()));
      if (method === 'DELETE') {
        store.delete(id(o));
        return reply.status(204).send();
      }
      if (method === 'PUT') {
        const tags = parseTagging(await readBody(request));
        if (tags.size > MAX_TAGS) return s3Error(reply, 400, 'InvalidTag', `Object tags cannot be greater than ${MAX_TAGS}`);
        store.set(id(o), tags);
        return reply.status(200).send();
      }
      return s3Error(reply, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
    return undefined;
  });

  app.addHook('onResponse', async (request, reply) => {
    const o = objectOf(request);
    if (o === null) return;
    // The SDK names the operation in `x-id` (e.g. `?x-id=PutObject`): not a subresource.
    const query = Object.fromEntries(Object.entries((request.query ?? {}) as Record<string, unknown>).filter(([k]) => k !== 'x-id'));
    const method = request.method.toUpperCase();
    if (method === 'DELETE' && Object.keys(query).length === 0 && reply.statusCode < 300) store.delete(id(o));
    const header = request.headers['x-amz-tagging'];
    // A plain PutObject (not a part, not a copy's own tagging directive) with tags: the set replaces any earlier one.
    if (method === 'PUT' && Object.keys(query).length === 0 && reply.statusCode === 200) {
      if (typeof header === 'string') store.set(id(o), new Map(new URLSearchParams(header)));
      else if (request.headers['x-amz-copy-source'] === undefined) store.delete(id(o));
    }
  });
  return tags;
}
