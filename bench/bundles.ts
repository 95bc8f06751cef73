/**
 * Each function's Lambda bundle and its module-load (init) time.
 *
 * The bundle is built with the options infra/constructs/ledger-function.ts gives NodejsFunction (ESM, node24,
 * platform node, minified, tree-shaken, module-first main fields, AWS SDK bundled, external source map, the
 * createRequire banner). The load time is measured in a fresh Node 24 process per sample, importing the bundle
 * with the function's environment set: what a cold start pays before the first event, minus Lambda's own init.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { FUNCTIONS, type FunctionId } from '../infra/resources';
import { REPO_ROOT } from '../infra/local/emulators';
import { median, round } from './instrument';

const execFileAsync = promisify(execFile);

/** The v24 binary the project pins (system node may be older). */
const NODE_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'node');

/** Same text as ESM_REQUIRE_BANNER in infra/constructs/ledger-function.ts (not exported there). */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __cl_createRequire } from 'node:module'; const require = __cl_createRequire(import.meta.url);";

export interface BundleFigures {
  readonly fn: FunctionId;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Median of the samples, ms, with the Lambda's NODE_OPTIONS (--enable-source-maps). */
  readonly loadMs: number;
  readonly loadSamplesMs: readonly number[];
  /** Median without source-map support, to show what that option costs. */
  readonly loadMsNoSourceMaps: number;
  /** The largest contributors to the minified output (npm package, or first two path segments of our code). */
  readonly topInputs: readonly { readonly input: string; readonly kb: number }[];
}

/** Bytes in the output per package (or per top folder of our own code), from esbuild's metafile. */
function contributors(metafile: Metafile): { input: string; kb: number }[] {
  // One bundle per build: the .mjs output (the other one is its source map).
  const output = Object.entries(metafile.outputs).find(([path]) => path.endsWith('.mjs'))?.[1];
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
    entryPoints: [join(REPO_ROOT, FUNCTIONS[fn].entry)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    mainFields: ['module', 'main'],
    minify: true,
    treeShaking: true,
    sourcemap: 'external',
    sourcesContent: false,
    banner: { js: ESM_REQUIRE_BANNER },
    absWorkingDir: REPO_ROOT,
    logLevel: 'error',
    metafile: true,
  });
  return { outfile, metafile: result.metafile };
}

/** One fresh process: time the dynamic import of the bundle, in-process, with performance.now(). */
async function loadOnce(file: string, env: Record<string, string>, nodeOptions: string): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  const { stdout } = await execFileAsync(NODE_BIN, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, NODE_OPTIONS: nodeOptions },
    timeout: 30_000,
  });
  const ms = Number(stdout.trim());
  if (!Number.isFinite(ms)) throw new Error(`module load of ${file} printed ${JSON.stringify(stdout)}`);
  return ms;
}

export async function measureBundles(env: Record<string, string>, samples = 5, log: (line: string) => void = () => {}): Promise<BundleFigures[]> {
  const outdir = await mkdtemp(join(tmpdir(), 'callledger-bench-'));
  try {
    const out: BundleFigures[] = [];
    for (const fn of Object.keys(FUNCTIONS) as FunctionId[]) {
      const { outfile: file, metafile } = await bundle(fn, outdir);
      const bytes = (await stat(file)).size;
      const gzipBytes = gzipSync(readFileSync(file)).length;
      const lambdaEnv = { ...env, POWERTOOLS_SERVICE_NAME: 'callledger-bench', POWERTOOLS_METRICS_NAMESPACE: 'CallLedgerBench', POWERTOOLS_LOG_LEVEL: 'WARN' };
      const withMaps: number[] = [];
      const withoutMaps: number[] = [];
      for (let i = 0; i < samples; i++) {
        withMaps.push(await loadOnce(file, lambdaEnv, '--enable-source-maps'));
        withoutMaps.push(await loadOnce(file, lambdaEnv, ''));
      }
      const figures: BundleFigures = {
        fn,
        bytes,
        gzipBytes,
        loadMs: round(median(withMaps), 1),
        loadSamplesMs: withMaps.map((m) => round(m, 1)),
        loadMsNoSourceMaps: round(median(withoutMaps), 1),
        topInputs: contributors(metafile),
      };
      log(`  ${fn}: ${(bytes / 1024).toFixed(1)} KB, load ${figures.loadMs} ms`);
      out.push(figures);
    }
    return out;
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}
