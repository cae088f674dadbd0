/**
 * The HTTP client deliveries go through: an undici Agent whose connector
 * enforces the destination policy (src/events/destinations.ts) on the
 * address actually connected to, after DNS resolution, so a name that
 * resolves to a refused address (DNS rebinding included) is never connected
 * to, and that gives up on a connection after a short connect timeout rather
 * than the whole delivery timeout.
 */
import dns, { type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { DestinationRefusedError, type DestinationPolicy } from './destinations.js';

export interface DeliveryAgentOptions {
  policy: DestinationPolicy;
  connectTimeoutMs: number;
  /** Name resolution; dns.lookup (the system resolver, /etc/hosts included) by default. */
  lookup?: typeof dns.lookup;
}

export function deliveryAgent(opts: DeliveryAgentOptions): Agent {
  const { policy } = opts;
  const resolve = opts.lookup ?? dns.lookup;
  // Node calls this for every connection to a name (never for an address literal: those are checked below).
  // Only allowed addresses are handed on; if none is left the connection fails with the reason.
  const lookup = ((hostname: string, options: dns.LookupOptions, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const all = addresses as LookupAddress[];
      const ok = all.filter((a) => policy.checkAddress(a.address).allowed);
      if (ok.length === 0) {
        const first = all[0] ? policy.checkAddress(all[0].address) : undefined;
        const why = first && !first.allowed ? first.reason : 'no address';
        return callback(new DestinationRefusedError(`${hostname} → ${why}`), []);
      }
      if (options.all) callback(null, ok);
      else callback(null, ok[0]!.address, ok[0]!.family);
    });
  }) as LookupFunction;
  const connect = buildConnector({ timeout: opts.connectTimeoutMs, lookup });
  return new Agent({
    connect(options, callback) {
      const literal = options.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(literal)) {
        const v = policy.checkAddress(literal);
        if (!v.allowed) return callback(new DestinationRefusedError(v.reason), null);
      }
      connect(options, callback);
    },
  });
}
