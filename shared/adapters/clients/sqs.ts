import { SQSClient } from '@aws-sdk/client-sqs';
import { endpoint, lazy } from './endpoint';

export const sqs = lazy(() => new SQSClient({ endpoint: endpoint('SQS') }));
