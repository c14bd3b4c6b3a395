/**
 * The context every protocol operation runs in: this party's id, backend, channel, pairwise PRG keys and
 * fraction bits, plus the deterministic operation ids that tag messages and derive PRG nonces.
 *
 * Op ids: every party runs the same program, so a per-context counter yields the same tag for the same step
 * on every party. Concurrent branches must each get their own context via `parallel`, whose tags extend the
 * parent's; then the interleaving of awaits cannot change which tag a step gets. A tag is a path of counters
 * ("12.1.3"); PRG nonces encode that path injectively (nonce.ts), so two steps of one context tree never
 * draw the same (key, nonce). Two root contexts with the same keys would repeat each other's ids: a session
 * keeps one root context for all its steps.
 *
 * Keys (DESIGN.md): key k_j is known to P_j and P_{j-1}; party i holds k_i (`keys.self`, shared with P_{i-1})
 * and k_{i+1} (`keys.next`, shared with P_{i+1}).
 */
import type { Backend, Buf } from '@puma/backend';
import { fromBytes, asBytes } from '@puma/ring';
import type { Channel, EndpointId, PartyId } from '@puma/transport';
import { childSpan, newSpan, type SpanStats } from './profiler.ts';
import { checkOpIdPrefix, opNonce } from './nonce.ts';

export interface PartyKeys {
  self: Uint32Array;
  next: Uint32Array;
}

export interface PartyOptions {
  id: PartyId;
  backend: Backend;
  channel: Channel;
  keys: PartyKeys;
  fracBits: number;
}

export class Party {
  readonly id: PartyId;
  readonly backend: Backend;
  readonly channel: Channel;
  readonly keys: PartyKeys;
  readonly fracBits: number;
  /** Communication rounds on this context's critical path so far. */
  rounds = 0;
  span: SpanStats;
  private counter = 0;
  private readonly prefix: string;

  /** `prefix`: '' for a root context; parallel() gives children "<base>.<i>." (counters only, see nonce.ts). */
  constructor(opts: PartyOptions, prefix = '', span: SpanStats = newSpan('root')) {
    checkOpIdPrefix(prefix);
    this.id = opts.id;
    this.backend = opts.backend;
    this.channel = opts.channel;
    this.keys = opts.keys;
    this.fracBits = opts.fracBits;
    this.prefix = prefix;
    this.span = span;
  }

  get next(): PartyId {
    return ((this.id + 1) % 3) as PartyId;
  }
  get prev(): PartyId {
    return ((this.id + 2) % 3) as PartyId;
  }

  /** A fresh deterministic tag for one protocol step. */
  nextTag(): string {
    return `${this.prefix}${this.counter++}`;
  }

  /** PRG stream shared with party `other` (the key both hold); `tag` must be an op id from nextTag. */
  prgWith(other: PartyId, tag: string, n: number, stream = 0): Buf {
    if (other === this.next) return this.backend.prg(this.keys.next, opNonce(tag, stream), n);
    if (other === this.prev) return this.backend.prg(this.keys.self, opNonce(tag, stream), n);
    throw new Error(`party ${this.id} shares no key with party ${other}`);
  }

  /** Arithmetic zero sharing alpha_i = F(k_i) - F(k_{i+1}); the three sum to 0 mod 2^64. */
  zeroShare(tag: string, n: number, stream = 0): Buf {
    const be = this.backend;
    const nonce = opNonce(tag, stream);
    const mine = be.prg(this.keys.self, nonce, n);
    const theirs = be.prg(this.keys.next, nonce, n);
    const share = be.sub(mine, theirs);
    this.drop(mine, theirs);
    return share;
  }

  /** Boolean zero sharing F(k_i) ^ F(k_{i+1}). */
  zeroShareXor(tag: string, n: number, stream = 0): Buf {
    const be = this.backend;
    const nonce = opNonce(tag, stream);
    const mine = be.prg(this.keys.self, nonce, n);
    const theirs = be.prg(this.keys.next, nonce, n);
    const share = be.xor(mine, theirs);
    this.drop(mine, theirs);
    return share;
  }

  /**
   * Releases temporaries a step made and no longer needs. Dropping them would be enough for correctness, but
   * a party makes about 70 buffers per round, and a backend reclaims a released buffer far more cheaply than
   * one its garbage collector must find (backend-wasm: no finalization registration at all).
   */
  drop(...bufs: Buf[]): void {
    for (const b of bufs) this.backend.release(b);
  }

  /**
   * One communication round under `tag`: sends each buffer to its endpoint, then receives one message from
   * each endpoint in `from` (as u64 words). Every party calls it at the same program point, even with nothing
   * to send or receive, so rounds are counted identically everywhere.
   */
  async exchange(tag: string, sends: ReadonlyArray<readonly [EndpointId, Buf | BigUint64Array]>, from: readonly EndpointId[]): Promise<BigUint64Array[]> {
    this.rounds += 1;
    const payloads = await Promise.all(sends.map(([, b]) => (b instanceof BigUint64Array ? b : this.backend.read(b))));
    sends.forEach(([to], i) => this.channel.send(to, tag, asBytes(payloads[i])));
    const got = await Promise.all(from.map((f) => this.channel.recv(f, tag)));
    return got.map((b) => fromBytes(b));
  }

  /** Runs `f` as a named profile span (nested under the current one). */
  async profile<T>(name: string, f: () => Promise<T>): Promise<T> {
    const parent = this.span;
    const s = childSpan(parent, name);
    const r0 = this.rounds;
    const b0 = this.channel.stats.bytesSent;
    const t0 = performance.now();
    this.span = s;
    try {
      return await f();
    } finally {
      this.span = parent;
      s.calls += 1;
      s.rounds += this.rounds - r0;
      s.bytesSent += this.channel.stats.bytesSent - b0;
      s.ms += performance.now() - t0;
    }
  }

  /**
   * Runs branches concurrently, each in its own child context (own tag namespace), so their rounds overlap;
   * afterwards this context's round count is the longest branch.
   */
  async parallel<T extends unknown[]>(...branches: { [K in keyof T]: (p: Party) => Promise<T[K]> }): Promise<T> {
    const base = this.nextTag();
    // Children are of this context's class, so a subclass's overrides (the view tests' mutants) reach every branch.
    const Context = this.constructor as new (opts: PartyOptions, prefix: string, span: SpanStats) => Party;
    const children = branches.map((_, i) => {
      const c = new Context(this, `${base}.${i}.`, this.span);
      c.rounds = this.rounds;
      return c;
    });
    const results = await Promise.all(branches.map((f, i) => f(children[i])));
    this.rounds = Math.max(this.rounds, ...children.map((c) => c.rounds));
    return results as T;
  }
}
