import { SFNClient } from '@aws-sdk/client-sfn';
import { endpoint, lazy } from './endpoint';

export const sfn = lazy(() => new SFNClient({ endpoint: endpoint('SFN') }));
