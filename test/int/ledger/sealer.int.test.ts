/**
 * The scheduled ledger sealer end to end against DynamoDB Local and fauxqs: the real handler
 * (functions/ledger-sealer.ts, wired from the environment as in Lambda, with a fixed clock) over registered
 * accounts, the ledger's byCreatedAt index, seals, anchors in the anchors bucket, and GET /v1/ledger/verify with
 * the anchor store. Then what an attacker with table access does behind the API: delete a sealed entry; rewrite an
 * entry AND every later seal consistently; cut the newest seal off.
 *
 * All tests share one table and the handler seals every registered account, so each test works on its own
 * accounts and asserts only about them. Times are fixed (2026-11-20), not relative to today.
 */
import { DeleteItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../../infra/local/http-adapter';
import { FUNCTIONS } from '../../../infra/resources';
import { ACCOUNT_REGISTRY_PK, AccountRegistry, accountRegistryKeys } from '../../../shared/adapters/catalog/account-registry';
import { S3AnchorStore, anchorKey } from '../../../shared/adapters/ledger/anchors';
import { LedgerRepo, sealPk } from '../../../shared/adapters/ledger/ledger-repo';
import { type LedgerRouteDeps } from '../../../shared/app/ledger/ledger-routes';
import { ledgerRouteDeps } from '../../../shared/adapters/ledger/deps';
import type { VerifyResponse } from '../../../shared/app/ledger/verify';
import type { SealAccountsDeps } from '../../../shared/app/ledger/seal-accounts';
import type { LedgerEntry } from '../../../shared/domain/ledger/entries';
import { entryHash, sealInterval, type Seal } from '../../../shared/domain/ledger/tamper';
import { startCoreEnv, type CoreEnv } from '../../support/writer-fixtures';
import { commitCall, createLedger3Tenant, request, routeDeps, type Ledger3Tenant } from '../../support/ledger-fixtures';

type SealerModule = typeof import('../../../functions/ledger-sealer');

let env: CoreEnv;
let sealer: SealerModule;
const savedEnv = new Map<string, string | undefined>();

beforeAll(async () => {
  env = await startCoreEnv();
  // The handler reads its configuration and endpoints from process.env at module load, as in Lambda.
  const handlerEnv: Record<string, string> = {
    ...env.emulators.env,
    MAIN_TABLE: env.names.mainTable,
    LEDGER_TABLE: env.names.ledgerTable,
    ANCHORS_BUCKET: env.names.anchorsBucket,
    POWERTOOLS_DEV: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  for (const [name, value] of Object.entries(handlerEnv)) {
    savedEnv.set(name, process.env[name]);
    process.env[name] = value;
  }
  sealer = await import('../../../functions/ledger-sealer');
});
afterAll(async () => {
  for (const [name, value] of savedEnv) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await env?.stop();
});

const HOUR = 3_600_000;
const DAY_START = Date.parse('2026-11-20T00:00:00.000Z');
const at = (hh: number, mm: number) => DAY_START + hh * HOUR + mm * 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** One sealer invocation, the real handler with the clock at `nowMs`. */
async function runSealer(nowMs: number, deps: Partial<SealAccountsDeps> = {}) {
  const handler = sealer.createHandler({ ...sealer.deps, ...deps, now: () => new Date(nowMs) });
  return handler({}, lambdaContext(FUNCTIONS.ledgerSealer));
}

/** An account with the ledger3 fixtures, registered (gsi1 ACCOUNTS) as the seed loader registers accounts. */
async function registeredTenant(): Promise<Ledger3Tenant> {
  const t = await createLedger3Tenant(env, { disputeWindowDays: 7, allowedReasons: ['fraud'] });
  const keys = accountRegistryKeys(t.accountId);
  await env.clients.dynamodb.send(
    new UpdateItemCommand({
      TableName: env.names.mainTable,
      Key: marshall({ pk: `ACCT#${t.accountId}`, sk: 'ACCOUNT' }),
      UpdateExpression: 'SET gsi1pk = :pk, gsi1sk = :sk',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: marshall({ ':pk': keys.gsi1pk, ':sk': keys.gsi1sk }),
    }),
  );
  return t;
}

/** Charges created at 10:03, 10:33 and 11:13, and a credit for the first one resolved at 11:30 (booked at 10:00). */
async function twoIntervalsOfEntries(t: Ledger3Tenant) {
  const calls = [];
  // commitCall rates a call one minute after it ends (120 s): createdAt = start + 3 min.
  for (const start of [at(10, 0), at(10, 30), at(11, 10)]) calls.push(await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: start }));
  const deps = routeDeps(env, new Date(at(11, 30)));
  const callId = calls[0]!.callId;
  await request(deps, t.admin, 'POST', '/v1/calls/{callId}/disputes', { pathParameters: { callId }, body: { reason: 'other' } });
  await request(deps, t.admin, 'POST', '/v1/disputes/{disputeId}/resolve', { pathParameters: { disputeId: `dispute:${callId}` }, body: { outcome: 'accepted' } });
  return calls;
}

const ledger = () => new LedgerRepo({ ledgerTable: env.names.ledgerTable, client: env.clients.dynamodb });
const anchors = () => new S3AnchorStore({ bucket: env.names.anchorsBucket, client: env.clients.s3 });

/** The API's route deps with the anchor store, as functions/api.ts builds them. */
function verifyDeps(nowMs: number): LedgerRouteDeps {
  return ledgerRouteDeps(
    { mainTable: env.names.mainTable, ledgerTable: env.names.ledgerTable, callerHashKeyRef: 'env:UNUSED_IN_TESTS', anchorsBucket: env.names.anchorsBucket },
    { client: env.clients.dynamodb, s3: env.clients.s3, secrets: { resolve: async () => env.callerHashKey }, now: () => new Date(nowMs) },
  );
}
const verify = async (t: Ledger3Tenant, deps: LedgerRouteDeps = verifyDeps(at(14, 0))) =>
  (await request(deps, t.analyst, 'GET', '/v1/ledger/verify')).body as VerifyResponse;

async function anchorKeysOf(accountId: string): Promise<string[]> {
  const out = await env.clients.s3.send(new ListObjectsV2Command({ Bucket: env.names.anchorsBucket, Prefix: `anchors/${accountId}/` }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

async function anchorObject(accountId: string, seq: number): Promise<unknown> {
  const out = await env.clients.s3.send(new GetObjectCommand({ Bucket: env.names.anchorsBucket, Key: anchorKey(accountId, seq) }));
  return JSON.parse(await out.Body!.transformToString('utf8'));
}

/** A ledger item's key, and the entry it stores (no keys, no hash). */
const keyOf = (item: Record<string, unknown>) => marshall({ pk: item.pk, sk: item.sk });
function entryOf(item: Record<string, unknown>): LedgerEntry {
  const { pk: _pk, sk: _sk, contentHash: _h, ...entry } = item;
  return entry as unknown as LedgerEntry;
}

describe('the ledger sealer (scheduled handler)', () => {
  it('seals two intervals of write time through the index, anchors the newest seal, and verify checks it', async () => {
    const t = await registeredTenant();
    const calls = await twoIntervalsOfEntries(t);
    const unregistered = await createLedger3Tenant(env, { disputeWindowDays: 7, allowedReasons: ['fraud'] });
    await commitCall(env, unregistered, { publisherId: unregistered.defaultPublisher, startMs: at(10, 0) });

    // The index holds the account's four entries by createdAt, keys only.
    const indexed = await env.clients.dynamodb.send(
      new QueryCommand({
        TableName: env.names.ledgerTable,
        IndexName: 'byCreatedAt',
        KeyConditionExpression: 'accountId = :a',
        ExpressionAttributeValues: { ':a': { S: t.accountId } },
      }),
    );
    const rows = (indexed.Items ?? []).map((i) => unmarshall(i));
    expect(rows.map((r) => r.createdAt)).toEqual([iso(at(10, 3)), iso(at(10, 33)), iso(at(11, 13)), iso(at(11, 30))]);
    for (const r of rows) expect(Object.keys(r).sort()).toEqual(['accountId', 'createdAt', 'pk', 'sk']);

    expect(await new AccountRegistry({ mainTable: env.names.mainTable, client: env.clients.dynamodb }).listAccountIds()).toContain(t.accountId);

    // 12:10: [10:00, 11:00) and [11:00, 12:00) ended more than 5 minutes ago; [12:00, 13:00) has not.
    const result = await runSealer(at(12, 10));
    expect(result).toMatchObject({ failed: [], deferred: 0, skipped: 0 });
    expect(result.sealsWritten).toBeGreaterThanOrEqual(2);
    const seals = await ledger().listSeals(t.accountId);
    expect(seals.map(({ seq, coversFrom, coversTo, entryCount }) => ({ seq, coversFrom, coversTo, entryCount }))).toEqual([
      { seq: 1, coversFrom: iso(at(10, 0)), coversTo: iso(at(11, 0)), entryCount: 2 },
      // The credit is booked at 10:00 (effectiveAt) but written at 11:30: it is sealed with the second interval.
      { seq: 2, coversFrom: iso(at(11, 0)), coversTo: iso(at(12, 0)), entryCount: 2 },
    ]);
    expect(seals[1]!.prevSealHash).toBe(seals[0]!.sealHash);
    // Seal items never enter the write-time index (they have no createdAt).
    const again = await env.clients.dynamodb.send(
      new QueryCommand({ TableName: env.names.ledgerTable, IndexName: 'byCreatedAt', KeyConditionExpression: 'accountId = :a', ExpressionAttributeValues: { ':a': { S: t.accountId } } }),
    );
    expect((again.Items ?? []).map((i) => unmarshall(i).pk)).toEqual(Array(4).fill(`ACCT#${t.accountId}`));

    // One anchor for the run: the newest seal.
    expect(await anchorKeysOf(t.accountId)).toEqual([`anchors/${t.accountId}/000000000002.json`]);
    expect(await anchorObject(t.accountId, 2)).toEqual({ accountId: t.accountId, seq: 2, sealHash: seals[1]!.sealHash, coversTo: iso(at(12, 0)) });

    // An unregistered account is not visited.
    expect(await ledger().latestSeal(unregistered.accountId)).toBeNull();

    // Idempotent: the same clock again writes nothing.
    await runSealer(at(12, 10));
    expect(await ledger().listSeals(t.accountId)).toHaveLength(2);
    expect(await anchorKeysOf(t.accountId)).toHaveLength(1);

    expect(await verify(t)).toMatchObject({
      ok: true,
      brokenLink: null,
      checkedEntries: 4,
      checkedSeals: 2,
      unsealedEntries: 0,
      anchor: { accountId: t.accountId, seq: 2, sealHash: seals[1]!.sealHash },
    });

    // An hour later the idle hour gets its (empty) seal and the new head is anchored.
    await runSealer(at(13, 10));
    const third = (await ledger().latestSeal(t.accountId))!;
    expect(third).toMatchObject({ seq: 3, coversFrom: iso(at(12, 0)), coversTo: iso(at(13, 0)), entryCount: 0, prevSealHash: seals[1]!.sealHash });
    expect(await anchorKeysOf(t.accountId)).toEqual([2, 3].map((seq) => anchorKey(t.accountId, seq)));
    expect(await verify(t)).toMatchObject({ ok: true, checkedSeals: 3, anchor: { seq: 3, sealHash: third.sealHash } });

    // Someone with table access deletes the 10:33 charge behind the API: its seal no longer matches.
    const items = await ledger().entriesCreatedBetween(t.accountId, iso(at(10, 0)), iso(at(11, 0)));
    const victim = items.find((e) => e.entryId === `charge:${calls[1]!.callId}`)!;
    await env.clients.dynamodb.send(
      new DeleteItemCommand({ TableName: env.names.ledgerTable, Key: marshall({ pk: `ACCT#${t.accountId}`, sk: `${victim.effectiveAt}#${victim.entryId}` }) }),
    );
    const report = await verify(t);
    expect(report.ok).toBe(false);
    expect(report.brokenLink).toMatchObject({ kind: 'seal_contents', seq: 1, expected: { entryCount: 2 }, actual: { entryCount: 1 } });
  });

  it('catches a rewrite of an entry and every later seal against the anchor, and a chain cut short of it', async () => {
    const t = await registeredTenant();
    await twoIntervalsOfEntries(t);
    await runSealer(at(12, 10));
    const original = await ledger().listSeals(t.accountId);
    expect(original.map((s) => s.seq)).toEqual([1, 2]);

    // The attacker lowers the 10:03 charge, recomputes its content hash, then re-seals both intervals so that
    // every hash and link in the database is consistent again, and overwrites the seals.
    const first = (await ledger().entriesCreatedBetween(t.accountId, iso(at(10, 0)), iso(at(11, 0)))).find((e) => e.createdAt === iso(at(10, 3)))!;
    const item = { pk: `ACCT#${t.accountId}`, sk: `${first.effectiveAt}#${first.entryId}` };
    const edited = { ...entryOf({ ...first }), amountCents: 1 } as LedgerEntry;
    await env.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: env.names.ledgerTable,
        Key: keyOf(item),
        UpdateExpression: 'SET amountCents = :a, contentHash = :h',
        ExpressionAttributeValues: marshall({ ':a': 1, ':h': entryHash(edited) }),
      }),
    );
    let prev: Seal | null = null;
    const forged: Seal[] = [];
    for (const s of original) {
      const entries = await ledger().entriesCreatedBetween(t.accountId, s.coversFrom, s.coversTo);
      const seal = sealInterval({ accountId: t.accountId, prev, fromMs: Date.parse(s.coversFrom), toMs: Date.parse(s.coversTo), entries, sealedAtMs: Date.parse(s.sealedAt) });
      await env.clients.dynamodb.send(
        new PutItemCommand({ TableName: env.names.ledgerTable, Item: marshall({ pk: sealPk(t.accountId), sk: String(seal.seq).padStart(12, '0'), ...seal }) }),
      );
      forged.push(seal);
      prev = seal;
    }
    expect(forged[1]!.sealHash).not.toBe(original[1]!.sealHash);

    // The database alone is consistent again: only the anchor tells.
    expect(await verify(t, routeDeps(env, new Date(at(14, 0))))).toMatchObject({ ok: true, checkedSeals: 2, anchor: null });
    const report = await verify(t);
    expect(report.ok).toBe(false);
    expect(report.brokenLink).toEqual({ kind: 'anchor', seq: 2, expected: original[1]!.sealHash, actual: forged[1]!.sealHash });

    // Deleting the newest seal (and so its interval's evidence) is caught the same way: the anchor names seq 2.
    await env.clients.dynamodb.send(
      new DeleteItemCommand({ TableName: env.names.ledgerTable, Key: marshall({ pk: sealPk(t.accountId), sk: '000000000002' }) }),
    );
    expect((await verify(t)).brokenLink).toEqual({ kind: 'anchor', seq: 2, expected: original[1]!.sealHash, actual: null });
  });

  it('lists accounts from the ACCOUNTS partition of gsi1 only', async () => {
    const t = await registeredTenant();
    const plain = await createLedger3Tenant(env, { disputeWindowDays: 7, allowedReasons: ['fraud'] });
    const ids = await new AccountRegistry({ mainTable: env.names.mainTable, client: env.clients.dynamodb }).listAccountIds();
    expect(ids).toContain(t.accountId);
    expect(ids).not.toContain(plain.accountId);
    expect(ids).toEqual([...ids].sort());
    expect(accountRegistryKeys('x')).toEqual({ gsi1pk: ACCOUNT_REGISTRY_PK, gsi1sk: 'x' });
  });

  it('fails the invocation, naming the account, when an anchor cannot be written; the seals stand and the next run continues', async () => {
    const t = await registeredTenant();
    await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: at(15, 0) });
    const broken = new S3AnchorStore({ bucket: `${env.names.anchorsBucket}-missing`, client: env.clients.s3 });
    await expect(runSealer(at(16, 10), { anchors: broken })).rejects.toThrow(new RegExp(`sealing failed for \\d+ of \\d+ account\\(s\\): .*${t.accountId}`));
    expect(await ledger().latestSeal(t.accountId)).toMatchObject({ seq: 1, coversTo: iso(at(16, 0)), entryCount: 1 });
    expect(await anchorKeysOf(t.accountId)).toEqual([]);

    await runSealer(at(17, 10));
    expect(await anchorKeysOf(t.accountId)).toEqual([anchorKey(t.accountId, 2)]);
    expect(await anchors().latestAnchor(t.accountId, 2)).toMatchObject({ seq: 2 });
    expect(await verify(t, verifyDeps(at(18, 0)))).toMatchObject({ ok: true, checkedSeals: 2, anchor: { seq: 2 } });
  });
});
