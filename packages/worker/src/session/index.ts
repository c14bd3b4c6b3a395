/**
 * Session runtime: what a party, the model owner and the client run once their Channel is connected, in any
 * JS environment (browser page or Web Worker, Node). It knows nothing of the DOM, Node APIs, Comlink or how the
 * channel was made (WebRTC, memory, MessagePorts).
 *
 * Message flow (tags on the Channel):
 *   owner -> party i   `w:manifest`   JSON PartyShareManifest (party i's parts only, with sha256 each)
 *   party i -> owner   `w:want`       JSON { parts: number[] }  indices into the manifest's part list missing from the cache
 *   owner -> party i   `w:part:<k>`   the bytes of part k, for each wanted k
 *   party i -> owner   `w:done`       JSON WeightTransferReport
 *   owner -> client    `public`       encoded PublicModelInfo (config, tokenizer files; never weights)
 *   client -> parties  `job:<n>`      JSON JobRequest; { kind: 'end' } ends the session
 *   parties -> client  `cost:<n>:<s>` JSON StepCost of job n, step s
 *   any -> peers       `session:end` / `session:abort`  normal end / failure with its reason, so peers stop at once
 */
import type { Backend } from '@puma/backend';
import type { ModelConfig, Model, Tokenizer } from '@puma/models';
import type { PartyWeightBundle, Sampler } from '@puma/models/secure';
import type { Channel, PartyId } from '@puma/transport';

// ---------------------------------------------------------------- share storage

/** Where a party keeps its weight-share parts between sessions (IndexedDB via idb-keyval, a directory, memory). */
export interface ShareStore {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, bytes: Uint8Array): Promise<void>;
  /** Removes a corrupt entry; stores without it get the entry overwritten by the refetched part instead. */
  delete?(key: string): Promise<void>;
}

/** Store key of one part: `${modelId}/${epoch}/${party}/${tensor}/${part}`. */
export function partKey(modelId: string, epoch: string, party: PartyId, tensor: string, part: string): string {
  return `${modelId}/${epoch}/${party}/${tensor}/${part}`;
}

// ---------------------------------------------------------------- shares and manifests

/** One cached unit of a party's share: a tensor's seeds ("seeds") or a slice of its dense component ("dense.<k>"). */
export interface PartInfo {
  tensor: string;
  part: string;
  bytes: number;
  /** Lowercase hex sha256 of the part's bytes. */
  sha256: string;
}

/** What the owner tells party `party` about its share of a model: enough to check its cache and load the model. */
export interface PartyShareManifest {
  format: 'puma-party-shares/1';
  modelId: string;
  /** Random id the owner draws per sharing; parts from another epoch are shares of a different split. */
  epoch: string;
  party: PartyId;
  fracBits: number;
  config: ModelConfig;
  tensors: Array<{ name: string; shape: number[] }>;
  parts: PartInfo[];
}

/** A party's share as the owner holds it: the manifest and each part's bytes, in manifest order. */
export interface PartyShares {
  manifest: PartyShareManifest;
  parts: Uint8Array[];
}

/** Tokenizer files, by fixed name per kind: llama2c "tokenizer.bin"; gpt2-bpe "vocab.json" + "merges.txt"; wordpiece "vocab.txt". */
export interface TokenizerSource {
  kind: 'llama2c' | 'gpt2-bpe' | 'wordpiece';
  files: Record<string, Uint8Array>;
}

/** What the client learns from the owner: public anyway (architecture, tokenizer), never weights. */
export interface PublicModelInfo {
  modelId: string;
  config: ModelConfig;
  fracBits: number;
  tokenizer?: TokenizerSource;
}

/** The owner's side of one sharing, reused across sessions so that cached parts stay valid (same epoch). */
export interface OwnerShares {
  modelId: string;
  epoch: string;
  fracBits: number;
  parties: [PartyShares, PartyShares, PartyShares];
  publicInfo: PublicModelInfo;
}

export interface PrepareSharesOptions {
  model: Model;
  modelId: string;
  /** Default DEFAULT_FRAC_BITS (18). */
  fracBits?: number;
  tokenizer?: TokenizerSource;
  /** Reports tensors shared so far (sharing a large model takes a while). */
  onProgress?: (done: number, total: number) => void;
}

/** Splits a model into the three parties' shares under a fresh random epoch, with a sha256 per part. */
export function prepareOwnerShares(o: PrepareSharesOptions): Promise<OwnerShares> {
  void o;
  throw new Error('not implemented yet');
}

/** Cuts one party's bundle (from models/secure shareWeights) into hashed parts under `epoch`. */
export function partySharesFromBundle(bundle: PartyWeightBundle, party: PartyId, epoch: string): Promise<PartyShares> {
  void bundle, party, epoch;
  throw new Error('not implemented yet');
}

/** Rebuilds the bundle loadSecureModel takes from a manifest and its parts (in manifest order). */
export function bundleFromParts(manifest: PartyShareManifest, parts: readonly Uint8Array[]): PartyWeightBundle {
  void manifest, parts;
  throw new Error('not implemented yet');
}

/** Checks every part against the manifest's sizes and sha256 (for shares loaded from disk). */
export function verifyPartyShares(shares: PartyShares): Promise<void> {
  void shares;
  throw new Error('not implemented yet');
}

export function encodePublicInfo(info: PublicModelInfo): Uint8Array {
  void info;
  throw new Error('not implemented yet');
}
export function decodePublicInfo(bytes: Uint8Array): PublicModelInfo {
  void bytes;
  throw new Error('not implemented yet');
}
/** Builds the tokenizer the public info describes. */
export function tokenizerFromSource(source: TokenizerSource, vocabSize: number): Tokenizer {
  void source, vocabSize;
  throw new Error('not implemented yet');
}

// ---------------------------------------------------------------- jobs and status

export type RevealMode = 'logits' | 'argmax';

/** Job header the client sends every party as `job:<n>`. */
export type JobRequest =
  | { kind: 'generate'; promptLength: number; maxNewTokens: number; reveal: RevealMode }
  | { kind: 'classify'; length: number }
  | { kind: 'end' };

/** What one party spent on one step of a job (sent to the client as `cost:<n>:<step>`). */
export interface StepCost {
  step: number;
  rounds: number;
  bytesSent: number;
  ms: number;
}

export interface WeightTransferReport {
  partsTotal: number;
  /** Parts found in the store with a valid sha256. */
  cacheHits: number;
  /** Parts found in the store whose sha256 did not match: deleted and fetched again. */
  corruptParts: number;
  partsFetched: number;
  /** Bytes of share parts received from the owner in this session. */
  shareBytesDownloaded: number;
}

export type SessionPhase = 'keys' | 'weights' | 'ready' | 'running' | 'done' | 'error';

export interface PartyStatus {
  phase: SessionPhase;
  party: PartyId;
  /** One line for people ("weights: 12 of 40 parts from cache, fetching 28"). */
  message: string;
  /** Backend kind ('wasm' | 'webgpu') and description. */
  backend: string;
  bytesSent: number;
  bytesReceived: number;
  /** Present from the weights phase on. */
  weights?: WeightTransferReport;
  /** Present while running a job: step `step` (0-based, finished) of `steps`. */
  job?: { index: number; kind: 'generate' | 'classify'; step: number; steps: number; msPerStep: number; rounds: number };
  /** Present in phase 'error'. */
  error?: string;
}

export interface PartySessionOptions {
  id: PartyId;
  channel: Channel;
  backend: Backend;
  store: ShareStore;
  /** Must equal the owner's sharing; default DEFAULT_FRAC_BITS (18). */
  fracBits?: number;
  onStatus?: (s: PartyStatus) => void;
  /** Aborting stops the session: peers are told why and fail at once. */
  signal?: AbortSignal;
}

export interface PartySessionReport {
  weights: WeightTransferReport;
  jobs: Array<{ kind: 'generate' | 'classify'; steps: StepCost[] }>;
  bytesSent: number;
  bytesReceived: number;
  backend: string;
}

/**
 * A party's whole session: key setup with the other parties, its weight share from the owner (cached in
 * `store`, verified by sha256), then jobs from the client until it sends `end`. Rejects with a message naming
 * who disconnected or stopped; on failure it tells its peers and closes `channel`. On success the caller
 * closes the channel.
 */
export function runPartySession(o: PartySessionOptions): Promise<PartySessionReport> {
  void o;
  throw new Error('not implemented yet');
}

export interface OwnerStatus {
  /** 'serving': waiting for or sending to endpoints; 'party-done' / 'client-done': one delivered; 'done'; 'error'. */
  phase: 'serving' | 'party-done' | 'client-done' | 'done' | 'error';
  party?: PartyId;
  message: string;
  bytesSent: number;
  error?: string;
}

export interface OwnerServeOptions {
  channel: Channel;
  shares: OwnerShares;
  onStatus?: (s: OwnerStatus) => void;
  /** Which endpoints to serve; default all three parties and the client. */
  parties?: readonly PartyId[];
  client?: boolean;
}

export interface OwnerReport {
  /** Per served party: what it asked for and what was sent. */
  parties: Array<{ party: PartyId; partsRequested: number; shareBytesSent: number; report: WeightTransferReport }>;
  publicInfoBytes: number;
}

/**
 * Serves one session: each party gets its manifest and then only the parts it lacks, the client gets the
 * public model info. Resolves when every endpoint has acknowledged. Call it again with the same `shares` on a
 * new channel for the next session (reloaded pages): parties with valid caches then download nothing.
 */
export function serveOwner(o: OwnerServeOptions): Promise<OwnerReport> {
  void o;
  throw new Error('not implemented yet');
}

export interface ClientStatus {
  phase: 'waiting-for-model' | 'ready' | 'running' | 'done' | 'error';
  message: string;
  bytesSent: number;
  bytesReceived: number;
  error?: string;
}

export interface ClientSessionOptions {
  channel: Channel;
  onStatus?: (s: ClientStatus) => void;
  signal?: AbortSignal;
}

export interface TokenEvent {
  /** 0-based index of the generated token. */
  index: number;
  token: number;
  /** The text this token added (decoded text of all tokens so far minus that before it). */
  text: string;
  /** Milliseconds the client waited for this token. */
  ms: number;
  /** Cost per party (index = party id), as reported by the parties. */
  cost: StepCost[];
  logits?: Float64Array;
}

export interface GenerateOptions {
  /** Text (tokenized here; BOS is prepended for llama models) or token ids as given. */
  prompt: string | readonly number[];
  maxNewTokens: number;
  /** Default 'logits'. */
  reveal?: RevealMode;
  /** Default greedy; only with reveal 'logits'. */
  pick?: Sampler;
  onToken?: (t: TokenEvent) => void;
}

export interface GenerateResult {
  promptIds: number[];
  tokens: number[];
  text: string;
  /** Per token, per party. */
  costs: StepCost[][];
  seconds: number;
}

export interface ClassifyResult {
  ids: number[];
  logits: Float64Array;
  label: string | number;
  seconds: number;
}

export interface ClientSession {
  readonly info: PublicModelInfo;
  /** Null when the owner sent no tokenizer (then prompts must be token ids). */
  readonly tokenizer: Tokenizer | null;
  generate(o: GenerateOptions): Promise<GenerateResult>;
  /** BERT classifiers: [CLS] text [SEP], logits revealed to the client. */
  classify(o: { text: string } | { ids: readonly number[] }): Promise<ClassifyResult>;
  /** Tells the parties the session is over; the caller then closes the channel. */
  end(): void;
}

/** Waits for the owner's public model info and returns a session that runs jobs on the parties. */
export function openClientSession(o: ClientSessionOptions): Promise<ClientSession> {
  void o;
  throw new Error('not implemented yet');
}

/** openClientSession + one generation + end. */
export function runClientSession(o: ClientSessionOptions & GenerateOptions): Promise<GenerateResult> {
  void o;
  throw new Error('not implemented yet');
}

// ---------------------------------------------------------------- in-memory store

/** ShareStore in memory (tests; a page without IndexedDB). `entries` is exposed so tests can inspect or corrupt it. */
export class MemoryShareStore implements ShareStore {
  readonly entries = new Map<string, Uint8Array>();
  async get(key: string): Promise<Uint8Array | undefined> {
    return this.entries.get(key);
  }
  async set(key: string, bytes: Uint8Array): Promise<void> {
    this.entries.set(key, bytes.slice());
  }
  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }
}
