/**
 * The weight a linear layer `name` of the secure pass multiplies by. Its own tensor `${name}.w` [in, out], except a
 * tied LM head (config.tiedHead: the logits are h E^T with E the token embedding): share-weights.ts shares that
 * head only as `emb.token` [vocab, hidden], so each party holds, reads and caches the vocabulary table once, not
 * twice (GPT-2-base: 309 MB less per dense party to download, store and read per token), and the head multiplies
 * by it transposed (streamed-matmul.ts). A sharing made before that still carries `head.w` and is used as it is.
 */
import type { AShare, OutputTerm, Party } from '@puma/protocol';
import { streamedMatmul, streamedMatmulOutTerm, streamedMatmulTransposed } from './streamed-matmul.ts';
import type { WeightStream } from './weight-stream.ts';

export interface LinearWeight {
  tensor: string;
  /** The tensor is [out, in] and multiplies transposed. */
  transposed: boolean;
  /** Output width. */
  out: number;
}

export function linearWeight(ws: WeightStream, name: string): LinearWeight {
  const own = `${name}.w`;
  if (ws.has(own)) return { tensor: own, transposed: false, out: ws.shape(own)[1] };
  if (name === 'head' && ws.manifest.config.tiedHead && ws.has('emb.token')) return { tensor: 'emb.token', transposed: true, out: ws.shape('emb.token')[0] };
  throw new Error(`model has no tensor ${own}${name === 'head' ? ' (and its head is not tied to emb.token)' : ''}`);
}

/** Fixed-point x @ W of linear `name` (W as linearWeight gives it), truncated by `bits` (default f). */
export function linearMatmul(p: Party, ws: WeightStream, name: string, x: AShare, bits = p.fracBits): Promise<AShare> {
  const w = linearWeight(ws, name);
  return w.transposed ? streamedMatmulTransposed(p, ws, w.tensor, x, bits) : streamedMatmul(p, ws, w.tensor, x, bits);
}

/** This party's masked term of x @ W of linear `name` at 2f fraction bits, for a reveal to the client. */
export function linearMatmulTerm(p: Party, ws: WeightStream, name: string, x: AShare): Promise<OutputTerm> {
  const w = linearWeight(ws, name);
  return streamedMatmulOutTerm(p, ws, w.tensor, x, w.transposed);
}
