/**
 * Session bookkeeping: which model a session runs with which public parameters, each slot's secret (kept only
 * as its SHA-256) and the identity it is bound to, which endpoints are on the signaling server, and when the
 * session ends. Knowing a session id lets one read its public state; acting in a slot takes that slot's secret.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SLOT_NAMES, slotEndpoint, type SessionInfo, type SlotName } from '@puma/transport-webrtc';

interface Slot {
  /** SHA-256 of the slot's secret; the secret itself leaves only in the create answer. */
  readonly secretHash: Buffer;
  /** Fingerprint of the identity that first joined; null until then. */
  identity: string | null;
}

export interface Session {
  readonly id: string;
  readonly model: string;
  readonly params: Record<string, unknown>;
  readonly createdAt: number;
  /** Last authenticated activity: a join with the slot's secret or a message on an admitted signaling socket. */
  lastActive: number;
  /** Rate-limit key of the address that created the session (its per-address cap counts it). */
  readonly creator: string;
  /** Indexed by endpoint id. */
  readonly slots: readonly Slot[];
  /** Endpoint ids currently holding a signaling socket. */
  readonly connected: Set<number>;
}

export interface SessionLimits {
  /** Without connected endpoints, a session with no authenticated activity for this long is dropped. */
  idleTtlMs: number;
  /** Every session is dropped this long after creation, connected endpoints or not. */
  maxLifetimeMs: number;
  maxSessions: number;
  maxSessionsPerCreator: number;
}

export type CreateOutcome =
  | { ok: true; session: Session; slotSecrets: Record<SlotName, string> }
  | { ok: false; reason: 'full' }
  | { ok: false; reason: 'creator-cap'; cap: number; retryAfterMs: number };

export type JoinOutcome = 'joined' | 'rejoined' | 'wrong-secret' | 'other-identity' | 'connected';

export const SESSION_ID_PATTERN = /^[0-9a-f]{32}$/;

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly perCreator = new Map<string, number>();

  /** `dropped` is told of every session that ends, so its signaling sockets can be closed. */
  constructor(
    private readonly limits: SessionLimits,
    private readonly dropped: (session: Session) => void,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  create(model: string, params: Record<string, unknown>, creator: string): CreateOutcome {
    const now = Date.now();
    this.sweep(now);
    if ((this.perCreator.get(creator) ?? 0) >= this.limits.maxSessionsPerCreator) {
      let soonest = Infinity;
      for (const s of this.sessions.values()) if (s.creator === creator) soonest = Math.min(soonest, this.expiresAt(s));
      return { ok: false, reason: 'creator-cap', cap: this.limits.maxSessionsPerCreator, retryAfterMs: soonest - now };
    }
    if (this.sessions.size >= this.limits.maxSessions) return { ok: false, reason: 'full' };
    let id: string;
    do id = randomBytes(16).toString('hex');
    while (this.sessions.has(id));
    const slotSecrets = Object.fromEntries(SLOT_NAMES.map((name) => [name, randomBytes(16).toString('hex')])) as Record<SlotName, string>;
    const slots = SLOT_NAMES.map((name) => ({ secretHash: sha256(slotSecrets[name]), identity: null }));
    const session: Session = { id, model, params, createdAt: now, lastActive: now, creator, slots, connected: new Set() };
    this.sessions.set(id, session);
    this.perCreator.set(creator, (this.perCreator.get(creator) ?? 0) + 1);
    return { ok: true, session, slotSecrets };
  }

  /** The live session with this id; reading it does not keep it alive. */
  get(id: string): Session | undefined {
    const s = this.sessions.get(id);
    if (s && Date.now() >= this.expiresAt(s)) {
      this.drop(s);
      return undefined;
    }
    return s;
  }

  /** Records authenticated activity, which postpones idle expiry (never the hard lifetime). */
  touch(session: Session): void {
    session.lastActive = Date.now();
  }

  /** Constant-time check of `secret` against the slot's stored hash. */
  secretMatches(session: Session, endpoint: number, secret: string): boolean {
    const slot = session.slots[endpoint];
    return slot !== undefined && timingSafeEqual(sha256(secret), slot.secretHash);
  }

  /**
   * Joins (binding the slot to `identity`) or re-joins a slot. A re-join needs the identity the slot is bound
   * to and is refused while the slot's endpoint holds a signaling socket.
   */
  join(session: Session, slot: SlotName, secret: string, identity: string): JoinOutcome {
    const endpoint = slotEndpoint(slot);
    if (!this.secretMatches(session, endpoint, secret)) return 'wrong-secret';
    const state = session.slots[endpoint];
    if (state.identity !== null && state.identity !== identity) return 'other-identity';
    if (session.connected.has(endpoint)) return 'connected';
    this.touch(session);
    if (state.identity !== null) return 'rejoined';
    state.identity = identity;
    return 'joined';
  }

  isJoined(session: Session, endpoint: number): boolean {
    return session.slots[endpoint]?.identity != null;
  }

  view(s: Session): SessionInfo {
    const slots = Object.fromEntries(
      SLOT_NAMES.map((name) => {
        const endpoint = slotEndpoint(name);
        const identity = s.slots[endpoint].identity;
        return [name, { joined: identity !== null, connected: s.connected.has(endpoint), identity }];
      }),
    ) as SessionInfo['slots'];
    return { id: s.id, model: s.model, params: s.params, createdAt: s.createdAt, expiresAt: this.expiresAt(s), slots };
  }

  /** The hard lifetime's end, or the idle deadline when that comes first and no endpoint is on signaling. */
  expiresAt(s: Session): number {
    const end = s.createdAt + this.limits.maxLifetimeMs;
    return s.connected.size > 0 ? end : Math.min(end, s.lastActive + this.limits.idleTtlMs);
  }

  sweep(now = Date.now()): void {
    for (const s of this.sessions.values()) if (now >= this.expiresAt(s)) this.drop(s);
  }

  private drop(s: Session): void {
    if (!this.sessions.delete(s.id)) return;
    const left = (this.perCreator.get(s.creator) ?? 1) - 1;
    if (left > 0) this.perCreator.set(s.creator, left);
    else this.perCreator.delete(s.creator);
    this.dropped(s);
  }
}
