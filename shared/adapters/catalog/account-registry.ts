/**
 * Which accounts exist, for jobs that visit every account (the ledger sealer).
 *
 * Account items live under their own partition (`ACCT#<accountId>` / `ACCOUNT`), so no key lists them, and a Scan
 * of the main table to find them would read every call item. Instead the account item also carries
 * `gsi1pk = ACCOUNTS`, `gsi1sk = <accountId>`: it appears once more in the main table's `gsi1` under one fixed
 * partition, and listing the accounts is one Query of that partition. Nothing else is written: the account item is
 * its own registry entry, so the two cannot disagree. (Call items use `gsi1pk = ACCT#<accountId>`, never
 * `ACCOUNTS`.) Accounts are few and written rarely, so one partition is no hot key.
 *
 * The seed loader adds the attributes (infra/local/stack.ts `seedItems`); an account item written without them is
 * not visited until it is written again with them.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { TABLES } from '../../../infra/resources';
import type { AccountDirectory } from '../../app/ledger/seal-accounts';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { queryItems } from '../platform/dynamodb/ddb-ops';

const GSI1 = TABLES.main.globalSecondaryIndexes[0];

/** The fixed `gsi1pk` of account items. */
export const ACCOUNT_REGISTRY_PK = 'ACCOUNTS';

/** The attributes that register an account item (spread them into the item next to its keys). */
export function accountRegistryKeys(accountId: string): Record<string, string> {
  return { [GSI1.partitionKey.name]: ACCOUNT_REGISTRY_PK, [GSI1.sortKey.name]: accountId };
}

export class AccountRegistry implements AccountDirectory {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: { mainTable: string; client?: DynamoDBClient }) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
  }

  /** Every registered account id, in id order (all pages). */
  async listAccountIds(): Promise<string[]> {
    const ids: string[] = [];
    const items = queryItems(this.client(), {
      TableName: this.table,
      IndexName: GSI1.indexName,
      KeyConditionExpression: '#pk = :pk',
      ProjectionExpression: '#sk',
      ExpressionAttributeNames: { '#pk': GSI1.partitionKey.name, '#sk': GSI1.sortKey.name },
      ExpressionAttributeValues: { ':pk': { S: ACCOUNT_REGISTRY_PK } },
    });
    for await (const item of items) ids.push(unmarshall(item)[GSI1.sortKey.name] as string);
    return ids;
  }
}
