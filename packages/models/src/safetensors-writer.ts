/**
 * Minimal safetensors writer: float tensors as F32, F16 or BF16, or any dtype given as raw little-endian
 * bytes (e.g. an I64 buffer such as BERT's position_ids). Header is padded with spaces to 8-byte alignment,
 * as the reference implementation does. Used by tests to build files in real checkpoints' naming and by tools
 * that export weights.
 */
import { f32ToBf16, f32ToF16 } from './half.ts';

export type WritableTensor =
  | { readonly dtype: 'F32' | 'F16' | 'BF16'; readonly shape: readonly number[]; readonly data: ArrayLike<number> }
  | { readonly dtype: string; readonly shape: readonly number[]; readonly bytes: Uint8Array };

function tensorBytes(name: string, t: WritableTensor): Uint8Array {
  if ('bytes' in t) return t.bytes;
  const count = t.shape.reduce((a, d) => a * d, 1);
  if (count !== t.data.length) throw new Error(`tensor "${name}": shape [${t.shape.join(', ')}] needs ${count} values, got ${t.data.length}`);
  switch (t.dtype) {
    case 'F32':
      return new Uint8Array(Float32Array.from(t.data).buffer);
    case 'F16':
      return new Uint8Array(f32ToF16(t.data).buffer);
    case 'BF16':
      return new Uint8Array(f32ToBf16(t.data).buffer);
  }
}

export function encodeSafetensors(
  tensors: Readonly<Record<string, WritableTensor>>,
  metadata: Readonly<Record<string, string>> = { format: 'pt' },
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const b = tensorBytes(name, t);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + b.byteLength] };
    parts.push(b);
    offset += b.byteLength;
  }
  let json = JSON.stringify(header);
  const rawLen = new TextEncoder().encode(json).byteLength;
  json += ' '.repeat((8 - (rawLen % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}
