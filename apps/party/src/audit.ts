/**
 * Test and audit mode (`?audit=1`): a Channel that keeps a copy of every payload this endpoint sends or
 * receives, and searches it for copies in the coordinator's record. The search runs in the page because the
 * traffic (megabytes) is far larger than the record; the test decodes the record (e2e/record-search.ts) and
 * hands it over as base64 "haystacks". Off by default: it holds the whole session's traffic in memory.
 */
import type { Channel, EndpointId } from '@puma/transport';

/** Bytes per searched fragment: any copy of 16 or more traffic bytes inside a haystack holds a whole fragment. */
export const AUDIT_WINDOW = 16;
/** Fragments with fewer distinct byte values (zero runs, padding) are public data too and are skipped. */
const MIN_DISTINCT = 6;

export interface LeakSearch {
  /** Traffic fragments found in a haystack. */
  leaks: number;
  /** Traffic fragments searched (every offset, less the skipped low-entropy and plain-text ones). */
  checked: number;
  trafficBytes: number;
  /** Traffic offset of the first fragment found, or -1. */
  firstLeakAt: number;
}

export class AuditedChannel implements Channel {
  private readonly copies: Uint8Array[] = [];

  constructor(private readonly inner: Channel) {}

  get self(): EndpointId {
    return this.inner.self;
  }
  get stats() {
    return this.inner.stats;
  }
  send(to: EndpointId, tag: string, data: Uint8Array): void {
    this.keep(data);
    this.inner.send(to, tag, data);
  }
  async recv(from: EndpointId, tag: string): Promise<Uint8Array> {
    const data = await this.inner.recv(from, tag);
    this.keep(data);
    return data;
  }
  close(reason?: string): void {
    this.inner.close(reason);
  }
  /** The identity the peer proved on its link: the runtime checks it against the approved parties. */
  peerIdentity(peer: EndpointId): string | undefined {
    return this.inner.peerIdentity?.(peer);
  }

  /** Base64 of `length` bytes of the kept payloads, concatenated, from `offset` (for a planted-leak check). */
  read(offset: number, length: number): string {
    return bytesToBase64(this.concatenated().subarray(offset, offset + length));
  }

  /** Searches the kept traffic in `haystacks` (base64); see findFragments. */
  findLeaks(haystacks: string[]): LeakSearch {
    return findFragments(this.concatenated(), haystacks.map(base64ToBytes));
  }

  private concatenated(): Uint8Array {
    return concat(this.copies);
  }

  private keep(data: Uint8Array): void {
    this.copies.push(data.slice());
  }
}

/**
 * Counts the 16-byte fragments of `traffic`, at every offset, that occur anywhere in `haystacks`. Fragments with
 * fewer than 6 distinct byte values, and fragments that are plain printable text, are skipped: shares, seeds
 * and keys are random bytes (a random fragment is all printable with probability ~1e-7), while zero runs and
 * public protocol text (model names, JSON field names) occur on both sides legitimately. The prompt and the
 * output, which are text, are checked by the test as text.
 *
 * Haystack fragments are indexed by their first 6 bytes (a 48-bit number) and each candidate is compared in
 * full, so the search is linear in traffic plus haystack bytes.
 */
export function findFragments(traffic: Uint8Array, haystacks: readonly Uint8Array[]): LeakSearch {
  const all = concat(haystacks);
  // First-6-byte key -> offset in `all` of a fragment with that prefix (an array once there are several).
  const index = new Map<number, number | number[]>();
  let start = 0;
  for (const h of haystacks) {
    forEachFragment(all.subarray(start, start + h.byteLength), (o) => {
      const at = start + o;
      const key = prefixKey(all, at);
      const seen = index.get(key);
      if (seen === undefined) index.set(key, at);
      else if (typeof seen === 'number') index.set(key, [seen, at]);
      else seen.push(at);
    });
    start += h.byteLength;
  }
  let leaks = 0;
  let checked = 0;
  let firstLeakAt = -1;
  forEachFragment(traffic, (o) => {
    checked++;
    const seen = index.get(prefixKey(traffic, o));
    if (seen === undefined) return;
    const found = typeof seen === 'number' ? sameFragment(traffic, o, all, seen) : seen.some((at) => sameFragment(traffic, o, all, at));
    if (!found) return;
    leaks++;
    if (firstLeakAt < 0) firstLeakAt = o;
  });
  return { leaks, checked, trafficBytes: traffic.byteLength, firstLeakAt };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

const isText = (b: number) => (b >= 0x20 && b <= 0x7e) || b === 0x09 || b === 0x0a || b === 0x0d;

/** Calls `visit` with every offset whose 16-byte fragment is neither low-entropy nor plain text (sliding counts). */
function forEachFragment(bytes: Uint8Array, visit: (offset: number) => void): void {
  if (bytes.byteLength < AUDIT_WINDOW) return;
  const counts = new Uint16Array(256);
  let distinct = 0;
  let binary = 0;
  const add = (b: number, d: 1 | -1) => {
    if (d === 1 && counts[b]++ === 0) distinct++;
    if (d === -1 && --counts[b] === 0) distinct--;
    if (!isText(b)) binary += d;
  };
  for (let i = 0; i < AUDIT_WINDOW; i++) add(bytes[i], 1);
  for (let o = 0; ; o++) {
    if (distinct >= MIN_DISTINCT && binary > 0) visit(o);
    if (o + AUDIT_WINDOW >= bytes.byteLength) return;
    add(bytes[o], -1);
    add(bytes[o + AUDIT_WINDOW], 1);
  }
}

function prefixKey(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + (b[o + 3] | (b[o + 4] << 8) | (b[o + 5] << 16)) * 0x1000000;
}

function sameFragment(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < AUDIT_WINDOW; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.byteLength; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function base64ToBytes(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
