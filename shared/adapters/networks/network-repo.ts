/**
 * The networks capability on the main table (docs/CONTRACTS.md, "Networks" → Items):
 *
 *   registration   pk = ACCT#<accountId>                   sk = NET#<networkId>        doc (NetworkRecord: secrets as digests), rev
 *   postback       pk = NETPB#<accountId>#<networkId>#<networkCallId>  sk = <sha256 of the postback>   p (NetworkPostback)
 *   claim          pk = NETCLAIM#<accountId>#<networkId>   sk = <networkCallId>        claim, match; gsi1pk = NETCLAIMS#<accountId>#<networkId>, gsi1sk = <startedAt>#<networkCallId>
 *   dispute        pk = NETDISP#<accountId>#<networkId>    sk = <networkCallId>        d (NetworkDispute)
 *   call item      pk = CALL#<callId>                       sk = CALL                   net (CallNetworkAttribution): the only attribute of a call this writes
 *
 * A postback is keyed by its whole content, delivery time included, and put only if absent: a redelivered message is
 * a no-op, and the fold (claims.ts) drops a duplicate delivered twice. No item holds a caller's number (claims carry
 * the keyed hash) or a postback secret (registrations hold its SHA-256).
 */
import { createHash } from 'node:crypto';
import { PutItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { CONFIG_LEAD_MS } from '../../domain/catalog/config';
import type { CallNetworkAttribution } from '../../domain/networks/attribution';
import type { NetworkClaim, NetworkPostback } from '../../domain/networks/claims';
import { ConfigWriteConflict } from '../../app/kernel/ports';
import type { ClaimMatch, NetworkDispute, NetworkRecord, NetworkStore, StoredClaim } from '../../app/networks/ports';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { errorName, getItem, queryItems } from '../platform/dynamodb/ddb-ops';
import { mainKeys } from '../calls/keys';

export const networkKeys = {
  registration: (accountId: string, networkId: string) => ({ pk: `ACCT#${accountId}`, sk: `NET#${networkId}` }),
  registrationPrefix: 'NET#',
  postbacks: (accountId: string, networkId: string, networkCallId: string) => `NETPB#${accountId}#${networkId}#${networkCallId}`,
  claims: (accountId: string, networkId: string) => `NETCLAIM#${accountId}#${networkId}`,
  claimIndex: (accountId: string, networkId: string) => `NETCLAIMS#${accountId}#${networkId}`,
  disputes: (accountId: string, networkId: string) => `NETDISP#${accountId}#${networkId}`,
};

const marshallOpts = { removeUndefinedValues: true, convertClassInstanceToMap: true } as const;

function isConditionFailure(err: unknown): boolean {
  return errorName(err) === 'ConditionalCheckFailedException';
}

export interface NetworkRepoOptions {
  readonly mainTable: string;
  readonly client?: DynamoDBClient;
  /** Lifetime of an account's cached list of networks (default and at most CONFIG_LEAD_MS). */
  readonly cacheTtlMs?: number;
  readonly now?: () => number;
}

export class NetworkRepo implements NetworkStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;
  private readonly ttlMs: number;
  private readonly clock: () => number;
  private readonly lists = new Map<string, { at: number; list: Promise<readonly NetworkRecord[]> }>();

  constructor(options: NetworkRepoOptions) {
    this.table = options.mainTable;
    this.client = dynamodbClient(options.client);
    this.ttlMs = Math.min(options.cacheTtlMs ?? CONFIG_LEAD_MS, CONFIG_LEAD_MS);
    this.clock = options.now ?? Date.now;
  }

  async getNetwork(accountId: string, networkId: string): Promise<NetworkRecord | null> {
    const item = await getItem(this.client(), { TableName: this.table, Key: marshall(networkKeys.registration(accountId, networkId)), ConsistentRead: true });
    return item === undefined ? null : (unmarshall(item).doc as NetworkRecord);
  }

  async putNetwork(record: NetworkRecord, expectedRev: number | null): Promise<void> {
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ ...networkKeys.registration(record.accountId, record.networkId), doc: record, rev: record.rev }, marshallOpts),
          ...(expectedRev === null
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': { N: String(expectedRev) } } }),
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) throw new ConfigWriteConflict(`network ${record.networkId}`);
      throw err;
    }
    this.lists.delete(record.accountId);
  }

  /** Cached per account for at most a minute: a new network matches calls rated from then on, and every claim. */
  async listNetworks(accountId: string): Promise<readonly NetworkRecord[]> {
    const cached = this.lists.get(accountId);
    if (cached !== undefined && this.clock() - cached.at < this.ttlMs) return cached.list;
    const list = (async () => {
      const out: NetworkRecord[] = [];
      const { pk } = networkKeys.registration(accountId, '');
      for await (const item of queryItems(this.client(), {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': { S: pk }, ':prefix': { S: networkKeys.registrationPrefix } },
      })) {
        out.push(unmarshall(item).doc as NetworkRecord);
      }
      return out;
    })();
    this.lists.set(accountId, { at: this.clock(), list });
    list.catch(() => this.lists.delete(accountId));
    return list;
  }

  async putPostback(accountId: string, networkId: string, postback: NetworkPostback): Promise<'created' | 'exists'> {
    const sk = createHash('sha256').update(JSON.stringify(postback, Object.keys(postback).sort())).digest('hex');
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: networkKeys.postbacks(accountId, networkId, postback.networkCallId), sk, p: postback }, marshallOpts),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'created';
    } catch (err) {
      if (isConditionFailure(err)) return 'exists';
      throw err;
    }
  }

  async postbacksOf(accountId: string, networkId: string, networkCallId: string): Promise<NetworkPostback[]> {
    const out: NetworkPostback[] = [];
    for await (const item of queryItems(this.client(), {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: networkKeys.postbacks(accountId, networkId, networkCallId) } },
      ConsistentRead: true,
    })) {
      out.push(unmarshall(item).p as NetworkPostback);
    }
    return out;
  }

  async putClaim(accountId: string, networkId: string, claim: NetworkClaim): Promise<void> {
    await this.client().send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall({ pk: networkKeys.claims(accountId, networkId), sk: claim.networkCallId }),
        UpdateExpression: 'SET #c = :c, gsi1pk = :gpk, gsi1sk = :gsk',
        ExpressionAttributeNames: { '#c': 'claim' },
        ExpressionAttributeValues: marshall(
          { ':c': claim, ':gpk': networkKeys.claimIndex(accountId, networkId), ':gsk': `${claim.startedAt}#${claim.networkCallId}` },
          marshallOpts,
        ),
      }),
    );
  }

  async getClaim(accountId: string, networkId: string, networkCallId: string): Promise<StoredClaim | null> {
    const item = await getItem(this.client(), { TableName: this.table, Key: marshall({ pk: networkKeys.claims(accountId, networkId), sk: networkCallId }), ConsistentRead: true });
    return item === undefined ? null : storedClaim(item);
  }

  async claimsBetween(accountId: string, networkId: string, from: string, to: string): Promise<StoredClaim[]> {
    const out: StoredClaim[] = [];
    for await (const item of queryItems(this.client(), {
      TableName: this.table,
      IndexName: 'gsi1',
      // gsi1sk = <startedAt>#<networkCallId>: [from, to) since `to#…` sorts after `to`.
      KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': { S: networkKeys.claimIndex(accountId, networkId) }, ':from': { S: from }, ':to': { S: to } },
    })) {
      out.push(storedClaim(item));
    }
    return out;
  }

  async setClaimMatch(accountId: string, networkId: string, networkCallId: string, match: ClaimMatch): Promise<void> {
    await this.client().send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall({ pk: networkKeys.claims(accountId, networkId), sk: networkCallId }),
        UpdateExpression: 'SET #m = :m',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#m': 'match' },
        ExpressionAttributeValues: marshall({ ':m': match }, marshallOpts),
      }),
    );
  }

  async setCallNetwork(callId: string, attribution: CallNetworkAttribution): Promise<void> {
    try {
      await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(mainKeys.call(callId)),
          UpdateExpression: 'SET #n = :n',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#n': 'net' },
          ExpressionAttributeValues: marshall({ ':n': attribution }, marshallOpts),
        }),
      );
    } catch (err) {
      // A call erased meanwhile keeps no attribution.
      if (!isConditionFailure(err)) throw err;
    }
  }

  async putNetworkDispute(accountId: string, dispute: NetworkDispute): Promise<'created' | 'exists'> {
    try {
      await this.client().send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: networkKeys.disputes(accountId, dispute.networkId), sk: dispute.networkCallId, d: dispute }, marshallOpts),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'created';
    } catch (err) {
      if (isConditionFailure(err)) return 'exists';
      throw err;
    }
  }

  async networkDisputes(accountId: string, networkId: string, from: string, to: string): Promise<NetworkDispute[]> {
    const out: NetworkDispute[] = [];
    for await (const item of queryItems(this.client(), {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: networkKeys.disputes(accountId, networkId) } },
      ConsistentRead: true,
    })) {
      const d = unmarshall(item).d as NetworkDispute;
      if (d.startedAt >= from && d.startedAt < to) out.push(d);
    }
    return out.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.networkCallId < b.networkCallId ? -1 : 1));
  }
}

function storedClaim(item: Record<string, AttributeValue>): StoredClaim {
  const raw = unmarshall(item);
  return { claim: raw.claim as NetworkClaim, match: (raw.match as ClaimMatch | undefined) ?? null };
}
