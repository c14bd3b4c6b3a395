/**
 * One end of a lane (PeerChannel.openLane): a data channel on a link's authenticated connection, usually
 * transferred into the Web Worker that runs the protocol, so a round's messages go from worker to worker without
 * crossing either page (on this machine class that hop costs 0.4-0.8 ms of a 1.8 ms round; see
 * scripts/bench/transport-lab/ring-bench.ts). Messages use the link's wire format (frame.ts): CHUNK frames,
 * small ones of one task in a BATCH, large ones cut to `frameBytes` and reassembled, with back-pressure at
 * `highWaterMark`. AUTH, PING and BYE stay on the link itself, whose failure closes the lane; a lane carrying
 * any of them is a protocol error.
 *
 * Runs in workers and pages alike: it needs only the RTCDataChannel it is given.
 */
import { BATCH, CHUNK, Reassembler, SendQueue, decodeFrame, takePacket } from './frame.ts';

/** SCTP streams lanes may use: above those PeerJS's channels take (it opens one per connection, stream 0 or 1). */
export const LANE_STREAMS = { min: 16, max: 1023 } as const;

/** The link's limits a lane keeps, read where the link lives (the page) and sent along with the lane. */
export interface LaneLimits {
  /** Largest data-channel message (the link's frame size, capped by SCTP's maxMessageSize). */
  frameBytes: number;
  /** Largest message the peer accepts (the smaller of both sides' limits). */
  sendLimit: number;
  /** Largest message this side accepts, and the bytes partial messages may hold. */
  maxMessageBytes: number;
  maxPendingBytes: number;
  /** Bytes the data channel may hold buffered before sending waits for it to drain. */
  highWaterMark: number;
}

const DRAIN_POLL_MS = 10;

export class LaneEnd {
  private readonly queue = new SendQueue(() => this.pump());
  private readonly reassembler: Reassembler;
  private failed = false;

  /**
   * `deliver` gets each whole message; `fail` is called once, with the reason, when the peer breaks the wire
   * format or a send fails; `closed` once the data channel closes (the link failed or ended).
   */
  constructor(
    private readonly dc: RTCDataChannel,
    private readonly limits: LaneLimits,
    private readonly peerName: string,
    private readonly on: { deliver(tag: string, data: Uint8Array): void; fail(message: string): void; closed(): void },
  ) {
    this.reassembler = new Reassembler(limits.maxMessageBytes, limits.maxPendingBytes, on.deliver);
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = Math.floor(limits.highWaterMark / 4);
    dc.addEventListener('message', (ev: MessageEvent) => this.onData(ev.data));
    dc.addEventListener('bufferedamountlow', () => this.pump());
    dc.addEventListener('close', () => on.closed());
  }

  /** Queues a message; it leaves, with the others queued in this task, once the task's microtasks run. */
  send(tag: string, data: Uint8Array): void {
    if (data.byteLength > this.limits.sendLimit) {
      throw new Error(`message "${tag}" of ${data.byteLength} bytes exceeds the limit of ${this.limits.sendLimit} bytes that ${this.peerName} accepts`);
    }
    this.queue.push(tag, data);
  }

  /** Resolves once every queued message is in the SCTP stack (nothing queued or buffered), or at `deadline`. */
  async drained(deadline: number): Promise<void> {
    while (!this.failed && this.dc.readyState === 'open' && (this.queue.length > 0 || this.dc.bufferedAmount > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }

  private pump(): void {
    if (this.failed || this.dc.readyState !== 'open') return;
    try {
      while (this.queue.length > 0 && this.dc.bufferedAmount < this.limits.highWaterMark) {
        this.dc.send(takePacket(this.queue.messages, this.limits.frameBytes));
      }
    } catch (e) {
      this.breakWith(`sending to ${this.peerName} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private onData(data: unknown): void {
    if (this.failed) return;
    try {
      if (!(data instanceof ArrayBuffer)) throw new Error('received a non-binary message');
      const frame = decodeFrame(data);
      if (frame.kind !== CHUNK && frame.kind !== BATCH) throw new Error(`a lane carries data frames only, got kind ${frame.kind}`);
      for (const chunk of frame.kind === BATCH ? frame.chunks : [frame]) this.reassembler.add(chunk);
    } catch (e) {
      this.breakWith(`protocol error from ${this.peerName} on its lane: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private breakWith(message: string): void {
    if (this.failed) return;
    this.failed = true;
    this.queue.clear();
    this.on.fail(message);
  }
}
