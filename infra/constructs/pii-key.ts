/**
 * The KMS key caller numbers are sealed under ("PII"; shared/adapters/privacy/pii-cipher.ts): the ledger writer
 * makes one data key a day with GenerateDataKey and stores it KMS-encrypted in the main table; the writer and the
 * API decrypt those stored data keys. No function ever calls Encrypt: the numbers are sealed with the data keys.
 * Annual rotation is on; old key material keeps decrypting old data keys.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface PiiKeyProps {
  readonly resourcePrefix: string;
  readonly removalPolicy: RemovalPolicy;
}

export class PiiKey extends Construct {
  readonly key: Key;

  constructor(scope: Construct, id: string, props: PiiKeyProps) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      alias: `alias/${props.resourcePrefix}-pii`,
      description: 'CallLedger: data keys that seal caller numbers on call items',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
      // A deleted key loses every sealed number: the longest waiting period, to cancel a mistake.
      pendingWindow: Duration.days(30),
    });
  }

  /** The PII_KEY_REF value the functions resolve (`kms:<key arn>`). */
  get keyRef(): string {
    return `kms:${this.key.keyArn}`;
  }

  /** The ledger writer: make the day's data key, and open one another container made. */
  grantSeal(grantee: IGrantable): void {
    this.key.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
  }

  /** The API: open the data keys of the numbers it shows. */
  grantOpen(grantee: IGrantable): void {
    this.key.grant(grantee, 'kms:Decrypt');
  }
}
