/** The adapters behind the compliance routes (DNC lists, consent, settings), built once per container. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ComplianceDeps } from '../../app/compliance/compliance';
import type { SecretStore } from '../../app/kernel/ports';
import { dynamodbClient } from '../platform/clients/dynamodb';
import type { Config } from '../platform/env';
import { SecretResolver } from '../platform/secrets';
import { AccountComplianceRepo } from './account-compliance-repo';
import { ConsentRepo } from './consent-repo';
import { DncRepo } from './dnc-repo';

export interface ComplianceDepsOptions {
  readonly client?: DynamoDBClient;
  readonly secrets?: Pick<SecretStore, 'resolve'>;
  readonly now?: () => Date;
}

/** The adapters behind COMPLIANCE_ROUTES, built from the configuration functions/api.ts loads. */
export function complianceDeps(config: Pick<Config, 'mainTable' | 'callerHashKeyRef'>, options: ComplianceDepsOptions = {}): ComplianceDeps {
  const secrets = options.secrets ?? new SecretResolver();
  const now = options.now ?? (() => new Date());
  const client = options.client;
  return {
    dnc: new DncRepo({ mainTable: config.mainTable, client, now: () => now().getTime() }),
    consent: new ConsentRepo({ mainTable: config.mainTable, client }),
    settings: new AccountComplianceRepo(config.mainTable, dynamodbClient(client)),
    callerHashKey: () => secrets.resolve(config.callerHashKeyRef),
    now,
  };
}
