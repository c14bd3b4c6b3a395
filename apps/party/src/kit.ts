/**
 * What the party, client and owner pages share: where the coordinator is, joining a session slot and opening the
 * WebRTC channel to the session's other endpoints, the error banner, and byte formatting.
 */
import { createPeerChannel, endpointName, endpointSlot, joinSession, type PeerChannel } from '@puma/transport-webrtc';
import type { Channel, EndpointId } from '@puma/transport';

/**
 * The coordinator serves the built pages under its root (dist/pages/<app>/), so by default it sits one level
 * above the page; `?coordinator=` overrides that for pages hosted elsewhere.
 */
export function coordinatorUrl(params: URLSearchParams): string {
  const given = params.get('coordinator');
  const url = new URL(given ?? '../', location.href);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`coordinator must be an http(s) URL, got "${given}"`);
  return url.href.replace(/\/$/, '');
}

/** Session ids are the coordinator's 32 hex digits; anything else is refused before any request. */
export function sessionParam(params: URLSearchParams): string | null {
  const id = params.get('session');
  if (id === null || id === '') return null;
  if (!/^[0-9a-f]{32}$/.test(id)) throw new Error(`session "${id}" is not a session id (32 hex digits)`);
  return id;
}

/**
 * How long a page waits for every peer of the session to show up. People open the five pages one after the
 * other, so this is minutes, not the transport's 30 s default.
 */
export const CONNECT_TIMEOUT_MS = 5 * 60_000;
/**
 * A peer that falls silent this long counts as gone. Pages send keepalives every second from their main thread
 * (the protocol runs in workers), so 6 s of silence means a closed tab, and the page can report it within 10 s.
 */
export const IDLE_TIMEOUT_MS = 6_000;

export interface Joined {
  channel: PeerChannel;
  /** Human names of the peers, for the status line. */
  peerNames: string[];
}

/** Claims this endpoint's slot in the session and opens the channel; resolves once every link is open. */
export async function joinAndConnect(coordinator: string, sessionId: string, self: EndpointId, peers: readonly EndpointId[]): Promise<Joined> {
  await joinSession(coordinator, sessionId, endpointSlot(self));
  const channel = createPeerChannel({ coordinator, sessionId, self, peers, connectTimeoutMs: CONNECT_TIMEOUT_MS, idleTimeoutMs: IDLE_TIMEOUT_MS });
  // A closing page says goodbye on its links, so the peers name the reason at once instead of noticing the
  // silence after IDLE_TIMEOUT_MS (Chromium does not always close the data channels of a closing tab).
  const onPageHide = () => channel.close(`${endpointName(self)} closed its page`);
  addEventListener('pagehide', onPageHide);
  try {
    await channel.ready;
  } catch (e) {
    removeEventListener('pagehide', onPageHide);
    channel.close(e instanceof Error ? e.message : String(e));
    throw e;
  }
  return { channel, peerNames: peers.map(endpointName) };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Shows `message` in the page's error banner (an element with role="alert"). */
export function showError(banner: HTMLElement, message: string): void {
  banner.textContent = message;
  banner.hidden = false;
}

/**
 * Test and audit mode (`?audit=1`): a Channel that keeps a copy of every payload this endpoint sends or
 * receives, so an end-to-end test can check that none of it ever reached the coordinator. Off by default: it
 * holds the whole session's traffic in memory.
 */
export class AuditedChannel implements Channel {
  private readonly copies: Uint8Array[] = [];
  private total = 0;

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

  /** Base64 of `length` bytes of the kept payloads, concatenated, from `offset` (for a planted-leak check). */
  read(offset: number, length: number): string {
    const all = this.concatenated();
    return bytesToBase64(all.subarray(offset, offset + length));
  }

  /**
   * Searches the kept traffic in `haystacks` (base64; the coordinator's record as the test hands it over) and
   * counts the traffic's 16-byte windows, at offsets 0, 16, 32, ..., that occur anywhere in them: any stretch
   * of 31 or more traffic bytes inside a haystack contains one of those windows. The search runs here because
   * the traffic (megabytes) is far larger than the record. Windows with fewer than 6 distinct byte values
   * (zero runs, padding) are skipped: public data has them too.
   */
  findLeaks(haystacks: string[]): { leaks: number; checked: number; trafficBytes: number } {
    const windows = new Set<string>();
    for (const h of haystacks) {
      const bytes = base64ToBytes(h);
      for (let o = 0; o + AUDIT_WINDOW <= bytes.byteLength; o++) windows.add(windowKey(bytes, o));
    }
    const traffic = this.concatenated();
    let leaks = 0;
    let checked = 0;
    for (let o = 0; o + AUDIT_WINDOW <= traffic.byteLength; o += AUDIT_WINDOW) {
      if (new Set(traffic.subarray(o, o + AUDIT_WINDOW)).size < 6) continue;
      checked++;
      if (windows.has(windowKey(traffic, o))) leaks++;
    }
    return { leaks, checked, trafficBytes: traffic.byteLength };
  }

  private concatenated(): Uint8Array {
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const c of this.copies) {
      out.set(c, o);
      o += c.byteLength;
    }
    return out;
  }

  private keep(data: Uint8Array): void {
    this.copies.push(data.slice());
    this.total += data.byteLength;
  }
}

const AUDIT_WINDOW = 16;

function windowKey(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + AUDIT_WINDOW));
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.byteLength; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function base64ToBytes(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
