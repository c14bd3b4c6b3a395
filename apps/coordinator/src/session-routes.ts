/**
 * The JSON session API under /api: create a session (answering its slot secrets once), read its public state,
 * join or re-join a slot with its secret. Per-address rate limits and caps answer 429 with retry-after.
 */
import type http from 'node:http';
import {
  SLOT_NAMES,
  isSlotName,
  peerIdFor,
  slotEndpoint,
  type CreatedSession,
  type JoinResult,
} from '@puma/transport-webrtc';
import { clientAddress, limitKey } from './address.ts';
import { HttpError, parseJsonObject, sendJson } from './http.ts';
import type { SlidingWindowLimiter } from './rate-limit.ts';
import { SESSION_ID_PATTERN, type Session, type SessionStore } from './sessions.ts';

const MAX_MODEL_CHARS = 200;
const IDENTITY_PATTERN = /^[0-9a-f]{64}$/i;

export interface SessionRoutes {
  store: SessionStore;
  createLimiter: SlidingWindowLimiter;
  joinLimiter: SlidingWindowLimiter;
  trustProxy: boolean;
}

export function serveApi(routes: SessionRoutes, req: http.IncomingMessage, path: string, body: Buffer, res: http.ServerResponse): void {
  const method = req.method ?? 'GET';
  const expect = (allowed: string) => {
    if (method !== allowed) throw new HttpError(405, `${path} accepts ${allowed}, not ${method}`, { allow: allowed });
  };
  const { store } = routes;
  if (path === '/api/health') {
    expect('GET');
    sendJson(res, 200, { ok: true, sessions: store.size });
    return;
  }
  if (path === '/api/sessions') {
    expect('POST');
    const from = limitKey(clientAddress(req, routes.trustProxy));
    limit(routes.createLimiter, from, 'sessions created');
    const { model, params } = sessionRequest(parseJsonObject(body));
    const made = store.create(model, params, from);
    if (!made.ok && made.reason === 'full') throw new HttpError(503, 'too many live sessions; try again later');
    if (!made.ok) {
      const wait = retrySeconds(made.retryAfterMs);
      throw new HttpError(429, `too many live sessions created from ${from}: at most ${made.cap} at once; retry in ${wait} s`, {
        'retry-after': String(wait),
      });
    }
    const created: CreatedSession = { ...store.view(made.session), slotSecrets: made.slotSecrets };
    sendJson(res, 201, created, { 'cache-control': 'no-store' });
    return;
  }
  const m = /^\/api\/sessions\/([^/]+)(\/join)?$/.exec(path);
  if (!m) throw new HttpError(404, `no API route ${method} ${path}`);
  if (!m[2]) {
    expect('GET');
    sendJson(res, 200, store.view(liveSession(store, m[1])));
    return;
  }
  expect('POST');
  limit(routes.joinLimiter, limitKey(clientAddress(req, routes.trustProxy)), 'joins');
  const session = liveSession(store, m[1]);
  sendJson(res, 200, join(store, session, parseJsonObject(body)));
}

function join(store: SessionStore, session: Session, request: Record<string, unknown>): JoinResult {
  onlyFields(request, ['slot', 'secret', 'identity']);
  const { slot, secret, identity } = request;
  if (!isSlotName(slot)) throw new HttpError(400, `unknown slot ${JSON.stringify(slot)}; expected one of ${SLOT_NAMES.join(', ')}`);
  if (typeof identity !== 'string' || !IDENTITY_PATTERN.test(identity)) {
    throw new HttpError(400, `"identity" must be the joiner's public-key fingerprint, 64 hex digits; got ${JSON.stringify(identity)?.slice(0, 80)}`);
  }
  const where = `slot ${slot} of session ${session.id}`;
  if (typeof secret !== 'string') throw new HttpError(403, `wrong secret for ${where} (the request has no "secret")`);
  switch (store.join(session, slot, secret, identity.toLowerCase())) {
    case 'wrong-secret':
      throw new HttpError(403, `wrong secret for ${where}`);
    case 'other-identity':
      throw new HttpError(409, `${where} is bound to another identity (the one that joined it first); only that identity can re-join it`);
    case 'connected':
      throw new HttpError(409, `${where} is in use: its endpoint is connected to signaling; re-join after it disconnected`);
    case 'joined':
    case 'rejoined': {
      const endpoint = slotEndpoint(slot);
      return { sessionId: session.id, slot, endpoint, peerId: peerIdFor(session.id, endpoint) };
    }
  }
}

function limit(limiter: SlidingWindowLimiter, from: string, what: string): void {
  const waitMs = limiter.take(from);
  if (waitMs === 0) return;
  const wait = retrySeconds(waitMs);
  const { max, windowMs } = limiter.limit;
  throw new HttpError(429, `too many ${what} from ${from}: at most ${max} per ${windowMs / 1000} s; retry in ${wait} s`, { 'retry-after': String(wait) });
}

/** Whole seconds for retry-after, rounded up, at least 1. */
function retrySeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

function liveSession(store: SessionStore, rawId: string): Session {
  let id: string;
  try {
    id = decodeURIComponent(rawId);
  } catch {
    id = rawId;
  }
  if (!SESSION_ID_PATTERN.test(id)) throw new HttpError(400, `malformed session id ${JSON.stringify(id)}; ids are 32 hex digits`);
  const session = store.get(id);
  if (!session) throw new HttpError(404, `no session ${id} (it never existed or expired)`);
  return session;
}

function sessionRequest(body: Record<string, unknown>): { model: string; params: Record<string, unknown> } {
  onlyFields(body, ['model', 'params']);
  const { model, params } = body;
  if (typeof model !== 'string' || model.length === 0 || model.length > MAX_MODEL_CHARS) {
    throw new HttpError(400, `"model" must be a non-empty string of at most ${MAX_MODEL_CHARS} characters`);
  }
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
    throw new HttpError(400, '"params" must be a JSON object');
  }
  return { model, params: (params as Record<string, unknown> | undefined) ?? {} };
}

function onlyFields(body: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw new HttpError(400, `unknown field ${JSON.stringify(key)}; expected ${allowed.join(', ')}`);
  }
}
