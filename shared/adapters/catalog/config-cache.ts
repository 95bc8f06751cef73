import { CONFIG_LEAD_MS } from '../../domain/catalog/config';

/**
 * A small per-container TTL cache for configuration, which changes rarely and is read on every event. Each entry
 * remembers when its read was issued (`loadedAtMs`), so a caller can ask for a copy that is exact at an instant
 * (see `get`).
 */
export class TtlCache<T> {
  private readonly entries = new Map<string, { value: T | null; loadedAtMs: number; expiresAtMs: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly negativeTtlMs: number,
    private readonly now: () => number,
  ) {}

  /**
   * `exactForMs`: a cached copy is used only if it was read no more than CONFIG_LEAD_MS before that instant:
   * every change written after the read takes effect later than that (config.ts), so the copy is exact for it.
   * An instant more than CONFIG_LEAD_MS ahead of now (a future-dated call) cannot be made exact by any read (a
   * change written later may still take effect before it), so none is made for it: the cached copy serves.
   */
  async get(key: string, load: () => Promise<T | null>, exactForMs?: number): Promise<T | null> {
    const hit = this.entries.get(key);
    const nowMs = this.now();
    const exact = exactForMs === undefined || (hit !== undefined && exactForMs <= hit.loadedAtMs + CONFIG_LEAD_MS) || exactForMs > nowMs + CONFIG_LEAD_MS;
    if (hit !== undefined && hit.expiresAtMs > nowMs && exact) return hit.value;
    const value = await load();
    // Misses are cached briefly too, so a flood of webhooks for an unknown account does not become reads.
    this.entries.set(key, { value, loadedAtMs: nowMs, expiresAtMs: nowMs + (value === null ? this.negativeTtlMs : this.ttlMs) });
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
