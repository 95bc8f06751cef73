/**
 * `npm start`: runs the whole local stack until Ctrl-C.
 *
 *   npm start [-- --seed FILE] [-- --port N]      (else the PORT env var, default 3000; 0 = any free port)
 *             [-- --run-file FILE]                 (default .local/run.json; tests use their own)
 *             [-- --persist DIR]                   (keep the state in DIR across restarts: infra/local/persist.ts)
 *
 * Says first where the state lives: in memory (a stop discards it), or in the --persist directory.
 * Prints progress, then exactly `ready: http://127.0.0.1:<PORT>`. While it runs, `.local/run.json` (mode 0600)
 * holds what `npm run demo` needs to drive it: the base URLs, the generated API keys and Twilio credentials.
 */
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { RUN_FILE, removeRunFile, runFileContents, writeRunFile } from './run-file';
import { resolvePort, startLocalStack, type LocalStack } from './stack';

function parsePortFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got ${JSON.stringify(value)}`);
  return port;
}

async function main(): Promise<void> {
  const started = Date.now();
  const { values } = parseArgs({
    options: { seed: { type: 'string' }, port: { type: 'string' }, 'run-file': { type: 'string' }, persist: { type: 'string' } },
    strict: true,
  });
  const port = resolvePort(parsePortFlag(values.port));
  const runFile = values['run-file'] ?? RUN_FILE;
  if (values.persist === '') throw new Error('--persist needs a directory');
  console.log(
    values.persist === undefined
      ? 'state: in memory only — stopping this stack discards every call, charge, key and token (keep them with npm start -- --persist DIR)'
      : `state: persisted in ${values.persist} — DynamoDB, the queues, the buckets and the generated keys and tokens survive a restart`,
  );

  let stack: LocalStack;
  try {
    stack = await startLocalStack({ port, seedFile: values.seed, ...(values.persist === undefined ? {} : { persistDir: values.persist }) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${port} is in use (another \`npm start\`?): choose another with PORT=N npm start or --port N`);
    }
    throw err;
  }

  let exiting = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (exiting) return;
    exiting = true;
    console.log(`${signal}: stopping…${stack.persistence ? ` (state kept in ${stack.persistence.dir})` : ' (the in-memory state is discarded)'}`);
    removeRunFile(runFile);
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // Also when something else ends the process (an uncaught error): never leave stale credentials behind.
  process.on('exit', () => removeRunFile(runFile));
  writeRunFile(runFileContents(stack), runFile);

  const shownRunFile = relative(process.cwd(), runFile);
  console.log(
    `API keys: ${stack.secrets.apiKeys.map((k) => `${k.label} (${k.accountId}, ${k.role})`).join(', ')} — keys in ${shownRunFile.startsWith('..') ? runFile : shownRunFile}`,
  );
  console.log(`started in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`ready: ${stack.baseUrl}`);
}

main().catch((err: unknown) => {
  console.error(`npm start failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
