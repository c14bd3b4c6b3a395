import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './half.ts';
import { parseSafetensors } from './safetensors.ts';
import { encodeSafetensors } from './safetensors-writer.ts';

/** A file whose header is given verbatim (to build malformed ones), followed by `dataBytes` zero bytes. */
function rawFile(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('half precision conversions', () => {
  it('decodes F16 bit patterns exactly', () => {
    const bits = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x3555, 0x7c00, 0xfc00]);
    expect(Array.from(f16ToF32(bits))).toEqual([1, -2, 65504, 2 ** -24, -0, 0.333251953125, Infinity, -Infinity]);
    expect(Number.isNaN(f16ToF32(new Uint16Array([0x7e00]))[0])).toBe(true);
  });
  it('encodes F16 with round-to-nearest-even, overflow to infinity and subnormals', () => {
    const xs = [1, -2, 65504, 2 ** -24, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000, 2 ** -25, 3 * 2 ** -26, 0.1];
    expect(Array.from(f32ToF16(xs))).toEqual([0x3c00, 0xc000, 0x7bff, 0x0001, 0x3c00, 0x3c02, 0x7c00, 0x0000, 0x0001, 0x2e66]);
  });
  it('BF16 is the high half of float32, rounded to nearest even', () => {
    expect(Array.from(f32ToBf16([1, -2.5, 3.140625, 1 + 2 ** -8, 1 + 3 * 2 ** -8]))).toEqual([0x3f80, 0xc020, 0x4049, 0x3f80, 0x3f82]);
    expect(Array.from(bf16ToF32(new Uint16Array([0x3f80, 0xc020, 0x4049])))).toEqual([1, -2.5, 3.140625]);
  });
});

describe('safetensors reader', () => {
  it('reads F32, F16 and BF16 tensors written by the writer, with shapes and metadata', () => {
    const bytes = encodeSafetensors(
      {
        a: { dtype: 'F32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6.5] },
        b: { dtype: 'F16', shape: [3], data: [1, -0.5, 0.1] },
        c: { dtype: 'BF16', shape: [1, 2], data: [3.140625, -2] },
        s: { dtype: 'F32', shape: [], data: [7] },
        ids: { dtype: 'I64', shape: [2], bytes: new Uint8Array(new BigInt64Array([0n, 1n]).buffer) },
      },
      { format: 'pt', note: 'x' },
    );
    const f = parseSafetensors(bytes, 'test.safetensors');
    expect(f.metadata).toEqual({ format: 'pt', note: 'x' });
    expect(f.names().sort()).toEqual(['a', 'b', 'c', 'ids', 's']);
    expect(f.tensor('a')).toEqual({ data: new Float32Array([1, 2, 3, 4, 5, 6.5]), shape: [2, 3] });
    expect(Array.from(f.tensor('b').data)).toEqual([1, -0.5, 0.0999755859375]);
    expect(Array.from(f.tensor('c').data)).toEqual([3.140625, -2]);
    expect(f.tensor('s')).toEqual({ data: new Float32Array([7]), shape: [] });
    expect(f.entry('ids').dtype).toBe('I64');
    expect(() => f.tensor('ids')).toThrow(/test\.safetensors: tensor "ids" has dtype I64, expected a float dtype/);
    expect(() => f.tensor('nope')).toThrow(/missing tensor "nope"/);
  });

  it('pads the header to 8 bytes, so F32 data is aligned', () => {
    const bytes = encodeSafetensors({ x: { dtype: 'F32', shape: [1], data: [1] } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
  });

  it('reads from an unaligned view inside a larger buffer (as Node Buffers from a pool are)', () => {
    const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3, 4] } });
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const f = parseSafetensors(Buffer.from(big.buffer, 3, bytes.length));
    expect(Array.from(f.tensor('w').data)).toEqual([1, 2, 3, 4]);
  });

  it('rejects NaN and infinities, naming the tensor and the element', () => {
    const nan = parseSafetensors(encodeSafetensors({ 'h.0.w': { dtype: 'F32', shape: [3], data: [0, NaN, 1] } }), 'm.safetensors');
    expect(() => nan.tensor('h.0.w')).toThrow(/m\.safetensors: tensor "h\.0\.w" element 1 is NaN/);
    const inf = parseSafetensors(encodeSafetensors({ big: { dtype: 'F16', shape: [2], data: [1, 1e6] } }));
    expect(() => inf.tensor('big')).toThrow(/tensor "big" element 1 is Infinity/);
  });

  it('rejects truncated files, naming the tensor that runs past the end', () => {
    const bytes = encodeSafetensors({
      first: { dtype: 'F32', shape: [4], data: [1, 2, 3, 4] },
      last: { dtype: 'F32', shape: [4], data: [5, 6, 7, 8] },
    });
    expect(() => parseSafetensors(bytes.subarray(0, bytes.length - 1), 'cut.safetensors')).toThrow(
      /cut\.safetensors: tensor "last": data_offsets \[16, 32\] run past the data section \(31 bytes\); file truncated\?/,
    );
    expect(() => parseSafetensors(bytes.subarray(0, 40), 'cut.safetensors')).toThrow(/header length \d+ exceeds the file/);
    expect(() => parseSafetensors(new Uint8Array(5), 'tiny')).toThrow(/tiny: 5 bytes is too short/);
  });

  it('rejects malformed headers with the reason', () => {
    const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
    expect(() => parseSafetensors(rawFile('{"a": ', 8), 'f')).toThrow(/f: header is not valid UTF-8 JSON/);
    expect(() => parseSafetensors(rawFile([1, 2], 8), 'f')).toThrow(/header must be a JSON object/);
    expect(() => parseSafetensors(rawFile({ w: { ...ok, dtype: 'F33' } }, 8), 'f')).toThrow(/f: tensor "w": unknown dtype "F33"/);
    expect(() => parseSafetensors(rawFile({ w: { ...ok, shape: [2, -1] } }, 8), 'f')).toThrow(/tensor "w": invalid shape \[2,-1\]/);
    expect(() => parseSafetensors(rawFile({ w: { ...ok, data_offsets: [8, 0] } }, 8), 'f')).toThrow(/tensor "w": invalid data_offsets/);
    expect(() => parseSafetensors(rawFile({ w: { ...ok, shape: [3] } }, 12), 'f')).toThrow(/tensor "w": 8 bytes but shape \[3\] of F32 needs 12/);
    expect(() => parseSafetensors(rawFile({ w: { ...ok, dtype: 'F16' } }, 8), 'f')).toThrow(/8 bytes but shape \[2\] of F16 needs 4/);
    expect(() => parseSafetensors(rawFile({ a: ok, b: { ...ok, data_offsets: [4, 12] } }, 12), 'f')).toThrow(/tensors "a" and "b" overlap/);
    expect(() => parseSafetensors(rawFile({ __metadata__: { n: 1 } }, 0), 'f')).toThrow(/__metadata__ must map strings to strings/);
    expect(() => parseSafetensors(rawFile({ w: 'x' }, 0), 'f')).toThrow(/tensor "w": header entry must be an object/);
  });
});
