/**
 * S3 buckets built from BUCKETS (infra/resources.ts), plus one server-access-log bucket they all log to.
 *
 * Every bucket: Block Public Access (all four settings), TLS-only bucket policy, SSE-S3 encryption, bucket-owner
 * object ownership (ACLs disabled). The recordings bucket is versioned (recordings are evidence: an overwrite or
 * delete keeps the previous version). Lifecycle rules come from BUCKETS.
 *
 * Bucket names are global across AWS, so the physical name gets the account and region appended.
 *
 * A bucket with `objectLock` (the seal anchors) is versioned with Object Lock default retention, always retained
 * (locked objects could not be emptied out of it anyway), and its policy denies any PutObject without
 * `If-None-Match` (S3 condition key `s3:if-none-match`): objects are created once and never get a second version.
 */
import { Aws, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectLockRetention,
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
    id: rule.id ?? `${rule.prefix.replace(/\W+/g, '-')}lifecycle`,
    prefix: rule.prefix,
    ...(rule.tags !== undefined ? { tagFilters: { ...rule.tags } } : {}),
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

    const build = (key: BucketKey, def: BucketDef): Bucket => {
      const lock = def.objectLock;
      const bucket = new Bucket(this, def.id, {
        ...common,
        ...(lock
          ? {
              removalPolicy: RemovalPolicy.RETAIN,
              autoDeleteObjects: false,
              objectLockEnabled: true,
              objectLockDefaultRetention: (lock.mode === 'COMPLIANCE' ? ObjectLockRetention.compliance : ObjectLockRetention.governance)(
                Duration.days(lock.retentionDays),
              ),
            }
          : {}),
        bucketName: globalName(def.id),
        versioned: VERSIONED.has(key) || lock !== undefined,
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
      if (lock) {
        bucket.addToResourcePolicy(
          new PolicyStatement({
            sid: 'DenyPutWithoutIfNoneMatch',
            effect: Effect.DENY,
            principals: [new AnyPrincipal()],
            actions: ['s3:PutObject'],
            resources: [bucket.arnForObjects('*')],
            conditions: { Null: { 's3:if-none-match': 'true' } },
          }),
        );
      }
      return bucket;
    };
    this.buckets = Object.fromEntries(
      (Object.entries(BUCKETS) as [BucketKey, BucketDef][]).map(([key, def]) => [key, build(key, def)]),
    ) as Record<BucketKey, Bucket>;
  }
}
