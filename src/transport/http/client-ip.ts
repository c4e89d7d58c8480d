import { BlockList, isIP } from 'node:net';

/**
 * The proxies whose X-Forwarded-For this hub believes (`server.trustedProxies`: addresses or CIDRs,
 * IPv4 or IPv6). Empty, the default, means the TCP peer is the client: a hub exposed directly can
 * then not be fooled into a fresh rate-limit budget per forged header.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, prefix] = entry.trim().split('/');
      const family = isIP(address ?? '');
      if (!family) throw new Error(`trusted proxy '${entry}' is not an IP address or CIDR`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) this.list.addAddress(address!, type);
      else this.list.addSubnet(address!, Number(prefix), type);
    }
    this.size = entries.length;
  }

  has(ip: string): boolean {
    const family = isIP(ip);
    return family !== 0 && this.list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
function plain(ip: string): string {
  return ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/**
 * The client address: the TCP peer, unless the peer is a trusted proxy; then X-Forwarded-For is
 * read right to left (each proxy appends the address it saw) and the first hop that is not itself
 * trusted is the client. Entries left of it were written by the client and prove nothing. A hop
 * that is not an IP address stops the walk at the last trusted hop before it.
 */
export function clientIp(headers: Record<string, string>, peer: string, trusted: TrustedProxies): string {
  let client = plain(peer);
  if (trusted.size === 0 || !trusted.has(client)) return client;
  const hops = (headers['x-forwarded-for'] ?? '').split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plain(hops[i]!.trim());
    if (hop === '') continue;
    if (!isIP(hop)) return client;
    client = hop;
    if (!trusted.has(hop)) return hop;
  }
  return client;
}
