/**
 * What a coordinator (or a relay in front of it) received, as the haystacks a party page searches its traffic in
 * (findFragments in apps/party/src/audit.ts): every HTTP head and body and signaling message, raw, plus every
 * encoding of bytes that JSON or text could carry, decoded: base64 and hex runs, JSON arrays of numbers (as
 * bytes and as 16-, 32- and 64-bit words in both byte orders), index-keyed objects (what JSON.stringify makes of
 * a Uint8Array), JSON strings of byte-valued characters, and long decimal-digit runs read as big integers (both
 * byte orders). A leak through the signaling JSON would be in one of these.
 */

export interface RecordLike {
  readonly entries: readonly { readonly head: string; readonly data: Uint8Array }[];
}

/** Shortest decoded piece worth searching: a 16-byte traffic fragment. */
const MIN_BYTES = 16;
const WORD_BITS = [8, 16, 32, 64] as const;

/** The record's contents, raw and decoded, base64-encoded for page.evaluate. */
export function recordHaystacks(record: RecordLike): string[] {
  const out: Uint8Array[] = [];
  for (const e of record.entries) {
    const data = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
    out.push(Buffer.from(e.head, 'utf8'), data, ...decodeText(e.head), ...decodeText(data.toString('latin1')));
    // Signaling messages are UTF-8 JSON: a string of byte-valued characters arrives with those above 127 as two bytes.
    if (data.some((b) => b > 0x7f)) out.push(...byteStrings(data.toString('utf8')));
  }
  return out.filter((b) => b.byteLength >= MIN_BYTES).map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64'));
}

/** Every decoding of `text` this search knows; exported for the search's own tests. */
export function decodeText(text: string): Uint8Array[] {
  return [...base64Runs(text), ...hexRuns(text), ...numberArrays(text), ...indexedObjects(text), ...byteStrings(text), ...decimalRuns(text)];
}

function base64Runs(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const decode = (s: string) => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  for (const m of text.matchAll(/[A-Za-z0-9+/_-]{22,}={0,2}/g)) {
    // A leak may start anywhere in a base64 group; decoding from each of the four phases covers every alignment.
    for (let shift = 0; shift < 4; shift++) out.push(decode(m[0].slice(shift)));
  }
  return out;
}

function hexRuns(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  // Both nibble phases, so a copy starting at an odd character is read right too (an odd last digit is dropped).
  for (const m of text.matchAll(/[0-9a-fA-F]{32,}/g)) out.push(Buffer.from(m[0], 'hex'), Buffer.from(m[0].slice(1), 'hex'));
  return out;
}

/** `[1, 2, 3]`: the numbers as bytes and as words of every width they fit (two's complement for negatives). */
function numberArrays(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(/\[\s*-?\d+(?:\s*,\s*-?\d+)+\s*\]/g)) out.push(...asWords((m[0].match(/-?\d+/g) ?? []).map(BigInt)));
  return out;
}

/** `{"0":12,"1":250,...}`: JSON.stringify of a typed array. */
function indexedObjects(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(/\{\s*"0"\s*:\s*-?\d+(?:\s*,\s*"\d+"\s*:\s*-?\d+)+\s*\}/g)) {
    out.push(...asWords([...m[0].matchAll(/:\s*(-?\d+)/g)].map((v) => BigInt(v[1]))));
  }
  return out;
}

/** JSON strings whose characters are all below 256 (a binary string, as String.fromCharCode makes one). */
function byteStrings(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(/"(?:[^"\\]|\\.){16,}"/g)) {
    let s: unknown;
    try {
      s = JSON.parse(m[0]);
    } catch {
      continue;
    }
    if (typeof s === 'string' && /^[\u0000-\u00ff]*$/.test(s) && /[^\x20-\x7e]/.test(s)) out.push(Buffer.from(s, 'latin1'));
  }
  return out;
}

/** Runs of 20 or more digits (8 bytes or more) read as one big integer, big- and little-endian. */
function decimalRuns(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(/(-?)(\d{20,})/g)) {
    const magnitude = BigInt(m[2]);
    const bytes = Math.ceil(magnitude.toString(16).length / 2);
    // Padded to whole 64-bit words, so a copy whose first byte was zero keeps its length.
    const width = Math.ceil(bytes / 8) * 8;
    const value = m[1] === '-' ? (1n << BigInt(width * 8)) - magnitude : magnitude;
    const be = bigToBytes(value, width);
    out.push(be, be.slice().reverse());
  }
  return out;
}

function asWords(values: bigint[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const bits of WORD_BITS) {
    const size = bits / 8;
    if (values.length * size < MIN_BYTES) continue;
    const limit = 1n << BigInt(bits);
    if (!values.every((v) => v >= -(limit >> 1n) && v < limit)) continue;
    const be = new Uint8Array(values.length * size);
    values.forEach((v, i) => be.set(bigToBytes(v < 0n ? limit + v : v, size), i * size));
    out.push(size === 1 ? be : swapWords(be, size), ...(size === 1 ? [] : [be]));
  }
  return out;
}

function bigToBytes(value: bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  let v = value;
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Big-endian words to little-endian (reverses each `size`-byte word). */
function swapWords(be: Uint8Array, size: number): Uint8Array {
  const le = new Uint8Array(be.byteLength);
  for (let w = 0; w < be.byteLength; w += size) for (let i = 0; i < size; i++) le[w + i] = be[w + size - 1 - i];
  return le;
}
