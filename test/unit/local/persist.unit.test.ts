/**
 * The --persist directory's stack.json and lock (infra/local/persist.ts), on a temporary directory: secrets are
 * generated once and then kept, a kind of secret the file does not hold yet is added and kept, the seed is the
 * directory's own after creation, a stranger's non-empty directory is refused, and a dead stack's lock is taken over.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openPersistedState } from '../../../infra/local/persist';
import { DEFAULT_SEED_FILE, generateSecrets } from '../../../infra/local/stack';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'callledger-persist-unit-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('openPersistedState', () => {
  it('generates the secrets on creation, keeps them on every later open, and is restored only once seeded', () => {
    const dir = join(tempDir(), 'state');
    const first = openPersistedState({ dir, seedFile: DEFAULT_SEED_FILE, generate: generateSecrets });
    expect(first.restored).toBe(false);
    first.release();
    // Not seeded yet (a first start that failed half-way): still not restored, same secrets.
    const again = openPersistedState({ dir, seedFile: DEFAULT_SEED_FILE, generate: generateSecrets });
    expect(again.restored).toBe(false);
    expect(again.secrets).toEqual(first.secrets);
    again.markSeeded();
    again.release();
    const later = openPersistedState({ dir, seedFile: '/no/such/seed.json', generate: generateSecrets });
    expect(later.restored).toBe(true);
    expect(later.secrets).toEqual(first.secrets);
    expect(later.seed).toEqual(first.seed);
    expect(later.seedFile).toBe(DEFAULT_SEED_FILE);
    later.release();
  });

  it('adds a kind of secret the file lacks (a newer version) and keeps it from then on', () => {
    const dir = join(tempDir(), 'state');
    openPersistedState({ dir, seedFile: DEFAULT_SEED_FILE, generate: generateSecrets }).release();
    let n = 0;
    const withCursorKey = (seed: Parameters<typeof generateSecrets>[0]) => ({ ...generateSecrets(seed), cursorKey: `k${++n}` });
    const upgraded = openPersistedState({ dir, seedFile: DEFAULT_SEED_FILE, generate: withCursorKey });
    expect(upgraded.secrets.cursorKey).toBe('k1');
    upgraded.release();
    const kept = openPersistedState({ dir, seedFile: DEFAULT_SEED_FILE, generate: withCursorKey });
    expect(kept.secrets.cursorKey).toBe('k1');
    kept.release();
    expect(JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')).secrets.cursorKey).toBe('k1');
  });

  it('refuses a non-empty directory that is not a stack state, and a directory a live stack holds', () => {
    const stranger = tempDir();
    writeFileSync(join(stranger, 'notes.txt'), 'mine');
    expect(() => openPersistedState({ dir: stranger, seedFile: DEFAULT_SEED_FILE, generate: generateSecrets })).toThrow(/not empty and holds no stack\.json/);

    const dir = join(tempDir(), 'state');
    const held = openPersistedState({ dir, seedFile: DEFAULT_SEED_FILE, generate: generateSecrets });
    // Another live process holds it (this test's parent process stands in for it).
    writeFileSync(join(dir, 'lock'), String(process.ppid));
    expect(() => openPersistedState({ dir, seedFile: DEFAULT_SEED_FILE, generate: generateSecrets })).toThrow(`in use by another local stack (pid ${process.ppid})`);
    held.release();
  });

  it("takes over the lock of a stack that was killed", () => {
    const dir = join(tempDir(), 'state');
    openPersistedState({ dir, seedFile: DEFAULT_SEED_FILE, generate: generateSecrets }).release();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'lock'), '999999999');
    const taken = openPersistedState({ dir, seedFile: DEFAULT_SEED_FILE, generate: generateSecrets });
    expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe(String(process.pid));
    taken.release();
  });
});
