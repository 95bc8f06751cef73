/**
 * `npm run aggregates:rebuild`: refreshes the daily aggregates of one campaign's calls from the calls themselves
 * (shared/app/reports/aggregates.ts `rebuildCalls`), for the cases the stream cannot cover on its own: calls stored before
 * the stream and its consumer existed, and an account whose time zone changed (cells are keyed by local day).
 * Idempotent and safe next to the running aggregator: every refresh is conditional on what it read, so running it
 * twice, or while calls change, leaves the cells exact; an up-to-date call costs two reads and no write.
 *
 *   npm run aggregates:rebuild -- --account <id> --campaign <id> [--from ISO] [--to ISO]
 *
 * Against the stack `npm start` runs (found through .local/run.json), or in AWS with MAIN_TABLE and
 * AGGREGATES_TABLE set (and the usual AWS credentials and region). The period defaults to everything up to now.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { aggregatorDeps } from '../../shared/adapters/reports/deps';
import { CampaignCallsReader } from '../../shared/adapters/reports/campaign-calls';
import { loadConfig } from '../../shared/adapters/platform/env';
import { rebuildCalls } from '../../shared/app/reports/aggregates';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/emulators';
import { readRunFile } from '../local/run-file';

const USAGE = 'usage: npm run aggregates:rebuild -- --account <id> --campaign <id> [--from ISO] [--to ISO]';

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: { account: { type: 'string' }, campaign: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
  strict: true,
});
if (values.account === undefined || values.campaign === undefined) fail('--account and --campaign are required.');
const from = values.from ?? '1970-01-01T00:00:00.000Z';
const to = values.to ?? new Date().toISOString();
for (const [flag, v] of [['--from', from], ['--to', to]] as const) if (Number.isNaN(Date.parse(v))) fail(`${flag} is not an ISO instant: ${v}`);

const run = process.env.MAIN_TABLE === undefined ? readRunFile() : null;
const tables = run !== null ? { mainTable: run.names.mainTable, aggregatesTable: run.names.aggregatesTable } : loadConfig(['mainTable', 'aggregatesTable']);
const client = run !== null ? new DynamoDBClient({ endpoint: run.endpoints.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }) : new DynamoDBClient({});

const reader = new CampaignCallsReader({ mainTable: tables.mainTable, client });
const deps = aggregatorDeps(tables, client);
let seen = 0;
async function* callIds(): AsyncGenerator<string> {
  for await (const call of reader.streamCampaignCalls(values.account!, values.campaign!, new Date(Date.parse(from)).toISOString(), new Date(Date.parse(to)).toISOString(), { termsVersions: [] })) {
    seen += 1;
    if (seen % 1000 === 0) console.log(`… ${seen.toLocaleString('en-US')} calls`);
    yield call.callId;
  }
}

const started = performance.now();
const result = await rebuildCalls(callIds(), deps);
console.log(
  `${values.campaign}: ${result.refreshed.toLocaleString('en-US')} calls refreshed, ${result.applied.toLocaleString('en-US')} changed their cells ` +
    `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
);
client.destroy();
