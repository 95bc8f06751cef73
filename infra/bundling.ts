/**
 * The one esbuild configuration for the Lambda bundles: the CDK NodejsFunction (infra/constructs/
 * ledger-function.ts) and `npm run bench` (bundle size, module-load time) both read it, so the bench
 * measures exactly what ships.
 *
 * The AWS SDK v3 is NOT bundled: the Node.js 24 Lambda runtime ships it. Bundled, every function is over 1 MB
 * minified (the smithy/credential-provider stack of four clients); external, they are 80–210 KB. The cost is
 * that the runtime's SDK version, not package-lock.json's, runs in AWS; we only use long-stable commands
 * (GetItem, Query, UpdateItem, TransactWriteItems, SendMessage, PutObject/Upload, GetParameter) and the
 * tests pin behaviour, so that is the better trade for cold start. See docs/ARCHITECTURE.md.
 */

/** Packages resolved from the Lambda runtime instead of the bundle. */
export const EXTERNAL_MODULES = ['@aws-sdk/*'] as const;

/**
 * ESM output still meets CommonJS dependencies that call `require('node:…')` at run time; esbuild turns those
 * into a `__require` shim that throws in ESM unless a real `require` exists. This banner provides one.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __cl_createRequire } from 'node:module'; const require = __cl_createRequire(import.meta.url);";

/** Options shared by CDK bundling and the bench (esbuild BuildOptions vocabulary). */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  // Prefer packages' ESM builds: they tree-shake (Powertools and zod ship both).
  mainFields: ['module', 'main'],
  minify: true,
  treeShaking: true,
  sourcemap: 'external',
  sourcesContent: false,
  banner: { js: ESM_REQUIRE_BANNER },
  external: [...EXTERNAL_MODULES],
} as const;
