/**
 * `npm start -- --persist DIR`: the local stack's state kept across restarts in one directory.
 *
 *   DIR/stack.json   (0600) the seed the state was created from and the secrets generated for it: API keys, Twilio
 *                    auth tokens, the caller-hash key, the PII key, and any secret a later version adds (generated
 *                    on the first start that lacks it, then kept)
 *   DIR/dynamodb/    DynamoDB Local's SQLite file (`-dbPath`, shared database)
 *   DIR/fauxqs/      fauxqs's SQLite file (queues with their messages, buckets with their objects) and the object tags
 *   DIR/lock         the pid of the stack using DIR (a second stack on the same files would corrupt them)
 *
 * Without it everything lives in memory and a stop discards it. The seed is loaded into the tables once, when DIR is
 * created: later starts keep what the API changed since (a reloaded seed would overwrite it), and the seed of
 * stack.json stays the stack's seed.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseSeed, type Seed } from '../../shared/domain/catalog/seed';

interface StackFile {
  readonly version: 1;
  readonly createdAt: string;
  readonly seedFile: string;
  readonly seed: unknown;
  /** The secrets a stack generates (LocalSecrets in stack.ts), kept whole: new kinds persist without code here. */
  readonly secrets: object;
  /** Set once the seed is in the tables: a first start that failed before is seeded again. */
  readonly seededAt?: string;
}

export interface PersistedState<S extends object> {
  readonly dir: string;
  /** True when DIR already held a seeded stack's state (the tables and queues are loaded from it, not from the seed). */
  readonly restored: boolean;
  readonly createdAt: string;
  readonly seedFile: string;
  readonly seed: Seed;
  readonly secrets: S;
  /** Records that the seed is in the tables (call once it is). */
  markSeeded(): void;
  /** Frees DIR for another stack (the lock); idempotent. */
  release(): void;
}

const STACK_FILE = 'stack.json';

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes DIR for this process, or says which live process holds it. */
function lock(dir: string): () => void {
  const file = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.removeListener('exit', release);
        rmSync(file, { force: true });
      };
      process.on('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(file, 'utf8'));
      if (Number.isInteger(holder) && holder !== process.pid && alive(holder)) {
        throw new Error(`${dir} is in use by another local stack (pid ${holder}); stop it first or choose another --persist directory`);
      }
      // Left behind by a stack that was killed: take it over.
      rmSync(file, { force: true });
    }
  }
  throw new Error(`cannot lock ${dir}`);
}

/**
 * Opens (or creates) the state directory `dir`. On creation the seed comes from `seedFile` and the secrets from
 * `generate`; on a restart both come from stack.json, a secret it lacks being generated and saved.
 */
export function openPersistedState<S extends object>(args: {
  readonly dir: string;
  readonly seedFile: string;
  readonly generate: (seed: Seed) => S;
  readonly now?: () => Date;
}): PersistedState<S> {
  const dir = resolve(args.dir);
  const file = join(dir, STACK_FILE);
  const exists = existsSync(file);
  if (!exists && existsSync(dir) && readdirSync(dir).some((name) => name !== 'lock')) {
    throw new Error(`${dir} is not empty and holds no ${STACK_FILE}: not a local stack's state directory (choose an empty or new one)`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const release = lock(dir);
  try {
    let stored: StackFile;
    if (exists) {
      try {
        stored = JSON.parse(readFileSync(file, 'utf8')) as StackFile;
      } catch (err) {
        throw new Error(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (stored.version !== 1) throw new Error(`${file}: unknown version ${String(stored.version)}`);
    } else {
      let seedJson: unknown;
      try {
        seedJson = JSON.parse(readFileSync(args.seedFile, 'utf8'));
      } catch (err) {
        throw new Error(`cannot read seed ${args.seedFile}: ${err instanceof Error ? err.message : String(err)}`);
      }
      stored = { version: 1, createdAt: (args.now?.() ?? new Date()).toISOString(), seedFile: args.seedFile, seed: seedJson, secrets: {} };
    }
    const seed = parseSeed(stored.seed);
    // Saved secrets win; a kind the file does not hold yet (a newer version's) is generated now and kept from now on.
    const secrets = { ...args.generate(seed), ...stored.secrets } as S;
    const next: StackFile = { ...stored, secrets };
    if (JSON.stringify(next) !== JSON.stringify(stored) || !exists) writeAtomic(file, `${JSON.stringify(next, null, 2)}\n`);
    return {
      dir,
      restored: next.seededAt !== undefined,
      createdAt: stored.createdAt,
      seedFile: stored.seedFile,
      seed,
      secrets,
      markSeeded: () => {
        if (next.seededAt === undefined) writeAtomic(file, `${JSON.stringify({ ...next, seededAt: (args.now?.() ?? new Date()).toISOString() }, null, 2)}\n`);
      },
      release,
    };
  } catch (err) {
    release();
    throw err;
  }
}
