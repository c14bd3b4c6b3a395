/**
 * safetensors reader (format: 8-byte little-endian header length N, N bytes of JSON header, then the data
 * section; each header entry gives dtype, shape and [begin, end) byte offsets relative to the data section).
 * Works on a Uint8Array, so it runs in browsers as well as Node.
 *
 * The whole header is validated up front (JSON, dtypes, shapes, offsets inside the file, byte size equal to
 * shape x dtype size, no overlaps), so a truncated or corrupt file fails before any weight is used.
 * Conversion to float32 is per tensor, on demand, and rejects NaN and infinities naming the tensor.
 * openSafetensors reads through a byte-range reader instead of a whole-file buffer (a browser File read in a
 * worker), so only the header and one tensor's bytes are held at a time.
 */
import { bf16ToF32, f16ToF32 } from './half.ts';
import { formatShape } from './tensor.ts';
import type { Tensor } from './types.ts';

/** Element sizes in bytes of every dtype the format defines; only the float ones can be read as weights. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** The format's own limit on the header size; a larger length field means a corrupt or foreign file. */
const MAX_HEADER_BYTES = 100_000_000;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('@puma/models reads little-endian tensor bytes through typed arrays and needs a little-endian host');
}

export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Absolute byte offsets of the tensor's data in the file. */
  readonly begin: number;
  readonly end: number;
}

/** Bytes [begin, end) of a file, as a fresh Uint8Array filling its own buffer (so any typed view is aligned). */
export type ByteRangeReader = (begin: number, end: number) => Uint8Array;

export class SafetensorsFile {
  readonly #read: ByteRangeReader;
  readonly #entries: Map<string, SafetensorsEntry>;

  constructor(
    /** Names the file in error messages. */
    readonly source: string,
    read: ByteRangeReader,
    entries: Map<string, SafetensorsEntry>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {
    this.#read = read;
    this.#entries = entries;
  }

  names(): string[] {
    return [...this.#entries.keys()];
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const e = this.#entries.get(name);
    if (!e) throw new Error(`${this.source}: missing tensor "${name}"`);
    return e;
  }

  /** The tensor as float32 (F32 copied, F16/BF16/F64 converted), rejecting NaN and infinities. */
  tensor(name: string): Tensor {
    const e = this.entry(name);
    const bytes = this.#read(e.begin, e.end);
    if (bytes.byteLength !== e.end - e.begin || bytes.buffer.byteLength !== bytes.byteLength) {
      throw new Error(`${this.source}: tensor "${name}": the reader gave ${bytes.byteLength} bytes in a ${bytes.buffer.byteLength}-byte buffer, expected ${e.end - e.begin} bytes of their own`);
    }
    let out: Float32Array;
    switch (e.dtype) {
      case 'F32':
        out = new Float32Array(bytes.buffer);
        break;
      case 'F16':
        out = f16ToF32(new Uint16Array(bytes.buffer));
        break;
      case 'BF16':
        out = bf16ToF32(new Uint16Array(bytes.buffer));
        break;
      case 'F64':
        out = Float32Array.from(new Float64Array(bytes.buffer));
        break;
      default:
        throw new Error(`${this.source}: tensor "${name}" has dtype ${e.dtype}, expected a float dtype (F32, F16, BF16, F64)`);
    }
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i])) {
        throw new Error(`${this.source}: tensor "${name}" element ${i} is ${out[i]} (weights must be finite)`);
      }
    }
    return { data: out, shape: e.shape };
  }
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

export function parseSafetensors(input: Uint8Array, source = 'safetensors'): SafetensorsFile {
  // A plain view: Node's Buffer subclass has different slice semantics and may sit inside a shared pool.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  // slice copies: aligned, and independent of the file buffer.
  return openSafetensors((begin, end) => bytes.slice(begin, end), bytes.byteLength, source);
}

/** A safetensors file of `fileBytes` bytes read through `read`: the header now, each tensor when asked for. */
export function openSafetensors(read: ByteRangeReader, fileBytes: number, source = 'safetensors'): SafetensorsFile {
  if (!Number.isSafeInteger(fileBytes) || fileBytes < 8) throw new Error(`${source}: ${fileBytes} bytes is too short for a safetensors file`);
  const headerLen = new DataView(read(0, 8).buffer).getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES) || Number(headerLen) > fileBytes - 8) {
    throw new Error(`${source}: header length ${headerLen} exceeds the file (${fileBytes} bytes); truncated or not a safetensors file`);
  }
  const n = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(read(8, 8 + n)));
  } catch (err) {
    throw new Error(`${source}: header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new Error(`${source}: header must be a JSON object`);
  }
  const dataStart = 8 + n;
  const dataLen = fileBytes - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
        throw new Error(`${source}: __metadata__ must map strings to strings`);
      }
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    const where = `${source}: tensor "${name}"`;
    if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: header entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw new Error(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) throw new Error(`${where}: invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt) || offsets[0] > offsets[1]) {
      throw new Error(`${where}: invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLen) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] run past the data section (${dataLen} bytes); file truncated?`);
    }
    const count = (shape as number[]).reduce((a, d) => a * d, 1);
    const expected = count * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw new Error(`${where}: ${end - begin} bytes but shape ${formatShape(shape as number[])} of ${dtype} needs ${expected}`);
    }
    entries.set(name, { name, dtype, shape: [...(shape as number[])], begin: dataStart + begin, end: dataStart + end });
  }
  const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new Error(`${source}: tensors "${sorted[i - 1].name}" and "${sorted[i].name}" overlap`);
    }
  }
  return new SafetensorsFile(source, read, entries, metadata);
}
