/**
 * The API's contract, enforced on every request the test suites send: each exchange (request and response) is
 * checked against the OpenAPI 3.1 document the API serves (`GET /v1/openapi.json`).
 *
 * - Routing, parameters (path, query, headers) and JSON request bodies: openapi-backend's router and validator, with
 *   Ajv's JSON Schema 2020-12 engine (OpenAPI 3.1's dialect) instead of its draft-07 default.
 * - What it leaves out, here: the media type of a request or response body must be one the operation documents
 *   (text/csv included), the response status must be documented, a bearer operation needs an Authorization header,
 *   and response bodies are validated per status and media type (application/problem+json too) by the same engine.
 *
 * A request the document refuses must be refused by the API (a 4xx); one it accepts must get a documented answer.
 * Each mismatch names the route, the status and the JSON pointer of what differs.
 */
import { appendFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type Options as AjvOptions, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import OpenAPIBackend from 'openapi-backend';
import type { Operation } from 'openapi-backend';

// ajv-formats is CommonJS with a default export; under ESM interop it may arrive wrapped once more.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

type Json = Record<string, unknown>;

export interface Exchange {
  readonly method: string;
  /** The path as sent (percent-encoded), without the query string. */
  readonly path: string;
  /** The raw query string, without `?` ('' when none). */
  readonly query: string;
  /** Request headers as sent (any case). */
  readonly headers: Readonly<Record<string, string>>;
  /** The request body as text; undefined when none was sent. */
  readonly body: string | undefined;
  readonly response: {
    readonly status: number;
    readonly headers: Readonly<Record<string, string>>;
    /** The response body as text ('' when none). */
    readonly body: string;
  };
}

export interface Mismatch {
  /** `METHOD /template` of the documented operation, or `METHOD /path` when none matched. */
  readonly route: string;
  readonly status: number;
  readonly part: 'request' | 'response';
  /** JSON pointer into the request (`/query/limit`, `/header/idempotency-key`, `/body/…`) or the response body. */
  readonly pointer: string;
  readonly message: string;
}

/** The API's surface: paths outside it (`/health`, presigned S3 URLs, the fake media host) are not the contract. */
const API_PATH = /^\/(?:v1|webhooks)\//;

const JSON_MEDIA = /^application\/(?:[\w.+-]+\+)?json$/;

function mediaTypeOf(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type === '' ? undefined : type;
}

function lowerCaseHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** The pointer an Ajv error names, down to the offending property for additional / missing properties. */
function pointerOf(error: ErrorObject): string {
  const params = error.params as { additionalProperty?: string; missingProperty?: string };
  const leaf = params.additionalProperty ?? params.missingProperty;
  return leaf === undefined ? error.instancePath : `${error.instancePath}/${leaf.replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

function messageOf(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') return 'is not documented (additionalProperties: false)';
  if (error.keyword === 'required') return 'is required by the document but missing';
  const allowed = (error.params as { allowedValues?: unknown }).allowedValues;
  return allowed === undefined ? (error.message ?? error.keyword) : `${error.message ?? error.keyword}: ${JSON.stringify(allowed)}`;
}

/**
 * A nullable or union schema fails every branch; Ajv then reports each branch's errors and one anyOf/oneOf error on
 * top. The branch errors say what is wrong; the summary only that nothing matched.
 */
function significant(errors: readonly ErrorObject[]): ErrorObject[] {
  const detailed = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  return detailed.length > 0 ? detailed : [...errors];
}

export class OpenApiContract {
  private readonly responseValidators = new Map<string, ValidateFunction>();
  private readonly ajv: Ajv2020;

  private constructor(
    private readonly api: OpenAPIBackend,
    readonly document: Json,
  ) {
    this.ajv = OpenApiContract.newAjv({});
  }

  private static newAjv(options: AjvOptions): Ajv2020 {
    // strict: false: zod's JSON Schema output carries annotations (e.g. `id` in meta) Ajv's strict mode rejects.
    const ajv = new Ajv2020({ ...options, strict: false, allErrors: true, validateFormats: true });
    addFormats(ajv);
    return ajv;
  }

  /** Compiles the served document (a copy: openapi-backend dereferences in place). */
  static async load(document: unknown): Promise<OpenApiContract> {
    const copy = structuredClone(document) as Json;
    const api = new OpenAPIBackend({
      definition: copy as never,
      quick: true,
      strict: true,
      customizeAjv: (_draft07, options) => OpenApiContract.newAjv(options),
    });
    await api.init();
    return new OpenApiContract(api, document as Json);
  }

  /** Every way the exchange departs from the document (empty when it conforms). */
  check(x: Exchange): Mismatch[] {
    if (!API_PATH.test(x.path)) return [];
    const method = x.method.toUpperCase();
    const status = x.response.status;
    const headers = lowerCaseHeaders(x.headers);
    const operation = this.api.router.matchOperation({ method, path: x.path, headers, query: x.query });
    if (operation === undefined) return this.checkUnrouted(method, x);

    const route = `${method} ${operation.path}`;
    const requestErrors = this.requestErrors(operation, x, headers);
    const out: Mismatch[] = [];
    if (requestErrors.length > 0 && (status < 400 || status >= 500)) {
      // The document refuses this request: the API must too, with a 4xx.
      for (const e of requestErrors) out.push({ route, status, part: 'request', pointer: e.pointer, message: `${e.message}, yet the API answered ${status}` });
    }
    out.push(...this.responseErrors(route, operation, x));
    return out;
  }

  /** A path no operation matches: the API must answer 405 (path exists, other method) or 404, as a Problem. */
  private checkUnrouted(method: string, x: Exchange): Mismatch[] {
    const route = `${method} ${x.path}`;
    const status = x.response.status;
    if (status !== 404 && status !== 405) {
      return [{ route, status, part: 'request', pointer: '', message: `no documented operation matches, yet the API answered ${status}` }];
    }
    const problem = (this.api.definition.components as { schemas?: Record<string, Json> } | undefined)?.schemas?.Problem;
    if (problem === undefined) return [{ route, status, part: 'response', pointer: '', message: 'the document has no Problem schema' }];
    return this.bodyErrors(route, status, `unrouted:${status}`, { 'application/problem+json': { schema: problem } }, x);
  }

  private requestErrors(operation: Operation, x: Exchange, headers: Readonly<Record<string, string>>): { pointer: string; message: string }[] {
    const errors: { pointer: string; message: string }[] = [];
    const op = operation as unknown as {
      security?: Json[];
      requestBody?: { required?: boolean; content?: Record<string, { schema?: Json }> };
    };
    const needsBearer = (op.security ?? this.document.security as Json[] | undefined ?? []).some((req) => 'bearer' in req);
    if (needsBearer && !/^Bearer\s+\S/i.test(headers.authorization ?? '')) {
      errors.push({ pointer: '/header/authorization', message: 'the operation needs a bearer API key' });
    }

    const hasBody = x.body !== undefined && x.body !== '';
    const media = mediaTypeOf(headers['content-type']);
    const documented = op.requestBody?.content ?? {};
    const jsonBody = hasBody && media !== undefined && JSON_MEDIA.test(media);
    if (hasBody) {
      if (op.requestBody === undefined) errors.push({ pointer: '/body', message: 'the operation takes no request body' });
      else if (media === undefined || !(media in documented)) {
        errors.push({ pointer: '/header/content-type', message: `media type ${media ?? '(none)'} is not one of ${Object.keys(documented).join(', ')}` });
      }
    } else if (op.requestBody?.required === true) {
      errors.push({ pointer: '/body', message: 'the request body is required' });
    }

    let parsedBody: unknown;
    if (jsonBody) {
      try {
        parsedBody = JSON.parse(x.body!);
      } catch {
        errors.push({ pointer: '/body', message: 'is not valid JSON' });
      }
    } else if (hasBody && media === 'application/x-www-form-urlencoded') {
      // A repeated parameter is a list, as the webhook receives it.
      const form: Record<string, string | string[]> = {};
      for (const [k, v] of new URLSearchParams(x.body)) {
        const prior = form[k];
        form[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
      }
      parsedBody = form;
    }

    // openapi-backend validates a body against the operation's FIRST documented media type only: a body of another
    // documented media type (Telnyx's route takes JSON and forms) is validated here against its own schema.
    const firstMedia = Object.keys(documented)[0];
    const ownSchema = hasBody && parsedBody !== undefined && media !== undefined && media !== firstMedia && media in documented;
    if (ownSchema) {
      const schema = documented[media]?.schema;
      if (schema !== undefined && !this.ajv.validate(schema, parsedBody)) {
        for (const e of significant(this.ajv.errors ?? [])) errors.push({ pointer: `/body${pointerOf(e)}`, message: messageOf(e) });
      }
    }

    // Parameters (and a JSON or form body) by openapi-backend. A body of another media type is checked here, so its
    // "requestBody is required" is not an error of the request.
    let result: { errors?: ErrorObject[] | null };
    try {
      result = this.api.validator.validateRequest(
        { method: x.method.toUpperCase(), path: x.path, headers, query: x.query, ...(parsedBody === undefined || ownSchema ? {} : { body: parsedBody }) },
        operation,
      );
    } catch (err) {
      // A path or query that is not valid percent-encoding cannot be decoded, let alone validated: the document refuses it.
      if (!(err instanceof URIError)) throw err;
      errors.push({ pointer: '', message: `the request target is not valid percent-encoding (${err.message})` });
      return errors;
    }
    for (const e of significant(result.errors ?? [])) {
      const pointer = pointerOf(e).replace(/^\/requestBody(?=\/|$)/, '/body').replace(/^\/path(?=\/|$)/, '/path');
      if (pointer === '/body' && e.keyword === 'required' && (ownSchema || !(hasBody && parsedBody !== undefined))) continue;
      // OpenAPI lists the parameters an operation reads; it does not forbid others, and the API ignores them.
      if (pointer.startsWith('/query/') && e.keyword === 'additionalProperties') continue;
      errors.push({ pointer, message: messageOf(e) });
    }
    if (hasBody && !jsonBody && media !== undefined && media !== 'application/x-www-form-urlencoded' && media in documented) {
      const schema = documented[media]?.schema;
      if (schema !== undefined && !this.ajv.validate(schema, x.body)) {
        for (const e of significant(this.ajv.errors ?? [])) errors.push({ pointer: `/body${pointerOf(e)}`, message: messageOf(e) });
      }
    }
    return errors;
  }

  private responseErrors(route: string, operation: Operation, x: Exchange): Mismatch[] {
    const status = x.response.status;
    const responses = (operation.responses ?? {}) as Record<string, { content?: Record<string, { schema?: Json }> }>;
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in responses);
    if (key === undefined) {
      return [{ route, status, part: 'response', pointer: '', message: `status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})` }];
    }
    return this.bodyErrors(route, status, `${operation.operationId}:${key}`, responses[key]!.content, x);
  }

  private bodyErrors(route: string, status: number, cacheKey: string, content: Record<string, { schema?: Json }> | undefined, x: Exchange): Mismatch[] {
    const body = x.response.body;
    const documented = content ?? {};
    const media = mediaTypeOf(lowerCaseHeaders(x.response.headers)['content-type']);
    const at = (pointer: string, message: string): Mismatch => ({ route, status, part: 'response', pointer, message });
    if (body === '') {
      return Object.keys(documented).length === 0 ? [] : [at('', `the body is empty; the document promises ${Object.keys(documented).join(', ')}`)];
    }
    if (Object.keys(documented).length === 0) return [at('', `a ${media ?? 'untyped'} body where the document promises none`)];
    if (media === undefined || !(media in documented)) {
      return [at('', `content type ${media ?? '(none)'} is not documented for ${status} (documented: ${Object.keys(documented).join(', ')})`)];
    }
    const schema = documented[media]!.schema;
    if (schema === undefined) return [];
    let instance: unknown = body;
    if (JSON_MEDIA.test(media)) {
      try {
        instance = JSON.parse(body);
      } catch {
        return [at('', `${media} body is not valid JSON`)];
      }
    }
    const validate = this.validatorFor(`${cacheKey}:${media}`, schema);
    if (validate(instance)) return [];
    return significant(validate.errors ?? []).map((e) => at(pointerOf(e), messageOf(e)));
  }

  private validatorFor(key: string, schema: Json): ValidateFunction {
    let validate = this.responseValidators.get(key);
    if (validate === undefined) {
      // Dereferenced by openapi-backend: self-contained.
      validate = this.ajv.compile(schema);
      this.responseValidators.set(key, validate);
    }
    return validate;
  }
}

// ------------------------------------------------------------------ the suites' collector

const found: Mismatch[] = [];

/** Records mismatches for the test running now (the setup file fails it) and, with CONTRACT_MISMATCH_LOG, to a file. */
export function report(mismatches: readonly Mismatch[]): void {
  if (mismatches.length === 0) return;
  found.push(...mismatches);
  const log = process.env.CONTRACT_MISMATCH_LOG;
  if (log) appendFileSync(log, mismatches.map((m) => `${JSON.stringify(m)}\n`).join(''));
}

/** The mismatches recorded since the last call. */
export function takeMismatches(): Mismatch[] {
  return found.splice(0, found.length);
}

export function formatMismatches(mismatches: readonly Mismatch[]): string {
  const lines = mismatches.slice(0, 20).map((m) => `  ${m.route} → ${m.status}: ${m.part} ${m.pointer === '' ? '(root)' : m.pointer} ${m.message}`);
  if (mismatches.length > 20) lines.push(`  … and ${mismatches.length - 20} more`);
  return `The exchange departs from the served OpenAPI document (GET /v1/openapi.json):\n${lines.join('\n')}`;
}
