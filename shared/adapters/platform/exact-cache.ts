/**
 * The per-container cache of configuration-like values (campaigns, numbers, accounts, block lists, DNC answers), exact
 * at an instant. Configuration changes take effect no sooner than CONFIG_LEAD_MS after they are written
 * (shared/domain/catalog/config.ts), so a copy whose read was issued at L is exact for every call that started at or
 * before L + CONFIG_LEAD_MS, whatever its age; a later call re-reads (`exactFor`). Concurrent misses for one key
 * share a single read, and the shared copy is dated by when ITS read was issued, so the argument holds for every
 * sharer; a slower, older read never replaces a newer copy. A miss (null) may be kept for a shorter time, so that a
 * flood of webhooks for an unknown account does not become reads while a new item is still seen soon.
 */
import { CONFIG_LEAD_MS } from '../../domain/catalog/config';

/**
 * Whether a copy whose read was issued at `loadedAtMs` may serve a call that started at `exactForMs`: yes if no change
 * written after the read can be in force then, or if the instant lies more than CONFIG_LEAD_MS ahead of now (no read
 * can be exact for it: a change written later may still take effect before it, so the cached copy serves).
 */
export function exactFor(loadedAtMs: number, exactForMs: number, nowMs: number): boolean {
  return exactForMs <= loadedAtMs + CONFIG_LEAD_MS || exactForMs > nowMs + CONFIG_LEAD_MS;
}

/** A per-container cache of one value per key, exact at an instant (`exactFor`), sharing concurrent loads. */
export class ExactCache<T> {
  private readonly entries = new Map<string, { value: T; loadedAtMs: number; expiresAtMs: number }>();
  private readonly loading = new Map<string, { promise: Promise<T>; issuedAtMs: number }>();

  /** `negativeTtlMs`: how long a null value is kept (default: as long as any). */
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly negativeTtlMs: number = ttlMs,
  ) {}

  /** `exactForMs`: the instant the copy must be exact for (absent: any live copy serves). */
  get(key: string, load: () => Promise<T>, exactForMs?: number): Promise<T> {
    const nowMs = this.now();
    const fits = (issuedAtMs: number) => exactForMs === undefined || exactFor(issuedAtMs, exactForMs, nowMs);
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.expiresAtMs > nowMs && fits(hit.loadedAtMs)) return Promise.resolve(hit.value);
    const inFlight = this.loading.get(key);
    if (inFlight !== undefined && fits(inFlight.issuedAtMs)) return inFlight.promise;

    // The read is issued at or after nowMs, so dating the copy nowMs is conservative.
    const issuedAtMs = nowMs;
    const done = () => {
      if (this.loading.get(key) === mine) this.loading.delete(key);
    };
    const mine = {
      issuedAtMs,
      promise: load().then(
        (value) => {
          done();
          const current = this.entries.get(key);
          if (current === undefined || current.loadedAtMs <= issuedAtMs) {
            const lifetimeMs = value === null ? this.negativeTtlMs : this.ttlMs;
            this.entries.set(key, { value, loadedAtMs: issuedAtMs, expiresAtMs: issuedAtMs + lifetimeMs });
          }
          return value;
        },
        (err: unknown) => {
          done();
          throw err;
        },
      ),
    };
    this.loading.set(key, mine);
    return mine.promise;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
