/** The account item's compliance settings (and its recording retention), written only to an account that exists. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { ComplianceSettingsStore } from '../../app/compliance/compliance';
import type { ComplianceSettings } from '../../domain/compliance/consent';
import { mainKeys } from '../calls/main-repo';

export class AccountComplianceRepo implements ComplianceSettingsStore {
  constructor(
    private readonly table: string,
    private readonly client: () => DynamoDBClient,
  ) {}

  async putCompliance(accountId: string, settings: ComplianceSettings, recordingRetentionDays?: number): Promise<boolean> {
    try {
      await this.client().send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(mainKeys.account(accountId)),
          UpdateExpression: recordingRetentionDays === undefined ? 'SET compliance = :c' : 'SET compliance = :c, recordingRetentionDays = :r',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: marshall({ ':c': settings, ...(recordingRetentionDays === undefined ? {} : { ':r': recordingRetentionDays }) }),
        }),
      );
      return true;
    } catch (err) {
      if ((err as { name?: string } | null)?.name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }
}
