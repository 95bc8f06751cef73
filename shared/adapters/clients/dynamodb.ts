import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { endpoint, lazy } from './endpoint';

export const dynamodb = lazy(() => new DynamoDBClient({ endpoint: endpoint('DYNAMODB') }));
