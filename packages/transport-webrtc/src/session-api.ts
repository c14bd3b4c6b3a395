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
  joined: boolean;
  /** Whether the slot's endpoint is registered with the signaling server right now. */
  connected: boolean;
}

export interface SessionInfo {
  id: string;
  model: string;
  params: Record<string, unknown>;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** When the session expires unless something touches it first (ms since the epoch). */
  expiresAt: number;
  slots: Record<SlotName, SlotState>;
}

export interface CreateSessionRequest {
  model: string;
  params?: Record<string, unknown>;
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

export function createSession(coordinator: string, request: CreateSessionRequest): Promise<SessionInfo> {
  return call(coordinator, 'POST', 'api/sessions', request);
}

export function getSession(coordinator: string, sessionId: string): Promise<SessionInfo> {
  return call(coordinator, 'GET', `api/sessions/${encodeURIComponent(sessionId)}`);
}

/** Claims a slot; fails with the coordinator's 409 message when someone already holds it. */
export function joinSession(coordinator: string, sessionId: string, slot: SlotName): Promise<JoinResult> {
  return call(coordinator, 'POST', `api/sessions/${encodeURIComponent(sessionId)}/join`, { slot });
}

/**
 * Joins a slot, or takes it over when it was joined before but its endpoint is no longer on the signaling
 * server: a reloaded page or a restarted process comes back to its own slot. A slot whose endpoint is
 * connected stays refused (409).
 */
export async function claimSlot(coordinator: string, sessionId: string, slot: SlotName): Promise<JoinResult> {
  try {
    return await joinSession(coordinator, sessionId, slot);
  } catch (e) {
    if (!(e instanceof Error) || !/ failed with 409:/.test(e.message)) throw e;
    const state = await getSession(coordinator, sessionId);
    if (state.slots[slot].connected) throw e;
    const endpoint = slotEndpoint(slot);
    return { sessionId, slot, endpoint, peerId: peerIdFor(sessionId, endpoint) };
  }
}
