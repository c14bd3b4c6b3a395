/**
 * Fail-fast for a whole session. A party blocked on a message from a live peer would otherwise wait forever
 * when a third endpoint vanished (that live peer is itself stuck), so every endpoint watches the peers it
 * computes with: a peer that ends normally says `session:end`, one that fails says `session:abort` with its
 * reason, and a peer whose link fails makes the channel reject the watcher's receive. The first failure closes
 * the channel with a message naming who disconnected, which rejects every pending receive at once.
 *
 * Channels deliver messages in order and before a peer's close (PeerChannel sends BYE after queued data), so
 * `session:end` from a peer that finished always arrives before its link goes away.
 */
import { endpointLabel, type Channel, type EndpointId } from '@puma/transport';

const END_TAG = 'session:end';
const ABORT_TAG = 'session:abort';

export class SessionGuard {
  private failure: Error | null = null;
  private settled = false;
  private readonly ended = new Set<EndpointId>();
  private rejectFailed!: (e: Error) => void;
  /** Rejects with the first failure; never resolves. */
  readonly failed: Promise<never>;
  private readonly onAbort = () => {
    const reason = this.signal?.reason;
    this.fail(new Error(`${this.name} stopped: ${reason instanceof Error ? reason.message : String(reason ?? 'aborted')}`));
  };

  constructor(
    private readonly channel: Channel,
    private readonly watched: readonly EndpointId[],
    private readonly signal?: AbortSignal,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => {});
    for (const peer of watched) {
      channel.recv(peer, END_TAG).then(
        () => this.ended.add(peer),
        () => {},
      );
      channel.recv(peer, ABORT_TAG).then(
        (why) => this.fail(new Error(`${this.name}: ${endpointLabel(peer)} stopped (${new TextDecoder().decode(why)})`)),
        (e: unknown) => {
          if (!this.ended.has(peer)) this.fail(new Error(`${this.name}: ${e instanceof Error ? e.message : String(e)}`));
        },
      );
    }
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get name(): string {
    return endpointLabel(this.channel.self);
  }

  /** `work`, unless the session fails first. */
  run<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.failed]);
  }

  /** Normal end: tells the watched peers, stops watching. */
  finish(): void {
    if (this.settled) return;
    this.settled = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    for (const peer of this.watched) this.trySend(peer, END_TAG, new Uint8Array(0));
  }

  /**
   * Failure: the error the session rejects with. The first failure wins (a later one is usually its echo);
   * peers that have not ended hear the reason, and the channel closes so every pending receive rejects.
   */
  fail(e: unknown): Error {
    if (this.failure) return this.failure;
    let err = e instanceof Error ? e : new Error(String(e));
    if (!err.message.startsWith(this.name)) err = new Error(`${this.name}: ${err.message}`);
    this.failure = err;
    if (!this.settled) {
      this.settled = true;
      this.signal?.removeEventListener('abort', this.onAbort);
      for (const peer of this.watched) if (!this.ended.has(peer)) this.trySend(peer, ABORT_TAG, new TextEncoder().encode(err.message));
    }
    this.rejectFailed(err);
    this.channel.close(err.message);
    return err;
  }

  private trySend(peer: EndpointId, tag: string, data: Uint8Array): void {
    try {
      this.channel.send(peer, tag, data);
    } catch {
      // That peer's link is already gone; it needs no notice.
    }
  }
}
