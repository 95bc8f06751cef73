/**
 * `npm run report`: the booked-revenue report of one campaign, read over the HTTP API (GET /v1/reports/sources and
 * GET /v1/reports/threshold), printed as a table and written as one self-contained HTML file (web/report-html.ts)
 * that opens without a server.
 *
 *   npm run report -- --campaign <id> [--from ISO] [--to ISO] [--group-by publisher|subSource] [--out FILE.html]
 *                     [--base-url URL --key KEY] [--stack [--seed-file FILE]]
 *
 * Where it reads from: --base-url (with --key, or CALLLEDGER_API_KEY); else the stack `npm start` is running
 * (.local/run.json), trying its API keys until one belongs to the campaign's account; else, with --stack, a stack
 * of its own (empty but for the seed: useful to see the empty report). The period defaults to the API's: the 30
 * days before now. Every answer is checked against the API's contract (shared/app/reports/reports.ts) before it is shown.
 *
 * `reportForCampaign` is the same thing as a function, for the demo's last step.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as z from 'zod';
import { SourcesReportSchema, ThresholdReportSchema } from '../shared/app/reports/reports';
import { renderReportHtml } from '../web/report-html';
import { viewFromApi, type ReportView } from '../web/report-model';
import { renderReportTable } from '../web/report-terminal';

const REPO_ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const USAGE =
  'usage: npm run report -- --campaign <id> [--from ISO] [--to ISO] [--group-by publisher|subSource] [--out FILE.html] ' +
  '[--base-url URL --key KEY] [--stack [--seed-file FILE]]';

class UsageError extends Error {}

export interface ReportTarget {
  readonly baseUrl: string;
  /** A bearer API key of the campaign's account (any role). */
  readonly key: string;
}

export interface ReportOptions {
  readonly campaignId: string;
  readonly from?: string;
  readonly to?: string;
  readonly groupBy?: 'publisher' | 'subSource';
  /** Default .local/reports/<campaignId>.html */
  readonly out?: string;
}

export interface WrittenReport {
  readonly view: ReportView;
  /** The terminal rendering. */
  readonly text: string;
  /** Absolute path of the HTML file. */
  readonly file: string;
}

async function getJson<S extends z.ZodType>(target: ReportTarget, path: string, query: Record<string, string>, schema: S): Promise<z.output<S>> {
  const url = `${target.baseUrl}${path}?${new URLSearchParams(query)}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${target.key}`, accept: 'application/json' }, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${text.slice(0, 500)}`);
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 8).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`GET ${path} answered JSON outside the report contract (shared/app/reports/reports.ts):\n  ${issues.join('\n  ')}`);
  }
  return parsed.data;
}

/** Reads both reports of a campaign and maps them to the view model. */
export async function fetchReportView(target: ReportTarget, req: ReportOptions): Promise<ReportView> {
  const period: Record<string, string> = { campaignId: req.campaignId, ...(req.from ? { from: req.from } : {}), ...(req.to ? { to: req.to } : {}) };
  const sources = await getJson(target, '/v1/reports/sources', { ...period, ...(req.groupBy ? { groupBy: req.groupBy } : {}) }, SourcesReportSchema);
  // The threshold over exactly the sources' period (the API's defaults are relative to its clock at each request).
  const threshold = await getJson(target, '/v1/reports/threshold', { ...period, from: sources.from, to: sources.to }, ThresholdReportSchema);
  return viewFromApi(sources, threshold);
}

export function defaultReportFile(campaignId: string): string {
  return join(REPO_ROOT, '.local', 'reports', `${campaignId}.html`);
}

/** Fetches, renders and writes the report; the caller prints `text` and `file`. */
export async function reportForCampaign(target: ReportTarget, req: ReportOptions): Promise<WrittenReport> {
  if (!ID.test(req.campaignId)) throw new UsageError('--campaign must be a campaign id (lower-case letters, digits, dashes)');
  const view = await fetchReportView(target, req);
  const file = resolve(req.out ?? defaultReportFile(req.campaignId));
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, renderReportHtml(view), 'utf8');
  return { view, text: renderReportTable(view), file };
}

// ------------------------------------------------------------------------------------------------ CLI

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      campaign: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'group-by': { type: 'string' },
      out: { type: 'string' },
      'base-url': { type: 'string' },
      key: { type: 'string' },
      stack: { type: 'boolean', default: false },
      'seed-file': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const campaignId = values.campaign;
  if (campaignId === undefined || !ID.test(campaignId)) throw new UsageError('--campaign <id> is required (lower-case letters, digits, dashes)');
  for (const name of ['from', 'to'] as const) {
    const v = values[name];
    if (v !== undefined && Number.isNaN(Date.parse(v))) throw new UsageError(`--${name} must be an ISO-8601 date-time, e.g. 2025-03-01T00:00:00Z`);
  }
  const groupBy = values['group-by'];
  if (groupBy !== undefined && groupBy !== 'publisher' && groupBy !== 'subSource') throw new UsageError('--group-by must be publisher or subSource');
  if (values.stack && values['base-url'] !== undefined) throw new UsageError('--stack and --base-url exclude each other');
  return {
    request: {
      campaignId,
      // The API wants a zone: normalise what Date.parse accepted.
      ...(values.from ? { from: new Date(values.from).toISOString() } : {}),
      ...(values.to ? { to: new Date(values.to).toISOString() } : {}),
      ...(groupBy ? { groupBy } : {}),
      ...(values.out ? { out: values.out } : {}),
    } satisfies ReportOptions,
    baseUrl: values['base-url']?.replace(/\/+$/, ''),
    key: values.key ?? process.env.CALLLEDGER_API_KEY,
    stack: values.stack,
    seedFile: values['seed-file'],
  };
}

/** The first key (admin keys first) whose account has the campaign: GET /v1/campaigns/{id} answers 200. */
async function keyForCampaign(baseUrl: string, keys: readonly { key: string; role: string }[], campaignId: string): Promise<string> {
  const ordered = [...keys].sort((a, b) => Number(b.role === 'admin') - Number(a.role === 'admin'));
  for (const k of ordered) {
    const res = await fetch(`${baseUrl}/v1/campaigns/${encodeURIComponent(campaignId)}`, { headers: { authorization: `Bearer ${k.key}` }, signal: AbortSignal.timeout(10_000) });
    await res.body?.cancel();
    if (res.status === 200) return k.key;
  }
  throw new UsageError(`no API key of the stack at ${baseUrl} belongs to an account with campaign ${campaignId}`);
}

async function main(): Promise<number> {
  let opts: ReturnType<typeof parseOptions>;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  if (opts === null) {
    console.log(USAGE);
    return 0;
  }

  let owned: { stop(): Promise<void> } | undefined;
  try {
    let target: ReportTarget;
    if (opts.baseUrl !== undefined) {
      if (!opts.key) throw new UsageError('--base-url needs --key (or CALLLEDGER_API_KEY)');
      target = { baseUrl: opts.baseUrl, key: opts.key };
    } else if (opts.stack) {
      console.log('starting a stack (DynamoDB Local, fauxqs, handlers)…');
      const { startLocalStack } = await import('../infra/local/stack');
      const stack = await startLocalStack({ port: 0, quiet: true, ...(opts.seedFile ? { seedFile: opts.seedFile } : {}) });
      owned = stack;
      target = { baseUrl: stack.baseUrl, key: opts.key ?? (await keyForCampaign(stack.baseUrl, stack.secrets.apiKeys, opts.request.campaignId)) };
    } else {
      const { readRunFile } = await import('../infra/local/run-file');
      const run = readRunFile();
      if (run === null) throw new UsageError('no running stack (.local/run.json): start one with `npm start`, or pass --base-url and --key, or --stack');
      target = { baseUrl: run.baseUrl, key: opts.key ?? (await keyForCampaign(run.baseUrl, run.apiKeys, opts.request.campaignId)) };
    }
    const report = await reportForCampaign(target, opts.request);
    console.log(`\n${report.text}\n`);
    console.log(`HTML report: ${report.file}`);
    console.log(`             ${pathToFileURL(report.file).href}`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n${USAGE}`);
      return 2;
    }
    console.error(`report failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await owned?.stop();
  }
}

// Run as a script (npm run report), not when imported (the demo).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
