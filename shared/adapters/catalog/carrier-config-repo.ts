/** The account item's carrier settings (shared/domain/catalog/carriers.ts), written only to an account that exists. */
import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { CarrierConfigStore } from '../../app/catalog/carrier-config';
import { SETTINGS_CARRIERS, type CarrierConfigs, type SettingsCarrier } from '../../domain/catalog/carriers';
import { mainKeys } from '../calls/keys';
import { dynamodbClient } from '../platform/clients/dynamodb';

export class CarrierConfigRepo implements CarrierConfigStore {
  private readonly client: () => DynamoDBClient;

  constructor(private readonly options: { mainTable: string; client?: DynamoDBClient }) {
    this.client = dynamodbClient(options.client);
  }

  async putCarrierConfig(accountId: string, carrier: SettingsCarrier, config: NonNullable<CarrierConfigs[SettingsCarrier]>): Promise<boolean> {
    try {
      await this.client().send(
        new UpdateItemCommand({
          TableName: this.options.mainTable,
          Key: marshall(mainKeys.account(accountId)),
          UpdateExpression: 'SET #c = :c',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#c': carrier },
          ExpressionAttributeValues: marshall({ ':c': config }, { removeUndefinedValues: true }),
        }),
      );
      return true;
    } catch (err) {
      if ((err as { name?: string } | null)?.name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  async readCarrierConfigs(accountId: string): Promise<CarrierConfigs | null> {
    const out = await this.client().send(
      new GetItemCommand({
        TableName: this.options.mainTable,
        Key: marshall(mainKeys.account(accountId)),
        ConsistentRead: true,
        ProjectionExpression: ['pk', ...SETTINGS_CARRIERS.map((_, i) => `#c${i}`)].join(', '),
        ExpressionAttributeNames: Object.fromEntries(SETTINGS_CARRIERS.map((c, i) => [`#c${i}`, c])),
      }),
    );
    if (out.Item === undefined) return null;
    const item = unmarshall(out.Item) as CarrierConfigs;
    return Object.fromEntries(SETTINGS_CARRIERS.flatMap((c) => (item[c] ? [[c, item[c]]] : []))) as CarrierConfigs;
  }
}
