/**
 * Lambda: the task states of the pilot workflow (infra/pilot-workflow.ts). One function for every task; the state's
 * Parameters name the `action` (activate, check, close, report, fail) and the pilot. Thin: parse, run the use case
 * (shared/app/pilots/tasks.ts), return its result to the state machine. An error is thrown back to Step Functions,
 * whose Retry (backoff) and Catch handle it. The local stack binds the same handler to the same states.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { loadConfig } from '../shared/adapters/platform/env';
import { logger } from '../shared/adapters/platform/log';
import { pilotTaskDeps } from '../shared/adapters/pilots/deps';
import { loadPilotConfig } from '../shared/adapters/pilots/env';
import { parseTaskInput, runPilotTask, type CheckResult, type TaskResult } from '../shared/app/pilots/tasks';

const config = loadConfig(['mainTable', 'ledgerTable', 'archiveBucket']);
const deps = pilotTaskDeps(config, loadPilotConfig());

export const handler = middy<unknown, TaskResult | CheckResult>()
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .handler((event) => runPilotTask(parseTaskInput(event), deps));
