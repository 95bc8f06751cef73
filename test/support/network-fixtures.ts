/**
 * In-memory stand-ins for the networks capability's ports (shared/app/networks/ports.ts) and the call store reads
 * matching needs, for unit tests of the use cases. Same semantics as network-repo.ts: postbacks keyed by their
 * whole content (a redelivery is a no-op), claims by network call id, disputes created once.
 */
import type { CallNetworkAttribution } from '../../shared/domain/networks/attribution';
import type { NetworkClaim, NetworkPostback } from '../../shared/domain/networks/claims';
import type { CallQuery, Log, Page, StoredCall } from '../../shared/app/kernel/ports';
import { ConfigWriteConflict } from '../../shared/app/kernel/ports';
import type { ClaimMatch, NetworkDispute, NetworkRecord, NetworkStore, StoredClaim } from '../../shared/app/networks/ports';

export class MemoryNetworkStore implements NetworkStore {
  readonly networks = new Map<string, NetworkRecord>();
  readonly postbacks = new Map<string, Map<string, NetworkPostback>>();
  readonly claims = new Map<string, StoredClaim>();
  readonly attributions = new Map<string, CallNetworkAttribution>();
  readonly disputes = new Map<string, NetworkDispute>();

  async getNetwork(accountId: string, networkId: string) {
    return this.networks.get(`${accountId}/${networkId}`) ?? null;
  }
  async putNetwork(record: NetworkRecord, expectedRev: number | null) {
    const key = `${record.accountId}/${record.networkId}`;
    const stored = this.networks.get(key);
    if ((stored?.rev ?? null) !== expectedRev) throw new ConfigWriteConflict(key);
    this.networks.set(key, structuredClone(record));
  }
  async listNetworks(accountId: string) {
    return [...this.networks.values()].filter((n) => n.accountId === accountId);
  }
  async putPostback(accountId: string, networkId: string, postback: NetworkPostback): Promise<'created' | 'exists'> {
    const key = `${accountId}/${networkId}/${postback.networkCallId}`;
    const content = JSON.stringify(postback, Object.keys(postback).sort());
    const list = this.postbacks.get(key) ?? new Map<string, NetworkPostback>();
    this.postbacks.set(key, list);
    if (list.has(content)) return 'exists';
    list.set(content, postback);
    return 'created';
  }
  async postbacksOf(accountId: string, networkId: string, networkCallId: string) {
    return [...(this.postbacks.get(`${accountId}/${networkId}/${networkCallId}`)?.values() ?? [])];
  }
  async putClaim(accountId: string, networkId: string, claim: NetworkClaim) {
    const key = `${accountId}/${networkId}/${claim.networkCallId}`;
    this.claims.set(key, { claim, match: this.claims.get(key)?.match ?? null });
  }
  async getClaim(accountId: string, networkId: string, networkCallId: string) {
    return this.claims.get(`${accountId}/${networkId}/${networkCallId}`) ?? null;
  }
  async claimsBetween(accountId: string, networkId: string, from: string, to: string) {
    return [...this.claims.entries()]
      .filter(([k, c]) => k.startsWith(`${accountId}/${networkId}/`) && c.claim.startedAt >= from && c.claim.startedAt < to)
      .map(([, c]) => c);
  }
  async setClaimMatch(accountId: string, networkId: string, networkCallId: string, match: ClaimMatch) {
    const key = `${accountId}/${networkId}/${networkCallId}`;
    const stored = this.claims.get(key);
    if (stored !== undefined) this.claims.set(key, { ...stored, match });
  }
  async setCallNetwork(callId: string, attribution: CallNetworkAttribution) {
    this.attributions.set(callId, attribution);
  }
  async putNetworkDispute(accountId: string, dispute: NetworkDispute): Promise<'created' | 'exists'> {
    const key = `${accountId}/${dispute.networkId}/${dispute.networkCallId}`;
    if (this.disputes.has(key)) return 'exists';
    this.disputes.set(key, dispute);
    return 'created';
  }
  async networkDisputes(accountId: string, networkId: string, from: string, to: string) {
    return [...this.disputes.values()].filter((d) => d.networkId === networkId && d.startedAt >= from && d.startedAt < to);
  }
}

/** Rated calls by id, listed by start as the gsi1 index lists them. */
export class MemoryCalls {
  readonly calls = new Map<string, StoredCall>();

  async getCall(callId: string) {
    return this.calls.get(callId) ?? null;
  }
  async listCalls(query: CallQuery): Promise<Page<StoredCall>> {
    const items = [...this.calls.values()].filter(
      (c) => c.accountId === query.accountId && c.rating !== null && c.startedAt !== null && c.startedAt >= (query.from ?? '') && c.startedAt < (query.to ?? '9999'),
    );
    return { items, cursor: null };
  }
}

export interface RecordedLog extends Log {
  readonly lines: string[];
}

/** A log that keeps every line as JSON (to check what is never logged). */
export function recordingLog(): RecordedLog {
  const lines: string[] = [];
  const at = (level: string) => (message: string, attrs?: Record<string, unknown>) => void lines.push(JSON.stringify({ level, message, ...attrs }));
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
