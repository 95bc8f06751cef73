/**
 * Explicit, least-privilege IAM statements for the function roles.
 *
 * The L2 helpers (`table.grantReadWriteData`, `grantWriteData`) are deliberately not used for DynamoDB: they grant
 * UpdateItem, DeleteItem and BatchWriteItem, which the append-only ledger must never get, and `table/index/*`
 * wildcards. Here every action is named, every index ARN is spelled out from TABLES, and `grantTable` refuses
 * mutating actions on an append-only table at synth time (the template test proves the result independently).
 *
 * DynamoDB transactions have no IAM action of their own: each action inside TransactWriteItems is authorised as
 * its underlying operation (Put → dynamodb:PutItem, Update → dynamodb:UpdateItem, ConditionCheck →
 * dynamodb:ConditionCheckItem). The condition key `dynamodb:EnclosingOperation` says which API carried it; see
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
 */
import { Aws, Stack } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { TableDef } from '../resources';

/** Reads: single items, batches of keys, queries on the table and its indexes. No Scan. */
export const DDB_READ = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:DescribeTable'] as const;
/** Item writes on a mutable table (the main table's call items and markers). No deletes: TTL does that. */
export const DDB_WRITE = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'] as const;
/** Appending to an append-only table: new items only, via TransactWriteItems (see `grantLedgerAppend`). */
export const DDB_APPEND = ['dynamodb:PutItem', 'dynamodb:ConditionCheckItem'] as const;

/** Actions that can change or remove an existing item; never granted on an append-only table. */
export const DDB_MUTATING_ACTIONS: readonly string[] = [
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
  // PartiQL INSERT cannot overwrite, but it is also not how the ledger is written; keep the surface minimal.
  'dynamodb:PartiQLInsert',
];

/** The table ARN and the ARN of each of its indexes, named explicitly (no `index/*`). */
export function tableResources(table: Table, def: TableDef, includeIndexes: boolean): string[] {
  return [
    table.tableArn,
    ...(includeIndexes ? def.globalSecondaryIndexes.map((i) => `${table.tableArn}/index/${i.indexName}`) : []),
  ];
}

export function grantTable(grantee: IGrantable, table: Table, def: TableDef, actions: readonly string[]): void {
  if (def.appendOnly) {
    const forbidden = actions.filter((a) => a.includes('*') || DDB_MUTATING_ACTIONS.includes(a));
    if (forbidden.length > 0) {
      throw new Error(`table ${def.id} is append-only: refusing to grant ${forbidden.join(', ')}`);
    }
  }
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      effect: Effect.ALLOW,
      actions: [...actions],
      // Queries may use the indexes; item-level writes address the base table only.
      resources: tableResources(table, def, actions.includes('dynamodb:Query')),
    }),
  );
}

/**
 * PutItem + ConditionCheckItem on an append-only table, allowed only inside TransactWriteItems: a ledger entry is
 * written in the same transaction as the call's rating (CONTRACTS.md), never on its own. `attribute_not_exists`
 * conditions in that transaction make PutItem create-only in practice; IAM makes every other path impossible.
 */
export function grantLedgerAppend(grantee: IGrantable, table: Table, def: TableDef): void {
  if (!def.appendOnly) throw new Error(`grantLedgerAppend is for append-only tables; ${def.id} is not`);
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      effect: Effect.ALLOW,
      actions: [...DDB_APPEND],
      resources: [table.tableArn],
      conditions: { 'ForAnyValue:StringEquals': { 'dynamodb:EnclosingOperation': ['TransactWriteItems'] } },
    }),
  );
}

/**
 * PutItem on an append-only table, only for items whose partition key starts with `pkPrefix` (IAM condition key
 * `dynamodb:LeadingKeys`, required present): the sealer stores seals under `SEAL#<accountId>` and can never put
 * an item under an entry's partition (`ACCT#<accountId>`). No UpdateItem or DeleteItem, as for every other role.
 */
export function grantPartitionPut(grantee: IGrantable, table: Table, def: TableDef, pkPrefix: string): void {
  if (!def.appendOnly) throw new Error(`grantPartitionPut is for append-only tables; ${def.id} is not`);
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      effect: Effect.ALLOW,
      actions: ['dynamodb:PutItem'],
      resources: [table.tableArn],
      conditions: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${pkPrefix}*`] },
        Null: { 'dynamodb:LeadingKeys': 'false' },
      },
    }),
  );
}

/**
 * ssm:GetParameter(s) on parameters under `<ssmPrefix><subPath>` (a trailing `*` is added when subPath ends in
 * `/`), and kms:Decrypt for SecureStrings, only when SSM calls KMS on the function's behalf.
 */
export function grantSsmRead(grantee: IGrantable, scope: Stack, ssmPrefix: string, subPath: string): void {
  const name = `${ssmPrefix}${subPath}`.replace(/^\//, '');
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      effect: Effect.ALLOW,
      actions: ['ssm:GetParameter', 'ssm:GetParameters'],
      resources: [
        scope.formatArn({ service: 'ssm', resource: 'parameter', resourceName: name.endsWith('/') ? `${name}*` : name }),
      ],
    }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      effect: Effect.ALLOW,
      actions: ['kms:Decrypt'],
      resources: [scope.formatArn({ service: 'kms', resource: 'key', resourceName: '*' })],
      conditions: { StringEquals: { 'kms:ViaService': `ssm.${Aws.REGION}.amazonaws.com` } },
    }),
  );
}

/**
 * `actions` on a mutable table's items, only for partition keys starting with one of `pkPrefixes`
 * (`dynamodb:LeadingKeys`, required present): e.g. the quality pass may UpdateItem call items (`CALL#`) but no
 * configuration, marker or pilot item. Item-level actions only (no Query: index keys are not leading keys).
 */
export function grantPartitionItems(grantee: IGrantable, table: Table, def: TableDef, actions: readonly string[], pkPrefixes: readonly string[]): void {
  if (def.appendOnly) throw new Error(`grantPartitionItems is for mutable tables; ${def.id} is append-only`);
  if (actions.some((a) => a === 'dynamodb:Query' || a === 'dynamodb:Scan' || a.includes('*'))) throw new Error('grantPartitionItems grants item actions only');
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      effect: Effect.ALLOW,
      actions: [...actions],
      resources: [table.tableArn],
      conditions: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': pkPrefixes.map((p) => `${p}*`) },
        Null: { 'dynamodb:LeadingKeys': 'false' },
      },
    }),
  );
}
