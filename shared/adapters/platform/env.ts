/**
 * Function configuration, parsed once at cold start (module load) with zod.
 *
 * Each function asks only for the settings it uses (`loadConfig(['mainTable', ...])`), so a function that is
 * deployed without, say, the ledger table name still starts, and one that lacks a setting it needs refuses to
 * start with one error naming every missing or invalid variable.
 */
// zod/mini: the same validator with a tree-shakable API; every function loads this module, so bytes count.
import * as z from 'zod/mini';
import { CARRIER_RECORDING_HOSTS_DEFAULT, ENV, VOICE_DECISION_BUDGET_MS_DEFAULT } from '../../../infra/resources';

/** A reference to a single secret: `env:NAME` (local) or `ssm:/parameter/name` (AWS SSM SecureString). */
const secretRef = z.string().check(z.regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|ssm:\/\S+)$/, 'expected env:NAME or ssm:/parameter/name'));
/** A prefix that secret names are appended to: `env:` (local) or `ssm:/callledger/<env>/`. */
const secretsPrefix = z.string().check(z.regex(/^(env:|ssm:\/\S*\/)$/, 'expected env: or ssm:/prefix/ (ending in /)'));
const nonEmpty = z.string().check(z.trim(), z.minLength(1, 'required'));
/** A whole number of milliseconds, at least `min`; `fallback` when unset. */
const millis = (fallback: number, min: number) =>
  z.pipe(
    z._default(z.string(), String(fallback)),
    z.pipe(
      z.transform((s: string) => Number(s)),
      z.int('expected a whole number of milliseconds').check(z.gte(min, `at least ${min} ms`)),
    ),
  );

/** Lower-case hosts (optionally host:port), at least one. */
const hostList = z.pipe(
  z.array(z.string().check(z.trim(), z.toLowerCase(), z.regex(/^[a-z0-9.-]+(:\d{1,5})?$/, 'expected a host or host:port'))),
  z.array(z.string()).check(z.minLength(1, 'at least one host')),
);

const FIELDS = {
  mainTable: nonEmpty,
  ledgerTable: nonEmpty,
  aggregatesTable: nonEmpty,
  ingestQueueUrl: z.url(),
  recordingsQueueUrl: z.url(),
  archiveBucket: nonEmpty,
  recordingsBucket: nonEmpty,
  /** The public origin Twilio signs against; a trailing slash is dropped so `${base}${rawPath}` is exact. */
  publicBaseUrl: z.pipe(
    z.url({ protocol: /^https?$/ }),
    z.transform((u: string) => u.replace(/\/+$/, '')),
  ),
  callerHashKeyRef: secretRef,
  /** The caller-number key: a secret reference (a local key) or `kms:<key arn or alias>` (data keys from KMS). */
  piiKeyRef: z.string().check(z.regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|ssm:\/\S+|kms:(arn:aws[\w-]*:kms:\S+|alias\/\S+))$/, 'expected env:NAME, ssm:/parameter/name or kms:<key arn or alias/name>')),
  secretsRef: secretsPrefix,
  /** Hosts (optionally host:port) the recording fetcher may download from. */
  recordingUrlAllowedHosts: z.pipe(
    z._default(z.string(), 'api.twilio.com'),
    z.pipe(
      z.transform((s: string) => s.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h.length > 0)),
      z.array(z.string()).check(z.minLength(1, 'at least one host')),
    ),
  ),
  /**
   * The other carriers' media hosts, as JSON `{"telnyx": [...], "vonage": [...], "plivo": [...]}` (host or host:port,
   * every carrier named); default: each carrier's public media hosts (CARRIER_RECORDING_HOSTS_DEFAULT).
   */
  carrierRecordingHosts: z.pipe(
    z._default(z.string(), JSON.stringify(CARRIER_RECORDING_HOSTS_DEFAULT)),
    z.pipe(
      z.transform((s: string): unknown => {
        try {
          return JSON.parse(s);
        } catch {
          return null;
        }
      }),
      z.strictObject({ telnyx: hostList, vonage: hostList, plivo: hostList }),
    ),
  ),
  anchorsBucket: nonEmpty,
  /** Sealed interval width (shared/app/ledger/verify.ts): one hour unless set; at least a minute. */
  sealIntervalMs: millis(3_600_000, 60_000),
  /**
   * How long after an interval ends before it is sealed: five minutes unless set. At least 30 s, longer than any
   * ledger write can be in flight (the writer's Lambda timeout is 20 s, the API's 15 s), or an entry could land in
   * an interval already sealed and verify would report it as tampering.
   */
  sealGraceMs: millis(300_000, 30_000),
  /** The voice decision's budget (shared/app/routing/voice-answer.ts): 1,500 ms unless set; at least 50 ms. */
  voiceDecisionBudgetMs: millis(VOICE_DECISION_BUDGET_MS_DEFAULT, 50),
} as const;

export type ConfigKey = keyof typeof FIELDS;
export type Config = { [K in ConfigKey]: z.output<(typeof FIELDS)[K]> };

/** Environment variable name of each setting (infra/resources.ts is the one list of names). */
export const ENV_NAMES: Record<ConfigKey, string> = ENV;

export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`invalid function configuration: ${issues.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** A schema per setting (zod/mini or zod: anything with `safeParse`). */
type Fields = Readonly<Record<string, { safeParse(raw: unknown): { success: true; data: unknown } | { success: false; error: { issues: readonly { message: string }[] } } }>>;

/**
 * THE environment parser every function's configuration goes through: each named setting is read from its variable
 * (an empty string counts as missing) and parsed by its schema; one ConfigError lists every missing or invalid
 * variable, so a misconfigured function refuses to start and says everything that is wrong at once.
 */
export function parseEnv<F extends Fields, K extends keyof F & string>(
  fields: F,
  names: Readonly<Record<K, string>>,
  keys: readonly K[],
  env: NodeJS.ProcessEnv,
): { [P in K]: F[P] extends { safeParse(raw: unknown): infer R } ? (R extends { success: true; data: infer D } ? D : never) : never } {
  const out: Record<string, unknown> = {};
  const issues: string[] = [];
  for (const key of keys) {
    const name = names[key];
    const raw = env[name] === '' ? undefined : env[name];
    const parsed = fields[key]!.safeParse(raw);
    if (parsed.success) out[key] = parsed.data;
    else issues.push(`${name}: ${raw === undefined ? 'missing' : parsed.error.issues.map((i) => i.message).join(', ')}`);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out as never;
}

/** Parses the named settings from `env` (parseEnv over the functions' settings). */
export function loadConfig<K extends ConfigKey>(keys: readonly K[], env: NodeJS.ProcessEnv = process.env): Pick<Config, K> {
  return parseEnv(FIELDS, ENV_NAMES, keys, env) as Pick<Config, K>;
}
