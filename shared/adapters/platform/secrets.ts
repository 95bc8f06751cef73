/**
 * Secret resolution (see docs/CONTRACTS.md, "Functions and env").
 *
 * - A full reference `env:NAME` reads `process.env.NAME`; `ssm:/a/b` reads the SSM SecureString `/a/b`.
 * - Provider secrets are named (`twilio/acme/auth-token`) and resolved under `SECRETS_REF`: with `env:` the name
 *   maps to `SECRET_TWILIO_ACME_AUTH_TOKEN`; with `ssm:/callledger/dev/` to `/callledger/dev/twilio/acme/auth-token`.
 * Values are cached per container for five minutes, so a rotated secret is picked up without a redeploy.
 */
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { ssm } from './clients/ssm';
import type { SecretStore } from '../../app/kernel/ports';

const TTL_MS = 5 * 60 * 1000;

export class SecretNotFound extends Error {
  constructor(ref: string) {
    super(`secret not found: ${ref}`);
    this.name = 'SecretNotFound';
  }
}

/** The env var a named secret is read from when `SECRETS_REF` is `env:`. */
export function envNameForSecret(name: string): string {
  return `SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The full reference (`env:NAME` / `ssm:/path`) of a named secret under a `SECRETS_REF` prefix. */
export function secretRefFor(prefix: string, name: string): string {
  if (prefix === 'env:') return `env:${envNameForSecret(name)}`;
  if (prefix.startsWith('ssm:')) return `${prefix}${name.replace(/^\/+/, '')}`;
  throw new Error(`unsupported secrets prefix: ${prefix}`);
}

export interface SecretResolverOptions {
  /** SECRETS_REF, needed by getSecret (named provider secrets); resolve() takes full references. */
  prefix?: string;
  env?: NodeJS.ProcessEnv;
  /** Reads one SSM SecureString (injected in tests); defaults to the SDK client. */
  readSsm?: (name: string) => Promise<string | undefined>;
  now?: () => number;
}

async function readSsmParameter(name: string): Promise<string | undefined> {
  try {
    const out = await ssm().send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    return out.Parameter?.Value;
  } catch (err) {
    if ((err as { name?: string }).name === 'ParameterNotFound') return undefined;
    throw err;
  }
}

/** Resolves secret references with a 5-minute per-container cache. */
export class SecretResolver implements SecretStore {
  private readonly cache = new Map<string, { value: string; expiresAtMs: number }>();
  private readonly env: NodeJS.ProcessEnv;
  private readonly readSsm: (name: string) => Promise<string | undefined>;
  private readonly now: () => number;

  private readonly prefix: string | undefined;

  constructor(options: SecretResolverOptions = {}) {
    this.prefix = options.prefix;
    this.env = options.env ?? process.env;
    this.readSsm = options.readSsm ?? readSsmParameter;
    this.now = options.now ?? Date.now;
  }

  /** A named provider secret, e.g. `twilio/acme/auth-token`. */
  getSecret(name: string): Promise<string> {
    if (this.prefix === undefined) throw new Error('SecretResolver: no SECRETS_REF prefix configured');
    return this.resolve(secretRefFor(this.prefix, name));
  }

  /** A full reference: `env:NAME` or `ssm:/parameter/name`. */
  async resolve(ref: string): Promise<string> {
    const hit = this.cache.get(ref);
    if (hit !== undefined && hit.expiresAtMs > this.now()) return hit.value;
    let value: string | undefined;
    if (ref.startsWith('env:')) value = this.env[ref.slice(4)];
    else if (ref.startsWith('ssm:')) value = await this.readSsm(ref.slice(4));
    else throw new Error('unsupported secret reference (expected env: or ssm:)');
    if (value === undefined || value === '') throw new SecretNotFound(ref);
    this.cache.set(ref, { value, expiresAtMs: this.now() + TTL_MS });
    return value;
  }
}
