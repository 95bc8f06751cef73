/**
 * The compliance API: Do-Not-Call lists, consent evidence and the account's compliance settings. Use cases
 * plus a route table (`COMPLIANCE_ROUTES`) that functions/api.ts mounts (bodies carry caller numbers: nothing is
 * echoed), in the style of block-list.ts and outcomes.ts. Rules: shared/domain/compliance/dnc.ts, shared/domain/compliance/consent.ts;
 * storage: shared/adapters/compliance/dnc-repo.ts, shared/adapters/compliance/consent-repo.ts. The ledger writer reads both through the
 * ports.ts ComplianceReader / ConsentReader.
 *
 *   PUT  /v1/dnc-lists/{listId}           (admin) create or rename a list {name, source}
 *   POST /v1/dnc-lists/{listId}/numbers   (admin) text/csv (one number a line, optional header `number`) or JSON
 *                                         {add, remove}: ≤ 100,000 lines; counts and invalid line numbers back
 *   GET  /v1/dnc-lists[/{listId}]         lists with counts, never numbers
 *   POST /v1/consent                      (admin) one consent record or {records: [...]}: one result per record
 *   GET  /v1/calls/{callId}/consent       the evidence that applies to the call
 *   PUT  /v1/account/compliance           (admin) {consentMissingNonBillable, dncNonBillable, recordingRetentionDays?}
 *
 * Numbers are normalised and hashed with the caller-hash key (the ledger writer's) at once; only hashes are stored,
 * and answers name lines, never numbers.
 */
import { identityHash, typedCallerIdentity, withheldCallerRefusal as withheldRefusal } from '../../domain/calls/caller';
import { parseBody } from '../../domain/catalog/config-schema';
import { CONFIG_LEAD_MS } from '../../domain/catalog/config';
import { CONSENT_VALIDITY_DAYS, certificateKey, evidenceIdOf, type ComplianceSettings, type ConsentEvidence } from '../../domain/compliance/consent';
import {
  CallConsentSchema,
  ComplianceSettingsSchema,
  ConsentBatchSchema,
  ConsentRecordSchema,
  PostConsentBodySchema,
  PostConsentResponseSchema,
  type ConsentRecord,
} from '../../domain/compliance/consent-schema';
import {
  applyDncOp,
  dncLinesFromCsv,
  dncLinesFromJson,
  dncNumber,
  LIST_ID,
  MAX_DNC_LINES,
  MAX_INVALID_LINES_SHOWN,
  type DncEntry,
  type DncLine,
  type DncList,
  type DncOpResult,
  type DncSource,
  type DncUploadResult,
} from '../../domain/compliance/dnc';
import { DncListSchema, DncListsSchema, DncNumbersBodySchema, DncUploadResultSchema, PutDncListBodySchema } from '../../domain/compliance/dnc-schema';
import { AccountComplianceBodySchema, type AccountComplianceBody } from '../../domain/recordings/retention-schema';
import { fieldErrors, type FieldError } from '../../domain/kernel/problems';
import { errorView, invalidInput, isCallerError, notFound, payloadTooLarge, unprocessable, unsupportedMediaType } from '../kernel/errors';
import type { DomainError } from '../../domain/kernel/errors';
import { readOwnCall } from '../calls/call-access';
import { settleWithLimit } from '../kernel/concurrency';
import { route, type Route, type RouteRequest } from '../kernel/route';
import { requireAdmin } from '../catalog/management';
import type { ApiKeyRecord } from '../kernel/ports';
import { jsonBody } from '../kernel/query';

/** Uploads above this are refused before parsing (Lambda's synchronous payload limit is 6 MB). */
export const MAX_DNC_BYTES = 5 * 1024 * 1024;
/** Consent records stored at once. */
const CONSENT_CONCURRENCY = 8;

// ------------------------------------------------------------------ ports

/** DNC items as the API needs them (shared/adapters/compliance/dnc-repo.ts). */
export interface DncStore {
  readList(accountId: string, listId: string): Promise<DncList | null>;
  putList(args: { accountId: string; listId: string; name: string; source: DncSource; at: string; by: string }): Promise<DncList>;
  listLists(accountId: string): Promise<DncList[]>;
  recordUpload(accountId: string, listId: string, delta: number, at: string): Promise<DncList>;
  /** Strongly consistent. */
  readEntries(accountId: string, listId: string, callerHashes: readonly string[]): Promise<Map<string, DncEntry>>;
  writeEntries(accountId: string, entries: readonly { readonly callerHash: string; readonly entry: DncEntry }[]): Promise<void>;
}

/** What consent needs of a call. */
export interface ConsentCall {
  readonly accountId: string;
  readonly callerHash: string | null;
  readonly startedAt: string | null;
}

/** Consent items as the API needs them (shared/adapters/compliance/consent-repo.ts). */
export interface ConsentStore {
  putEvidence(callerHash: string, evidence: ConsentEvidence): Promise<'stored' | 'already'>;
  evidenceFor(accountId: string, callerHash: string, startedAtMs: number, limit: number): Promise<ConsentEvidence[]>;
  callForConsent(callId: string): Promise<ConsentCall | null>;
}

/** The account item's `compliance` attribute; false when there is no such account. */
export interface ComplianceSettingsStore {
  /** `recordingRetentionDays` (retention.ts): the account item's attribute of that name; absent: unchanged. */
  putCompliance(accountId: string, settings: ComplianceSettings, recordingRetentionDays?: number): Promise<boolean>;
}

export interface ComplianceDeps {
  readonly dnc: DncStore;
  readonly consent: ConsentStore;
  readonly settings: ComplianceSettingsStore;
  /** The caller-hash HMAC key (CALLER_HASH_KEY_REF), the one the ledger writer hashes callers with. */
  readonly callerHashKey: () => Promise<string>;
  readonly now: () => Date;
}

function by(principal: ApiKeyRecord): string {
  return principal.label ?? 'api-key';
}

// ------------------------------------------------------------------ DNC lists

function listIdOf(raw: string): string {
  if (!LIST_ID.test(raw)) throw invalidInput('The list id in the path is not valid.', [{ field: 'listId', message: 'must be 1-64 letters, digits, _ . - (starting with a letter or digit)' }]);
  return raw;
}

export async function putDncList(principal: ApiKeyRecord, rawListId: string, json: unknown, deps: ComplianceDeps): Promise<{ created: boolean; body: DncList }> {
  requireAdmin(principal);
  const listId = listIdOf(rawListId);
  const body = parseBody(PutDncListBodySchema, json, 'DNC list');
  const existing = await deps.dnc.readList(principal.accountId, listId);
  const list = await deps.dnc.putList({ accountId: principal.accountId, listId, name: body.name, source: body.source, at: deps.now().toISOString(), by: by(principal) });
  return { created: existing === null, body: list };
}

export async function getDncList(principal: ApiKeyRecord, rawListId: string, deps: Pick<ComplianceDeps, 'dnc'>): Promise<DncList> {
  const found = await deps.dnc.readList(principal.accountId, listIdOf(rawListId));
  if (found === null) throw notFound('There is no DNC list with this id.');
  return found;
}

/**
 * Applies an upload's lines to one list: every number normalised and hashed, the list's entries of those hashes read
 * at once, each line decided in order (dnc.ts applyDncOp; a number repeated in one upload is `already` the second
 * time), the changed entries written, the list's count moved. Answers counts and invalid line numbers.
 */
export async function uploadDncNumbers(principal: ApiKeyRecord, rawListId: string, lines: readonly DncLine[], deps: ComplianceDeps): Promise<DncUploadResult> {
  requireAdmin(principal);
  const listId = listIdOf(rawListId);
  if (lines.length === 0) throw unprocessable('The upload holds no numbers.', [{ field: 'numbers', message: 'must name at least one number' }]);
  if (lines.length > MAX_DNC_LINES) throw unprocessable(`An upload holds at most ${MAX_DNC_LINES} numbers; split it.`, [{ field: 'numbers', message: `must be at most ${MAX_DNC_LINES} lines` }]);
  const accountId = principal.accountId;
  if ((await deps.dnc.readList(accountId, listId)) === null) throw notFound('There is no DNC list with this id: create it with PUT /v1/dnc-lists/{listId} first.');

  const key = await deps.callerHashKey();
  const invalidLines: number[] = [];
  const byHash = new Map<string, DncLine[]>();
  for (const line of lines) {
    const identity = dncNumber(line.raw);
    if (identity === null) {
      invalidLines.push(line.line);
      continue;
    }
    const hash = identityHash(key, identity);
    const group = byHash.get(hash);
    if (group === undefined) byHash.set(hash, [line]);
    else group.push(line);
  }

  const nowMs = deps.now().getTime();
  const existing = await deps.dnc.readEntries(accountId, listId, [...byHash.keys()]);
  const counts: Record<DncOpResult, number> = { added: 0, already: 0, removed: 0, not_listed: 0 };
  const writes: { callerHash: string; entry: DncEntry }[] = [];
  for (const [hash, group] of byHash) {
    let entry = existing.get(hash) ?? null;
    let changed = false;
    for (const line of group) {
      const applied = applyDncOp(entry, line.op, { listId, nowMs, by: by(principal) });
      counts[applied.result] += 1;
      entry = applied.entry;
      changed ||= applied.changed;
    }
    if (changed && entry !== null) writes.push({ callerHash: hash, entry });
  }
  await deps.dnc.writeEntries(accountId, writes);
  await deps.dnc.recordUpload(accountId, listId, counts.added - counts.removed, new Date(nowMs).toISOString());
  return {
    listId,
    lines: lines.length,
    added: counts.added,
    already: counts.already,
    removed: counts.removed,
    notListed: counts.not_listed,
    invalid: invalidLines.length,
    invalidLines: invalidLines.slice(0, MAX_INVALID_LINES_SHOWN),
    effectiveFrom: new Date(nowMs + CONFIG_LEAD_MS).toISOString(),
  };
}

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase();
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalidInput('The body is not valid JSON.', [{ field: '(root)', message: 'must be a JSON object' }]);
  }
}

/** The lines of an upload: text/csv or JSON {add, remove}; 413 past MAX_DNC_BYTES, 415 for anything else. */
export function dncUploadLines(req: Pick<RouteRequest, 'body' | 'contentType'>): DncLine[] {
  if (Buffer.byteLength(req.body, 'utf8') > MAX_DNC_BYTES) throw payloadTooLarge(MAX_DNC_BYTES);
  const type = mediaType(req.contentType);
  if (type === 'text/csv') return dncLinesFromCsv(req.body);
  if (type !== 'application/json' && !type?.endsWith('+json')) throw unsupportedMediaType(req.contentType, ['text/csv', 'application/json']);
  return dncLinesFromJson(parseBody(DncNumbersBodySchema, parseJson(req.body), 'DNC upload'));
}

// ------------------------------------------------------------------ consent

export interface ConsentLineResult {
  readonly line: number;
  readonly result: 'stored' | 'already' | 'refused';
  readonly evidenceId: string | null;
  readonly problem?: { readonly status: number; readonly title: string; readonly detail: string; readonly errors?: readonly FieldError[] };
}

function refused(line: number, err: DomainError): ConsentLineResult {
  const { status, title, detail, errors } = errorView(err);
  return { line, result: 'refused', evidenceId: null, problem: { status, title, detail, ...(errors ? { errors } : {}) } };
}

/** The records of a POST body: one record, or {records: [...]}; each record is validated on its own (postConsent). */
export function consentRecords(json: unknown): unknown[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalidInput('The body must be a consent record or {records: [...]}.', [{ field: '(root)', message: 'must be a JSON object' }]);
  }
  return 'records' in json ? parseBody(ConsentBatchSchema, json, 'consent').records : [json];
}

/** Stores every valid record (one result per record, in order; a bad record never loses the others). */
export async function postConsent(principal: ApiKeyRecord, records: readonly unknown[], deps: ComplianceDeps): Promise<{ results: ConsentLineResult[] }> {
  requireAdmin(principal);
  const key = await deps.callerHashKey();
  const settled = await settleWithLimit(
    records.map((r, i) => ({ line: i + 1, raw: r })),
    CONSENT_CONCURRENCY,
    ({ line, raw }) => storeRecord(principal, line, raw, key, deps),
  );
  return {
    results: settled.map((s, i) => {
      if (s.status === 'fulfilled') return s.value;
      if (isCallerError(s.reason)) return refused(i + 1, s.reason);
      throw s.reason;
    }),
  };
}

async function storeRecord(principal: ApiKeyRecord, line: number, raw: unknown, key: string, deps: ComplianceDeps): Promise<ConsentLineResult> {
  const parsed = ConsentRecordSchema.safeParse(raw);
  if (!parsed.success) return refused(line, invalidInput('The consent record is not valid.', fieldErrors(parsed.error.issues)));
  const record: ConsentRecord = parsed.data;
  const nowMs = deps.now().getTime();
  const capturedMs = Date.parse(record.capturedAt);
  if (capturedMs > nowMs) return refused(line, unprocessable('Consent cannot be captured in the future.', [{ field: 'capturedAt', message: 'must not be later than now' }]));

  let hash: string;
  if (record.callerNumber !== undefined) {
    const typed = typedCallerIdentity(record.callerNumber);
    if (typed === 'withheld') return refused(line, withheldRefusal('callerNumber'));
    if (typed === 'not_a_number') return refused(line, unprocessable('The caller number is not a valid phone number.', [{ field: 'callerNumber', message: 'must be a valid phone number, e.g. +15125550101' }]));
    hash = identityHash(key, typed);
  } else {
    let call: ConsentCall;
    try {
      call = await readOwnCall(principal, record.callId ?? '', (id) => deps.consent.callForConsent(id));
    } catch (err) {
      if (isCallerError(err) && errorView(err).status === 404) return refused(line, err);
      throw err;
    }
    if (call.callerHash === null) {
      return refused(line, unprocessable('The call has no caller to attach consent to (its caller id was withheld, or it is not rated yet).', [{ field: 'callId', message: 'must name a rated call whose caller id was not withheld' }]));
    }
    hash = call.callerHash;
  }
  const evidence: ConsentEvidence = {
    evidenceId: '',
    accountId: principal.accountId,
    capturedAt: new Date(capturedMs).toISOString(),
    certificateId: record.certificateId ?? null,
    certificateUrl: record.certificateUrl ?? null,
    leadId: record.leadId ?? null,
    publisherId: record.publisherId ?? null,
    callId: record.callId ?? null,
    postedAt: new Date(nowMs).toISOString(),
    postedBy: by(principal),
  };
  const withId = { ...evidence, evidenceId: evidenceIdOf(principal.accountId, hash, evidence.capturedAt, certificateKey(evidence.certificateId, evidence.certificateUrl)) };
  const result = await deps.consent.putEvidence(hash, withId);
  return { line, result, evidenceId: withId.evidenceId };
}

/** The evidence that applies to a call (captured at or before its start, within the validity window), newest first. */
export async function getCallConsent(principal: ApiKeyRecord, callId: string, deps: Pick<ComplianceDeps, 'consent'>) {
  const call = await readOwnCall(principal, callId, (id) => deps.consent.callForConsent(id));
  const evidence =
    call.callerHash === null || call.startedAt === null ? [] : await deps.consent.evidenceFor(principal.accountId, call.callerHash, Date.parse(call.startedAt), 50);
  return { callId, startedAt: call.startedAt, validityDays: CONSENT_VALIDITY_DAYS, evidence };
}

export async function putComplianceSettings(principal: ApiKeyRecord, json: unknown, deps: Pick<ComplianceDeps, 'settings'>): Promise<AccountComplianceBody> {
  requireAdmin(principal);
  const body = parseBody(AccountComplianceBodySchema, json, 'compliance settings');
  const { recordingRetentionDays, ...settings } = body;
  if (!(await deps.settings.putCompliance(principal.accountId, settings, recordingRetentionDays))) throw notFound('The account of this key does not exist.');
  return body;
}

// ------------------------------------------------------------------ routes

export const COMPLIANCE_ROUTES: readonly Route<ComplianceDeps>[] = [
  route({
    method: 'PUT',
    path: '/v1/dnc-lists/{listId}',
    summary: 'Create or rename a Do-Not-Call list of this account (admin): {name, source: national|internal|state}',
    auth: 'admin',
    request: PutDncListBodySchema,
    responses: { 200: { description: 'Updated', schema: DncListSchema }, 201: { description: 'Created', schema: DncListSchema } },
    problems: [400, 401, 403, 415],
    query: {},
    pathCarriesPii: true,
    async handle(principal, req, deps) {
      const written = await putDncList(principal, req.pathParameters.listId ?? '', jsonBody(req), deps);
      return { status: written.created ? 201 : 200, body: written.body };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/dnc-lists/{listId}',
    summary: 'A DNC list: name, source, how many numbers it lists (never the numbers)',
    auth: 'bearer',
    responses: { 200: { description: 'The list', schema: DncListSchema } },
    problems: [400, 401, 404],
    query: {},
    pathCarriesPii: true,
    async handle(principal, req, deps) {
      return { status: 200, body: await getDncList(principal, req.pathParameters.listId ?? '', deps) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/dnc-lists',
    summary: "The account's DNC lists with counts",
    auth: 'bearer',
    responses: { 200: { description: 'The lists', schema: DncListsSchema } },
    problems: [400, 401],
    query: {},
    pathCarriesPii: true,
    async handle(principal, _req, deps) {
      return { status: 200, body: { lists: await deps.dnc.listLists(principal.accountId) } };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/dnc-lists/{listId}/numbers',
    summary:
      'Add numbers to a DNC list (admin): text/csv, one number a line (optional header `number`), or JSON {add, remove}; ≤ 100,000 lines. Stored as keyed hashes only; changes apply to calls that start 60 s or more after the upload. Answers counts and the line numbers of invalid lines, never numbers',
    auth: 'admin',
    request: DncNumbersBodySchema,
    requestText: { 'text/csv': 'One number a line, optional header `number`' },
    responses: { 200: { description: 'Counts', schema: DncUploadResultSchema } },
    problems: [400, 401, 403, 404, 413, 415, 422],
    query: {},
    pathCarriesPii: true,
    async handle(principal, req, deps) {
      listIdOf(req.pathParameters.listId ?? '');
      return { status: 200, body: await uploadDncNumbers(principal, req.pathParameters.listId ?? '', dncUploadLines(req), deps) };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/consent',
    summary:
      'Post consent evidence (admin): one record or {records: [...]} (≤ 1000), each by callId or callerNumber (+ publisherId), with capturedAt and certificateId and/or an https certificateUrl. Stored by the caller\'s keyed hash with its capture time; applies to calls that start within 180 days after capture. One result per record',
    auth: 'admin',
    request: PostConsentBodySchema,
    responses: { 200: { description: 'One result per record', schema: PostConsentResponseSchema } },
    problems: [400, 401, 403, 415],
    query: {},
    pathCarriesPii: true,
    async handle(principal, req, deps) {
      return { status: 200, body: await postConsent(principal, consentRecords(jsonBody(req)), deps) };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/calls/{callId}/consent',
    summary: 'The consent evidence that applies to a call: captured at or before it started, within 180 days, newest first',
    auth: 'bearer',
    responses: { 200: { description: 'The evidence', schema: CallConsentSchema } },
    problems: [400, 401, 404],
    query: {},
    pathCarriesPii: true,
    async handle(principal, req, deps) {
      return { status: 200, body: await getCallConsent(principal, req.pathParameters.callId ?? '', deps) };
    },
  }),
  route({
    method: 'PUT',
    path: '/v1/account/compliance',
    summary:
      "The account's compliance settings (admin): whether consent_missing and DNC-listed calls are non-billable (else flagged only), and optionally the recording retention class in days (30, 90, 180, 365, 730, 1095 or 2555; default 365; applies to recordings stored from then on)",
    auth: 'admin',
    request: AccountComplianceBodySchema,
    responses: { 200: { description: 'The settings', schema: AccountComplianceBodySchema } },
    problems: [400, 401, 403, 404, 415],
    query: {},
    pathCarriesPii: true,
    async handle(principal, req, deps) {
      return { status: 200, body: await putComplianceSettings(principal, jsonBody(req), deps) };
    },
  }),
];
