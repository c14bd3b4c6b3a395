/**
 * Which address a request counts against for the per-address limits. One host usually has a whole IPv6 /64,
 * so IPv6 addresses count per /64; IPv4 (including IPv4-mapped IPv6) per address.
 */
import type http from 'node:http';
import { isIP } from 'node:net';
import { HttpError } from './http.ts';

/**
 * The client's address: the socket's remote address, or with `trustProxy` the rightmost X-Forwarded-For entry
 * (the one the trusted proxy appended; entries left of it come from the client and could be forged).
 */
export function clientAddress(req: http.IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const entries = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((e) => e.trim()).filter(Boolean);
    const last = entries.at(-1);
    if (last !== undefined) {
      const address = unmapped(last);
      if (isIP(address) === 0) throw new HttpError(400, `X-Forwarded-For ends in ${JSON.stringify(last)}, which is not an IP address`);
      return address;
    }
  }
  return unmapped(req.socket.remoteAddress ?? 'unknown');
}

/** The key the limits count `address` under: the address itself for IPv4, its /64 prefix for IPv6. */
export function limitKey(address: string): string {
  return isIP(address) === 6 ? `${ipv6Prefix64(address)}::/64` : address;
}

function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address;
}

/** The first four 16-bit groups of an IPv6 address, written without leading zeros. */
function ipv6Prefix64(address: string): string {
  const bare = address.split('%')[0].toLowerCase();
  const [head, tail] = bare.includes('::') ? bare.split('::') : [bare, undefined];
  const groupsOf = (part: string | undefined) => (part ? part.split(':') : []);
  // An embedded dotted IPv4 tail stands for two groups.
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const headGroups = groupsOf(head);
  const tailGroups = groupsOf(tail);
  const zeros = tail === undefined ? 0 : 8 - width(headGroups) - width(tailGroups);
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  return groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':');
}
