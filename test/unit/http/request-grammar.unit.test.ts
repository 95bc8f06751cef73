/**
 * The grammar every request value must fit before anything reads or stores it (shared/domain/kernel/input.ts and its zod and
 * query-string forms): instants in years 0000–9999 once their offset is applied, months whose bounds stay there in
 * every zone, one id grammar for path parameters (checked by the api function before any read), free text without
 * control characters in every schema that takes some; and wall-clock arithmetic exact across the whole range.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ROUTES } from '../../../infra/routes';
import { openApiDocument } from '../../../shared/adapters/http/openapi';
import { checkPathParameters, instant, period } from '../../../shared/app/kernel/query';
import { parseQaSampleQuery } from '../../../shared/app/qa/qa';
import { parseSourcesQuery } from '../../../shared/app/reports/reports';
import { dayNumber, dayStartMs, localDay, nextDay, splitPeriod } from '../../../shared/domain/reports/aggregates';
import { CampaignBodySchema, PublisherBodySchema, TrackingNumberBodySchema } from '../../../shared/domain/catalog/config-schema';
import { BlockCallerBodySchema } from '../../../shared/domain/blocklist/block-list-schema';
import { ConsentRecordSchema } from '../../../shared/domain/compliance/consent-schema';
import { OpenDisputeSchema, ResolveDisputeSchema } from '../../../shared/domain/disputes/disputes-schema';
import { PutDncListBodySchema } from '../../../shared/domain/compliance/dnc-schema';
import { isPathId, isPlainText, MAX_INSTANT_MS, MIN_INSTANT_MS, readInstant } from '../../../shared/domain/kernel/input';
import { OutcomeInputSchema } from '../../../shared/domain/outcomes/outcomes-schema';
import { CreatePilotSchema } from '../../../shared/domain/pilots/pilots-schema';
import type { ProblemBody } from '../../../shared/domain/kernel/problems';
import { PROBLEM, thrown } from '../../support/problems';
import { PostQaSchema } from '../../../shared/domain/qa/qa-schema';
import { AccountSchema, ApiKeySeedSchema } from '../../../shared/domain/catalog/seed';
import { periodBounds } from '../../../shared/domain/ledger/statements';
import { TermsChangeSchema } from '../../../shared/domain/terms/terms-schema';
import { utcMs, wallTime, zonedToUtcMs } from '../../../shared/domain/kernel/zoned-time';

const NOW = new Date('2026-06-15T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** The 400 malformed-request a call throws, as answered, or a failed expectation. */
function badRequest(fn: () => unknown): ProblemBody {
  const body = thrown(fn);
  expect(body).toMatchObject(PROBLEM.BadRequest);
  return body;
}

describe('instants: years 0000–9999 once the offset is applied', () => {
  it('refuses the extremes with offsets that carry them out of range, and names why', () => {
    for (const raw of ['9999-12-31T23:59:59-23:59', '9999-12-31T23:00:00-01:00', '0000-01-01T00:00:00+01:00', '0000-01-01T00:00:00.000+00:01']) {
      expect(readInstant(raw), raw).toEqual({ ok: false, reason: 'out_of_range' });
      expect(instant(raw)).toEqual({ ok: false, message: expect.stringContaining('0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z') });
    }
    expect(instant('2026-02-30T00:00:00Z')).toEqual({ ok: false, message: 'must be an ISO-8601 date-time with a zone' });
  });

  it('accepts the edges and year 0 leap day, normalised to the toISOString form', () => {
    expect(readInstant('0000-01-01T00:00:00Z')).toEqual({ ok: true, value: '0000-01-01T00:00:00.000Z' });
    expect(readInstant('0000-01-01T01:00:00+01:00')).toEqual({ ok: true, value: '0000-01-01T00:00:00.000Z' });
    expect(readInstant('9999-12-31T23:59:59.999Z')).toEqual({ ok: true, value: '9999-12-31T23:59:59.999Z' });
    expect(readInstant('9999-12-31T22:59:59-01:00')).toEqual({ ok: true, value: '9999-12-31T23:59:59.000Z' });
    expect(readInstant('0000-02-29T00:00:00Z').ok).toBe(true);
    expect(readInstant('1900-02-29T00:00:00Z')).toEqual({ ok: false, reason: 'malformed' });
  });

  it('whatever the date and offset, an accepted instant is in range and sorts as text exactly as in time (property)', () => {
    const pad = (n: number, w = 2) => String(n).padStart(w, '0');
    const arb = fc.record({
      year: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 9997, max: 9999 }), fc.integer({ min: 0, max: 9999 })),
      month: fc.integer({ min: 1, max: 12 }),
      day: fc.integer({ min: 1, max: 31 }),
      hour: fc.integer({ min: 0, max: 23 }),
      minute: fc.integer({ min: 0, max: 59 }),
      offsetMin: fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
    });
    const text = (t: { year: number; month: number; day: number; hour: number; minute: number; offsetMin: number }) =>
      `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)}T${pad(t.hour)}:${pad(t.minute)}:00${t.offsetMin < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(t.offsetMin) / 60))}:${pad(Math.abs(t.offsetMin) % 60)}`;
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        const [ra, rb] = [readInstant(text(a)), readInstant(text(b))];
        for (const r of [ra, rb]) if (r.ok) expect(Date.parse(r.value) >= MIN_INSTANT_MS && Date.parse(r.value) <= MAX_INSTANT_MS).toBe(true);
        if (ra.ok && rb.ok) expect(ra.value < rb.value).toBe(Date.parse(ra.value) < Date.parse(rb.value));
        // Out of range only when the offset moved a valid calendar date past an edge.
        if (!ra.ok && ra.reason === 'out_of_range') expect(a.year === 0 || a.year === 9999).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('every body instant of every request schema is held to the same range', () => {
    const far = '9999-12-31T23:59:59-23:59';
    const early = '0000-01-01T00:00:00+01:00';
    const cases: [z.ZodType, Record<string, unknown>, string][] = [
      [CampaignBodySchema, { name: 'n', vertical: 'v', effectiveFrom: far }, 'effectiveFrom'],
      [TrackingNumberBodySchema, { campaignId: 'c', publisherId: 'p', effectiveFrom: early }, 'effectiveFrom'],
      [BlockCallerBodySchema, { reason: 'fraud', effectiveFrom: far }, 'effectiveFrom'],
      [TermsChangeSchema, { effectiveFrom: early, terms: { priceCents: 100, bufferSec: 60, duplicateWindowHours: 24 } }, 'effectiveFrom'],
      [CreatePilotSchema, { campaignId: 'c', publisherIds: ['p'], vertical: 'v', spendCapCents: 1, startsAt: far, endsAt: far }, 'startsAt'],
      [OutcomeInputSchema, { externalId: 'e', callId: 'twilio:CA1', occurredAt: early, status: 'booked' }, 'occurredAt'],
      [ConsentRecordSchema, { callId: 'twilio:CA1', capturedAt: far, certificateId: 'c' }, 'capturedAt'],
    ];
    for (const [schema, body, field] of cases) {
      const parsed = schema.safeParse(body);
      expect(parsed.success, field).toBe(false);
      expect(parsed.error!.issues.map((i) => i.path.join('.'))).toContain(field);
      expect(schema.safeParse({ ...body, [field]: '2026-07-01T00:00:00-05:00', ...(field === 'startsAt' ? { endsAt: '2026-07-02T00:00:00Z' } : {}) }).success, field).toBe(true);
    }
  });

  it("a default 'from' derived from a 'to' near year 0 is clamped, not an error", () => {
    expect(parseSourcesQuery('a', { campaignId: 'c', to: '0000-01-05T00:00:00Z' }, NOW)).toMatchObject({ from: '0000-01-01T00:00:00.000Z', to: '0000-01-05T00:00:00.000Z' });
    expect(parseQaSampleQuery('a', { campaignId: 'c', to: '0000-01-02T00:00:00Z' }, NOW)).toMatchObject({ from: '0000-01-01T00:00:00.000Z' });
  });
});

describe('months and wall-clock time across the range', () => {
  const zones = ['UTC', 'America/Chicago', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Asia/Kolkata', 'Pacific/Chatham', 'America/St_Johns'];

  it('periods 0001-01 … 9999-11: their bounds stay in range in every zone; 0000-01 and 9999-12 are refused', () => {
    expect(period('0001-01')).toEqual({ ok: true, value: '0001-01' });
    expect(period('9999-11')).toEqual({ ok: true, value: '9999-11' });
    for (const bad of ['0000-01', '0000-12', '9999-12', '2026-13']) expect(period(bad)).toEqual({ ok: false, message: 'must be YYYY-MM from 0001-01 to 9999-11' });
    for (const zone of Intl.supportedValuesOf('timeZone')) {
      for (const p of ['0001-01', '9999-11']) {
        const { startMs, endMs } = periodBounds(p, zone);
        expect(startMs >= MIN_INSTANT_MS && endMs <= MAX_INSTANT_MS, `${p} ${zone}`).toBe(true);
      }
    }
    expect(badRequest(() => periodBounds('9999-12', 'UTC')).errors).toEqual([{ field: 'period', message: 'must be YYYY-MM from 0001-01 to 9999-11' }]);
  });

  it('years 0–99 are not read as 1900–1999', () => {
    expect(iso(periodBounds('0050-03', 'UTC').startMs)).toBe('0050-03-01T00:00:00.000Z');
    expect(iso(periodBounds('0001-01', 'UTC').startMs)).toBe('0001-01-01T00:00:00.000Z');
    expect(iso(utcMs(99, 11, 31, 23, 59, 59))).toBe('0099-12-31T23:59:59.000Z');
    expect(iso(zonedToUtcMs({ year: 1, month: 1, day: 1 }, 'Asia/Kolkata'))).toMatch(/^0000-12-31T/);
  });

  it('a local time before year 1 (west of UTC on 0000-01-01) reads as an astronomical year', () => {
    const w = wallTime(MIN_INSTANT_MS, 'America/Chicago');
    expect([w.year, w.month, w.day]).toEqual([-1, 12, 31]);
    for (const zone of zones) {
      for (const ms of [MIN_INSTANT_MS, MIN_INSTANT_MS + 86_400_000, MAX_INSTANT_MS - 999, Date.parse('0050-06-01T12:00:00Z')]) {
        const t = wallTime(ms, zone);
        // The wall time read back in the zone is the instant itself (to the second).
        expect(zonedToUtcMs(t, zone), `${iso(ms)} ${zone}`).toBe(Math.floor(ms / 1000) * 1000);
      }
    }
  });

  it("local days at both ends of the range have names that read back (the reports' day split)", () => {
    expect(localDay(MIN_INSTANT_MS, 'America/Chicago')).toBe('-0001-12-31');
    expect(nextDay('-0001-12-31')).toBe('0000-01-01');
    expect(nextDay('9999-12-31')).toBe('10000-01-01');
    expect(localDay(Date.parse('0050-06-01T12:00:00Z'), 'UTC')).toBe('0050-06-01');
    expect(dayNumber('0000-01-01')).toBe(Math.round(MIN_INSTANT_MS / 86_400_000));
    for (const zone of zones) {
      const split = splitPeriod(MIN_INSTANT_MS, MIN_INSTANT_MS + 10 * 86_400_000, zone);
      expect(split.days?.count, zone).toBeGreaterThanOrEqual(9);
      const late = splitPeriod(MAX_INSTANT_MS - 10 * 86_400_000, MAX_INSTANT_MS, zone);
      expect(late.days?.count, zone).toBeGreaterThanOrEqual(9);
      expect(dayStartMs(localDay(MAX_INSTANT_MS, zone), zone)).toBeLessThanOrEqual(MAX_INSTANT_MS);
    }
  });
});

describe('path ids: one grammar for every path parameter', () => {
  it('1–128 visible ASCII characters', () => {
    for (const ok of ['twilio:CA0123456789abcdef0123456789abcdef', '+15125550101', 'crm~42!', 'x'.repeat(128)]) expect(isPathId(ok), ok).toBe(true);
    for (const bad of ['', 'x'.repeat(129), 'a b', 'a\u0000', 'été', 'a/b'.replace('/', '\u007f')]) expect(isPathId(bad), JSON.stringify(bad)).toBe(false);
  });

  it('names every bad parameter in one 400, without echoing it; a segment that was not valid percent-encoding is one', () => {
    const err = badRequest(() => checkPathParameters({ callId: 'a'.repeat(5000), listId: null, ok: 'fine' }));
    expect(err.errors).toEqual([
      { field: 'callId', message: 'must be 1 to 128 visible ASCII characters (percent-encoded in the URL)' },
      { field: 'listId', message: 'must be 1 to 128 visible ASCII characters (percent-encoded in the URL)' },
    ]);
    expect(err.detail).not.toContain('aaaa');
    expect(checkPathParameters({ callId: 'twilio:CA1' })).toEqual({ callId: 'twilio:CA1' });
  });

  it('the api function answers 400 for a bad path id before any read: with no database to reach, nothing else could answer', async () => {
    Object.assign(process.env, {
      MAIN_TABLE: 'cl-main',
      LEDGER_TABLE: 'cl-ledger',
      AGGREGATES_TABLE: 'cl-aggregates',
      RECORDINGS_BUCKET: 'cl-recordings',
      ARCHIVE_BUCKET: 'cl-archive',
      ANCHORS_BUCKET: 'cl-anchors',
      INGEST_QUEUE_URL: 'http://127.0.0.1:9/000000000000/cl-ingest',
      SECRETS_REF: 'env:',
      CALLER_HASH_KEY_REF: 'env:GRAMMAR_TEST_KEY',
      PII_KEY_REF: 'env:GRAMMAR_TEST_KEY',
      GRAMMAR_TEST_KEY: 'k'.repeat(32),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      // Nothing listens there: any read would fail (a 500), not answer 400.
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
    });
    const { handler } = (await import('../../../functions/api')) as unknown as {
      handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
    };
    const context = { functionName: 'api', awsRequestId: 'r' } as Context;
    for (const route of ROUTES.filter((r) => r.fn === 'api' && r.path.includes('{'))) {
      for (const bad of ['a'.repeat(5000), 'x%00y', '%E0%A4%A']) {
        const path = route.path.replace(/\{[^}]+\}/, bad).replace(/\{[^}]+\}/g, 'x');
        const res = await handler(
          { version: '2.0', routeKey: '$default', rawPath: path, rawQueryString: '', headers: {}, requestContext: { http: { method: route.method, path } } as APIGatewayProxyEventV2['requestContext'], isBase64Encoded: false },
          context,
        );
        expect(res.statusCode, `${route.method} ${route.path}`).toBe(400);
        expect(res.headers?.['content-type']).toBe('application/problem+json');
        expect(JSON.parse(String(res.body)).errors[0].field).toBe(/\{([^}]+)\}/.exec(route.path)![1]);
      }
    }
  });
});

describe('the OpenAPI document states the grammar', () => {
  const doc = openApiDocument() as { paths: Record<string, Record<string, { parameters: { name: string; in: string; schema: Record<string, unknown> }[]; responses: Record<string, unknown> }>> };

  it('every api path parameter has the id grammar, every route with parameters documents its 400, instants their range', () => {
    for (const route of ROUTES) {
      const op = doc.paths[route.path]![route.method === 'ANY' ? 'post' : route.method.toLowerCase()]!;
      for (const p of op.parameters.filter((x) => x.in === 'path' && route.fn === 'api')) {
        expect(p.schema, `${route.path} ${p.name}`).toMatchObject({ type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]{1,128}$' });
      }
      if (op.parameters.length > 0) expect(op.responses['400'], `${route.method} ${route.path}`).toBeDefined();
      for (const p of op.parameters.filter((x) => x.name === 'from' || x.name === 'to')) expect(String(p.schema.description)).toContain('9999-12-31T23:59:59.999Z');
      for (const p of op.parameters.filter((x) => x.name === 'cursor')) expect(String(p.schema.description)).toMatch(/^Opaque/);
    }
  });
});

describe('free text: no control characters in any field that takes some', () => {
  const BAD = ['\u0000', 'a\u0007b', 'x\u001b[2J', 'del\u007f', 'c1\u0085', 'rlo\u202Eevil', 'iso\u2066x', 'ls\u2028x', 'lone\ud800'];
  const GOOD = ['Acme Roofing & Sons', 'Müller GmbH', 'שלום', 'مرحبا', '東京', 'family 👨‍👩‍👧 emoji', "O'Brien-Smith (TX)"];

  /** [schema, a valid body, the free-text field, multi-line] */
  const FIELDS: [z.ZodType, Record<string, unknown>, string, boolean][] = [
    [PublisherBodySchema, { name: 'Pub' }, 'name', false],
    [PublisherBodySchema, { name: 'Pub', contact: { name: 'Ann' } }, 'contact.name', false],
    [CampaignBodySchema, { name: 'Camp', vertical: 'roofing' }, 'name', false],
    [CampaignBodySchema, { name: 'Camp', vertical: 'roofing' }, 'vertical', false],
    [CreatePilotSchema, { campaignId: 'c', publisherIds: ['p'], vertical: 'v', spendCapCents: 1, startsAt: '2026-07-01T00:00:00Z', endsAt: '2026-07-02T00:00:00Z' }, 'vertical', false],
    [PutDncListBodySchema, { name: 'List', source: 'internal' }, 'name', false],
    [ConsentRecordSchema, { callId: 'twilio:CA1', capturedAt: '2026-01-01T00:00:00Z', certificateId: 'c' }, 'certificateId', false],
    [ConsentRecordSchema, { callId: 'twilio:CA1', capturedAt: '2026-01-01T00:00:00Z', certificateId: 'c', leadId: 'l' }, 'leadId', false],
    [AccountSchema, { accountId: 'a', name: 'A', timeZone: 'UTC', currency: 'USD', twilio: { accountSid: `AC${'0'.repeat(32)}`, authTokenSecret: 's' } }, 'name', false],
    [ApiKeySeedSchema, { accountId: 'a', role: 'admin', label: 'key' }, 'label', false],
    [OpenDisputeSchema, { reason: 'fraud', note: 'n' }, 'note', true],
    [ResolveDisputeSchema, { outcome: 'accepted', note: 'n' }, 'note', true],
    [ResolveDisputeSchema, { outcome: 'rejected', note: 'n' }, 'note', true],
    [PostQaSchema, { verdict: 'junk', note: 'n' }, 'note', true],
  ];

  const withField = (body: Record<string, unknown>, path: string, value: string): Record<string, unknown> => {
    const [head, ...rest] = path.split('.');
    return { ...body, [head!]: rest.length === 0 ? value : withField((body[head!] as Record<string, unknown>) ?? {}, rest.join('.'), value) };
  };

  it('every free-text field refuses control characters, bidi overrides, separators and lone surrogates, naming the field', () => {
    for (const [schema, body, field] of FIELDS) {
      expect(schema.safeParse(body).success, `${field} valid body`).toBe(true);
      for (const bad of BAD) {
        const parsed = schema.safeParse(withField(body, field, bad));
        expect(parsed.success, `${field} ${JSON.stringify(bad)}`).toBe(false);
        expect(parsed.error!.issues.map((i) => i.path.join('.'))).toContain(field);
      }
      for (const good of GOOD) expect(schema.safeParse(withField(body, field, good)).success, `${field} ${good}`).toBe(true);
    }
  });

  it('notes keep tab and line breaks; names do not', () => {
    for (const [schema, body, field, multiline] of FIELDS) {
      expect(schema.safeParse(withField(body, field, 'first line\nsecond\tline\r\n')).success, field).toBe(multiline);
    }
  });

  it('accepts a text exactly when it has no forbidden character (property)', () => {
    const forbidden = (cp: number) =>
      cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f) || cp === 0x2028 || cp === 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || (cp >= 0xd800 && cp <= 0xdfff);
    fc.assert(
      fc.property(fc.string({
          unit: fc.oneof(
            fc.constantFrom('\u0000', '\u0009', '\u000a', '\u202e', '\ud800', 'é', 'a'),
            fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
            fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
          ),
          maxLength: 20,
        }), (s) => {
        const codes = [...s].map((c) => c.codePointAt(0)!);
        expect(isPlainText(s)).toBe(!codes.some(forbidden));
        expect(isPlainText(s, { multiline: true })).toBe(!codes.some((cp) => forbidden(cp) && cp !== 0x09 && cp !== 0x0a && cp !== 0x0d));
      }),
      { numRuns: 2000 },
    );
  });
});
