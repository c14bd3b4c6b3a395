/**
 * The frames a link has received but may not process yet, and the one maxPendingBytes budget they share. Kept
 * apart from link.ts because the two kinds are released at different moments: data on a channel waits for that
 * channel's identity proof, and everything after a proof waits for the link to open.
 */
import { AUTH, BATCH, CHUNK, type Frame, PING } from './frame.ts';

/** What a BATCH unpacks to and what may wait: data, or the peer's BYE. */
export type ChunkOrBye = Exclude<Frame, { kind: typeof AUTH | typeof PING | typeof BATCH }>;
type Chunk = Extract<Frame, { kind: typeof CHUNK }>;

export class PendingFrames {
  /** Frames after their channel's AUTH but before the link opened, in arrival order. */
  private held: { index: number; frame: ChunkOrBye }[] = [];
  /** Payload bytes of the held and the early CHUNKs together, against maxPendingBytes. */
  private bytes = 0;
  /**
   * Data that came on a channel before that channel's identity proof, by channel, unread. A proof can be lost
   * (AUTH_REPEAT_MS), and the peer opens as soon as it has ours: its data then overtakes the repeat of its proof.
   * Seen in CI as "data on channel 0 before its identity proof" ending a session. The data waits for the proof
   * (counted against maxPendingBytes); if the proof never comes or fails, none of it is ever delivered.
   */
  private early = new Map<number, Chunk[]>();

  constructor(private readonly maxPendingBytes: number) {}

  /** Keeps a copy of a CHUNK that came on channel `index` before its proof; false when that is over the budget. */
  keepEarly(index: number, frame: Chunk): boolean {
    this.bytes += frame.payload.byteLength;
    if (this.bytes > this.maxPendingBytes) return false;
    const early = this.early.get(index) ?? [];
    early.push({ ...frame, payload: frame.payload.slice() });
    this.early.set(index, early);
    return true;
  }

  /** The CHUNKs kept for channel `index` before its proof, in order; they are no longer kept nor counted. */
  takeEarly(index: number): Chunk[] {
    const early = this.early.get(index) ?? [];
    this.early.delete(index);
    for (const f of early) this.bytes -= f.payload.byteLength;
    return early;
  }

  /** Holds (a copy of) a frame until the link opens; false when that is over the budget. */
  hold(index: number, frame: ChunkOrBye): boolean {
    this.bytes += frame.kind === CHUNK ? frame.payload.byteLength : 0;
    if (this.bytes > this.maxPendingBytes) return false;
    this.held.push({ index, frame: frame.kind === CHUNK ? { ...frame, payload: frame.payload.slice() } : frame });
    return true;
  }

  /** The held frames, in order, for the link that just opened; what stays counted is early data on unproven channels. */
  takeHeld(): { index: number; frame: ChunkOrBye }[] {
    const held = this.held.splice(0);
    this.bytes = [...this.early.values()].flat().reduce((sum, f) => sum + f.payload.byteLength, 0);
    return held;
  }

  /** Drops everything: a failed link processes nothing more. */
  clear(): void {
    this.held = [];
    this.early.clear();
    this.bytes = 0;
  }
}
