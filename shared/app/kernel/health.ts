/**
 * Use case: `GET /health`, which component answers. Every probe runs at once and each is cut off after
 * `timeoutMs`, so the whole check is bounded by one timeout (plus scheduling), whatever a dependency does: a frozen
 * one is reported down in `timeoutMs`, not when the function times out. The answer names the components and, for
 * a down one, the kind of failure (never an error message: those may name internals or quote request values).
 */

/** Resolves when the component answered; rejects when it did not. Gets a signal that aborts at the deadline. */
export type Probe = (signal: AbortSignal) => Promise<void>;

export type ComponentState = 'up' | 'down';

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly components: Readonly<Record<string, ComponentState>>;
  /** Why each down component is down (e.g. `timeout`, `throttled`, `unavailable`, `network`). */
  readonly failures?: Readonly<Record<string, string>>;
}

export interface HealthDeps {
  readonly probes: Readonly<Record<string, Probe>>;
  readonly timeoutMs: number;
  /** The failure kind of a probe's error (the adapters' classifier), `error` when it is none of them. */
  readonly kindOf: (err: unknown) => string;
}

class ProbeTimeout extends Error {
  constructor() {
    super('no answer within the health check timeout');
    this.name = 'ProbeTimeout';
  }
}

async function run(probe: Probe, timeoutMs: number): Promise<void> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // The race ends the check even if a probe ignores its signal.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ProbeTimeout());
    }, timeoutMs);
  });
  try {
    await Promise.race([probe(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export async function checkHealth(deps: HealthDeps): Promise<HealthReport> {
  const names = Object.keys(deps.probes);
  const results = await Promise.allSettled(names.map((name) => run(deps.probes[name]!, deps.timeoutMs)));
  const components: Record<string, ComponentState> = {};
  const failures: Record<string, string> = {};
  results.forEach((result, i) => {
    const name = names[i]!;
    components[name] = result.status === 'fulfilled' ? 'up' : 'down';
    if (result.status === 'rejected') {
      const reason: unknown = result.reason;
      failures[name] = reason instanceof ProbeTimeout || (reason instanceof Error && reason.name === 'AbortError') ? 'timeout' : deps.kindOf(reason);
    }
  });
  return Object.keys(failures).length === 0 ? { status: 'ok', components } : { status: 'degraded', components, failures };
}
