/**
 * x [T, k] @ W [k, n] with the weight W streamed in row blocks (weight-stream.ts): the protocol's matmul
 * (ABY3 section 5.1; packages/protocol/src/ops/matmul.ts) with its local step split by blocks. Party i's 3-of-3
 * term X_i (W_i + W_{i+1}) + X_{i+1} W_i = (X_i + X_{i+1}) W_i + X_i W_{i+1} is the sum over row blocks b of
 * (X_i + X_{i+1})[:, b] W_i[b] + X_i[:, b] W_{i+1}[b], exact in Z_2^64, so after one zero share and one resharing
 * (raw) or one truncateProduct (fixed point) every message, and the result, is bit-identical to matmul /
 * matmulRaw on the whole W. Cost: exactly matmulRawCost(T n) or matmulCost(T n) (1 round, or 2 rounds fused
 * with the truncation); local work as the whole product plus one T x k addition and a T x n one per block.
 * Memory: one block open and the next fetched.
 */
import type { Buf } from '@puma/backend';
import { reshare, truncateProduct, type AShare, type OutputTerm, type Party } from '@puma/protocol';
import type { WeightStream } from './weight-stream.ts';

function columns(p: Party, x: Buf, rows: number, cols: number, start: number, end: number): Buf {
  return start === 0 && end === cols ? x : p.backend.sliceCols(x, rows, cols, start, end - start);
}

/**
 * Walks `name`'s row blocks in order, the next one fetched while this one is used: `blockTerm` gets each
 * block's share (open only for the call, closed right after) and returns its part of the term.
 */
async function eachBlockTerm(ws: WeightStream, name: string, blockTerm: (w: AShare, start: number, end: number) => Buf, take: (term: Buf) => void): Promise<void> {
  const blocks = ws.blocks(name);
  for (let i = 0; i < blocks.length; i++) {
    const [start, end] = blocks[i];
    if (i + 1 < blocks.length) ws.prefetch(name, ...blocks[i + 1]);
    const w = await ws.rows(name, start, end);
    const t0 = performance.now();
    const term = blockTerm(w, start, end);
    ws.close(w);
    if (ws.times) ws.times.matmulMs += performance.now() - t0;
    take(term);
  }
}

/**
 * One block's part of party i's term, W_i times (x_i + x_{i+1}) plus W_{i+1} times x_i (the same ring value as
 * (W_i + W_{i+1}) x_i + W_i x_{i+1}, with the sum taken on the activations, rows x block, instead of on the
 * block: a decoding step's product reads each weight word once per component and writes no weight-sized sum),
 * where `times` multiplies a component of the block by a component of x (x @ W or W @ x^T).
 */
function replicatedProduct(p: Party, w: AShare, xSum: Buf, x0: Buf, times: (wPart: Buf, xPart: Buf) => Buf): Buf {
  const be = p.backend;
  const a = times(w.s0, xSum);
  const b = times(w.s1, x0);
  const term = be.add(a, b);
  be.release(a);
  be.release(b);
  return term;
}

/** This party's unmasked 3-of-3 term of x @ W, block by block; W's blocks are closed as soon as they are used. */
async function localTerm(p: Party, ws: WeightStream, name: string, x: AShare): Promise<Buf> {
  const be = p.backend;
  const [k, n] = ws.shape(name);
  const [T, xk] = x.shape;
  if (x.shape.length !== 2 || xk !== k || ws.shape(name).length !== 2) {
    throw new Error(`streamed matmul: [${x.shape.join(', ')}] @ ${name} [${ws.shape(name).join(', ')}] do not multiply`);
  }
  let acc: Buf | null = null;
  const xSum = be.add(x.s0, x.s1);
  await eachBlockTerm(ws, name, (w, start, end) => {
    const dims = { m: T, k: end - start, n };
    const x0 = columns(p, x.s0, T, k, start, end);
    const sum = columns(p, xSum, T, k, start, end);
    const term = replicatedProduct(p, w, sum, x0, (wPart, xPart) => be.matmul(xPart, wPart, dims));
    if (x0 !== x.s0) be.release(x0);
    if (sum !== xSum) be.release(sum);
    return term;
  }, (term) => {
    if (!acc) {
      acc = term;
      return;
    }
    const sum = be.add(acc, term);
    be.release(acc);
    be.release(term);
    acc = sum;
  });
  be.release(xSum);
  return acc!;
}

/**
 * This party's unmasked 3-of-3 term of x @ W^T for a weight stored as W [n, k] (a tied head: the logits are
 * h @ E^T with E the token embedding's share, so the head needs no share of its own). Row blocks of W are output
 * columns here: each block gives (X_i + X_{i+1}) W_i[b]^T + X_i W_{i+1}[b]^T, [T, rows of b], turned to [rows of b,
 * T]; stacked they are the term transposed, turned once at the end. Exact in Z_2^64, as the untransposed term.
 */
async function localTermTransposed(p: Party, ws: WeightStream, name: string, x: AShare): Promise<Buf> {
  const be = p.backend;
  const [n, k] = ws.shape(name);
  const [T, xk] = x.shape;
  if (x.shape.length !== 2 || xk !== k || ws.shape(name).length !== 2) {
    throw new Error(`streamed matmul: [${x.shape.join(', ')}] @ ${name}^T [${[...ws.shape(name)].reverse().join(', ')}] do not multiply`);
  }
  const parts: Buf[] = [];
  const xSum = be.add(x.s0, x.s1);
  await eachBlockTerm(ws, name, (w, start, end) => {
    // x W[b]^T, [T, rows of b], turned to [rows of b, T]: with x on the left a decoding step's product takes the
    // backend's dot-product path over W's contiguous rows; W[b] x^T's one output column leaves most of each
    // register tile idle (bench core, a 1,365 x 768 block: 0.31 against 1.84 ms in WebAssembly).
    const dims = { m: T, k, n: end - start, transB: true };
    const part = replicatedProduct(p, w, xSum, x.s0, (wPart, xPart) => be.matmul(xPart, wPart, dims));
    if (T === 1) return part;
    const turned = be.transpose(part, [T, end - start], [1, 0]);
    be.release(part);
    return turned;
  }, (term) => parts.push(term));
  be.release(xSum);
  const stacked = parts.length === 1 ? parts[0] : be.concat(parts);
  if (stacked !== parts[0]) for (const t of parts) be.release(t);
  const term = be.transpose(stacked, [n, T], [1, 0]);
  be.release(stacked);
  return term;
}

/**
 * This party's unmasked 3-of-3 term of x @ W, for a caller that applies a public linear map before masking it
 * with a fresh zero sharing and truncating it (attention.ts projectQkv: RoPE's rotation).
 */
export function streamedMatmulTerm(p: Party, ws: WeightStream, name: string, x: AShare): Promise<Buf> {
  return p.profile('matmulRaw', () => localTerm(p, ws, name, x));
}

/** This party's local term of x @ W (x @ W^T when `transposed`) masked by a fresh zero sharing under `tag`. */
async function maskedTerm(p: Party, ws: WeightStream, name: string, x: AShare, tag: string, transposed = false): Promise<Buf> {
  const t = await (transposed ? localTermTransposed(p, ws, name, x) : localTerm(p, ws, name, x));
  const z = p.backend.add(t, p.zeroShare(tag, t.length));
  p.backend.release(t);
  return z;
}

/** Fixed-point x @ W: (X W) / 2^bits (default f), as matmul. */
export function streamedMatmul(p: Party, ws: WeightStream, name: string, x: AShare, bits = p.fracBits): Promise<AShare> {
  return p.profile('matmul', async () => {
    const z = await maskedTerm(p, ws, name, x, p.nextTag());
    return truncateProduct(p, z, [x.shape[0], ws.shape(name)[1]], bits);
  });
}

/** Fixed-point x @ W^T for a weight stored as W [n, k] (a tied head read from the token embedding), as matmul. */
export function streamedMatmulTransposed(p: Party, ws: WeightStream, name: string, x: AShare, bits = p.fracBits): Promise<AShare> {
  return p.profile('matmul', async () => {
    const z = await maskedTerm(p, ws, name, x, p.nextTag(), true);
    return truncateProduct(p, z, [x.shape[0], ws.shape(name)[0]], bits);
  });
}

/** Ring x @ W without truncation (one-hot rows times the embedding table), as matmulRaw. */
export function streamedMatmulRaw(p: Party, ws: WeightStream, name: string, x: AShare): Promise<AShare> {
  return p.profile('matmulRaw', async () => {
    const tag = p.nextTag();
    return reshare(p, await maskedTerm(p, ws, name, x, tag), [x.shape[0], ws.shape(name)[1]], tag);
  });
}

/**
 * This party's masked 3-of-3 term of x @ W (x @ W^T when `transposed`) at 2f fraction bits, for protocol
 * revealTermToClient: the product is local, the reveal its only round.
 */
export function streamedMatmulOutTerm(p: Party, ws: WeightStream, name: string, x: AShare, transposed: boolean): Promise<OutputTerm> {
  return p.profile('matmulTerm', async () => {
    const [rows, cols] = ws.shape(name);
    const z = await maskedTerm(p, ws, name, x, p.nextTag(), transposed);
    return { z, shape: [x.shape[0], transposed ? rows : cols], fracBits: 2 * p.fracBits };
  });
}
