import { SSMClient } from '@aws-sdk/client-ssm';
import { endpoint, lazy } from './endpoint';

export const ssm = lazy(() => new SSMClient({ endpoint: endpoint('SSM') }));
