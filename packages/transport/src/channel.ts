/**
 * A Channel connects one endpoint (party 0/1/2, the client or the model owner) to the others. Messages are
 * byte arrays tagged with a deterministic operation id; `recv` matches on (sender, tag), so messages that
 * arrive out of order can never be mixed between protocol steps. Every byte sent is counted.
 */
export const PARTY_IDS = [0, 1, 2] as const;
export type PartyId = 0 | 1 | 2;
/** Endpoint ids: 0, 1, 2 are the computing parties; CLIENT and OWNER feed inputs and receive outputs. */
export const CLIENT = 3;
export const OWNER = 4;
export type EndpointId = number;

export interface TrafficStats {
  /** Bytes of payload sent, per destination endpoint id. */
  bytesSentTo: Record<number, number>;
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
}

export interface Channel {
  readonly self: EndpointId;
  /**
   * Queues `data` for endpoint `to` under `tag`. The channel may keep a reference until it is delivered, so
   * the caller must not modify `data` afterwards.
   */
  send(to: EndpointId, tag: string, data: Uint8Array): void;
  /** Resolves with the message from `from` tagged `tag`; rejects when the channel closes or fails first. */
  recv(from: EndpointId, tag: string): Promise<Uint8Array>;
  readonly stats: TrafficStats;
  /** Fails every pending and future recv with `reason` and releases resources. */
  close(reason?: string): void;
  /**
   * Lowercase hex SHA-256 fingerprint (64 digits) of the long-term public key `peer` proved on its link to this
   * endpoint; undefined while that link is not authenticated. Channels without authenticated identities (plain
   * in-memory channels) do not implement it.
   */
  peerIdentity?(peer: EndpointId): string | undefined;
}

export function emptyStats(): TrafficStats {
  return { bytesSentTo: {}, bytesSent: 0, bytesReceived: 0, messagesSent: 0 };
}

export function countSent(stats: TrafficStats, to: EndpointId, bytes: number): void {
  stats.bytesSentTo[to] = (stats.bytesSentTo[to] ?? 0) + bytes;
  stats.bytesSent += bytes;
  stats.messagesSent += 1;
}

/** How endpoints are named in messages for people: "party 1", "client", "model owner". */
export function endpointLabel(id: EndpointId): string {
  return id === CLIENT ? 'client' : id === OWNER ? 'model owner' : `party ${id}`;
}

/**
 * Matches incoming messages with receivers by (sender, tag). Shared by every Channel implementation so
 * they differ only in how bytes move.
 *
 * Every (sender, tag) is used once per channel: a second message under a tag already delivered or taken is a
 * protocol error that fails every receive, never a message stored for a later step to pick up. Remembering the
 * taken keys costs one Set entry per message received, about 53 bytes in V8 for keys like "1|4711.3" (measured
 * over 10^6 keys). A party receives about 0.55 messages per protocol round (stories260K: ~300 per token), so a
 * 1,500-round GPT-2-base step adds ~45 KB and an 80-token generation a few MiB; it goes with the session's channel.
 */
export class Mailbox {
  private readonly arrived = new Map<string, Uint8Array>();
  private readonly waiting = new Map<string, { resolve: (d: Uint8Array) => void; reject: (e: Error) => void }>();
  private readonly taken = new Set<string>();
  private failure: Error | null = null;

  constructor(private readonly stats: TrafficStats) {}

  deliver(from: EndpointId, tag: string, data: Uint8Array): void {
    if (this.failure) return;
    const key = `${from}|${tag}`;
    this.stats.bytesReceived += data.byteLength;
    if (this.taken.has(key) || this.arrived.has(key)) {
      this.fail(new Error(`protocol error: second message from ${endpointLabel(from)} with tag ${tag}`));
      return;
    }
    const w = this.waiting.get(key);
    if (w) {
      this.waiting.delete(key);
      this.taken.add(key);
      w.resolve(data);
      return;
    }
    this.arrived.set(key, data);
  }

  take(from: EndpointId, tag: string): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    const key = `${from}|${tag}`;
    const d = this.arrived.get(key);
    if (d) {
      this.arrived.delete(key);
      this.taken.add(key);
      return Promise.resolve(d);
    }
    if (this.taken.has(key)) return Promise.reject(new Error(`protocol error: the message from ${endpointLabel(from)} with tag ${tag} was already received`));
    if (this.waiting.has(key)) return Promise.reject(new Error(`protocol error: two receivers for ${endpointLabel(from)} tag ${tag}`));
    return new Promise((resolve, reject) => this.waiting.set(key, { resolve, reject }));
  }

  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    this.arrived.clear();
  }

  get pending(): number {
    return this.waiting.size;
  }
}
