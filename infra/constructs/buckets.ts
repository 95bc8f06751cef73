/**
 * S3 buckets built from BUCKETS (infra/resources.ts), plus one server-access-log bucket they all log to.
 *
 * Every bucket: Block Public Access (all four settings), TLS-only bucket policy, SSE-S3 encryption, bucket-owner
 * object ownership (ACLs disabled). The recordings bucket is versioned (recordings are evidence: an overwrite or
 * delete keeps the previous version). Lifecycle rules come from BUCKETS.
 *
 * Bucket names are global across AWS, so the physical name gets the account and region appended.
 */
import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectOwnership,
  StorageClass,
  type LifecycleRule,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BUCKETS, physicalName, type BucketDef } from '../resources';

export type BucketKey = keyof typeof BUCKETS;

export interface StorageBucketsProps {
  readonly resourcePrefix: string;
  readonly removalPolicy: RemovalPolicy;
  /** Days to keep server access logs. */
  readonly accessLogRetentionDays: number;
}

/** Buckets whose objects must survive overwrites and deletes. */
const VERSIONED: ReadonlySet<BucketKey> = new Set<BucketKey>(['recordings']);

function lifecycleRules(def: BucketDef): LifecycleRule[] {
  return def.lifecycle.map((rule) => ({
    id: `${rule.prefix.replace(/\W+/g, '-')}lifecycle`,
    prefix: rule.prefix,
    ...(rule.transitionToIaDays !== undefined
      ? {
          transitions: [
            { storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(rule.transitionToIaDays) },
          ],
        }
      : {}),
    ...(rule.expireDays !== undefined ? { expiration: Duration.days(rule.expireDays) } : {}),
    abortIncompleteMultipartUploadAfter: Duration.days(7),
  }));
}

export class StorageBuckets extends Construct {
  readonly buckets: Record<BucketKey, Bucket>;
  readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: StorageBucketsProps) {
    super(scope, id);
    const globalName = (id: string): string =>
      `${physicalName(props.resourcePrefix, id)}-${Aws.ACCOUNT_ID}-${Aws.REGION}`;
    // `destroy` (dev) also empties the bucket on stack deletion; otherwise CloudFormation cannot delete it.
    const destroy = props.removalPolicy === RemovalPolicy.DESTROY;
    const common = {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: destroy,
    } as const;

    this.accessLogs = new Bucket(this, 'AccessLogs', {
      ...common,
      bucketName: globalName('access-logs'),
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(props.accessLogRetentionDays) }],
    });

    const build = (key: BucketKey, def: BucketDef): Bucket =>
      new Bucket(this, def.id, {
        ...common,
        bucketName: globalName(def.id),
        versioned: VERSIONED.has(key),
        lifecycleRules: [
          ...lifecycleRules(def),
          // Versioning keeps overwritten/deleted objects for recovery, but not forever.
          ...(VERSIONED.has(key)
            ? [{ id: 'expire-noncurrent-versions', noncurrentVersionExpiration: Duration.days(90) }]
            : []),
        ],
        serverAccessLogsBucket: this.accessLogs,
        serverAccessLogsPrefix: `${def.id.toLowerCase()}/`,
      });
    this.buckets = Object.fromEntries(
      (Object.entries(BUCKETS) as [BucketKey, BucketDef][]).map(([key, def]) => [key, build(key, def)]),
    ) as Record<BucketKey, Bucket>;
  }
}
