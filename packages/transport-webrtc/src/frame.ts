/**
 * Wire format of the WebRTC channel. A message (tag + payload) is cut into chunks that each fit one
 * data-channel message; chunks may travel on different data channels of the same peer pair and arrive in
 * any order, so every chunk says where it belongs (message sequence number and byte offset).
 *
 *   CHUNK  u8 kind=1 | u8 0 | u16 tagBytes | u32 seq | u32 offset | u32 total | tag (UTF-8) | payload
 *   BYE    u8 kind=2 | u8 0 | u16 reasonBytes | reason (UTF-8)
 *   PING   u8 kind=3 | u8 0 | u16 0
 *   AUTH   u8 kind=4 | u8 0 | u16 keyBytes | u32 maxMessageBytes | u16 signatureBytes | u16 0 | key | signature
 *   BATCH  u8 kind=5 | u8 0 | u16 count | count times (u32 frameBytes | CHUNK frame)
 *
 * All integers little-endian. Only the chunk at offset 0 carries the tag (tagBytes is 0 elsewhere).
 * BYE announces a deliberate close, so the other side can name the reason instead of guessing. PING keeps an
 * idle channel audibly alive, so a peer that vanished without closing is noticed. AUTH opens every channel of
 * a link: the sender's public key, the largest message it accepts, and its signature proving the link
 * (link-auth.ts); a CHUNK before it is a protocol error. BATCH carries several whole small messages (each one
 * complete CHUNK) in one data-channel message: a protocol round often sends a peer several small messages at
 * once (parallel branches), and each data-channel message costs a trip through the browser's SCTP stack and
 * network process, which between tabs on one machine costs more than its bytes. It holds CHUNK frames only.
 */
export const CHUNK = 1;
export const BYE = 2;
export const PING = 3;
export const AUTH = 4;
export const BATCH = 5;
export const CHUNK_HEADER_BYTES = 16;
export const BATCH_HEADER_BYTES = 4;
/** Bytes a BATCH spends per frame it holds (the frame's length). */
export const BATCH_ENTRY_BYTES = 4;
/** The most frames one BATCH holds (its count is a u16). */
export const MAX_BATCH_FRAMES = 0xffff;
const BYE_HEADER_BYTES = 4;
const AUTH_HEADER_BYTES = 12;
/** Keys and signatures are ~100 bytes; the bound keeps a hostile AUTH frame from being anything else. */
const MAX_AUTH_FIELD_BYTES = 1024;
/** Tags are operation ids; this bound keeps the first chunk's header small next to its payload. */
export const MAX_TAG_BYTES = 4096;
const MAX_REASON_BYTES = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeTag(tag: string): Uint8Array {
  const bytes = encoder.encode(tag);
  if (bytes.byteLength > MAX_TAG_BYTES) {
    throw new Error(`tag of ${bytes.byteLength} UTF-8 bytes exceeds the limit of ${MAX_TAG_BYTES}: ${tag.slice(0, 64)}…`);
  }
  return bytes;
}

/** Builds one chunk frame: a fresh buffer holding the header, the tag (first chunk only) and the payload slice. */
export function encodeChunk(
  seq: number,
  tag: Uint8Array | null,
  total: number,
  offset: number,
  payload: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const tagBytes = tag?.byteLength ?? 0;
  const frame = new Uint8Array(CHUNK_HEADER_BYTES + tagBytes + payload.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint8(0, CHUNK);
  view.setUint16(2, tagBytes, true);
  view.setUint32(4, seq >>> 0, true);
  view.setUint32(8, offset, true);
  view.setUint32(12, total, true);
  if (tag) frame.set(tag, CHUNK_HEADER_BYTES);
  frame.set(payload, CHUNK_HEADER_BYTES + tagBytes);
  return frame;
}

export function encodeBye(reason: string): Uint8Array<ArrayBuffer> {
  let bytes = encoder.encode(reason);
  if (bytes.byteLength > MAX_REASON_BYTES) bytes = bytes.subarray(0, MAX_REASON_BYTES);
  const frame = new Uint8Array(BYE_HEADER_BYTES + bytes.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint8(0, BYE);
  view.setUint16(2, bytes.byteLength, true);
  frame.set(bytes, BYE_HEADER_BYTES);
  return frame;
}

/** One BATCH frame holding `frames` (CHUNK frames, each a whole message), in order. */
export function encodeBatch(frames: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (frames.length > MAX_BATCH_FRAMES) throw new Error(`a batch holds at most ${MAX_BATCH_FRAMES} frames, got ${frames.length}`);
  const out = new Uint8Array(frames.reduce((n, f) => n + BATCH_ENTRY_BYTES + f.byteLength, BATCH_HEADER_BYTES));
  const view = new DataView(out.buffer);
  view.setUint8(0, BATCH);
  view.setUint16(2, frames.length, true);
  let at = BATCH_HEADER_BYTES;
  for (const f of frames) {
    view.setUint32(at, f.byteLength, true);
    out.set(f, at + BATCH_ENTRY_BYTES);
    at += BATCH_ENTRY_BYTES + f.byteLength;
  }
  return out;
}

export const PING_FRAME: Uint8Array<ArrayBuffer> = new Uint8Array([PING, 0, 0, 0]);

export interface AuthFields {
  /** SPKI DER of the sender's identity key. */
  publicKey: Uint8Array;
  /** Largest message (payload bytes) the sender accepts. */
  maxMessageBytes: number;
  signature: Uint8Array;
}

export function encodeAuth(auth: AuthFields): Uint8Array<ArrayBuffer> {
  const { publicKey, signature, maxMessageBytes } = auth;
  if (publicKey.byteLength > MAX_AUTH_FIELD_BYTES || signature.byteLength > MAX_AUTH_FIELD_BYTES) {
    throw new Error(`AUTH fields exceed ${MAX_AUTH_FIELD_BYTES} bytes`);
  }
  const frame = new Uint8Array(AUTH_HEADER_BYTES + publicKey.byteLength + signature.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint8(0, AUTH);
  view.setUint16(2, publicKey.byteLength, true);
  view.setUint32(4, maxMessageBytes, true);
  view.setUint16(8, signature.byteLength, true);
  frame.set(publicKey, AUTH_HEADER_BYTES);
  frame.set(signature, AUTH_HEADER_BYTES + publicKey.byteLength);
  return frame;
}

export type ChunkFrame = { kind: typeof CHUNK; seq: number; offset: number; total: number; tag: string | null; payload: Uint8Array };
export type BatchFrame = { kind: typeof BATCH; chunks: ChunkFrame[] };
export type Frame = ChunkFrame | BatchFrame | { kind: typeof BYE; reason: string } | { kind: typeof PING } | ({ kind: typeof AUTH } & AuthFields);

/** Parses one received frame; throws on anything malformed (the caller treats that as a protocol error). */
export function decodeFrame(data: ArrayBuffer | Uint8Array): Frame {
  const frame = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (frame.byteLength < BYE_HEADER_BYTES) throw new Error(`frame of ${frame.byteLength} bytes is too short`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const kind = view.getUint8(0);
  const strBytes = view.getUint16(2, true);
  if (kind === BYE) {
    if (BYE_HEADER_BYTES + strBytes > frame.byteLength) throw new Error('BYE frame shorter than its reason');
    return { kind: BYE, reason: decoder.decode(frame.subarray(BYE_HEADER_BYTES, BYE_HEADER_BYTES + strBytes)) };
  }
  if (kind === PING) return { kind: PING };
  if (kind === AUTH) return decodeAuth(frame, view);
  if (kind === BATCH) return decodeBatch(frame, view, strBytes);
  if (kind !== CHUNK) throw new Error(`unknown frame kind ${kind}`);
  if (frame.byteLength < CHUNK_HEADER_BYTES + strBytes) throw new Error('chunk frame shorter than its header');
  const seq = view.getUint32(4, true);
  const offset = view.getUint32(8, true);
  const total = view.getUint32(12, true);
  const tag = offset === 0 ? decoder.decode(frame.subarray(CHUNK_HEADER_BYTES, CHUNK_HEADER_BYTES + strBytes)) : null;
  if (offset !== 0 && strBytes !== 0) throw new Error(`chunk at offset ${offset} carries a tag`);
  const payload = frame.subarray(CHUNK_HEADER_BYTES + strBytes);
  if (offset + payload.byteLength > total) {
    throw new Error(`chunk [${offset}, ${offset + payload.byteLength}) overruns its message of ${total} bytes`);
  }
  return { kind: CHUNK, seq, offset, total, tag, payload };
}

function decodeBatch(frame: Uint8Array, view: DataView, count: number): BatchFrame {
  const chunks: ChunkFrame[] = [];
  let at = BATCH_HEADER_BYTES;
  for (let k = 0; k < count; k++) {
    if (at + BATCH_ENTRY_BYTES > frame.byteLength) throw new Error(`BATCH frame ends before its frame ${k} of ${count}`);
    const bytes = view.getUint32(at, true);
    at += BATCH_ENTRY_BYTES;
    if (at + bytes > frame.byteLength) throw new Error(`BATCH frame ends inside its frame ${k} of ${count}`);
    const inner = decodeFrame(frame.subarray(at, at + bytes));
    if (inner.kind !== CHUNK) throw new Error(`BATCH frame holds a frame of kind ${inner.kind}, not a chunk`);
    chunks.push(inner);
    at += bytes;
  }
  if (at !== frame.byteLength) throw new Error(`BATCH frame has ${frame.byteLength - at} bytes after its ${count} frames`);
  return { kind: BATCH, chunks };
}

function decodeAuth(frame: Uint8Array, view: DataView): Frame {
  if (frame.byteLength < AUTH_HEADER_BYTES) throw new Error('AUTH frame shorter than its header');
  const keyBytes = view.getUint16(2, true);
  const maxMessageBytes = view.getUint32(4, true);
  const signatureBytes = view.getUint16(8, true);
  if (keyBytes > MAX_AUTH_FIELD_BYTES || signatureBytes > MAX_AUTH_FIELD_BYTES) throw new Error(`AUTH fields exceed ${MAX_AUTH_FIELD_BYTES} bytes`);
  if (frame.byteLength !== AUTH_HEADER_BYTES + keyBytes + signatureBytes) {
    throw new Error(`AUTH frame of ${frame.byteLength} bytes does not hold its ${keyBytes}-byte key and ${signatureBytes}-byte signature`);
  }
  const publicKey = frame.slice(AUTH_HEADER_BYTES, AUTH_HEADER_BYTES + keyBytes);
  const signature = frame.slice(AUTH_HEADER_BYTES + keyBytes);
  return { kind: AUTH, publicKey, maxMessageBytes, signature };
}

/**
 * Splits a message into chunk frames of at most `maxFrameBytes` each, lazily, so a sender can stop between
 * chunks when the data channels are full.
 */
export class OutgoingMessage {
  private offset = 0;
  private first = true;

  constructor(
    readonly seq: number,
    private readonly tag: Uint8Array,
    private readonly data: Uint8Array,
  ) {}

  /** Payload bytes of the whole message. */
  get byteLength(): number {
    return this.data.byteLength;
  }

  get done(): boolean {
    return !this.first && this.offset >= this.data.byteLength;
  }

  /** Bytes of the message as one whole CHUNK frame; -1 once a frame of it has gone. */
  get wholeFrameBytes(): number {
    return this.first ? CHUNK_HEADER_BYTES + this.tag.byteLength + this.data.byteLength : -1;
  }

  nextFrame(maxFrameBytes: number): Uint8Array<ArrayBuffer> {
    const tag = this.first ? this.tag : null;
    const room = maxFrameBytes - CHUNK_HEADER_BYTES - (tag?.byteLength ?? 0);
    if (room <= 0) throw new Error(`frames of ${maxFrameBytes} bytes leave no room for a payload`);
    const end = Math.min(this.data.byteLength, this.offset + room);
    const frame = encodeChunk(this.seq, tag, this.data.byteLength, this.offset, this.data.subarray(this.offset, end));
    this.offset = end;
    this.first = false;
    return frame;
  }
}

/**
 * Messages whose whole frame is at most this size may share a BATCH with others queued beside them; larger ones go
 * alone (for them a data-channel message's fixed cost is small next to copying them once more).
 */
const BATCH_ENTRY_MAX_BYTES = 16 * 1024;

/**
 * Takes the next data-channel message off `queue`: the small whole messages at its head in one BATCH when there
 * are several, otherwise the head message's next frame (the message leaves the queue with its last frame).
 */
export function takePacket(queue: OutgoingMessage[], frameBytes: number): Uint8Array<ArrayBuffer> {
  let count = 0;
  let bytes = BATCH_HEADER_BYTES;
  while (count < queue.length && count < MAX_BATCH_FRAMES) {
    const size = queue[count].wholeFrameBytes;
    if (size < 0 || size > BATCH_ENTRY_MAX_BYTES || bytes + BATCH_ENTRY_BYTES + size > frameBytes) break;
    bytes += BATCH_ENTRY_BYTES + size;
    count += 1;
  }
  if (count >= 2) return encodeBatch(queue.splice(0, count).map((m) => m.nextFrame(frameBytes)));
  const msg = queue[0];
  const frame = msg.nextFrame(frameBytes);
  if (msg.done) queue.shift();
  return frame;
}

/**
 * The messages one sender has queued for a peer, in sequence order. A push numbers the message and schedules the
 * owner's pump one microtask later, once the caller's synchronous sends are all queued, so the small messages of
 * one protocol round to this peer leave together in one BATCH (takePacket).
 */
export class SendQueue {
  messages: OutgoingMessage[] = [];
  private nextSeq = 0;
  private pumpQueued = false;

  constructor(private readonly pump: () => void) {}

  push(tag: string, data: Uint8Array): void {
    this.messages.push(new OutgoingMessage(this.nextSeq, encodeTag(tag), data));
    this.nextSeq = (this.nextSeq + 1) >>> 0;
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  get length(): number {
    return this.messages.length;
  }

  clear(): void {
    this.messages = [];
  }
}

interface PartialMessage {
  buf: Uint8Array;
  tag: string | null;
  received: number;
}

/**
 * Reassembles chunks from one peer into whole messages. Delivered payloads are always fresh buffers at byte
 * offset 0, so receivers can view them as BigUint64Array without copying.
 *
 * Memory is bounded before it is spent: a chunk declaring a message over `maxMessageBytes` is refused before
 * anything is allocated, and so is one whose message would push the buffers of all partially received messages
 * over `maxPendingBytes`, so many half-sent large messages cannot exhaust memory.
 */
export class Reassembler {
  private readonly partial = new Map<number, PartialMessage>();
  private pending = 0;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly maxPendingBytes: number,
    private readonly deliver: (tag: string, data: Uint8Array) => void,
  ) {}

  /** Throws on a malformed or oversized chunk. */
  add(chunk: ChunkFrame): void {
    if (chunk.total > this.maxMessageBytes) {
      throw new Error(`message of ${chunk.total} bytes exceeds the limit of ${this.maxMessageBytes}`);
    }
    let p = this.partial.get(chunk.seq);
    if (!p) {
      if (chunk.tag !== null && chunk.payload.byteLength === chunk.total) {
        this.deliver(chunk.tag, chunk.payload.slice());
        return;
      }
      if (this.pending + chunk.total > this.maxPendingBytes) {
        throw new Error(
          `partially received messages would hold ${this.pending + chunk.total} bytes (${this.partial.size + 1} messages), ` +
            `over the limit of ${this.maxPendingBytes}`,
        );
      }
      p = { buf: new Uint8Array(chunk.total), tag: null, received: 0 };
      this.partial.set(chunk.seq, p);
      this.pending += chunk.total;
    } else if (p.buf.byteLength !== chunk.total) {
      throw new Error(`chunks of message ${chunk.seq} disagree on its length (${p.buf.byteLength} vs ${chunk.total})`);
    }
    p.buf.set(chunk.payload, chunk.offset);
    p.received += chunk.payload.byteLength;
    if (chunk.tag !== null) p.tag = chunk.tag;
    if (p.received > p.buf.byteLength) throw new Error(`message ${chunk.seq} received more bytes than its length`);
    if (p.tag !== null && p.received === p.buf.byteLength) {
      this.partial.delete(chunk.seq);
      this.pending -= p.buf.byteLength;
      this.deliver(p.tag, p.buf);
    }
  }

  get pendingMessages(): number {
    return this.partial.size;
  }

  /** Bytes allocated for partially received messages. */
  get pendingBytes(): number {
    return this.pending;
  }
}
