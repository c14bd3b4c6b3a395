/**
 * PRG nonces from structured op ids, injective by construction (DESIGN.md: nonces come from deterministic
 * operation ids). Reusing a (key, nonce) pair for two different steps would reuse a mask, so distinct steps
 * must never share a nonce: no hashing, only an encoding that can be decoded back.
 *
 * An op id is the tag Party.nextTag hands out: a path of counters written as dot-separated decimals, e.g.
 * "7" (the root context's 8th step) or "12.1.3" (step 3 of branch 1 of the parallel block opened at root
 * step 12). Each counter c is written as the Elias delta code of c + 1 (a prefix-free code: 1 bit for 0,
 * 4 bits for 1..2, 5 for 3..6, 8 for 7..14, 14 below 255, 25 below 2^17 - 1, 33 below 2^25 - 1, 43 below
 * 2^33 - 1), the codes are concatenated, a 1 bit closes the path, and zeros pad it to PATH_BITS = 92 bits.
 * The 96-bit nonce is that field followed by the 4-bit stream index (the several streams one step draws
 * from the same key; the ops use 0..3). Decoding strips the padding and the closing 1 and reads the codes
 * back, so the map (path, stream) -> nonce is injective; a path whose codes need more than 91 bits is refused
 * with an error rather than truncated. What fits: any single counter below 2^53 (65 bits), or a root counter
 * below 2^32 with three nested parallel levels of branch < 7 and counter < 127 (42 + 3 * 16 + 1 = 91 bits). The closing 1 also means no op nonce is all zeros (the input dealers' fixed nonce,
 * used with fresh one-time seeds, see ops/input.ts).
 *
 * Word layout: the nonce as a 96-bit big-endian number v is (w0, w1, w2) = (v >> 64, v >> 32, v) mod 2^32.
 */

export const PATH_BITS = 92;
export const STREAM_BITS = 4;
const MAX_STREAM = (1 << STREAM_BITS) - 1;
const COUNTER = '(0|[1-9][0-9]*)';
const CANONICAL_ID = new RegExp(`^${COUNTER}(\\.${COUNTER})*$`);
const CANONICAL_PREFIX = new RegExp(`^(${COUNTER}\\.)*$`);

/** A context's op id prefix: '' (root) or counters each followed by a dot; anything else is refused. */
export function checkOpIdPrefix(prefix: string): void {
  if (!CANONICAL_PREFIX.test(prefix)) {
    throw new Error(`Party: op id prefix ${JSON.stringify(prefix)} must be counters each followed by a dot (as parallel() makes), so PRG nonces stay injective`);
  }
}

/** Parses an op id ("3", "12.1.3") into its counters; throws on anything Party.nextTag cannot produce. */
export function parseOpId(id: string): number[] {
  const path = scanOpId(id);
  if (path === null) return parseOpIdStrictly(id);
  return path;
}

/**
 * The counters of a canonical op id, read in one pass over its characters (opNonce runs for every PRG draw,
 * so it avoids regular expressions, split and BigInt); null for anything else, which parseOpIdStrictly
 * then explains.
 */
function scanOpId(id: string): number[] | null {
  const path: number[] = [];
  let c = 0;
  let digits = 0;
  for (let i = 0; i < id.length; i++) {
    const ch = id.charCodeAt(i);
    if (ch === 46 /* . */) {
      if (digits === 0) return null;
      path.push(c);
      c = 0;
      digits = 0;
    } else if (ch >= 48 && ch <= 57) {
      if (digits === 1 && c === 0) return null;
      c = c * 10 + (ch - 48);
      digits++;
    } else {
      return null;
    }
  }
  if (digits === 0) return null;
  path.push(c);
  for (const v of path) if (!Number.isSafeInteger(v)) return null;
  return path;
}

function parseOpIdStrictly(id: string): number[] {
  if (!CANONICAL_ID.test(id)) {
    throw new Error(`PRG nonce: op id ${JSON.stringify(id)} is not a structured op id (dot-separated counters without leading zeros, as Party.nextTag makes)`);
  }
  const path = id.split('.').map(Number);
  if (path.some((c) => !Number.isSafeInteger(c))) throw new Error(`PRG nonce: op id ${JSON.stringify(id)} has a counter beyond 2^53`);
  return path;
}

const TWO_32 = 2 ** 32;

/** Number of binary digits of n >= 1 (n below 2^53). */
function bitLength(n: number): number {
  return n >= TWO_32 ? 64 - Math.clz32(Math.floor(n / TWO_32)) : 32 - Math.clz32(n);
}

/** Length of the Elias delta code of n >= 1: (bits of L) - 1 zeros, L in binary, then n's low L - 1 bits. */
function deltaBits(n: number): number {
  const len = bitLength(n);
  return 2 * bitLength(len) - 1 + len - 1;
}

/** Writes the `count` low bits of v (v < 2^count, count <= 53) into the 96-bit big-endian words at bit `at`. */
function putBits(words: Uint32Array, at: number, v: number, count: number): void {
  let rest = v;
  let left = count;
  let pos = at;
  while (left > 0) {
    const room = 32 - (pos & 31);
    const take = Math.min(room, left);
    const scale = 2 ** (left - take);
    const top = Math.floor(rest / scale);
    words[pos >>> 5] += top * 2 ** (room - take);
    rest -= top * scale;
    left -= take;
    pos += take;
  }
}

/** The 96-bit nonce of step `id`, stream `stream` (0..15). Identical on every party for the same step. */
export function opNonce(id: string, stream: number): Uint32Array {
  if (!Number.isInteger(stream) || stream < 0 || stream > MAX_STREAM) throw new Error(`PRG nonce: stream index ${stream} out of range [0, ${MAX_STREAM}]`);
  const path = parseOpId(id);
  let bits = 1;
  for (const c of path) bits += deltaBits(c + 1);
  if (bits > PATH_BITS) {
    throw new Error(`PRG nonce: op id ${JSON.stringify(id)} needs ${bits} bits, more than the nonce's ${PATH_BITS}; refusing rather than risking a reused nonce`);
  }
  const words = new Uint32Array(3);
  let at = 0;
  for (const c of path) {
    const n = c + 1;
    const len = bitLength(n);
    const lenLen = bitLength(len);
    at += lenLen - 1;
    putBits(words, at, len, lenLen);
    at += lenLen;
    putBits(words, at, n - 2 ** (len - 1), len - 1);
    at += len - 1;
  }
  putBits(words, at, 1, 1);
  words[2] += stream;
  return words;
}

/** Inverse of opNonce (diagnostics and tests): the op id and stream a nonce was made from. */
export function decodeOpNonce(nonce: Uint32Array): { id: string; stream: number } {
  if (nonce.length !== 3) throw new Error(`PRG nonce: expected 3 words, got ${nonce.length}`);
  const v = (BigInt(nonce[0]) << 64n) | (BigInt(nonce[1]) << 32n) | BigInt(nonce[2]);
  const field = v >> BigInt(STREAM_BITS);
  if (field === 0n) throw new Error('PRG nonce: no op id (the path field is all zeros)');
  const padded = field.toString(2).padStart(PATH_BITS, '0');
  const code = padded.slice(0, padded.lastIndexOf('1'));
  const path: number[] = [];
  let i = 0;
  while (i < code.length) {
    let zeros = 0;
    while (code[i + zeros] === '0') zeros++;
    const lenBits = code.slice(i + zeros, i + 2 * zeros + 1);
    if (lenBits.length !== zeros + 1) throw new Error('PRG nonce: truncated counter code');
    const len = Number(BigInt(`0b${lenBits}`));
    i += 2 * zeros + 1;
    const rest = code.slice(i, i + len - 1);
    if (rest.length !== len - 1) throw new Error('PRG nonce: truncated counter code');
    path.push(Number(BigInt(`0b1${rest}`) - 1n));
    i += len - 1;
  }
  if (path.length === 0) throw new Error('PRG nonce: empty op id');
  return { id: path.join('.'), stream: Number(v & BigInt(MAX_STREAM)) };
}

/** Bits the counters of op id `id` take in the nonce, closing bit included (at most PATH_BITS fit). */
export function opIdBits(id: string): number {
  return parseOpId(id).reduce((s, c) => s + deltaBits(c + 1), 1);
}
