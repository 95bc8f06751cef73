/**
 * Each function's Lambda bundle and its module-load (init) time.
 *
 * The bundle is built with infra/bundling.ts, the options the CDK NodejsFunction uses (ESM, node24, minified,
 * tree-shaken, AWS SDK v3 external: the Lambda runtime provides it). The load time is measured in a fresh Node 24
 * process per sample, importing the bundle with the function's environment set: what a cold start pays before
 * the first event, minus Lambda's own init. The bundles are written inside the repository so that the external
 * `@aws-sdk/*` imports resolve to node_modules, as they resolve to the runtime's copy in Lambda: their load
 * time is part of the figure, their bytes are not part of the bundle size.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { BUNDLE_OPTIONS } from '../infra/bundling';
import { FUNCTIONS, type FunctionId } from '../infra/resources';
import { REPO_ROOT } from '../infra/local/emulators';
import { LOCAL_INVOKE_ENV } from '../infra/local/invoke';
import { median, round } from './instrument';

const execFileAsync = promisify(execFile);

/** The v24 binary the project pins (system node may be older). */
const NODE_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'node');

export interface BundleFigures {
  readonly fn: FunctionId;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Median of the samples, ms, with the Lambda's NODE_OPTIONS (--enable-source-maps). */
  readonly loadMs: number;
  readonly loadSamplesMs: readonly number[];
  /** The external packages the bundle imports (resolved from the Lambda runtime in AWS). */
  readonly externalImports: readonly string[];
  /** Median time to import those external packages alone, in a fresh process: their share of `loadMs`. */
  readonly externalLoadMs: number;
  /** The largest contributors to the minified output (npm package, or first two path segments of our code). */
  readonly topInputs: readonly { readonly input: string; readonly kb: number }[];
}

/** One bundle per build: the .mjs output (the other one is its source map). */
function jsOutput(metafile: Metafile): Metafile['outputs'][string] | undefined {
  return Object.entries(metafile.outputs).find(([path]) => path.endsWith('.mjs'))?.[1];
}

/** Bytes in the output per package (or per top folder of our own code), from esbuild's metafile. */
function contributors(metafile: Metafile): { input: string; kb: number }[] {
  const output = jsOutput(metafile);
  const totals = new Map<string, number>();
  for (const [file, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? file.split('/').slice(0, 2).join('/');
    totals.set(pkg, (totals.get(pkg) ?? 0) + bytesInOutput);
  }
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([input, bytes]) => ({ input, kb: round(bytes / 1024, 1) }));
}

async function bundle(fn: FunctionId, outdir: string): Promise<{ outfile: string; metafile: Metafile }> {
  const outfile = join(outdir, fn, 'index.mjs');
  const result = await build({
    ...BUNDLE_OPTIONS,
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    external: [...BUNDLE_OPTIONS.external],
    entryPoints: [join(REPO_ROOT, FUNCTIONS[fn].entry)],
    outfile,
    absWorkingDir: REPO_ROOT,
    logLevel: 'error',
    metafile: true,
  });
  return { outfile, metafile: result.metafile };
}

/**
 * One fresh process: time the dynamic imports of `specifiers` (in order), in-process, with performance.now().
 * Run from the bundle's folder, so bare specifiers resolve as the bundle's own imports do.
 */
async function loadOnce(specifiers: readonly string[], cwd: string, env: Record<string, string>): Promise<number> {
  const imports = specifiers.map((s) => `await import(${JSON.stringify(s)});`).join(' ');
  const script = `const t = performance.now(); ${imports} process.stdout.write(String(performance.now() - t));`;
  const { stdout } = await execFileAsync(NODE_BIN, ['--input-type=module', '-e', script], {
    cwd,
    // The function's NODE_OPTIONS in Lambda (infra/constructs/ledger-function.ts).
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, NODE_OPTIONS: '--enable-source-maps' },
    timeout: 30_000,
  });
  const ms = Number(stdout.trim());
  if (!Number.isFinite(ms)) throw new Error(`module load of ${specifiers.join(', ')} printed ${JSON.stringify(stdout)}`);
  return ms;
}

/**
 * The handlers' environment without what only the local stack adds (LOCAL_INVOKE_ENV): with it, Powertools expects
 * the multi-concurrency runtime's InvokeStore at module load, which a plain process (like a standard Lambda
 * environment) does not have, and the import throws.
 */
function withoutLocalInvokeEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !(k in LOCAL_INVOKE_ENV)));
}

export async function measureBundles(env: Record<string, string>, samples = 5, log: (line: string) => void = () => {}): Promise<BundleFigures[]> {
  // Under .cache/ (git-ignored) rather than the OS temp dir: see the module comment.
  await mkdir(join(REPO_ROOT, '.cache'), { recursive: true });
  const outdir = await mkdtemp(join(REPO_ROOT, '.cache', 'bench-bundles-'));
  try {
    const out: BundleFigures[] = [];
    for (const fn of Object.keys(FUNCTIONS) as FunctionId[]) {
      const { outfile: file, metafile } = await bundle(fn, outdir);
      const bytes = (await stat(file)).size;
      const gzipBytes = gzipSync(readFileSync(file)).length;
      const lambdaEnv = { ...withoutLocalInvokeEnv(env), POWERTOOLS_SERVICE_NAME: 'callledger-bench', POWERTOOLS_METRICS_NAMESPACE: 'CallLedgerBench', POWERTOOLS_LOG_LEVEL: 'WARN' };
      const cwd = dirname(file);
      const loads: number[] = [];
      for (let i = 0; i < samples; i++) loads.push(await loadOnce([pathToFileURL(file).href], cwd, lambdaEnv));
      const externalImports = [...new Set((jsOutput(metafile)?.imports ?? []).filter((i) => i.external && !i.path.startsWith('node:')).map((i) => i.path))].sort();
      const externalLoads: number[] = [];
      // A diagnosis, not a target figure: three samples are enough to tell the share.
      for (let i = 0; i < Math.min(3, samples) && externalImports.length > 0; i++) externalLoads.push(await loadOnce(externalImports, cwd, lambdaEnv));
      const figures: BundleFigures = {
        fn,
        bytes,
        gzipBytes,
        loadMs: round(median(loads), 1),
        loadSamplesMs: loads.map((m) => round(m, 1)),
        externalImports,
        externalLoadMs: round(median(externalLoads), 1),
        topInputs: contributors(metafile),
      };
      log(`  ${fn}: ${(bytes / 1024).toFixed(1)} KB, load ${figures.loadMs} ms (of which external ${externalImports.join(', ') || 'none'}: ${figures.externalLoadMs} ms)`);
      out.push(figures);
    }
    return out;
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}
