/**
 * Everything the coordinator receives, kept so an end-to-end test can prove that no share, seed or key ever
 * reached it: HTTP request heads and bodies, signaling connection URLs and every signaling message, raw.
 * Storage stops at a byte limit (then `truncated` is true and only the counters keep going), so a long-running
 * coordinator cannot grow without bound; a test asserting absence must also assert `!truncated`.
 */
export type RecordKind = 'http' | 'signal-connect' | 'signal-message';

export interface RecordEntry {
  seq: number;
  /** Milliseconds since the epoch. */
  at: number;
  kind: RecordKind;
  /** Remote address and port of the sender. */
  remote: string;
  /** Request line and headers (HTTP and signal-connect), or the WebSocket's peer id (signal-message). */
  head: string;
  /** The bytes received: the request body or the WebSocket message. */
  data: Uint8Array;
  /** Byte count received, which exceeds data.byteLength when a body was cut off at the size limit. */
  bytes: number;
}

export interface CoordinatorRecord {
  readonly entries: readonly RecordEntry[];
  /** Entries received, stored or not. */
  readonly count: number;
  /** Bytes received (heads and data), stored or not. */
  readonly totalBytes: number;
  /** True once the storage limit dropped entries. */
  readonly truncated: boolean;
  /** Entries whose head or data contain `needle` (a string is searched as UTF-8). */
  find(needle: string | Uint8Array): RecordEntry[];
  contains(needle: string | Uint8Array): boolean;
  clear(): void;
}

export class Recorder implements CoordinatorRecord {
  private readonly stored: RecordEntry[] = [];
  private storedBytes = 0;
  private received = 0;
  private receivedBytes = 0;
  private dropped = false;

  constructor(private readonly limitBytes: number) {}

  get entries(): readonly RecordEntry[] {
    return this.stored;
  }
  get count(): number {
    return this.received;
  }
  get totalBytes(): number {
    return this.receivedBytes;
  }
  get truncated(): boolean {
    return this.dropped;
  }

  add(kind: RecordKind, remote: string, head: string, data: Uint8Array, bytes = data.byteLength): void {
    const size = Buffer.byteLength(head) + bytes;
    this.received += 1;
    this.receivedBytes += size;
    if (this.dropped || this.storedBytes + size > this.limitBytes) {
      this.dropped = true;
      return;
    }
    this.storedBytes += size;
    this.stored.push({ seq: this.received, at: Date.now(), kind, remote, head, data: Uint8Array.from(data), bytes });
  }

  find(needle: string | Uint8Array): RecordEntry[] {
    const n = typeof needle === 'string' ? Buffer.from(needle, 'utf8') : Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength);
    if (n.byteLength === 0) return [...this.stored];
    return this.stored.filter(
      (e) => Buffer.from(e.head, 'utf8').includes(n) || Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).includes(n),
    );
  }

  contains(needle: string | Uint8Array): boolean {
    return this.find(needle).length > 0;
  }

  clear(): void {
    this.stored.length = 0;
    this.storedBytes = 0;
    this.received = 0;
    this.receivedBytes = 0;
    this.dropped = false;
  }
}
