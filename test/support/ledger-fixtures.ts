/**
 * Set-up for the ledger3 integration tests (disputes, statements, reconciliation, verification): an account and
 * publishers written as items, rated calls committed through the real CallRepo (the rating transaction's storage
 * format: call item + charge + marker), and the LEDGER_ROUTES called the way functions/api.ts will call them.
 */
import { randomUUID } from 'node:crypto';
import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { LEDGER_ROUTES, type LedgerRouteDeps, type RouteResponse } from '../../shared/app/ledger/ledger-routes';
import { ledgerRouteDeps } from '../../shared/adapters/ledger/deps';
import type { ApiKeyRecord } from '../../shared/app/kernel/ports';
import { callerHash } from '../../shared/domain/calls/caller';
import type { CreditPolicy } from '../../shared/domain/disputes/disputes';
import { chargeEntry, ledgerSortKey } from '../../shared/domain/ledger/entries';
import type { ChargeEntry } from '../../shared/domain/ledger/entries';
import type { RatingDecision, ReasonCode } from '../../shared/domain/rating/decision';
import { freshNumber, hex32, statusEvent, type CoreEnv } from './writer-fixtures';
import { checkedRoute } from '../contract/hooks';

export const PRICE = 4500;

export interface Ledger3Tenant {
  readonly accountId: string;
  /** Has its own credit policy (`policy`). */
  readonly strictPublisher: string;
  /** No publisher item at all: the default policy applies. */
  readonly defaultPublisher: string;
  readonly policy: CreditPolicy;
  readonly admin: ApiKeyRecord;
  readonly analyst: ApiKeyRecord;
}

export async function createLedger3Tenant(env: CoreEnv, policy: CreditPolicy): Promise<Ledger3Tenant> {
  const suffix = randomUUID().slice(0, 8);
  const accountId = `l3-${suffix}`;
  const strictPublisher = `pub-strict-${suffix}`;
  const items = [
    {
      pk: `ACCT#${accountId}`,
      sk: 'ACCOUNT',
      accountId,
      name: 'Ledger3',
      timeZone: 'America/Chicago',
      currency: 'USD',
      twilio: { accountSid: `AC${hex32()}`, authTokenSecret: `twilio/${accountId}/auth-token` },
    },
    { pk: `ACCT#${accountId}`, sk: `PUB#${strictPublisher}`, accountId, publisherId: strictPublisher, name: 'Strict', creditPolicy: policy },
  ];
  for (const item of items) await env.clients.dynamodb.send(new PutItemCommand({ TableName: env.names.mainTable, Item: marshall(item) }));
  return {
    accountId,
    strictPublisher,
    defaultPublisher: `pub-default-${suffix}`,
    policy,
    admin: { accountId, role: 'admin', label: 'finance-bot' },
    analyst: { accountId, role: 'analyst', label: 'viewer' },
  };
}

export interface CommittedCall {
  readonly callSid: string;
  readonly callId: string;
  readonly caller: string;
  readonly startMs: number;
  readonly charge: ChargeEntry | null;
}

/**
 * Commits one rated call through CallRepo: billable (the rating transaction with its charge, which the writer
 * stores with its content hash) or not (`reasons`). `legacyUnhashed` then removes the charge's `contentHash`, so
 * the item is what a writer before tamper evidence stored.
 */
export async function commitCall(
  env: CoreEnv,
  t: Pick<Ledger3Tenant, 'accountId'>,
  args: { publisherId: string; startMs: number; durationSec?: number; reasons?: readonly ReasonCode[]; caller?: string; legacyUnhashed?: boolean },
): Promise<CommittedCall> {
  const callSid = `CA${hex32()}`;
  const callId = `twilio:${callSid}`;
  const caller = args.caller ?? freshNumber();
  const durationSec = args.durationSec ?? 120;
  const reasons = args.reasons ?? [];
  const billable = reasons.length === 0;
  const decision: RatingDecision = {
    billable,
    amountCents: billable ? PRICE : 0,
    reasons,
    campaignId: 'camp-l3',
    publisherId: args.publisherId,
    subSource: null,
    termsVersion: 1,
    rules: [],
    price: null,
  };
  const startedAt = new Date(args.startMs).toISOString();
  // Rated a minute after the call ended: deterministic, so tests that order entries by createdAt do not depend on
  // the day they run.
  const ratedAt = new Date(args.startMs + durationSec * 1000 + 60_000).toISOString();
  const events = [
    statusEvent({
      accountId: t.accountId,
      callSid,
      status: 'completed',
      from: caller,
      to: '+15125550100',
      durationSec,
      occurredAt: new Date(args.startMs + durationSec * 1000).toISOString(),
    }),
  ];
  const rated = {
    decision,
    ratedAt,
    startedAt,
    endedAt: events[0]!.occurredAt,
    durationSec,
    callerHash: callerHash(env.callerHashKey, caller),
    callerE164: caller,
  };
  if (!billable) {
    const out = await env.calls.commitNonBillable({ callId, accountId: t.accountId, events, rated });
    if (out.outcome !== 'committed') throw new Error(`commitNonBillable: ${out.outcome}`);
    return { callSid, callId, caller, startMs: args.startMs, charge: null };
  }
  const charge = chargeEntry({ accountId: t.accountId, callId, decision, startedAt, createdAt: ratedAt });
  const out = await env.calls.commitRating({ callId, accountId: t.accountId, events, rated, entry: charge, window: null });
  if (out.outcome !== 'committed') throw new Error(`commitRating: ${out.outcome}`);
  if (args.legacyUnhashed === true) {
    await env.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: env.names.ledgerTable,
        Key: marshall({ pk: `ACCT#${t.accountId}`, sk: ledgerSortKey(charge) }),
        UpdateExpression: 'REMOVE contentHash',
        ConditionExpression: 'attribute_exists(contentHash)',
      }),
    );
  }
  return { callSid, callId, caller, startMs: args.startMs, charge };
}

/** The route deps against the emulators, with a fixed clock. */
export function routeDeps(env: CoreEnv, now: Date): LedgerRouteDeps {
  return ledgerRouteDeps(
    { mainTable: env.names.mainTable, ledgerTable: env.names.ledgerTable, callerHashKeyRef: 'env:UNUSED_IN_TESTS' },
    { client: env.clients.dynamodb, secrets: { resolve: async () => env.callerHashKey }, now: () => now },
  );
}

/** Calls a LEDGER_ROUTES handler by method and template, as functions/api.ts will. */
export async function request(
  deps: LedgerRouteDeps,
  principal: ApiKeyRecord,
  method: 'GET' | 'POST',
  path: string,
  req: { pathParameters?: Record<string, string>; query?: Record<string, string>; body?: string | object; contentType?: string } = {},
): Promise<RouteResponse> {
  const found = LEDGER_ROUTES.find((r) => r.method === method && r.path === path);
  if (found === undefined) throw new Error(`no route ${method} ${path}`);
  // Checked against the served OpenAPI document (test/contract/hooks.ts).
  const route = checkedRoute(found);
  const body = req.body;
  const json = typeof body === 'object';
  return route.handle(
    principal,
    {
      pathParameters: req.pathParameters ?? {},
      query: req.query ?? {},
      body: typeof body === 'object' ? JSON.stringify(body) : (body ?? ''),
      contentType: req.contentType ?? (json ? 'application/json' : undefined),
    },
    deps,
  );
}
