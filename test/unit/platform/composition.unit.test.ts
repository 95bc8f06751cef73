/**
 * A container builds its wiring once: the API Lambda, loaded, holds one configuration cache (ConfigRepo) and one
 * secret cache (SecretResolver), shared by every route — separate caches would each read the same items and
 * secrets again, and could disagree on a configuration change for up to their TTL.
 */
import { describe, expect, it, vi } from 'vitest';

const built = vi.hoisted(() => ({ ConfigRepo: 0, SecretResolver: 0 }));

vi.mock('../../../shared/adapters/calls/main-repo', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../shared/adapters/calls/main-repo')>();
  class ConfigRepo extends real.ConfigRepo {
    constructor(...args: ConstructorParameters<typeof real.ConfigRepo>) {
      super(...args);
      built.ConfigRepo++;
    }
  }
  return { ...real, ConfigRepo };
});

vi.mock('../../../shared/adapters/platform/secrets', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../shared/adapters/platform/secrets')>();
  class SecretResolver extends real.SecretResolver {
    constructor(...args: ConstructorParameters<typeof real.SecretResolver>) {
      super(...args);
      built.SecretResolver++;
    }
  }
  return { ...real, SecretResolver };
});

const ENV = {
  MAIN_TABLE: 'cl-main',
  LEDGER_TABLE: 'cl-ledger',
  AGGREGATES_TABLE: 'cl-aggregates',
  RECORDINGS_BUCKET: 'cl-recordings',
  ANCHORS_BUCKET: 'cl-anchors',
  ARCHIVE_BUCKET: 'cl-archive',
  CALLER_HASH_KEY_REF: 'env:CALLER_HASH_KEY',
  PII_KEY_REF: 'env:PII_KEY',
  INGEST_QUEUE_URL: 'http://127.0.0.1:1/queue/ingest',
};

describe('the API composition root', () => {
  it('builds one configuration cache and one secret cache per container', async () => {
    vi.stubEnv('AWS_REGION', 'us-east-1');
    for (const [name, value] of Object.entries(ENV)) vi.stubEnv(name, value);
    await import('../../../functions/api');
    expect(built).toEqual({ ConfigRepo: 1, SecretResolver: 1 });
    vi.unstubAllEnvs();
  });
});
