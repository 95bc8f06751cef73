/**
 * Per-environment deployment settings, read from cdk.json context (`environments.<name>`) and validated with zod.
 *
 * `-c env=dev|staging|prod` picks one; the default is `dev`. A typo in cdk.json or an unknown environment stops
 * synthesis with a message naming every bad field, before any construct is built.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import { z } from 'zod';
import { CARRIER_RECORDING_HOSTS_DEFAULT } from '../resources';

/** The log retention periods CloudWatch Logs accepts (RetentionDays' numeric values; INFINITE is not offered). */
const RETENTION_DAYS = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === 'number' && v !== RetentionDays.INFINITE),
);

const hostName = z
  .string()
  .regex(/^[a-z0-9.-]+(:\d{1,5})?$/, 'expected a lower-case host name, optionally with :port');

export const environmentConfigSchema = z
  .object({
    /** Optional: pin the stack to an account/region. Omitted → CDK_DEFAULT_ACCOUNT/REGION, or env-agnostic. */
    account: z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account id').optional(),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'expected an AWS region such as eu-west-1').optional(),
    /**
     * Prefix of every physical name (`physicalName(prefix, id)` from infra/resources.ts). At most 20 characters:
     * bucket names append `-<id>-<account>-<region>` and must stay within S3's 63.
     */
    resourcePrefix: z.string().regex(/^[a-z][a-z0-9-]{1,18}[a-z0-9]$/, 'lower-case letters, digits, dashes; max 20'),
    /**
     * The origin Twilio posts to and signs (a custom domain, e.g. `https://hooks.example.com`). Empty → the HTTP
     * API's own `execute-api` endpoint. No trailing slash: the signature covers `${publicBaseUrl}${path}` exactly.
     */
    publicBaseUrl: z.union([
      z.literal(''),
      z.url({ protocol: /^https$/ }).regex(/[^/]$/, 'no trailing slash'),
    ]),
    logRetentionDays: z
      .number()
      .int()
      .refine((d) => RETENTION_DAYS.has(d), 'not a CloudWatch Logs retention period (1, 3, 5, 7, 14, 30, 60, 90, …)'),
    /** Alarm notifications go to this address (SNS email subscription, confirmed by the recipient). */
    alarmEmail: z.email().optional(),
    /** `retain` keeps tables, buckets and log groups when the stack is deleted; `destroy` removes them (dev). */
    removalPolicy: z.enum(['retain', 'destroy']),
    deletionProtection: z.boolean(),
    /** Hosts the recording fetcher may download from (RECORDING_URL_ALLOWED_HOSTS). */
    recordingUrlAllowedHosts: z.array(hostName).min(1),
    /** Each other carrier's media hosts (CARRIER_RECORDING_HOSTS); default: their public media hosts. */
    carrierRecordingHosts: z
      .strictObject({ telnyx: z.array(hostName).min(1), vonage: z.array(hostName).min(1), plivo: z.array(hostName).min(1) })
      .default(() => ({
        telnyx: [...CARRIER_RECORDING_HOSTS_DEFAULT.telnyx],
        vonage: [...CARRIER_RECORDING_HOSTS_DEFAULT.vonage],
        plivo: [...CARRIER_RECORDING_HOSTS_DEFAULT.plivo],
      })),
    /** SSM Parameter Store prefix of this environment's secrets, e.g. `/callledger/dev/`. */
    ssmPrefix: z.string().regex(/^\/[a-z0-9-]+(\/[a-z0-9-]+)*\/$/, 'expected /callledger/<env>/ (leading and trailing /)'),
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']),
    /** HTTP API default-stage throttling (requests per second, burst). */
    apiThrottle: z.object({ rateLimit: z.number().positive(), burstLimit: z.number().int().positive() }),
    /**
     * Upper bound on concurrent ledger-writer invocations the SQS event source starts (2–1000). Keeps the
     * writer from exhausting DynamoDB or the account's Lambda concurrency during a backlog.
     */
    ledgerWriterMaxConcurrency: z.number().int().min(2).max(1000).optional(),
    /** Ingest queue backlog alarm: age of the oldest message, in seconds. */
    ingestBacklogAlarmSeconds: z.number().int().positive(),
  })
  .strict();

export type EnvironmentConfig = z.infer<typeof environmentConfigSchema>;

export interface ResolvedEnvironment {
  readonly envName: string;
  readonly config: EnvironmentConfig;
}

export class EnvironmentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvironmentConfigError';
  }
}

/**
 * Reads `env` (default `dev`) and `environments` from the app's context and validates the chosen entry.
 * Production must retain data: `prod` with `removalPolicy: destroy` or without deletion protection is rejected.
 */
export function resolveEnvironment(node: Node): ResolvedEnvironment {
  const envName: unknown = node.tryGetContext('env') ?? 'dev';
  const environments: unknown = node.tryGetContext('environments');
  if (typeof environments !== 'object' || environments === null || Array.isArray(environments)) {
    throw new EnvironmentConfigError('cdk.json context is missing the "environments" object (dev, staging, prod)');
  }
  const names = Object.keys(environments);
  if (typeof envName !== 'string' || !Object.hasOwn(environments, envName)) {
    throw new EnvironmentConfigError(
      `unknown environment ${JSON.stringify(envName)}: pass -c env=<name> with one of ${names.join(', ')}`,
    );
  }
  const parsed = environmentConfigSchema.safeParse((environments as Record<string, unknown>)[envName]);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new EnvironmentConfigError(`invalid cdk.json context environments.${envName}: ${issues.join('; ')}`);
  }
  const config = parsed.data;
  if (envName === 'prod' && (config.removalPolicy !== 'retain' || !config.deletionProtection)) {
    throw new EnvironmentConfigError('environments.prod must set removalPolicy "retain" and deletionProtection true');
  }
  return { envName, config };
}
