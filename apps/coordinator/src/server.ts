/**
 * The coordinator: PeerJS signaling plus a small JSON session API, on one HTTP server. It introduces the
 * endpoints of a session to each other and keeps bookkeeping; shares, seeds and keys travel only on the
 * endpoints' encrypted peer-to-peer channels and never reach it. `record` holds everything it received.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  SLOT_NAMES,
  isSlotName,
  parsePeerId,
  peerIdFor,
  slotEndpoint,
  type JoinResult,
} from '@puma/transport-webrtc';
import { HttpError, parseJsonObject, readBody, sendJson, serveStatic } from './http.ts';
import { Recorder, type CoordinatorRecord } from './record.ts';
import { SESSION_ID_PATTERN, type Session, SessionStore } from './sessions.ts';
import { SIGNALING_PATH, attachSignaling } from './signaling.ts';

export interface CoordinatorOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Directory of built pages to serve for paths outside /api and /peerjs. */
  staticDir?: string;
  /** A session nobody touched for this long, with no endpoint on the signaling server, is dropped. Default 30 min. */
  sessionTtlMs?: number;
  /** Live sessions at most; creating more answers 503. Default 1000. */
  maxSessions?: number;
  /** Bytes of received data the record stores before it only counts. Default 64 MiB. */
  recordLimitBytes?: number;
  /** Access-Control-Allow-Origin of API answers (pages may be served elsewhere). Default "*". */
  corsOrigin?: string;
}

export interface Coordinator {
  /** Base URL, e.g. http://127.0.0.1:9000; pass it to createPeerChannel as `coordinator`. */
  readonly url: string;
  readonly port: number;
  readonly record: CoordinatorRecord;
  /** Live sessions (expired ones are dropped lazily and by a periodic sweep). */
  sessionCount(): number;
  /** Stops listening, drops every HTTP and signaling connection. */
  close(): Promise<void>;
}

export const MAX_BODY_BYTES = 64 * 1024;
const BODY_TIMEOUT_MS = 10_000;
const MAX_MODEL_CHARS = 200;

export async function startCoordinator(options: CoordinatorOptions = {}): Promise<Coordinator> {
  const host = options.host ?? '127.0.0.1';
  const ttl = options.sessionTtlMs ?? 30 * 60_000;
  if (!(ttl > 0)) throw new Error(`sessionTtlMs must be positive, got ${ttl}`);
  const store = new SessionStore(ttl, options.maxSessions ?? 1000);
  const recorder = new Recorder(options.recordLimitBytes ?? 64 * 1024 * 1024);
  const corsOrigin = options.corsOrigin ?? '*';

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.setHeader('access-control-allow-origin', corsOrigin);
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    res.setHeader('access-control-allow-headers', 'content-type');
    try {
      const body = await readBody(req, MAX_BODY_BYTES, BODY_TIMEOUT_MS);
      recorder.add('http', remoteOf(req), requestHead(req), body.data, body.bytes);
      if (body.tooLarge) {
        throw new HttpError(413, `request body of ${body.bytes} bytes exceeds the limit of ${MAX_BODY_BYTES}`, { connection: 'close' });
      }
      await route(req, res, body.data);
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) sendJson(res, err.status, { error: err.message }, err.headers);
      else res.destroy();
    }
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://coordinator').pathname;
    if (method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-max-age': '600' });
      res.end();
      return;
    }
    if (path === '/api' || path.startsWith('/api/')) {
      api(method, path, body, res);
      return;
    }
    if (path === SIGNALING_PATH || path.startsWith(`${SIGNALING_PATH}/`)) {
      throw new HttpError(404, `signaling is WebSocket-only, at ${SIGNALING_PATH}/peerjs`);
    }
    if (options.staticDir && (method === 'GET' || method === 'HEAD')) {
      await serveStatic(options.staticDir, path, req, res);
      return;
    }
    throw new HttpError(404, `no route for ${method} ${path}`);
  }

  function api(method: string, path: string, body: Buffer, res: http.ServerResponse): void {
    const expect = (allowed: string) => {
      if (method !== allowed) throw new HttpError(405, `${path} accepts ${allowed}, not ${method}`, { allow: allowed });
    };
    if (path === '/api/health') {
      expect('GET');
      sendJson(res, 200, { ok: true, sessions: store.size });
      return;
    }
    if (path === '/api/sessions') {
      expect('POST');
      const { model, params } = sessionRequest(parseJsonObject(body));
      const session = store.create(model, params);
      if (!session) throw new HttpError(503, 'too many live sessions; try again later');
      sendJson(res, 201, store.view(session));
      return;
    }
    const m = /^\/api\/sessions\/([^/]+)(\/join)?$/.exec(path);
    if (!m) throw new HttpError(404, `no API route ${method} ${path}`);
    const session = liveSession(m[1]);
    if (!m[2]) {
      expect('GET');
      sendJson(res, 200, store.view(session));
      return;
    }
    expect('POST');
    const request = parseJsonObject(body);
    onlyFields(request, ['slot']);
    const slot = request.slot;
    if (!isSlotName(slot)) {
      throw new HttpError(400, `unknown slot ${JSON.stringify(slot)}; expected one of ${SLOT_NAMES.join(', ')}`);
    }
    if (!store.join(session, slot)) throw new HttpError(409, `slot ${slot} of session ${session.id} is already taken`);
    const endpoint = slotEndpoint(slot);
    const joined: JoinResult = { sessionId: session.id, slot, endpoint, peerId: peerIdFor(session.id, endpoint) };
    sendJson(res, 200, joined);
  }

  function liveSession(rawId: string): Session {
    const id = decodeURIComponent(rawId);
    if (!SESSION_ID_PATTERN.test(id)) throw new HttpError(400, `malformed session id ${JSON.stringify(id)}; ids are 32 hex digits`);
    const session = store.get(id);
    if (!session) throw new HttpError(404, `no session ${id} (it never existed or expired)`);
    return session;
  }

  const signaling = attachSignaling(server, {
    admit(peerId) {
      const parsed = parsePeerId(peerId);
      if (!parsed) return `peer id ${JSON.stringify(peerId)} is not of the form puma-<session>-<endpoint>`;
      const session = store.get(parsed.sessionId);
      if (!session) return `no session ${parsed.sessionId}`;
      if (!session.joined.has(parsed.endpoint)) return `slot ${SLOT_NAMES[parsed.endpoint]} of session ${session.id} is not joined`;
      return null;
    },
    connected(peerId) {
      const parsed = parsePeerId(peerId);
      if (parsed) store.get(parsed.sessionId)?.connected.add(parsed.endpoint);
    },
    disconnected(peerId) {
      const parsed = parsePeerId(peerId);
      if (!parsed) return;
      const session = store.get(parsed.sessionId);
      session?.connected.delete(parsed.endpoint);
    },
    recordConnect(req) {
      recorder.add('signal-connect', remoteOf(req), requestHead(req), new Uint8Array(0));
    },
    recordMessage(req, peerId, data) {
      recorder.add('signal-message', remoteOf(req), peerId, data);
      const parsed = parsePeerId(peerId);
      if (parsed) store.get(parsed.sessionId);
    },
  });

  const sweeper = setInterval(() => store.sweep(), Math.min(ttl, 60_000));
  sweeper.unref();

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    clearInterval(sweeper);
    signaling.close();
    throw new Error(`coordinator cannot listen on ${host}:${options.port ?? 0}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | null = null;

  return {
    url,
    port,
    record: recorder,
    sessionCount: () => store.size,
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(sweeper);
        signaling.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
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

function remoteOf(req: http.IncomingMessage): string {
  return `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
}

function requestHead(req: http.IncomingMessage): string {
  const lines = [`${req.method ?? ''} ${req.url ?? ''} HTTP/${req.httpVersion}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  return lines.join('\r\n');
}
