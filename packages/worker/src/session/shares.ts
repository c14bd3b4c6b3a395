/**
 * A party's weight share as cacheable parts. Per tensor: "seeds" (the PRG seeds of the components this party
 * derives, 8 + 32 bytes each) and, for the two parties that hold the dense component, "dense.<k>" slices of at
 * most DENSE_PART_BYTES. Each part has its sha256 in the party's manifest, so a party can tell a valid cached
 * part from a corrupt one, and a wrong transfer from a right one.
 */
import { decodeBundle, encodeBundle, type ShareBundle } from '@puma/protocol';
import { DEFAULT_FRAC_BITS, asBytes, checkFracBits } from '@puma/ring';
import { checkNormWindows, type ModelConfig } from '@puma/models';
import { streamWeightShares, type PartyWeightBundle, type ShareStreamOptions, type TensorShare, type WeightManifest } from '@puma/models/secure';
import type { PartyId } from '@puma/transport';
import { checkRoster, type Roster } from './roster.ts';
import type { OwnerShareStream, OwnerShares, PartyShareManifest, PartyShares, PrepareSharesOptions, StreamedPart, TensorParts } from './types.ts';

/** Dense slices are cut at this size: small enough to show progress and resume, large enough to be few. */
export const DENSE_PART_BYTES = 8 * 1024 * 1024;
export const MANIFEST_FORMAT = 'puma-party-shares/1';
const EPOCH_PATTERN = /^[0-9a-f]{32}$/;

/**
 * Store key of one part: `${identity}/${modelId}/${epoch}/${party}/${tensor}/${part}`. Parts are kept per
 * identity (fingerprint), so an endpoint with another key never takes them for its own.
 */
export function partKey(identity: string, modelId: string, epoch: string, party: PartyId, tensor: string, part: string): string {
  return `${identity}/${modelId}/${epoch}/${party}/${tensor}/${part}`;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // WebCrypto takes views of ArrayBuffers only; parts never live in SharedArrayBuffers.
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** 128 random bits as hex: the id of one sharing. */
export function newEpoch(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function partsOf(bundle: ShareBundle): Array<{ part: string; bytes: Uint8Array }> {
  const out: Array<{ part: string; bytes: Uint8Array }> = [];
  if (bundle.seed0 || bundle.seed1) out.push({ part: 'seeds', bytes: encodeBundle({ seed0: bundle.seed0, seed1: bundle.seed1 }) });
  if (bundle.dense) {
    const dense = asBytes(bundle.dense);
    for (let o = 0, k = 0; o < dense.byteLength; o += DENSE_PART_BYTES, k++) {
      out.push({ part: `dense.${k}`, bytes: dense.subarray(o, Math.min(dense.byteLength, o + DENSE_PART_BYTES)) });
    }
  }
  return out;
}

/** Cuts one party's bundle (from models/secure shareWeights) into hashed parts under `epoch`. */
export async function partySharesFromBundle(
  bundle: PartyWeightBundle,
  party: PartyId,
  epoch: string,
  onPart?: () => void,
): Promise<PartyShares> {
  const { modelId, config, fracBits, tensors } = bundle.manifest;
  const manifest: PartyShareManifest = { format: MANIFEST_FORMAT, modelId, epoch, party, fracBits, config, tensors, parts: [] };
  const parts: Uint8Array[] = [];
  for (const t of tensors) {
    const b = bundle.bundles[t.name];
    if (!b) throw new Error(`party ${party}'s bundle lacks tensor ${t.name}`);
    for (const p of partsOf(b)) {
      manifest.parts.push({ tensor: t.name, part: p.part, bytes: p.bytes.byteLength, sha256: await sha256Hex(p.bytes) });
      parts.push(p.bytes);
      onPart?.();
    }
  }
  checkManifest(manifest, party);
  return { manifest, parts };
}

/** How many parts partsOf cuts a tensor of `words` elements into for party p (seeds, and dense for 1 and 2). */
function partCount(party: PartyId, words: number): number {
  return party === 0 ? 1 : 1 + Math.ceil((words * 8) / DENSE_PART_BYTES);
}

export interface OwnerStreamOptions extends PrepareSharesOptions, ShareStreamOptions {
  /**
   * Reuse two buffers for the dense components (each as large as the largest tensor's) instead of a new array
   * per tensor: a yielded tensor's part bytes are then valid only until the consumer asks for the next tensor
   * (a writer that awaits its writes first, as `puma share` does). Fresh memory for every tensor costs page
   * faults on all 1.3 GB of a GPT-2-base sharing; reused memory is faulted in once.
   */
  reuseBuffers?: boolean;
  /** Other threads for the split and the hashing; implies reuseBuffers (with its buffers). */
  helper?: SharingHelper;
}

/**
 * Work the owner's sharing can hand to other threads (apps/cli share-threads.ts, in Node): the split, into
 * buffers it allocates (shared with its threads), and the parts' sha256.
 */
export interface SharingHelper {
  /** A buffer of `words` words that split can write and hash can read. */
  allocate(words: number): BigUint64Array;
  /** As ShareStreamOptions.split: the splitter's words bit for bit. */
  split: NonNullable<ShareStreamOptions['split']>;
  /** The sha256 of each part, as hex, in order. */
  hash(parts: readonly Uint8Array[]): Promise<string[]>;
}

/** WebCrypto digests copy their input: this many at a time bounds the copies (a tensor may have 37 parts). */
const HASHES_AT_ONCE = 4;

async function webCryptoHash(parts: readonly Uint8Array[]): Promise<string[]> {
  const sums: string[] = [];
  for (let i = 0; i < parts.length; i += HASHES_AT_ONCE) sums.push(...(await Promise.all(parts.slice(i, i + HASHES_AT_ONCE).map(sha256Hex))));
  return sums;
}

/**
 * Splits a model into the three parties' shares under a fresh random epoch, tensor by tensor: each yielded
 * tensor carries every party's parts with their sha256, and is appended to the manifests as it goes. The
 * ChaCha20 and splitting run in WebAssembly (models/secure share-stream.ts); a caller that writes or sends each
 * tensor's parts and drops them holds at most two tensors' shares at a time (one being hashed while the next is
 * split), not the model's. Parties 1 and 2 hold the same dense component, so their dense parts are the same
 * bytes, hashed once.
 */
export function streamOwnerShares(o: OwnerStreamOptions): OwnerShareStream {
  const fracBits = o.fracBits ?? DEFAULT_FRAC_BITS;
  checkFracBits(fracBits);
  const helper = o.helper;
  const reuse = o.reuseBuffers || helper !== undefined;
  const allocate = helper ? (words: number) => helper.allocate(words) : (words: number) => new BigUint64Array(words);
  const weights = streamWeightShares(o.model, o.modelId, fracBits, reuse ? { ...o, denseArray: alternatingBuffers(() => weights.manifest, allocate), split: helper?.split } : o);
  const hash = helper ? (parts: readonly Uint8Array[]) => helper.hash(parts) : webCryptoHash;
  const epoch = newEpoch();
  const { modelId, config, tensors } = weights.manifest;
  const manifests = ([0, 1, 2] as const).map((party): PartyShareManifest => ({ format: MANIFEST_FORMAT, modelId, epoch, party, fracBits, config, tensors, parts: [] })) as OwnerShareStream['manifests'];
  const totalParts = tensors.reduce((s, t) => {
    const words = t.shape.reduce((a, c) => a * c, 1);
    return s + partCount(0, words) + partCount(1, words) + partCount(2, words);
  }, 0);
  let done = 0;
  return {
    modelId, epoch, fracBits, manifests, totalParts,
    publicInfo: { modelId, config, fracBits, tokenizer: o.tokenizer },
    async *tensors(): AsyncGenerator<TensorParts> {
      // The next tensor is split while this one's parts are hashed (WebCrypto works off the calling thread), so
      // at most two tensors' shares are held at once.
      let hashing: HashingTensor | undefined;
      for await (const t of weights.tensors()) {
        const next = startHashing(t, hash);
        // Awaited below; until then a failure must not count as unhandled.
        next.catch(() => {});
        if (hashing) yield finish(await hashing);
        hashing = next;
      }
      if (hashing) yield finish(await hashing);
      manifests.forEach((m, party) => checkManifest(m, party as PartyId));
    },
  };

  /** Appends a hashed tensor's parts to the manifests, in order, and reports progress. */
  function finish(h: Awaited<HashingTensor>): TensorParts {
    const parties = h.cut.map((list, party) => list.map((p): StreamedPart => {
      const info = { tensor: h.tensor, part: p.part, bytes: p.bytes.byteLength, sha256: h.sums.get(p.bytes)! };
      const index = manifests[party].parts.push(info) - 1;
      return { index, info, bytes: p.bytes };
    })) as TensorParts['parties'];
    done += parties.reduce((s, l) => s + l.length, 0);
    o.onProgress?.(done, totalParts);
    return { tensor: h.tensor, parties };
  }
}

/**
 * Two buffers used in turn, each as large as the manifest's largest tensor (allocated on first use; pages are
 * touched only as far as tensors fill them). Tensor i is split into buffer i mod 2 while tensor i - 1, in the
 * other, is hashed; tensors() yields tensor i - 2 before it splits tensor i, so under reuseBuffers' contract
 * its buffer is free by then.
 */
function alternatingBuffers(manifest: () => WeightManifest, allocate: (words: number) => BigUint64Array): (words: number) => BigUint64Array {
  const buffers: BigUint64Array[] = [];
  let next = 0;
  return (words) => {
    const i = next++ % 2;
    buffers[i] ??= allocate(Math.max(...manifest().tensors.map((t) => t.shape.reduce((a, c) => a * c, 1))));
    return buffers[i].subarray(0, words);
  };
}

/**
 * One tensor's three bundles cut into each party's parts, in manifest order (seeds, then dense.<k>): parties 1 and
 * 2 hold the same dense component, so its parts are cut once and shared by both (the same Uint8Array views).
 * Bundles without dense components give the seeds parts alone, exactly as those of the full bundles.
 */
export function cutTensor(bundles: readonly ShareBundle[]): Array<Array<{ part: string; bytes: Uint8Array }>> {
  const denseParts = new Map<BigUint64Array, Array<{ part: string; bytes: Uint8Array }>>();
  return bundles.map((b) => {
    if (!b.dense) return partsOf({ seed0: b.seed0, seed1: b.seed1 });
    let dense = denseParts.get(b.dense);
    if (!dense) denseParts.set(b.dense, (dense = partsOf({ dense: b.dense })));
    return [...partsOf({ seed0: b.seed0, seed1: b.seed1 }), ...dense];
  });
}

type HashingTensor = Promise<{ tensor: string; cut: Array<Array<{ part: string; bytes: Uint8Array }>>; sums: Map<Uint8Array, string> }>;

/**
 * Cuts one tensor's three bundles into parts and starts hashing them: parties 1 and 2 hold the same dense
 * component, so its parts are cut and hashed once and shared by both.
 */
function startHashing(t: TensorShare, hash: (parts: readonly Uint8Array[]) => Promise<string[]>): HashingTensor {
  const cut = cutTensor(t.bundles);
  const distinct = [...new Set(cut.flat().map((p) => p.bytes))];
  return hash(distinct).then((sums) => {
    if (sums.length !== distinct.length) throw new Error(`hashing ${t.name}: ${distinct.length} parts gave ${sums.length} sums`);
    return { tensor: t.name, cut, sums: new Map(distinct.map((bytes, i) => [bytes, sums[i]])) };
  });
}

/** Splits a model into the three parties' shares under a fresh random epoch, all parts in memory. */
export async function prepareOwnerShares(o: PrepareSharesOptions & ShareStreamOptions): Promise<OwnerShares> {
  // Every part is kept, so no buffer may be reused.
  const stream = streamOwnerShares({ ...o, reuseBuffers: false });
  const parts: [Uint8Array[], Uint8Array[], Uint8Array[]] = [[], [], []];
  for await (const t of stream.tensors()) t.parties.forEach((list, p) => list.forEach((part) => parts[p].push(part.bytes)));
  const parties = stream.manifests.map((manifest, p) => ({ manifest, parts: parts[p] })) as OwnerShares['parties'];
  return { modelId: o.modelId, epoch: stream.epoch, fracBits: stream.fracBits, parties, publicInfo: stream.publicInfo, holders: { 0: null, 1: null, 2: null } };
}

/** Rebuilds the bundle loadSecureModel takes from a manifest and its parts (in manifest order). */
export function bundleFromParts(manifest: PartyShareManifest, parts: readonly Uint8Array[]): PartyWeightBundle {
  if (parts.length !== manifest.parts.length) throw new Error(`manifest lists ${manifest.parts.length} parts, got ${parts.length}`);
  const byTensor = new Map<string, { seeds?: Uint8Array; dense: Uint8Array[] }>();
  manifest.parts.forEach((p, i) => {
    const entry = byTensor.get(p.tensor) ?? { dense: [] };
    byTensor.set(p.tensor, entry);
    if (p.part === 'seeds') entry.seeds = parts[i];
    else entry.dense[Number(p.part.slice('dense.'.length))] = parts[i];
  });
  const bundles: Record<string, ShareBundle> = {};
  for (const t of manifest.tensors) {
    const entry = byTensor.get(t.name);
    if (!entry) throw new Error(`manifest has no parts for tensor ${t.name}`);
    const b: ShareBundle = entry.seeds ? decodeBundle(entry.seeds) : {};
    if (entry.dense.length > 0) {
      const total = entry.dense.reduce((s, d) => s + d.byteLength, 0);
      const words = t.shape.reduce((a, c) => a * c, 1);
      if (total !== words * 8) throw new Error(`tensor ${t.name}: dense parts hold ${total} bytes, shape [${t.shape.join(', ')}] needs ${words * 8}`);
      const dense = new BigUint64Array(words);
      const bytes = asBytes(dense);
      let o = 0;
      for (const d of entry.dense) {
        bytes.set(d, o);
        o += d.byteLength;
      }
      b.dense = dense;
    }
    bundles[t.name] = b;
  }
  const { modelId, config, fracBits, tensors } = manifest;
  return { manifest: { modelId, config, fracBits, tensors }, bundles };
}

/** Checks every part against the manifest's sizes and sha256 (for shares loaded from disk). */
export async function verifyPartyShares(shares: PartyShares): Promise<void> {
  const { manifest, parts } = shares;
  if (parts.length !== manifest.parts.length) throw new Error(`party ${manifest.party}: manifest lists ${manifest.parts.length} parts, found ${parts.length}`);
  for (const [i, p] of manifest.parts.entries()) {
    const what = `party ${manifest.party} part ${p.tensor}/${p.part}`;
    if (parts[i].byteLength !== p.bytes) throw new Error(`${what} has ${parts[i].byteLength} bytes, the manifest says ${p.bytes}`);
    if ((await sha256Hex(parts[i])) !== p.sha256) throw new Error(`${what} does not match its sha256 in the manifest`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates a manifest received over the network or read from disk; throws naming the first problem. Names must
 * not contain "/" (they become store keys), parts must cover each tensor exactly as partsOf cuts it. The roster
 * (`parties`) is checked when present and demanded with `{ parties: 'required' }` (manifests from the owner).
 */
export function checkManifest(m: unknown, party: PartyId, o: { parties?: 'required' } = {}): asserts m is PartyShareManifest {
  const bad = (why: string): never => {
    throw new Error(`share manifest for party ${party}: ${why}`);
  };
  if (!isObject(m)) bad('not a JSON object');
  const r = m as Record<string, unknown>;
  if (r.format !== MANIFEST_FORMAT) bad(`format is ${JSON.stringify(r.format)}, expected ${MANIFEST_FORMAT}`);
  if (r.party !== party) bad(`it is addressed to party ${JSON.stringify(r.party)}`);
  const name = (v: unknown, what: string) => {
    if (typeof v !== 'string' || v.length === 0 || v.length > 200 || v.includes('/')) bad(`${what} must be 1-200 characters without "/", got ${JSON.stringify(v)}`);
  };
  name(r.modelId, 'modelId');
  if (typeof r.epoch !== 'string' || !EPOCH_PATTERN.test(r.epoch)) bad(`epoch must be 32 hex digits, got ${JSON.stringify(r.epoch)}`);
  if (r.parties === undefined) {
    if (o.parties === 'required') bad('it names no approved parties (the roster)');
  } else {
    let roster: Roster;
    try {
      roster = checkRoster(r.parties, 'approved parties');
    } catch (e) {
      return bad(e instanceof Error ? e.message : String(e));
    }
    if (roster.some((fp, p) => fp !== (r.parties as string[])[p])) bad('approved parties must be lowercase fingerprints');
  }
  checkFracBits(r.fracBits as number);
  if (!isObject(r.config) || !Number.isInteger(r.config.vocabSize)) bad('config is missing or has no vocabSize');
  try {
    checkNormWindows(r.config as unknown as ModelConfig, r.fracBits as number);
  } catch (e) {
    bad(e instanceof Error ? e.message : String(e));
  }
  if (!Array.isArray(r.tensors) || !Array.isArray(r.parts)) bad('tensors and parts must be arrays');
  const shapes = new Map<string, number>();
  for (const t of r.tensors as unknown[]) {
    if (!isObject(t)) bad('a tensor entry is not an object');
    const tt = t as Record<string, unknown>;
    name(tt.name, 'tensor name');
    if (shapes.has(tt.name as string)) bad(`tensor ${tt.name} is listed twice`);
    if (!Array.isArray(tt.shape) || !tt.shape.every((d) => Number.isInteger(d) && d > 0)) bad(`tensor ${tt.name} has an invalid shape`);
    shapes.set(tt.name as string, (tt.shape as number[]).reduce((a, c) => a * c, 1));
  }
  const seen = new Set<string>();
  const denseBytes = new Map<string, number>();
  for (const p of r.parts as unknown[]) {
    if (!isObject(p)) bad('a part entry is not an object');
    const pp = p as Record<string, unknown>;
    const words = shapes.get(pp.tensor as string);
    if (words === undefined) bad(`a part names unknown tensor ${JSON.stringify(pp.tensor)}`);
    const id = `${pp.tensor}/${pp.part}`;
    if (seen.has(id)) bad(`part ${id} is listed twice`);
    seen.add(id);
    if (typeof pp.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(pp.sha256)) bad(`part ${id} has no valid sha256`);
    if (!Number.isInteger(pp.bytes) || (pp.bytes as number) < 0) bad(`part ${id} has an invalid size`);
    const m2 = /^dense\.(\d+)$/.exec(String(pp.part));
    if (pp.part === 'seeds') {
      if (pp.bytes !== 40 && pp.bytes !== 72) bad(`part ${id} must hold one or two seeds (40 or 72 bytes), not ${pp.bytes}`);
    } else if (m2) {
      const k = Number(m2[1]);
      const expected = Math.min(DENSE_PART_BYTES, words! * 8 - k * DENSE_PART_BYTES);
      if (pp.bytes !== expected) bad(`part ${id} must hold ${expected} bytes, not ${pp.bytes}`);
      denseBytes.set(pp.tensor as string, (denseBytes.get(pp.tensor as string) ?? 0) + (pp.bytes as number));
    } else {
      bad(`part ${id} is neither "seeds" nor "dense.<k>"`);
    }
  }
  for (const [tensor, words] of shapes) {
    const dense = denseBytes.get(tensor);
    if (dense !== undefined && dense !== words * 8) bad(`the dense parts of ${tensor} do not cover its ${words} elements`);
    if (dense === undefined && !seen.has(`${tensor}/seeds`)) bad(`tensor ${tensor} has no parts`);
  }
}
