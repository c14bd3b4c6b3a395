/**
 * The coordinator's JSON session API, shared by the server (apps/coordinator) and its clients (party and client
 * pages, Node endpoints). The coordinator only does bookkeeping and signaling: nothing here carries shares,
 * seeds or keys.
 */
import type { EndpointId } from '@puma/transport';
import { peerIdFor } from './peer-channel.ts';

/** Slot names in the API; a slot's index is its endpoint id (party0..2 = 0..2, client = 3, owner = 4). */
export const SLOT_NAMES = ['party0', 'party1', 'party2', 'client', 'owner'] as const;
export type SlotName = (typeof SLOT_NAMES)[number];

export function isSlotName(s: unknown): s is SlotName {
  return typeof s === 'string' && (SLOT_NAMES as readonly string[]).includes(s);
}
export function slotEndpoint(slot: SlotName): EndpointId {
  return SLOT_NAMES.indexOf(slot);
}
export function endpointSlot(endpoint: EndpointId): SlotName {
  const slot = SLOT_NAMES[endpoint];
  if (slot === undefined) throw new Error(`no slot for endpoint ${endpoint}`);
  return slot;
}

/** Inverse of peerIdFor; null for ids that are not "puma-<session>-<endpoint>". */
export function parsePeerId(id: string): { sessionId: string; endpoint: EndpointId } | null {
  const m = /^puma-([A-Za-z0-9]+)-([0-4])$/.exec(id);
  if (!m) return null;
  const endpoint = Number(m[2]);
  return peerIdFor(m[1], endpoint) === id ? { sessionId: m[1], endpoint } : null;
}

export interface SlotState {
  /** Whether someone joined the slot (then `identity` is the fingerprint it is bound to). */
  joined: boolean;
  /** Whether the slot's endpoint is registered with the signaling server right now. */
  connected: boolean;
  /** Lowercase hex SHA-256 fingerprint of the public key that first joined the slot; null until then. */
  identity: string | null;
}

export interface SessionInfo {
  id: string;
  model: string;
  params: Record<string, unknown>;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /**
   * When the session expires (ms since the epoch) unless a join or signaling activity comes first; a session
   * with an endpoint on the signaling server lives until its hard lifetime ends, which no activity extends.
   */
  expiresAt: number;
  slots: Record<SlotName, SlotState>;
}

/** A slot's secret: 128 random bits as 32 lowercase hex digits. */
export const SLOT_SECRET_PATTERN = /^[0-9a-f]{32}$/;

/**
 * The answer to createSession, the only place slot secrets ever appear: the creator hands each one to the
 * intended holder of that slot (a link, a CLI flag). Whoever holds a slot's secret can join it and register
 * its endpoint with the signaling server; the coordinator keeps only their SHA-256.
 */
export interface CreatedSession extends SessionInfo {
  slotSecrets: Record<SlotName, string>;
}

export interface CreateSessionRequest {
  model: string;
  params?: Record<string, unknown>;
}

/** Body of POST /api/sessions/:id/join. */
export interface JoinRequest {
  slot: SlotName;
  /** The slot's secret from the create answer. */
  secret: string;
  /** Fingerprint (64 hex digits) of the joiner's long-term public key; the slot is bound to the first one. */
  identity: string;
}

export interface JoinCredentials {
  secret: string;
  identity: string;
}

export interface JoinResult {
  sessionId: string;
  slot: SlotName;
  endpoint: EndpointId;
  peerId: string;
}

export interface ApiError {
  error: string;
}

const API_TIMEOUT_MS = 10_000;

async function call<T>(coordinator: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const url = new URL(path, coordinator.endsWith('/') ? coordinator : `${coordinator}/`);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(API_TIMEOUT_MS),
    });
  } catch (e) {
    throw new Error(`coordinator at ${url.origin} unreachable: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`coordinator answered ${method} ${url.pathname} with ${res.status} and a body that is not JSON`);
  }
  if (!res.ok) {
    const message = (parsed as Partial<ApiError>).error ?? text;
    throw new Error(`coordinator: ${method} ${url.pathname} failed with ${res.status}: ${message}`);
  }
  return parsed as T;
}

export function createSession(coordinator: string, request: CreateSessionRequest): Promise<CreatedSession> {
  return call(coordinator, 'POST', 'api/sessions', request);
}

/** GET /api/config: what the coordinator tells every endpoint (its ICE servers); the caller validates it. */
export function getCoordinatorConfig(coordinator: string): Promise<unknown> {
  return call(coordinator, 'GET', 'api/config');
}

export function getSession(coordinator: string, sessionId: string): Promise<SessionInfo> {
  return call(coordinator, 'GET', `api/sessions/${encodeURIComponent(sessionId)}`);
}

/**
 * Joins a slot with its secret, binding it to `identity` on first join. The same call re-joins after a restart
 * or reload: that needs the same secret and identity, and is refused (409) while the slot's endpoint is still
 * on the signaling server. A wrong secret fails with 403, a slot bound to another identity with 409.
 */
export function joinSession(coordinator: string, sessionId: string, slot: SlotName, credentials: JoinCredentials): Promise<JoinResult> {
  const body: JoinRequest = { slot, secret: credentials.secret, identity: credentials.identity };
  return call(coordinator, 'POST', `api/sessions/${encodeURIComponent(sessionId)}/join`, body);
}
