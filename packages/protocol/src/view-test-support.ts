/**
 * View simulation for the protocol and nn tests (never imported by library code): does anything a party
 * receives depend on a secret without being masked by randomness that party lacks?
 *
 * With replicated sharing party i holds components (x_i, x_{i+1}) of every input and keys (k_i, k_{i+1});
 * it lacks component x_{i+2} and key k_{i+2}. The test chooses every key and component. For observer i it
 * runs the same program as chosen (base); with only x_{i+2} of every input changed (so only the secret
 * changes; i's own components stay); and with draws under k_{i+2} changed. It records every word i receives,
 * by (sender, message tag, word index), and reports a leak wherever a word changes with the secret but not
 * with the missing key's draws: such a word is a function of the secret and of what i already knows, so i
 * could compute something about the secret from it (a mask i can compute, a missing zero share). A message
 * whose presence or length changes with the secret or the key is reported too.
 *
 * Which draws change, per message: changing k_{i+2} everywhere at once would also change the intermediate
 * shares an op of a composite (GeLU, softmax) starts from, since earlier resharings mixed k_{i+2} into them;
 * an unmasked word of that op then still moves with the key (through its inputs), and the leak goes unseen.
 * So each message tag t that i receives (an op id, nonce.ts) is checked in a run where only the k_{i+2} draws
 * of ops NOT at or before an earlier message of i's (one that happens before t in every schedule) change:
 * everything i received before t, and so everything i computed from it, is then exactly as in the base run,
 * and a word at t can move only through randomness that is fresh to i. Tags with the same earlier messages
 * share one run, so a composite costs about one run per round per observer.
 *
 * This is a necessary condition, not a proof: a word that mixes the missing key in weakly (say, into one bit)
 * would pass; the byte histograms in security.test.ts complement it for that.
 */
import type { Backend } from '@puma/backend';
import { chachaWords, DEFAULT_FRAC_BITS, fromBytes, MASK64 } from '@puma/ring';
import { CLIENT, memoryNetwork, type Channel, type EndpointId, type PartyId } from '@puma/transport';
import { decodeOpNonce, opNonce, parseOpId } from './nonce.ts';
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

/** Keys k_0, k_1, k_2 and, per input, components x_0, x_1, x_2; optionally some draws of one key replaced. */
export interface World {
  keys: [Uint32Array, Uint32Array, Uint32Array];
  components: Record<string, [BigUint64Array, BigUint64Array, BigUint64Array]>;
  /** Draws under keys[key] at the op ids (as paths) that `at` accepts come from `replacement` instead. */
  redraw?: { key: PartyId; replacement: Uint32Array; at: (op: readonly number[]) => boolean };
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
  /** simulateViews: the observers to check (default all three; a mutant test may name the one it expects). */
  observers?: readonly PartyId[];
  /** simulateViews: stop an observer's runs at the first leak found (mutant tests). */
  untilLeak?: boolean;
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

/** The key k_{i+2} that observer i lacks is replaced by this one where its draws change. */
export const replacementKey = (observer: PartyId): Uint32Array => testKey(100 + observer);

/** Every draw under key k_{i+2} (held by the other two parties) changes. */
export function keyChangedFor(world: World, observer: PartyId): World {
  return { ...world, redraw: { key: ((observer + 2) % 3) as PartyId, replacement: replacementKey(observer), at: () => true } };
}

/**
 * Whether op `a` runs at or before op `b` in every schedule. Op ids are paths (nonce.ts): counters at even
 * positions, parallel branch indices at odd ones. Where the paths first differ, a smaller counter is an
 * earlier step of a common context; a different branch index is a concurrent branch (neither is before the
 * other). A path that is a prefix of another is the parallel block holding it, opened before it.
 */
export function runsBefore(a: readonly number[], b: readonly number[]): boolean {
  for (let d = 0; d < Math.min(a.length, b.length); d++) {
    if (a[d] !== b[d]) return d % 2 === 0 && a[d] < b[d];
  }
  return a.length <= b.length;
}

const sameKey = (a: Uint32Array, b: Uint32Array) => a.length === b.length && a.every((w, j) => w === b[j]);

/** `be` with its draws under world.redraw's key replaced at the ops it names (the parties' keys stay). */
function redrawing(be: Backend, redraw: NonNullable<World['redraw']>, original: Uint32Array): Backend {
  const prg: Backend['prg'] = (key, nonce, n, counter) => {
    if (!sameKey(key, original)) return be.prg(key, nonce, n, counter);
    const { id } = decodeOpNonce(nonce);
    return be.prg(redraw.at(parseOpId(id)) ? redraw.replacement : key, nonce, n, counter);
  };
  return withPrg(be, prg);
}

/** A backend whose prg() is `prg` (mutants and redraws substitute draws this way). */
export function withPrg(be: Backend, prg: Backend['prg']): Backend {
  return new Proxy(be, {
    get(target, prop) {
      if (prop === 'prg') return prg;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
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
    const made = await makeBackend();
    // Redraws happen under any mutant, so a mutant's own substituted draws are redrawn like honest ones.
    const plain = world.redraw ? redrawing(made, world.redraw, world.keys[world.redraw.key]) : made;
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

const tagOf = (key: string) => key.slice(key.indexOf(' ') + 1);

/**
 * Word-by-word comparison of one observer's views (see the file comment for the rule): the base run, the
 * secret-changed run and a run with the missing key's draws changed. With `tags`, only those messages.
 */
export function compareViews(observer: PartyId, base: View, secretChanged: View, keyChanged: View, tags?: ReadonlySet<string>): ObserverReport {
  const r: ObserverReport = { observer, words: 0, secretDependent: 0, keyDependent: 0, leaks: 0, details: [] };
  const compared = (key: string) => !tags || tags.has(tagOf(key));
  for (const key of new Set([...secretChanged.keys(), ...keyChanged.keys()])) {
    if (compared(key) && !base.has(key)) r.details.push(`message "${key}" appears only when the secret or the missing key changes`);
  }
  for (const [key, words] of base) {
    if (!compared(key)) continue;
    const [from, tag] = [Number(key.slice(0, key.indexOf(' '))), tagOf(key)];
    const s = secretChanged.get(key);
    const k = keyChanged.get(key);
    if (!s || s.length !== words.length || !k || k.length !== words.length) {
      const [other, change] = !s || s.length !== words.length ? [s, 'secret'] : [k, 'missing key'];
      r.details.push(`message "${tag}" from ${senderName(from)} is ${other ? `${other.length} words instead of ${words.length}` : 'missing'} when the ${change} changes`);
      continue;
    }
    r.words += words.length;
    for (let j = 0; j < words.length; j++) {
      const bySecret = s[j] !== words[j];
      const byKey = k[j] !== words[j];
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

const isOpId = (tag: string) => /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(tag);

/**
 * The key-changed worlds for observer i (file comment) and the message tags each checks: per tag it received,
 * the k_{i+2} draws that change are those of ops not at or before any of its earlier messages' tags; tags
 * with the same earlier messages share a world. Tags that are not op ids (the client's) get every draw
 * changed. In program order of each world's first tag.
 */
export function keyChangedWorlds(world: World, observer: PartyId, view: View): Array<{ world: World; tags: Set<string> }> {
  const tags = [...new Set([...view.keys()].map(tagOf))];
  const ops = tags.filter(isOpId).map((tag) => ({ tag, path: parseOpId(tag) }));
  // Lexicographic order of the paths extends runsBefore (an op's earlier messages come first).
  ops.sort((a, b) => {
    for (let d = 0; d < Math.min(a.path.length, b.path.length); d++) if (a.path[d] !== b.path[d]) return a.path[d] - b.path[d];
    return a.path.length - b.path.length;
  });
  const groups = new Map<string, { world: World; tags: Set<string> }>();
  const other = tags.filter((t) => !isOpId(t));
  if (other.length) groups.set('', { world: keyChangedFor(world, observer), tags: new Set(other) });
  for (const { tag, path } of ops) {
    const earlier = ops.filter((o) => o.tag !== tag && runsBefore(o.path, path));
    const name = `earlier: ${earlier.map((o) => o.tag).sort().join(' ')}`;
    let g = groups.get(name);
    if (!g) {
      const kept = earlier.map((o) => o.path);
      const redraw = { key: ((observer + 2) % 3) as PartyId, replacement: replacementKey(observer), at: (op: readonly number[]) => !kept.some((e) => runsBefore(op, e)) };
      g = { world: { ...world, redraw }, tags: new Set() };
      groups.set(name, g);
    }
    g.tags.add(tag);
  }
  return [...groups.values()];
}

function addReport(into: ObserverReport, r: ObserverReport): void {
  into.words += r.words;
  into.secretDependent += r.secretDependent;
  into.keyDependent += r.keyDependent;
  into.leaks += r.leaks;
  into.details.push(...r.details.slice(0, Math.max(0, 10 - into.details.length)));
}

/**
 * The whole simulation for every observer: one base run, then per observer a secret-changed run and one
 * key-changed run per group of its message tags (keyChangedWorlds). With `untilLeak`, an observer's runs
 * stop at the first group that shows a leak (mutant tests: the report then covers the groups run so far).
 */
export async function simulateViews<T>(inputs: Record<string, ViewInput>, program: ViewProgram<T>, o: ViewRunOptions = {}): Promise<ObserverReport[]> {
  const world = baseWorld(inputs);
  const base = await runWorld(world, inputs, program, o);
  const reports: ObserverReport[] = [];
  for (const observer of o.observers ?? ([0, 1, 2] as const)) {
    const bySecret = (await runWorld(secretChangedFor(world, inputs, observer), inputs, program, o)).views[observer];
    const report: ObserverReport = { observer, words: 0, secretDependent: 0, keyDependent: 0, leaks: 0, details: [] };
    const mine = base.views[observer];
    const known = new Set([...mine.keys()].map(tagOf));
    for (const key of bySecret.keys()) if (!known.has(tagOf(key))) report.details.push(`message "${key}" appears only when the secret changes`);
    for (const g of keyChangedWorlds(world, observer, mine)) {
      const byKey = (await runWorld(g.world, inputs, program, o)).views[observer];
      for (const key of byKey.keys()) if (!known.has(tagOf(key))) report.details.push(`message "${key}" appears only when the missing key changes`);
      addReport(report, compareViews(observer, mine, bySecret, byKey, g.tags));
      if (o.untilLeak && report.leaks > 0) break;
    }
    reports.push(report);
  }
  return reports;
}

/** One line per observer, for test messages and logs. */
export function describeReports(reports: readonly ObserverReport[]): string {
  return reports.map((r) => `party ${r.observer}: ${r.words} words received, ${r.secretDependent} depend on the secret, ${r.keyDependent} on the missing key, ${r.leaks} leak${r.details.length ? `; ${r.details.join('; ')}` : ''}`).join('\n');
}

/**
 * The clean verdict of a view test: throws, with every observer's report, if any party received a word that depends
 * on the secret without fresh randomness, or if a view differed in structure. `secretReaches` guards against a test
 * that proves nothing: 'every' party (or 'some' party) must also have received secret-dependent, masked words.
 */
export function assertNoLeak(reports: readonly ObserverReport[], secretReaches: 'every' | 'some'): void {
  const summary = describeReports(reports);
  const dirty = reports.filter((r) => r.leaks > 0 || r.details.length > 0);
  if (dirty.length > 0) throw new Error(`leak in the view of party ${dirty.map((r) => r.observer).join(', ')}:\n${summary}`);
  const reached = reports.filter((r) => r.secretDependent > 0).length;
  if (secretReaches === 'every' ? reached < reports.length : reached === 0) {
    throw new Error(`the secret reached ${reached} of ${reports.length} parties' views (wanted ${secretReaches}): the test would prove nothing\n${summary}`);
  }
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

// ---------------------------------------------------------------- planted leaks (mutants)
// Each must be reported by the view test of every op or composite that runs the code it breaks. Party
// subclasses reach parallel branches (Party.parallel makes children of the parent's class); backend
// wrappers reach them because children share their parent's backend.

/** Resharing without the arithmetic zero sharing: the next party's local term z_{i+1} reaches party i unmasked. */
export class NoZeroShareParty extends Party {
  override zeroShare(_tag: string, n: number) {
    return this.backend.zeros(n);
  }
}

/** Boolean resharing (comparison carries, AND gates) without the XOR zero sharing. */
export class NoZeroShareXorParty extends Party {
  override zeroShareXor(_tag: string, n: number) {
    return this.backend.zeros(n);
  }
}

/**
 * Dealer `dealer` draws what should come from the key it shares with B = dealer + 2 (stream 1 under
 * keys.self: the truncation mask's second half, b2a's and bit-times-value's c0) from the key it shares with
 * A = dealer + 1 instead (stream 4), so A can compute it: A then unmasks x_D + r, or learns t from c1 = t - c0.
 * Outputs stay correct (the dealer uses its mask consistently). Dealers 1 and 2 deal only from ROTATE_FROM
 * elements per op (dealers.ts), so their mutants are dormant below that size.
 */
export function dealerMaskFromAsKey(dealer: PartyId): NonNullable<ViewRunOptions['backend']> {
  return (id, be, keys) => id !== dealer ? be : withPrg(be, (key, nonce, n, counter) => {
    const { id: op, stream } = decodeOpNonce(nonce);
    return key === keys.self && stream === 1 ? be.prg(keys.next, opNonce(op, 4), n, counter) : be.prg(key, nonce, n, counter);
  });
}

/** A planted leak for a view test: the run's options and the party the leak reaches. */
export interface PlantedMutant {
  name: string;
  options: ViewRunOptions;
  observer: PartyId;
}

/** dealerMaskFromAsKey for each dealer, each reported at its A = dealer + 1. */
export function dealerMaskMutants(): PlantedMutant[] {
  return ([0, 1, 2] as const).map((d) => ({ name: `dealer ${d} masks with its receiver's key`, options: { backend: dealerMaskFromAsKey(d) }, observer: ((d + 1) % 3) as PartyId }));
}

/**
 * Party `party` draws zeros for stream `stream` under the key it shares with the next party: with
 * (1, 2), bit times value's alpha (party 1 as A of dealer 0 sends c x_A + alpha to the dealer unmasked), and
 * the truncation mask share of msb(r) when party 1 deals.
 */
export function zeroDraws(party: PartyId, stream: number): NonNullable<ViewRunOptions['backend']> {
  return (id, be, keys) => id !== party ? be : withPrg(be, (key, nonce, n, counter) =>
    key === keys.next && decodeOpNonce(nonce).stream === stream ? be.zeros(n) : be.prg(key, nonce, n, counter));
}
