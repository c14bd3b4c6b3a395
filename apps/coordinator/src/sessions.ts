/**
 * Session bookkeeping: which model a session runs with which public parameters, which slots are taken, and
 * which endpoints are registered with the signaling server. Ids are 128-bit random capabilities: knowing one
 * is what lets a browser join or signal in that session.
 */
import { randomBytes } from 'node:crypto';
import { SLOT_NAMES, slotEndpoint, type SessionInfo, type SlotName } from '@puma/transport-webrtc';

export interface Session {
  readonly id: string;
  readonly model: string;
  readonly params: Record<string, unknown>;
  readonly createdAt: number;
  lastActive: number;
  /** Endpoint ids of joined slots. */
  readonly joined: Set<number>;
  /** Endpoint ids currently registered with the signaling server. */
  readonly connected: Set<number>;
}

export const SESSION_ID_PATTERN = /^[0-9a-f]{32}$/;

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxSessions: number,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Null when the store is full. */
  create(model: string, params: Record<string, unknown>): Session | null {
    this.sweep();
    if (this.sessions.size >= this.maxSessions) return null;
    let id: string;
    do id = randomBytes(16).toString('hex');
    while (this.sessions.has(id));
    const now = Date.now();
    const session: Session = { id, model, params, createdAt: now, lastActive: now, joined: new Set(), connected: new Set() };
    this.sessions.set(id, session);
    return session;
  }

  /** The live session with this id, refreshed as active; expired ones are dropped here as well as by sweep(). */
  get(id: string): Session | undefined {
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (this.expired(s, Date.now())) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastActive = Date.now();
    return s;
  }

  /** False when the slot is already taken. */
  join(session: Session, slot: SlotName): boolean {
    const endpoint = slotEndpoint(slot);
    if (session.joined.has(endpoint)) return false;
    session.joined.add(endpoint);
    return true;
  }

  view(s: Session): SessionInfo {
    const slots = Object.fromEntries(
      SLOT_NAMES.map((name) => [name, { joined: s.joined.has(slotEndpoint(name)), connected: s.connected.has(slotEndpoint(name)) }]),
    ) as SessionInfo['slots'];
    return { id: s.id, model: s.model, params: s.params, createdAt: s.createdAt, expiresAt: s.lastActive + this.ttlMs, slots };
  }

  /** A session is idle when nothing touched it for the TTL and none of its endpoints is on the signaling server. */
  private expired(s: Session, now: number): boolean {
    return s.connected.size === 0 && now - s.lastActive >= this.ttlMs;
  }

  sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (this.expired(s, now)) this.sessions.delete(id);
  }
}
