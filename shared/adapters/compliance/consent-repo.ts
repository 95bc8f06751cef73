/**
 * Consent evidence in the main table (docs/CONTRACTS.md, "Compliance"):
 *
 *   pk = CONSENT#<accountId>#<callerHash>   sk = <capturedAt>#<certificate key>   (consent.ts ConsentEvidence)
 *
 * keyed by the caller's keyed hash (the number is never stored) and sorted by capture time (`toISOString` form,
 * which sorts as it reads). The certificate key is the certificateId, or `url:` + the first 24 hex digits of the
 * URL's sha256 when only a URL was given, so posting the same evidence twice stores it once (conditional put).
 *
 * The ledger writer's question — is there evidence for this caller captured at or before the call started, within
 * CONSENT_VALIDITY_DAYS? — is ONE strongly consistent Query: `sk BETWEEN <start − validity> AND <start>#\uffff`,
 * newest first, Limit 1 (1 RCU). It is not cached: evidence is not effective-dated (consent.ts), so a cached "none"
 * could miss evidence posted a moment before the call was rated.
 */
import { PutItemCommand, QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { certificateKey, consentWindow, type ConsentEvidence, type ConsentMatch } from '../../domain/compliance/consent';
import type { ConsentReader } from '../../app/rating/ports';
import type { ConsentStore } from '../../app/compliance/compliance';
import { mainKeys } from '../calls/keys';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { errorName, getItem } from '../platform/dynamodb/ddb-ops';

export const consentKeys = {
  pk: (accountId: string, callerHash: string) => `CONSENT#${accountId}#${callerHash}`,
  /** `<capturedAt>#<certificate>`: the record's identity (consent.ts#evidenceIdOf hashes the same). */
  sk: (capturedAt: string, certificate: string) => `${capturedAt}#${certificate}`,
};

function toEvidence(item: Record<string, unknown>): ConsentEvidence {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as unknown as ConsentEvidence;
}

export interface ConsentRepoOptions {
  mainTable: string;
  client?: DynamoDBClient;
}

export class ConsentRepo implements ConsentReader, ConsentStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: ConsentRepoOptions) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
  }

  /** The writer's question (ports.ts ConsentReader): the latest evidence that applies to a call that started then. */
  async consentFor(accountId: string, callerHash: string, startedAtMs: number): Promise<ConsentMatch | null> {
    const [latest] = await this.query(accountId, callerHash, startedAtMs, 1);
    return latest === undefined ? null : { certificateId: latest.certificateId, capturedAt: latest.capturedAt };
  }

  /** Evidence that applies to a call that started at `startedAtMs`, newest capture first (at most `limit`). */
  async evidenceFor(accountId: string, callerHash: string, startedAtMs: number, limit: number): Promise<ConsentEvidence[]> {
    return this.query(accountId, callerHash, startedAtMs, limit);
  }

  private async query(accountId: string, callerHash: string, startedAtMs: number, limit: number): Promise<ConsentEvidence[]> {
    const w = consentWindow(startedAtMs);
    const out = await this.client().send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
        ExpressionAttributeValues: marshall({
          ':pk': consentKeys.pk(accountId, callerHash),
          ':lo': new Date(w.fromMs).toISOString(),
          ':hi': `${new Date(w.toMs).toISOString()}#\uffff`,
        }),
        ScanIndexForward: false,
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map((i) => toEvidence(unmarshall(i)));
  }

  /** Stores the evidence unless the same (caller, capture, certificate) is stored already. */
  async putEvidence(callerHash: string, evidence: ConsentEvidence): Promise<'stored' | 'already'> {
    const sk = consentKeys.sk(evidence.capturedAt, certificateKey(evidence.certificateId, evidence.certificateUrl));
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: consentKeys.pk(evidence.accountId, callerHash), sk, ...evidence }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'stored';
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return 'already';
      throw err;
    }
  }

  /** What consent needs of a call: its account, caller hash (absent until rated, or anonymous) and start. */
  async callForConsent(callId: string): Promise<{ accountId: string; callerHash: string | null; startedAt: string | null } | null> {
    const item = await getItem(this.client(), {
      TableName: this.table,
      Key: marshall(mainKeys.call(callId)),
      ProjectionExpression: 'accountId, callerHash, startedAt',
    });
    if (item === undefined) return null;
    const r = unmarshall(item) as { accountId?: string; callerHash?: string; startedAt?: string };
    if (r.accountId === undefined) return null;
    return { accountId: r.accountId, callerHash: r.callerHash ?? null, startedAt: r.startedAt ?? null };
  }
}
