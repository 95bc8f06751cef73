/**
 * The pilot settings of the functions, parsed at cold start by the one environment parser (platform/env.ts
 * `parseEnv`). Their schemas are kept apart because these are not set on every function: the state machine's ARN,
 * for one, exists only after the workflow function it invokes, so the workflow function cannot be given it without
 * a dependency cycle.
 */
import * as z from 'zod/mini';
import { parseEnv } from '../platform/env';

/** Environment variable names (infra/stack.ts and the local stack set them). */
export const PILOT_ENV = {
  /** The pilot state machine (the API starts and stops executions). Absent locally: the local runner registers. */
  stateMachineArn: 'PILOT_STATE_MACHINE_ARN',
  /** Seconds between two checks of the monitor loop (default 60). */
  monitorSeconds: 'PILOT_MONITOR_SECONDS',
  /** Seconds after the window before the pilot closes, for calls still in progress (default 1800). */
  settleSeconds: 'PILOT_SETTLE_SECONDS',
  /** `true`: notifications may go to http and private hosts (the local stack only). */
  notifyAllowLocal: 'PILOT_NOTIFY_ALLOW_LOCAL',
  /** Seconds the enforcer leaves a closed pilot's report to its workflow (default 300). */
  finishGraceSeconds: 'PILOT_FINISH_GRACE_SECONDS',
} as const;

const seconds = (fallback: number, max: number) =>
  z.pipe(
    z._default(z.string(), String(fallback)),
    z.pipe(z.transform((s: string) => Number(s)), z.number().check(z.int(), z.minimum(0), z.maximum(max))),
  );

const FIELDS = {
  stateMachineArn: z.optional(z.string().check(z.regex(/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9-_]+$/, 'expected a state machine ARN'))),
  monitorSeconds: seconds(60, 3600),
  settleSeconds: seconds(1800, 86_400),
  notifyAllowLocal: z.pipe(z._default(z.enum(['true', 'false']), 'false'), z.transform((s: 'true' | 'false') => s === 'true')),
  finishGraceSeconds: seconds(300, 86_400),
} as const;

export type PilotConfig = { [K in keyof typeof FIELDS]: z.output<(typeof FIELDS)[K]> };

/** The pilot settings, through the one environment parser (platform/env.ts `parseEnv`). */
export function loadPilotConfig(env: NodeJS.ProcessEnv = process.env): PilotConfig {
  return parseEnv(FIELDS, PILOT_ENV, Object.keys(FIELDS) as (keyof typeof FIELDS)[], env) as PilotConfig;
}
