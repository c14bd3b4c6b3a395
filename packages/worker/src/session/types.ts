/** Types of the session runtime (see index.ts for the message flow). */
import type { Backend } from '@puma/backend';
import type { ModelConfig, Model, Tokenizer } from '@puma/models';
import type { Sampler, SeedExpander } from '@puma/models/secure';
import type { Channel, PartyId } from '@puma/transport';

// ---------------------------------------------------------------- share storage

/** Where a party keeps its weight-share parts between sessions (IndexedDB via idb-keyval, a directory, memory). */
export interface ShareStore {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, bytes: Uint8Array): Promise<void>;
  /** Removes a corrupt entry; stores without it get the entry overwritten by the refetched part instead. */
  delete?(key: string): Promise<void>;
  /**
   * The byte length of the entry at `key` without reading its bytes (an IndexedDB Blob's size, a file's), or
   * undefined when there is none. A session's start-up check looks parts up by size only; a store without
   * this is read (get) to learn it.
   */
  size?(key: string): Promise<number | undefined>;
  /**
   * True when get resolves with bytes nobody else holds or writes (IndexedDB's structured clone), so a reader
   * may check them and use them in place instead of copying them first.
   */
  readonly freshReads?: boolean;
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
  /**
   * The identity fingerprints the owner approved as parties 0, 1, 2 for this sharing. Present in every
   * manifest the owner sends (a party checks its own entry and its peers' links against it); absent in stored
   * manifests, which belong to the sharing, not to a session.
   */
  parties?: readonly [string, string, string];
}

/**
 * A party's share as the owner holds it: the manifest and each part's bytes, in manifest order; `parts` is empty
 * when the owner re-makes the bytes when it sends them (OwnerServeOptions.partSource).
 */
export interface PartyShares {
  manifest: PartyShareManifest;
  parts: Uint8Array[];
}

/**
 * Tokenizer files, by fixed name per kind: llama2c "tokenizer.bin"; gpt2-bpe "vocab.json" + "merges.txt"; wordpiece
 * "vocab.txt"; hf-json a folder's tokenizer.json and tokenizer_config.json as "hf-tokenizer.json" +
 * "hf-tokenizer-config.json" (names that cannot collide with a share folder's public/tokenizer.json).
 */
export interface TokenizerSource {
  kind: 'llama2c' | 'gpt2-bpe' | 'wordpiece' | 'hf-json';
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
  /**
   * Which identity (fingerprint) was given each party's bundle of this sharing; null until first served. Two
   * identities together would hold all three components, so the bundles of one sharing only ever go to this
   * one set of identities, each to its own slot; another set needs a fresh sharing (new epoch). Persist it with
   * the shares (serveOwner's recordHolders), or the record is lost with the process.
   */
  holders: Record<PartyId, string | null>;
}

/** One part of one party's share as the owner's sharing streams it: its index in that party's manifest. */
export interface StreamedPart {
  index: number;
  info: PartInfo;
  bytes: Uint8Array;
}

/** One tensor's parts for parties 0, 1 and 2 (parties 1 and 2 get the same dense bytes). */
export interface TensorParts {
  tensor: string;
  parties: [StreamedPart[], StreamedPart[], StreamedPart[]];
}

/** A sharing in progress (shares.ts streamOwnerShares): its identity up front, its parts tensor by tensor. */
export interface OwnerShareStream {
  modelId: string;
  epoch: string;
  fracBits: number;
  publicInfo: PublicModelInfo;
  /** Each party's manifest: parts are appended as tensors() yields them, complete and checked when it ends. */
  manifests: [PartyShareManifest, PartyShareManifest, PartyShareManifest];
  /** Parts of all three parties together, known before the first tensor is split. */
  totalParts: number;
  /** Splits and hashes one tensor at a time, in manifest order; iterate once. */
  tensors(): AsyncGenerator<TensorParts>;
}

export interface PrepareSharesOptions {
  model: Model;
  modelId: string;
  /** Default DEFAULT_FRAC_BITS (18). */
  fracBits?: number;
  tokenizer?: TokenizerSource;
  /** Reports parts (of all three parties) split and hashed so far, after each tensor. */
  onProgress?: (done: number, total: number) => void;
}

// ---------------------------------------------------------------- jobs and status

export type RevealMode = 'logits' | 'argmax';

/**
 * Job header the client sends every party as `job:<n>`. `parties` is the client's approved roster: each party
 * checks it against the identities its links proved, so input shares reach only the parties the client chose.
 */
export type JobRequest = { parties: readonly [string, string, string] } & (
  | {
    kind: 'generate'; promptLength: number; maxNewTokens: number; reveal: RevealMode;
    /** The client says before each step after the first whether to go on (a chat reply ends at a stop token). */
    earlyStop?: boolean;
  }
  | { kind: 'classify'; length: number }
  | { kind: 'end' }
);

/** What one party spent on one step of a job (sent to the client as `j<n>/cost:<step>`). */
export interface StepCost {
  step: number;
  rounds: number;
  bytesSent: number;
  ms: number;
}

export interface WeightTransferReport {
  partsTotal: number;
  /**
   * Parts found in the store with the manifest's size. Their sha256 is checked when a pass reads them
   * (stored-weights.ts): one that fails fails that job, naming it, and is deleted, so the next session fetches it.
   */
  cacheHits: number;
  /** Parts found in the store with the wrong size: deleted and fetched again. */
  corruptParts: number;
  partsFetched: number;
  /** Bytes of share parts received from the owner in this session. */
  shareBytesDownloaded: number;
  /** Fetched parts the store refused (full, unavailable): they cost a download again next session. */
  cacheWriteFailures: number;
  /** Time from asking for the missing parts to the last one stored, and how much of it went on waiting for the
   * next part to arrive, on sha256 checks and on waiting for stores (parts are stored while the next arrive). */
  msFetching?: number;
  msWaitingForParts?: number;
  msVerifying?: number;
  msWaitingForStores?: number;
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

/** How a party's stored weights are read during the secure pass (stored-weights.ts). */
export interface StoredWeightOptions {
  /**
   * Cap of the party's weight cache in bytes (default models/secure DEFAULT_WEIGHT_CACHE_BYTES; the budget is
   * the whole expanded share when smaller). 0: no cache, every pass reads and checks every part.
   */
  weightCacheBytes?: number;
  /** sha256 as lowercase hex (default WebCrypto; a Node party may pass node:crypto's, about 2.5x faster here). */
  sha256?: (bytes: Uint8Array) => string | Promise<string>;
  /** Expands the PRG-derived components on the host (a Node party: OpenSSL's ChaCha20); default the backend's prg. */
  expand?: SeedExpander;
}

export interface PartySessionOptions {
  id: PartyId;
  /** This party's own identity fingerprint (64 hex digits): the owner's and the client's rosters must name it. */
  identity: string;
  channel: Channel;
  /**
   * The backend, or how to choose it once the owner's manifest names the model (its config): a party with
   * `--backend auto` calibrates on the model's own shapes (select-backend-model.ts).
   */
  backend: Backend | ((config: ModelConfig) => Promise<Backend>);
  store: ShareStore;
  /** How the secure pass reads the stored weights back: the weight cache's cap, faster host kernels. */
  weightRead?: StoredWeightOptions;
  /** When given, the owner's sharing must use it; by default the session takes the sharing's fraction bits. */
  fracBits?: number;
  /** A job step (one token, one classification) without progress for this long fails the session. Default 300 000. */
  stepTimeoutMs?: number;
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

export interface OwnerStatus {
  /** 'serving': waiting for or sending to endpoints; 'party-done' / 'client-done': one delivered; 'done'; 'error'. */
  phase: 'serving' | 'party-done' | 'client-done' | 'done' | 'error';
  party?: PartyId;
  message: string;
  bytesSent: number;
  error?: string;
}

/** One part of one party's share: its index in that party's manifest. */
export interface PartRef {
  party: PartyId;
  index: number;
}

/**
 * Where serveOwner takes the bytes of the parts it sends when the owner does not hold them in memory (the owner
 * page re-splits them from the model and the kept seeds: owner-resplit.ts).
 */
export interface OwnerPartSource {
  /**
   * Yields the bytes of each ref, in the order given (tensor by tensor, each tensor's refs of all parties
   * together, so a dense component that parties 1 and 2 both want is made once). Iterated once per session;
   * serveOwner asks for the next part only when it can send it, so the source holds what is in flight only.
   */
  read(refs: readonly PartRef[]): AsyncIterable<Uint8Array>;
}

export interface OwnerServeOptions {
  channel: Channel;
  shares: OwnerShares;
  /** Part bytes for sharings whose `parties[p].parts` are empty (not held in memory); default those arrays. */
  partSource?: OwnerPartSource;
  /**
   * Parts sent to one party and not yet acknowledged (a party acknowledges each part once verified and
   * stored, `w:got:<k>`); default OWNER_WINDOW_PARTS. Bounds what the owner and the link hold per party.
   */
  windowParts?: number;
  /**
   * Identity fingerprints of parties 0, 1, 2: party p's bundle goes only to the endpoint whose link proved
   * approvedParties[p]. Must match `shares.holders` where those are recorded (see sharingConflict).
   */
  approvedParties: readonly [string, string, string];
  /**
   * Called with the updated `shares.holders` when this session records a new holder, and awaited before that
   * party is sent anything: persist it with the shares.
   */
  recordHolders?: (holders: OwnerShares['holders']) => void | Promise<void>;
  onStatus?: (s: OwnerStatus) => void;
  /** Which endpoints to serve; default all three parties and the client. */
  parties?: readonly PartyId[];
  client?: boolean;
}

export interface OwnerReport {
  /** Per served party: what it asked for and what was sent. */
  parties: Array<{
    party: PartyId; partsRequested: number; shareBytesSent: number; report: WeightTransferReport;
    /** Time the owner's send loop waited for this party's acknowledgements (its window full): party-limited. */
    msWaitingForAcks: number;
    /** Time the send loop waited for its part source (shared by the parties served): owner-limited. */
    msWaitingForParts: number;
    /** Time the send loop spent in channel.send for this party's parts (framing, copies, queueing). */
    msSending: number;
  }>;
  publicInfoBytes: number;
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
  /** Identity fingerprints of parties 0, 1, 2: input shares go only to endpoints whose links proved them. */
  approvedParties: readonly [string, string, string];
  /** A job step (one token, one classification) without progress for this long fails the session. Default 300 000. */
  stepTimeoutMs?: number;
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
  /**
   * The reply ends after any of these tokens (included in the result), and the parties stop with it: before each
   * step the client tells them whether to go on. Without it every requested token is computed.
   */
  stopIds?: readonly number[];
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
