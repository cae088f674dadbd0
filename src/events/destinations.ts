/**
 * Which addresses webhook deliveries may go to. An admin credential chooses
 * endpoint URLs, and the start of a failed delivery's response comes back in
 * the endpoint's health, so an unrestricted URL would let it probe the
 * network Roster runs in (cloud metadata above all). Checked when an
 * endpoint is registered (the URL's host as written) and again when a
 * delivery connects, on the addresses DNS returned (src/events/http-client.ts),
 * so a name that later resolves elsewhere (DNS rebinding) is caught too.
 *
 * Rules: the most specific matching range decides (longest prefix, as in
 * routing); on equal length WEBHOOK_DENIED_CIDRS beats WEBHOOK_ALLOWED_CIDRS,
 * which beats the built-in list. An address no range matches is allowed: so
 * are RFC 1918 private ranges, where the host platform usually lives.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Refused unless WEBHOOK_ALLOWED_CIDRS allows them (a more specific entry here still wins over a broader allow). */
export const REFUSED_BY_DEFAULT: readonly (readonly [cidr: string, what: string])[] = [
  ['0.0.0.0/8', 'unspecified'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['169.254.169.254/32', 'cloud metadata'], // AWS, GCP, Azure, OpenStack
  ['169.254.170.2/32', 'cloud metadata'], // AWS ECS task credentials
  ['100.100.100.200/32', 'cloud metadata'], // Alibaba Cloud
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'], // and 255.255.255.255
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'IPv4-compatible (deprecated)'],
  ['fe80::/10', 'link-local'],
  // Unique-local IPv6 is where clouds put metadata over IPv6 (AWS fd00:ec2::254), so it is refused as a
  // whole; allow your cluster's own prefix with WEBHOOK_ALLOWED_CIDRS (the metadata prefix stays refused).
  ['fc00::/7', 'IPv6 unique-local'],
  ['fd00:ec2::/32', 'cloud metadata'],
  ['ff00::/8', 'multicast'],
];

/** Names that mean an address above whatever DNS says (RFC 6761 §6.3 localhost; cloud metadata names). */
const NAMED: Record<string, string[]> = {
  localhost: ['127.0.0.1', '::1'],
  'metadata.google.internal': ['169.254.169.254'],
  'metadata.goog': ['169.254.169.254'],
  'instance-data': ['169.254.169.254'],
  'instance-data.ec2.internal': ['169.254.169.254'],
};

/**
 * Ports no delivery goes to: the Fetch standard's "bad ports" (mail, shell,
 * IRC, …), where a POST with a partly tenant-chosen body could speak to
 * another protocol's server (cross-protocol request forgery).
 */
export const BLOCKED_PORTS: ReadonlySet<number> = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115,
  117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601,
  636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697,
  10080,
]);

/** The verdict for a URL's port (default ports included). */
export function checkPort(url: URL): Verdict {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return BLOCKED_PORTS.has(port) ? { allowed: false, reason: `port ${port} is one no webhook is sent to (another protocol's port)` } : { allowed: true };
}

export interface DestinationRules {
  /** CIDRs (or single addresses) allowed even if refused by default. */
  allowed: readonly string[];
  /** CIDRs (or single addresses) refused in addition to the defaults. */
  denied: readonly string[];
}

interface Rule {
  range: [Address, number];
  allow: boolean;
  /** Rank on equal prefix length: denied 2, allowed 1, built-in 0. */
  rank: number;
  what: string;
  cidr: string;
}

export type Verdict = { allowed: true } | { allowed: false; reason: string };

/** Parse one CIDR or address strictly (dotted-quad IPv4 only); undefined if it is not one. */
export function parseCidr(text: string): [Address, number] | undefined {
  const [addr = '', bits, ...rest] = text.trim().split('/');
  if (rest.length || !isIP(addr)) return undefined;
  const ip = ipaddr.parse(addr);
  const max = ip.kind() === 'ipv4' ? 32 : 128;
  if (bits === undefined) return [ip, max];
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return undefined;
  return [ip, Number(bits)];
}

/** Split a comma-separated list of CIDRs; throws naming the entries that are not CIDRs. */
export function parseCidrList(text: string | undefined): string[] {
  const items = (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((s) => !parseCidr(s));
  if (bad.length) throw new Error(`not an address or CIDR: ${bad.join(', ')}`);
  return items;
}

/** IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses reach the IPv4 address they carry. */
function effective(ip: Address): Address {
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
    if (v6.match(NAT64)) return ipaddr.fromByteArray(v6.toByteArray().slice(12));
  }
  return ip;
}
const NAT64 = ipaddr.parseCIDR('64:ff9b::/96');

export class DestinationPolicy {
  readonly #rules: Rule[];

  constructor(rules: DestinationRules = { allowed: [], denied: [] }) {
    const make = (cidr: string, allow: boolean, rank: number, what: string): Rule => ({ range: parseCidr(cidr)!, allow, rank, what, cidr });
    this.#rules = [
      ...REFUSED_BY_DEFAULT.map(([cidr, what]) => make(cidr, false, 0, what)),
      ...parseCidrList(rules.allowed.join(',')).map((c) => make(c, true, 1, 'allowed by WEBHOOK_ALLOWED_CIDRS')),
      ...parseCidrList(rules.denied.join(',')).map((c) => make(c, false, 2, 'refused by WEBHOOK_DENIED_CIDRS')),
    ];
  }

  /** The verdict for one address (a literal as DNS returns it, brackets allowed for IPv6). */
  checkAddress(address: string): Verdict {
    const m = this.#refusal(address);
    return m ? { allowed: false, reason: `${m.shown} is ${m.what} (in ${m.cidr})` } : { allowed: true };
  }

  /**
   * The verdict for a URL's host as written: an address literal (the WHATWG URL parser has already turned
   * `2130706433`, `0x7f.1` and the like into dotted quads), or a name that always means a refused address.
   * Other names are checked when a delivery connects, on what they resolve to.
   */
  checkHost(hostname: string): Verdict {
    const host = hostname.toLowerCase().replace(/\.$/, '');
    if (isIP(unbracket(host))) return this.checkAddress(host);
    const fixed = NAMED[host] ?? (host.endsWith('.localhost') ? NAMED.localhost : undefined);
    for (const a of fixed ?? []) {
      const m = this.#refusal(a);
      if (m) return { allowed: false, reason: `${hostname} is ${m.what} (${m.shown}, in ${m.cidr})` };
    }
    return { allowed: true };
  }

  #refusal(address: string): { shown: string; what: string; cidr: string } | undefined {
    const literal = unbracket(address);
    if (!isIP(literal)) return { shown: address, what: 'not an IP address', cidr: 'nothing' };
    const raw = ipaddr.parse(literal);
    const ip = effective(raw);
    let best: Rule | undefined;
    for (const r of this.#rules) {
      if (r.range[0].kind() !== ip.kind() || !ip.match(r.range)) continue;
      if (!best || r.range[1] > best.range[1] || (r.range[1] === best.range[1] && r.rank > best.rank)) best = r;
    }
    if (!best || best.allow) return undefined;
    return { shown: ip === raw ? literal : `${literal} (${ip.toString()})`, what: best.what, cidr: best.cidr };
  }
}

const unbracket = (host: string) => host.replace(/^\[(.*)\]$/, '$1');

/** Thrown (as a connection error) when a delivery would connect to a refused address. */
export class DestinationRefusedError extends Error {
  readonly code = 'ERR_WEBHOOK_DESTINATION_REFUSED';
  constructor(reason: string) {
    super(`destination refused: ${reason}`);
    this.name = 'DestinationRefusedError';
  }
}
