/**
 * What the "who sees what" panels of the client and visitor pages show: the client's input shares as they leave
 * for each party (one share bundle per party and step), tapped from the client's channel, and hex dumps of them.
 */
import type { Channel, EndpointId } from '@puma/transport';

/** The first bytes of a payload as a hex dump: 16 bytes a line, offset first. */
export function hexDump(bytes: Uint8Array, maxBytes = 128): string {
  const lines: string[] = [];
  for (let o = 0; o < Math.min(bytes.byteLength, maxBytes); o += 16) {
    const row = Array.from(bytes.subarray(o, Math.min(o + 16, bytes.byteLength, maxBytes)), (b) => b.toString(16).padStart(2, '0'));
    lines.push(`${o.toString(16).padStart(4, '0')}  ${row.join(' ')}`);
  }
  if (bytes.byteLength > maxBytes) lines.push(`… ${bytes.byteLength} bytes in all`);
  return lines.join('\n') || '(empty)';
}

/** Tag of the client's input shares for step s of job n (protocol's sendInput prefixes "in:" to "j<n>/tok:<s>"). */
const INPUT_TAG = /^in:j\d+\/tok:(\d+)$/;

/**
 * Passes everything through to the real channel and reports the client's input messages (one share bundle per
 * party and step) as they leave.
 */
export class InputTap implements Channel {
  constructor(
    private readonly inner: Channel,
    private readonly onInputShare: (party: EndpointId, step: number, bytes: Uint8Array) => void,
  ) {}
  get self() {
    return this.inner.self;
  }
  get stats() {
    return this.inner.stats;
  }
  send(to: EndpointId, tag: string, data: Uint8Array): void {
    const input = INPUT_TAG.exec(tag);
    if (input && to >= 0 && to <= 2) this.onInputShare(to, Number(input[1]), data);
    this.inner.send(to, tag, data);
  }
  recv(from: EndpointId, tag: string): Promise<Uint8Array> {
    return this.inner.recv(from, tag);
  }
  close(reason?: string): void {
    this.inner.close(reason);
  }
  /** The identity the peer proved on its link: the runtime checks it against the approved parties. */
  peerIdentity(peer: EndpointId): string | undefined {
    return this.inner.peerIdentity?.(peer);
  }
}
