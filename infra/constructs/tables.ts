/**
 * DynamoDB tables built from TABLES (infra/resources.ts): keys, indexes and TTL come from there only.
 * On-demand capacity, point-in-time recovery always on, AWS-managed encryption (no KMS grants needed by roles).
 */
import type { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, StreamViewType, Table, TableEncryption, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLES, physicalName, type KeyDef, type TableDef } from '../resources';

export type TableKey = keyof typeof TABLES;

export interface DataTablesProps {
  readonly resourcePrefix: string;
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
}

function attribute(key: KeyDef): Attribute {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}

export class DataTables extends Construct {
  readonly tables: Record<TableKey, Table>;

  constructor(scope: Construct, id: string, props: DataTablesProps) {
    super(scope, id);
    const build = (def: TableDef): Table => {
      const table = new Table(this, def.id, {
        tableName: physicalName(props.resourcePrefix, def.id),
        partitionKey: attribute(def.partitionKey),
        sortKey: attribute(def.sortKey),
        billingMode: BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: TableEncryption.AWS_MANAGED,
        deletionProtection: props.deletionProtection,
        removalPolicy: props.removalPolicy,
        ...(def.timeToLiveAttribute ? { timeToLiveAttribute: def.timeToLiveAttribute } : {}),
        ...(def.stream === undefined ? {} : { stream: def.stream === 'KEYS_ONLY' ? StreamViewType.KEYS_ONLY : StreamViewType.NEW_AND_OLD_IMAGES }),
      });
      for (const index of def.globalSecondaryIndexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.indexName,
          partitionKey: attribute(index.partitionKey),
          sortKey: attribute(index.sortKey),
          projectionType: index.projection === 'KEYS_ONLY' ? ProjectionType.KEYS_ONLY : ProjectionType.ALL,
        });
      }
      return table;
    };
    this.tables = Object.fromEntries(
      (Object.entries(TABLES) as [TableKey, TableDef][]).map(([key, def]) => [key, build(def)]),
    ) as Record<TableKey, Table>;
  }
}
