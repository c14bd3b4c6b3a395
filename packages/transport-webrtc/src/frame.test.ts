import { describe, expect, it } from 'vitest';
import {
  AUTH,
  BATCH,
  BYE,
  CHUNK,
  CHUNK_HEADER_BYTES,
  MAX_TAG_BYTES,
  OutgoingMessage,
  PING,
  PING_FRAME,
  Reassembler,
  decodeFrame,
  encodeAuth,
  encodeBatch,
  encodeBye,
  encodeChunk,
  encodeTag,
  takePacket,
} from './frame.ts';

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

function framesOf(seq: number, tag: string, data: Uint8Array, maxFrame: number): Uint8Array[] {
  const msg = new OutgoingMessage(seq, encodeTag(tag), data);
  const frames: Uint8Array[] = [];
  while (!msg.done) frames.push(msg.nextFrame(maxFrame));
  return frames;
}

describe('frame codec', () => {
  it('round-trips chunk and BYE frames', () => {
    const f = decodeFrame(encodeChunk(7, encodeTag('mul/3 é'), 10, 0, new Uint8Array([1, 2, 3])));
    expect(f).toEqual({ kind: CHUNK, seq: 7, offset: 0, total: 10, tag: 'mul/3 é', payload: new Uint8Array([1, 2, 3]) });
    expect(decodeFrame(encodeBye('done'))).toEqual({ kind: BYE, reason: 'done' });
    expect(decodeFrame(PING_FRAME)).toEqual({ kind: PING });
  });

  it('keeps every frame within the limit, the tag only in the first', () => {
    const frames = framesOf(1, 'tag', pattern(10_000, 1), 1024);
    expect(frames.length).toBe(Math.ceil((10_000 + 3) / (1024 - CHUNK_HEADER_BYTES)));
    for (const f of frames) expect(f.byteLength).toBeLessThanOrEqual(1024);
    expect(frames.map((f) => (decodeFrame(f) as { tag: string | null }).tag !== null)).toEqual(frames.map((_, i) => i === 0));
  });

  it('reassembles chunks of interleaved messages in any order into fresh aligned buffers', () => {
    const got = new Map<string, Uint8Array>();
    const r = new Reassembler(1 << 20, 1 << 20, (tag, data) => got.set(tag, data));
    const a = pattern(5000, 2);
    const b = pattern(3000, 3);
    const frames = [...framesOf(0, 'a', a, 700), ...framesOf(1, 'b', b, 700), ...framesOf(2, 'empty', new Uint8Array(0), 700)];
    for (let i = frames.length - 1; i >= 0; i -= 2) r.add(decodeFrame(frames[i]) as never);
    for (let i = frames.length - 2; i >= 0; i -= 2) r.add(decodeFrame(frames[i]) as never);
    expect(got.get('a')).toEqual(a);
    expect(got.get('b')).toEqual(b);
    expect(got.get('empty')).toEqual(new Uint8Array(0));
    for (const d of got.values()) expect(d.byteOffset).toBe(0);
    expect(r.pendingMessages).toBe(0);
  });

  it('rejects malformed frames, oversized messages and long tags', () => {
    expect(() => decodeFrame(new Uint8Array([9, 0, 0, 0]))).toThrow(/unknown frame kind 9/);
    expect(() => decodeFrame(new Uint8Array([1]))).toThrow(/too short/);
    expect(() => decodeFrame(encodeChunk(0, null, 4, 2, new Uint8Array(5)))).toThrow(/overruns its message of 4 bytes/);
    const r = new Reassembler(100, 1000, () => {});
    expect(() => r.add(decodeFrame(encodeChunk(0, encodeTag('t'), 101, 0, new Uint8Array(10))) as never)).toThrow(/exceeds the limit of 100/);
    expect(() => encodeTag('x'.repeat(MAX_TAG_BYTES + 1))).toThrow(/exceeds the limit/);
  });

  it('round-trips AUTH frames and rejects malformed ones', () => {
    const publicKey = pattern(91, 4);
    const signature = pattern(64, 5);
    const frame = encodeAuth({ publicKey, signature, maxMessageBytes: 64 << 20 });
    expect(decodeFrame(frame)).toEqual({ kind: AUTH, publicKey, signature, maxMessageBytes: 64 << 20 });
    expect(() => decodeFrame(frame.subarray(0, 10))).toThrow(/AUTH frame shorter than its header/);
    expect(() => decodeFrame(frame.subarray(0, frame.byteLength - 1))).toThrow(/AUTH frame of 166 bytes does not hold its 91-byte key and 64-byte signature/);
    const huge = frame.slice();
    new DataView(huge.buffer).setUint16(2, 5000, true);
    expect(() => decodeFrame(huge)).toThrow(/AUTH fields exceed 1024 bytes/);
  });

  it('refuses a chunk declaring a message over the limit before allocating it', () => {
    const r = new Reassembler(64 << 20, 128 << 20, () => {});
    // 4 GiB - 1: allocating it would fail or take seconds; the check comes first.
    const t0 = performance.now();
    expect(() => r.add(decodeFrame(encodeChunk(0, encodeTag('t'), 0xffffffff, 0, new Uint8Array(1))) as never)).toThrow(
      'message of 4294967295 bytes exceeds the limit of 67108864',
    );
    expect(performance.now() - t0).toBeLessThan(50);
    expect(r.pendingMessages).toBe(0);
    expect(r.pendingBytes).toBe(0);
  });

  it('caps the bytes held by partially received messages and frees them on delivery', () => {
    const got: string[] = [];
    const r = new Reassembler(1000, 2500, (tag) => got.push(tag));
    const half = (seq: number, tag: string) => r.add(decodeFrame(encodeChunk(seq, encodeTag(tag), 1000, 0, new Uint8Array(500))) as never);
    half(0, 'a');
    half(1, 'b');
    expect(r.pendingBytes).toBe(2000);
    expect(() => half(2, 'c')).toThrow('partially received messages would hold 3000 bytes (3 messages), over the limit of 2500');
    expect(r.pendingMessages).toBe(2);
    r.add(decodeFrame(encodeChunk(0, null, 1000, 500, new Uint8Array(500))) as never);
    expect(got).toEqual(['a']);
    expect(r.pendingBytes).toBe(1000);
    half(2, 'c');
    expect(r.pendingBytes).toBe(2000);
    // Whole messages in one chunk never count against the cap.
    r.add(decodeFrame(encodeChunk(3, encodeTag('whole'), 900, 0, new Uint8Array(900))) as never);
    expect(got).toEqual(['a', 'whole']);
  });

  it('sends the small whole messages queued together as one BATCH, and a large or half-sent message alone', () => {
    const queue = [0, 1, 2].map((seq) => new OutgoingMessage(seq, encodeTag(`r/${seq}`), pattern(100 + seq, seq)));
    const batch = takePacket(queue, 1024);
    expect(queue).toEqual([]);
    const got = new Map<string, Uint8Array>();
    const r = new Reassembler(1 << 20, 1 << 20, (tag, data) => got.set(tag, data));
    const decoded = decodeFrame(batch);
    if (decoded.kind !== BATCH) throw new Error(`expected a BATCH frame, got kind ${decoded.kind}`);
    for (const c of decoded.chunks) r.add(c);
    expect([...got.keys()]).toEqual(['r/0', 'r/1', 'r/2']);
    for (const seq of [0, 1, 2]) expect(got.get(`r/${seq}`)).toEqual(pattern(100 + seq, seq));

    // A message over the entry limit (16 KiB) goes alone, whole; so does one that no longer fits beside the head.
    const big = [new OutgoingMessage(3, encodeTag('big'), pattern(20_000, 3)), new OutgoingMessage(4, encodeTag('s'), pattern(10, 4))];
    expect(decodeFrame(takePacket(big, 64 * 1024))).toMatchObject({ kind: CHUNK, seq: 3, total: 20_000 });
    expect(decodeFrame(takePacket(big, 64 * 1024))).toMatchObject({ kind: CHUNK, seq: 4, total: 10 });
    const tight = [0, 1].map((seq) => new OutgoingMessage(seq, encodeTag('t'), new Uint8Array(600)));
    expect(decodeFrame(takePacket(tight, 1024)).kind).toBe(CHUNK);
    expect(tight.length).toBe(1);
    // A message cut into frames is never batched, not even its last frame.
    const cut = [new OutgoingMessage(5, encodeTag('cut'), new Uint8Array(1500)), new OutgoingMessage(6, encodeTag('x'), new Uint8Array(1))];
    expect(decodeFrame(takePacket(cut, 1024)).kind).toBe(CHUNK);
    expect(decodeFrame(takePacket(cut, 1024))).toMatchObject({ kind: CHUNK, seq: 5, offset: 1024 - 16 - 3 });
    expect(cut.length).toBe(1);
  });

  it('rejects malformed BATCH frames', () => {
    const chunk = encodeChunk(0, encodeTag('a'), 3, 0, Uint8Array.of(1, 2, 3));
    const good = encodeBatch([chunk, chunk]);
    expect(() => decodeFrame(good.subarray(0, good.byteLength - 1))).toThrow('BATCH frame ends inside its frame 1 of 2');
    expect(() => decodeFrame(good.subarray(0, 4 + 4 + chunk.byteLength + 2))).toThrow('BATCH frame ends before its frame 1 of 2');
    const trailing = new Uint8Array(good.byteLength + 3);
    trailing.set(good);
    expect(() => decodeFrame(trailing)).toThrow('BATCH frame has 3 bytes after its 2 frames');
    expect(() => decodeFrame(encodeBatch([chunk, PING_FRAME]))).toThrow('BATCH frame holds a frame of kind 3, not a chunk');
    expect(() => decodeFrame(encodeBatch([encodeBatch([chunk])]))).toThrow('BATCH frame holds a frame of kind 5, not a chunk');
    expect(() => decodeFrame(encodeBatch([chunk.subarray(0, 10)]))).toThrow(/too short|shorter than its header/);
  });
});
