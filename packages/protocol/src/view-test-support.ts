/**
 * View simulation for the protocol and nn tests (never imported by library code): does anything a party
 * receives depend on a secret without being masked by randomness that party lacks?
 *
 * With replicated sharing party i holds components (x_i, x_{i+1}) of every input and keys (k_i, k_{i+1});
 * it lacks component x_{i+2} and key k_{i+2}. The test chooses every key and component. For observer i it
 * runs the same program three times: as chosen (base); with only x_{i+2} of every input changed (so only the
 * secret changes; i's own components stay); with only k_{i+2} changed. It records every word i receives,
 * by (sender, message tag, word index), and reports a leak wherever a word changes with the secret but not
 * with the missing key: such a word is a function of the secret and of what i already knows, so i could
 * compute something about the secret from it (a mask i can compute, a missing zero share). A message whose
 * presence or length changes with the secret is reported too. This is a necessary condition, not a proof:
 * a word that mixes the missing key in weakly (say, into one bit) would pass; the byte histograms in
 * security.test.ts complement it for that.
 */
import type { Backend } from '@puma/backend';
import { chachaWords, DEFAULT_FRAC_BITS, fromBytes, MASK64 } from '@puma/ring';
import { CLIENT, memoryNetwork, type Channel, type EndpointId, type PartyId } from '@puma/transport';
import { Party, type PartyKeys, type PartyOptions } from './party.ts';
import { aShare, bShare, planeWords, type AShare, type BShare } from './share.ts';
import { testBackend } from './test-support.ts';

/** One secret input: its words (arithmetic values, or packed bits of one plane for kind 'B') and a second choice. */
export interface ViewInput {
  kind: 'A' | 'B';
  /** Arithmetic: the tensor's shape. Boolean: [n] bits. */
  shape: readonly number[];
  base: BigUint64Array;
  /** The secret in the secret-changed run (same length as base). */
  changed: BigUint64Array;
}

export type ViewShares = Record<string, AShare | BShare>;

/** Keys k_0, k_1, k_2 and, per input, components x_0, x_1, x_2. */
export interface World {
  keys: [Uint32Array, Uint32Array, Uint32Array];
  components: Record<string, [BigUint64Array, BigUint64Array, BigUint64Array]>;
}

/** What one party received: "<sender> <tag>" -> the message's words. */
export type View = Map<string, BigUint64Array>;

export interface ViewRunOptions {
  fracBits?: number;
  /** Runs on the client endpoint alongside the parties (its messages to the parties are recorded too). */
  client?: (c: Channel) => Promise<unknown>;
  /** Replaces a party's backend (mutant tests). */
  backend?: (id: PartyId, be: Backend, keys: PartyKeys) => Backend;
  /** Builds a party's context (mutant tests); default `new Party(opts)`. */
  party?: (opts: PartyOptions) => Party;
}

export type ViewProgram<T> = (p: Party, xs: ViewShares) => Promise<T>;

export interface ObserverReport {
  observer: PartyId;
  /** Words received (base run). */
  words: number;
  /** Words that change when only the missing component of the inputs changes. */
  secretDependent: number;
  /** Words that change when only the missing key changes. */
  keyDependent: number;
  /** Secret-dependent words that do not change with the missing key. */
  leaks: number;
  /** Up to 5 leaks and every structural difference, for the failure message. */
  details: string[];
}

const TEST_KEY = new Uint32Array([0x70756d61, 0x76696577, 1, 2, 3, 4, 5, 6]);

/** Deterministic test words: the ChaCha20 stream under a fixed test key, one nonce per label. */
export function testWords(label: number, n: number): BigUint64Array {
  return chachaWords(TEST_KEY, new Uint32Array([label >>> 0, 0x76696577, 0]), n);
}

/** A deterministic 256-bit test key. */
export function testKey(label: number): Uint32Array {
  const w = testWords(label, 4);
  return new Uint32Array(w.buffer, w.byteOffset, 8).slice();
}

const combine = (kind: 'A' | 'B', a: bigint, b: bigint): bigint => (kind === 'A' ? (a + b) & MASK64 : a ^ b);
const uncombine = (kind: 'A' | 'B', x: bigint, a: bigint): bigint => (kind === 'A' ? (x - a) & MASK64 : x ^ a);

/** The component that, with the two given, shares `secret`. */
function completing(kind: 'A' | 'B', secret: BigUint64Array, a: BigUint64Array, b: BigUint64Array): BigUint64Array {
  const out = new BigUint64Array(secret.length);
  for (let j = 0; j < out.length; j++) out[j] = uncombine(kind, uncombine(kind, secret[j], a[j]), b[j]);
  return out;
}

function wordCount(input: ViewInput): number {
  const n = input.shape.reduce((s, v) => s * v, 1);
  const words = input.kind === 'A' ? n : planeWords(n);
  if (input.base.length !== words || input.changed.length !== words) {
    throw new Error(`view input of kind ${input.kind}, shape [${input.shape.join(', ')}] needs ${words} words, got ${input.base.length} and ${input.changed.length}`);
  }
  return words;
}

/** Base world: fixed test keys; x_0, x_1 test words, x_2 completing the base secret. */
export function baseWorld(inputs: Record<string, ViewInput>): World {
  const components: World['components'] = {};
  Object.entries(inputs).forEach(([name, input], k) => {
    const words = wordCount(input);
    const x0 = testWords(1000 + 2 * k, words);
    const x1 = testWords(1001 + 2 * k, words);
    components[name] = [x0, x1, completing(input.kind, input.base, x0, x1)];
  });
  return { keys: [testKey(1), testKey(2), testKey(3)], components };
}

/** Only component x_{i+2} of every input changes (to share the `changed` secret); keys and i's components stay. */
export function secretChangedFor(world: World, inputs: Record<string, ViewInput>, observer: PartyId): World {
  const missing = (observer + 2) % 3;
  const components: World['components'] = {};
  for (const [name, input] of Object.entries(inputs)) {
    const c = [...world.components[name]] as World['components'][string];
    c[missing] = completing(input.kind, input.changed, c[observer], c[(observer + 1) % 3]);
    components[name] = c;
  }
  return { keys: world.keys, components };
}

/** Only key k_{i+2} (held by the other two parties) changes. */
export function keyChangedFor(world: World, observer: PartyId): World {
  const keys = [...world.keys] as World['keys'];
  keys[(observer + 2) % 3] = testKey(100 + observer);
  return { keys, components: world.components };
}

function sharesFor(p: Party, world: World, inputs: Record<string, ViewInput>): ViewShares {
  const be = p.backend;
  const i = p.id;
  const j = ((i + 1) % 3) as PartyId;
  return Object.fromEntries(Object.entries(inputs).map(([name, input]) => {
    const c = world.components[name];
    const s0 = be.upload(c[i]);
    const s1 = be.upload(c[j]);
    return [name, input.kind === 'A' ? aShare(input.shape, s0, s1) : bShare(input.shape[0], 1, s0, s1)];
  }));
}

/** Runs `program` on three parties holding `world`'s keys and components; returns each party's view and result. */
export async function runWorld<T>(
  world: World,
  inputs: Record<string, ViewInput>,
  program: ViewProgram<T>,
  o: ViewRunOptions = {},
): Promise<{ views: [View, View, View]; results: [T, T, T] }> {
  const views: [View, View, View] = [new Map(), new Map(), new Map()];
  const channels = memoryNetwork([0, 1, 2, CLIENT], (from, to, tag, data) => {
    if (to >= 3) return;
    const key = `${from} ${tag}`;
    if (views[to].has(key)) throw new Error(`view simulation: party ${to} got two messages "${tag}" from ${from}`);
    views[to].set(key, fromBytes(data.slice()));
  });
  const makeBackend = testBackend();
  const parties = await Promise.all(([0, 1, 2] as const).map(async (id) => {
    const keys: PartyKeys = { self: world.keys[id], next: world.keys[(id + 1) % 3] };
    const plain = await makeBackend();
    const backend = o.backend ? o.backend(id, plain, keys) : plain;
    const opts: PartyOptions = { id, backend, channel: channels.get(id)!, keys, fracBits: o.fracBits ?? DEFAULT_FRAC_BITS };
    return o.party ? o.party(opts) : new Party(opts);
  }));
  const [results] = await Promise.all([
    Promise.all(parties.map((p) => program(p, sharesFor(p, world, inputs)))),
    o.client ? o.client(channels.get(CLIENT)!) : Promise.resolve(),
  ]);
  // Deliveries are a microtask after the last send; let them land before the views are read.
  await new Promise((resolve) => setTimeout(resolve, 0));
  return { views, results: results as [T, T, T] };
}

const senderName = (from: EndpointId): string => (from === CLIENT ? 'the client' : `party ${from}`);

/** Word-by-word comparison of one observer's three views (see the file comment for the rule). */
export function compareViews(observer: PartyId, base: View, secretChanged: View, keyChanged: View): ObserverReport {
  const r: ObserverReport = { observer, words: 0, secretDependent: 0, keyDependent: 0, leaks: 0, details: [] };
  for (const key of new Set([...secretChanged.keys(), ...keyChanged.keys()])) {
    if (!base.has(key)) r.details.push(`message "${key}" appears only when the secret or the missing key changes`);
  }
  for (const [key, words] of base) {
    const [from, tag] = [Number(key.slice(0, key.indexOf(' '))), key.slice(key.indexOf(' ') + 1)];
    const s = secretChanged.get(key);
    const k = keyChanged.get(key);
    if (!s || s.length !== words.length) {
      r.details.push(`message "${tag}" from ${senderName(from)} is ${s ? `${s.length} words instead of ${words.length}` : 'missing'} when the secret changes`);
      continue;
    }
    r.words += words.length;
    for (let j = 0; j < words.length; j++) {
      const bySecret = s[j] !== words[j];
      const byKey = !!k && k.length === words.length && k[j] !== words[j];
      if (bySecret) r.secretDependent++;
      if (byKey) r.keyDependent++;
      if (bySecret && !byKey) {
        r.leaks++;
        if (r.leaks <= 5) r.details.push(`word ${j} of message "${tag}" from ${senderName(from)} changes with the secret but not with key k_${(observer + 2) % 3}`);
      }
    }
  }
  return r;
}

/**
 * The whole simulation for every observer: one base run, then per observer a secret-changed and a
 * key-changed run (7 runs).
 */
export async function simulateViews<T>(inputs: Record<string, ViewInput>, program: ViewProgram<T>, o: ViewRunOptions = {}): Promise<ObserverReport[]> {
  const world = baseWorld(inputs);
  const base = await runWorld(world, inputs, program, o);
  const reports: ObserverReport[] = [];
  for (const observer of [0, 1, 2] as const) {
    const bySecret = await runWorld(secretChangedFor(world, inputs, observer), inputs, program, o);
    const byKey = await runWorld(keyChangedFor(world, observer), inputs, program, o);
    reports.push(compareViews(observer, base.views[observer], bySecret.views[observer], byKey.views[observer]));
  }
  return reports;
}

/** One line per observer, for test messages and logs. */
export function describeReports(reports: readonly ObserverReport[]): string {
  return reports.map((r) => `party ${r.observer}: ${r.words} words received, ${r.secretDependent} depend on the secret, ${r.keyDependent} on the missing key, ${r.leaks} leak${r.details.length ? `; ${r.details.join('; ')}` : ''}`).join('\n');
}

/** Fixed-point encodings of `n` values from [lo, hi): the base secret and a different changed one. */
export function fixedPair(n: number, lo: number, hi: number, seed: number, fracBits = DEFAULT_FRAC_BITS): { base: BigUint64Array; changed: BigUint64Array } {
  const enc = (label: number) => {
    const w = testWords(label, n);
    const out = new BigUint64Array(n);
    for (let j = 0; j < n; j++) {
      const v = lo + (Number(w[j] >> 11n) / 2 ** 53) * (hi - lo);
      out[j] = BigInt.asUintN(64, BigInt(Math.round(v * 2 ** fracBits)));
    }
    return out;
  };
  return { base: enc(seed), changed: enc(seed + 1) };
}

/** An arithmetic fixed-point input of `shape` with values in [lo, hi). */
export function fixedViewInput(shape: readonly number[], lo: number, hi: number, seed: number): ViewInput {
  return { kind: 'A', shape, ...fixedPair(shape.reduce((s, v) => s * v, 1), lo, hi, seed) };
}

/** A one-plane boolean input of n random bits. */
export function bitsViewInput(n: number, seed: number): ViewInput {
  const words = planeWords(n);
  const tail = n % 64 ? (1n << BigInt(n % 64)) - 1n : MASK64;
  const bits = (label: number) => testWords(label, words).map((w, j) => (j === words - 1 ? w & tail : w));
  return { kind: 'B', shape: [n], base: bits(seed), changed: bits(seed + 1) };
}

/** The value three parties' arithmetic shares hold, from each party's first component (as read words). */
export function openWords(firstComponents: readonly [BigUint64Array, BigUint64Array, BigUint64Array]): BigUint64Array {
  const [a, b, c] = firstComponents;
  return a.map((v, j) => combine('A', combine('A', v, b[j]), c[j]));
}

/**
 * The planted leak every arithmetic view test checks it catches: a party whose resharing omits the zero sharing,
 * so the next party's local term z_{i+1} reaches party i unmasked.
 */
export class NoZeroShareParty extends Party {
  override zeroShare(_tag: string, n: number) {
    return this.backend.zeros(n);
  }
}
