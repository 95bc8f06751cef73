/**
 * The optional source-IP allow-list of a network's postbacks, IPv4 and IPv6 CIDRs, checked with node:net's
 * BlockList (pure: an in-memory prefix table, no socket). Platforms sign nothing, so a leaked postback URL can be
 * replayed from anywhere; an allow-list of the platform's egress ranges closes that.
 *
 * - A CIDR is `address/prefix` (a bare address is a /32 or /128): the address as node:net reads it (`isIP`), no
 *   zone id (`%eth0`), prefix 0–32 (IPv4) or 0–128 (IPv6). Host bits below the prefix are ignored, as routers do.
 * - An IPv4 source written as an IPv4-mapped IPv6 address (`::ffff:203.0.113.9`, how a dual-stack listener reports
 *   it) is the IPv4 address: it matches IPv4 ranges, and IPv4 sources match `::ffff:0:0/96` ranges.
 * - An empty list allows every source; a source that is not an IP address is never allowed by a non-empty list.
 */
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** The CIDR, or why it is not one (a message for a field error; it never repeats the text). */
export function parseCidr(text: string): Cidr | { readonly error: string } {
  const [address = '', prefixText, ...rest] = text.trim().split('/');
  if (rest.length > 0) return { error: 'must be one address/prefix' };
  const version = isIP(address);
  if (version === 0 || address.includes('%')) return { error: 'must start with an IPv4 or IPv6 address (no zone id)' };
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return { error: `the prefix must be a whole number from 0 to ${max}` };
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return { error: `the prefix must be a whole number from 0 to ${max}` };
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export function isCidr(text: string): boolean {
  return !('error' in parseCidr(text));
}

/** A compiled allow-list; build it once per registration, check every postback against it. */
export interface IpAllowList {
  readonly allows: (sourceIp: string) => boolean;
}

export function ipAllowList(cidrs: readonly string[]): IpAllowList {
  if (cidrs.length === 0) return { allows: () => true };
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    // The registration schema refuses bad CIDRs; one that slips through allows nothing rather than everything.
    if ('error' in cidr) continue;
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return {
    allows: (sourceIp) => {
      const version = isIP(sourceIp);
      if (version === 0) return false;
      return list.check(sourceIp, version === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
