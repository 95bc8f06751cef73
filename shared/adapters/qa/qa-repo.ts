/**
 * QA verdicts in the main table (rules in shared/domain/qa/qa.ts, docs/CONTRACTS.md "QA"):
 *
 *   the call item's `qa` attribute        the verdict in force (call-item.ts encodeQa), which the campaign index
 *                                         (gsi3, ALL) carries to the scorecard and to QA samples;
 *   pk = ACCT#<accountId>                 one history item per verdict ever recorded (verdict, note, reviewer,
 *   sk = QA#<callId>#<reviewedAt>         reviewedAt): a later verdict supersedes on the call, never here.
 *
 * Both are written in ONE TransactWriteItems: the call's UpdateItem (condition: the call is the account's) and the
 * history Put (condition: absent; two verdicts of one call in the same millisecond lose one race, a 409 to retry).
 * The api role already has UpdateItem and PutItem on the main table.
 */
import { QueryCommand, TransactWriteItemsCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { CallQa } from '../../domain/qa/qa';
import { ConfigWriteConflict } from '../../app/kernel/ports';
import type { QaStore } from '../../app/qa/qa';
import { encodeQa } from '../calls/call-item';
import { dynamodbClient } from '../platform/clients/dynamodb';
import { mainKeys } from '../calls/keys';

export const qaKeys = {
  pk: (accountId: string) => `ACCT#${accountId}`,
  sk: (callId: string, reviewedAt: string) => `QA#${callId}#${reviewedAt}`,
  prefix: (callId: string) => `QA#${callId}#`,
};

export interface QaRepoOptions {
  mainTable: string;
  client?: DynamoDBClient;
}

export class QaRepo implements QaStore {
  private readonly table: string;
  private readonly client: () => DynamoDBClient;

  constructor(options: QaRepoOptions) {
    this.table = options.mainTable;
    const client = options.client;
    this.client = dynamodbClient(client);
  }

  /** The verdict on the call and in its history, atomically; ConfigWriteConflict when a condition failed. */
  async recordVerdict(accountId: string, callId: string, qa: CallQa): Promise<void> {
    try {
      await this.client().send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: marshall(mainKeys.call(callId)),
                UpdateExpression: 'SET #qa = :qa',
                ConditionExpression: '#acct = :acct',
                ExpressionAttributeNames: { '#qa': 'qa', '#acct': 'accountId' },
                ExpressionAttributeValues: { ':qa': encodeQa(qa), ':acct': { S: accountId } },
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: marshall({ pk: qaKeys.pk(accountId), sk: qaKeys.sk(callId, qa.reviewedAt), callId, ...qa }),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    } catch (err) {
      const name = (err as { name?: string } | null)?.name;
      if (name === 'TransactionCanceledException' || name === 'TransactionConflictException') {
        throw new ConfigWriteConflict(`qa ${callId}`);
      }
      throw err;
    }
  }

  /** Every verdict recorded on the call, oldest first (strongly consistent). */
  async history(accountId: string, callId: string): Promise<CallQa[]> {
    const out = await this.client().send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': { S: qaKeys.pk(accountId) }, ':prefix': { S: qaKeys.prefix(callId) } },
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map((item) => {
      const r = unmarshall(item) as CallQa;
      return { verdict: r.verdict, note: r.note ?? null, reviewer: r.reviewer, reviewedAt: r.reviewedAt };
    });
  }
}
