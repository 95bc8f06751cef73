/**
 * `npx tsx events/voice/cli.ts --scripts calls.json`: plays a JSON array of call scripts (script.ts) through the
 * running local stack's voice URL (the stack of .local/run.json, or --run-file), signed with the Twilio credentials
 * the stack generated, and prints progress, the routing summary and each call's outcome. PUBLIC_BASE_URL, when set,
 * is the URL signed over (the stack's own rule); requests still go to the stack's base URL. --out writes every
 * trace and ground truth as JSON. Exit 1 when a call was refused (TwiML Twilio would not run) or a script is invalid.
 * Caller numbers are personal data: the output names call SIDs and the buyers' destinations, never a caller.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as z from 'zod';
import { RUN_FILE, readRunFile } from '../../infra/local/run-file';
import { CallScriptSchema } from './script';
import { playCalls, progressLine, summarize } from './run';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scripts: { type: 'string' },
      'run-file': { type: 'string' },
      concurrency: { type: 'string', default: '8' },
      out: { type: 'string' },
    },
    strict: true,
  });
  if (values.scripts === undefined) {
    console.error('usage: tsx events/voice/cli.ts --scripts calls.json [--run-file .local/run.json] [--concurrency 8] [--out results.json]');
    return 2;
  }
  const parsed = z.array(CallScriptSchema).safeParse(JSON.parse(await readFile(values.scripts, 'utf8')));
  if (!parsed.success) {
    console.error(`invalid scripts:\n${z.prettifyError(parsed.error)}`);
    return 1;
  }
  const run = readRunFile(values['run-file'] ?? RUN_FILE);
  if (run === null) {
    console.error('no running local stack (npm start writes .local/run.json)');
    return 1;
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    console.error('--concurrency must be a whole number from 1 to 256');
    return 2;
  }
  const results = await playCalls(
    parsed.data,
    { publicBaseUrl: process.env.PUBLIC_BASE_URL || run.baseUrl, baseUrl: run.baseUrl, accounts: run.twilio },
    { concurrency, onProgress: progressLine() },
  );
  for (const r of results) {
    if (!r.ok) console.log(`call ${r.index + 1}: refused — ${r.error.message}`);
    else console.log(`${r.trace.callSid}  ${r.truth.finalStatus.padEnd(9)} ${(r.truth.answeredTarget ?? '—').padEnd(28)} talk ${String(r.truth.talkSec).padStart(5)} s  ${r.truth.billable ? 'billable' : 'not billable'}`);
  }
  const s = summarize(results);
  console.log(`\n${s.calls} calls: ${s.answered} answered, ${s.rejected} rejected, ${s.connected} connected, ${s.billable} billable, ${s.talkSec} s of talk, ${s.failed} refused`);
  for (const [target, row] of Object.entries(s.byTarget)) console.log(`  ${target.padEnd(28)} connected ${row.connected}  billable ${row.billable}  talk ${row.talkSec} s`);
  if (values.out !== undefined) await writeFile(values.out, `${JSON.stringify(results, (k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v), 2)}\n`);
  return s.failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
