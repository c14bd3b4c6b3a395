/**
 * The coordinator: PeerJS signaling plus a small JSON session API, on one HTTP server. It introduces the
 * endpoints of a session to each other and keeps bookkeeping; shares, seeds and keys travel only on the
 * endpoints' encrypted peer-to-peer channels and never reach it. `record` holds everything it received.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SLOT_NAMES, parsePeerId, peerIdFor, type IceConfig } from '@puma/transport-webrtc';
import { HttpError, readBody, sendJson, serveStatic } from './http.ts';
import { CONFIG_PATH, resolveIceRoute, serveConfig } from './ice-config-route.ts';
import { HOSTED_PATH, VISIT_TOKEN_HEADER, serveHosted } from './hosted-api.ts';
import type { HostedVisits } from './hosted-visits.ts';
import { SlidingWindowLimiter, type RateLimit } from './rate-limit.ts';
import { Recorder, type CoordinatorRecord } from './record.ts';
import { serveApi, type SessionRoutes } from './session-routes.ts';
import { SessionStore } from './sessions.ts';
import { SIGNALING_PATH, attachSignaling, type Signaling } from './signaling.ts';

export interface CoordinatorOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Directory of built pages to serve for paths outside /api and /peerjs. */
  staticDir?: string;
  /**
   * A session with no endpoint on the signaling server and no authenticated activity (a join with a slot
   * secret, a message on an admitted signaling socket) for this long is dropped; reading it (GET) does not
   * count. Default 30 min.
   */
  sessionTtlMs?: number;
  /** Every session is dropped this long after its creation, and its signaling sockets closed. Default 6 h. */
  maxSessionLifetimeMs?: number;
  /** Live sessions at most, from all addresses together; creating more answers 503. Default 1000. */
  maxSessions?: number;
  /** Live sessions created from one address at most; creating more answers 429. Default 20. */
  maxSessionsPerAddress?: number;
  /** Session creation requests per address (malformed ones included); more answer 429. Default 20 per 60 s. */
  createRateLimit?: RateLimit;
  /** Join attempts (right or wrong) per address; more answer 429. Default 60 per 60 s. */
  joinRateLimit?: RateLimit;
  /**
   * Take the client address for the per-address limits from the X-Forwarded-For header (its rightmost entry,
   * the one the proxy appended) instead of the socket. Turn it on only behind a reverse proxy that sets the
   * header and that is the only way in: otherwise a client picks its own address and escapes every limit.
   * Default false. IPv6 clients count per /64 either way.
   */
  trustProxy?: boolean;
  /** Bytes of received data the record stores before it only counts. Default 64 MiB. */
  recordLimitBytes?: number;
  /** Access-Control-Allow-Origin of API answers (pages may be served elsewhere). Default "*". */
  corsOrigin?: string;
  /** ICE servers and policy served to pages at GET /api/config. Default: none (host candidates only). */
  iceConfig?: IceConfig;
  /**
   * Secret shared with the TURN server (coturn use-auth-secret, static-auth-secret): TURN credentials are then
   * minted per request, expiring after maxSessionLifetimeMs plus an hour, and iceConfig must not carry any.
   */
  turnSecret?: string;
  /** The hosted demo's visit queue (`puma host`), served under /api/hosted; absent: no such routes. */
  hosted?: HostedVisits;
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
const SWEEP_MAX_INTERVAL_MS = 60_000;

export async function startCoordinator(options: CoordinatorOptions = {}): Promise<Coordinator> {
  const host = options.host ?? '127.0.0.1';
  const ttl = positive('sessionTtlMs', options.sessionTtlMs ?? 30 * 60_000);
  const lifetime = positive('maxSessionLifetimeMs', options.maxSessionLifetimeMs ?? 6 * 3600_000);
  const routes: SessionRoutes = {
    store: new SessionStore(
      {
        idleTtlMs: ttl,
        maxLifetimeMs: lifetime,
        maxSessions: positive('maxSessions', options.maxSessions ?? 1000),
        maxSessionsPerCreator: positive('maxSessionsPerAddress', options.maxSessionsPerAddress ?? 20),
      },
      // A dropped session's endpoints leave the signaling server with it.
      (session) => {
        for (const endpoint of session.connected) signaling.drop(peerIdFor(session.id, endpoint));
      },
    ),
    createLimiter: new SlidingWindowLimiter(options.createRateLimit ?? { max: 20, windowMs: 60_000 }, 'createRateLimit'),
    joinLimiter: new SlidingWindowLimiter(options.joinRateLimit ?? { max: 60, windowMs: 60_000 }, 'joinRateLimit'),
    trustProxy: options.trustProxy ?? false,
  };
  const { store } = routes;
  const recorder = new Recorder(options.recordLimitBytes ?? 64 * 1024 * 1024);
  const corsOrigin = options.corsOrigin ?? '*';
  const iceRoute = resolveIceRoute(options.iceConfig, options.turnSecret, lifetime);

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.setHeader('access-control-allow-origin', corsOrigin);
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    res.setHeader('access-control-allow-headers', `content-type, ${VISIT_TOKEN_HEADER}`);
    res.setHeader('access-control-expose-headers', 'retry-after');
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
    if (options.hosted && (path === HOSTED_PATH || path.startsWith(`${HOSTED_PATH}/`))) {
      await serveHosted(options.hosted, req, path, body, res, routes.trustProxy);
      return;
    }
    if (path === CONFIG_PATH) {
      serveConfig(iceRoute, req, res);
      return;
    }
    if (path === '/api' || path.startsWith('/api/')) {
      serveApi(routes, req, path, body, res);
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

  const signaling: Signaling = attachSignaling(server, {
    admit(peerId, token) {
      const parsed = parsePeerId(peerId);
      if (!parsed) return `peer id ${JSON.stringify(peerId)} is not of the form puma-<session>-<endpoint>`;
      const session = store.get(parsed.sessionId);
      if (!session) return `no session ${parsed.sessionId}`;
      const slot = SLOT_NAMES[parsed.endpoint];
      if (!store.isJoined(session, parsed.endpoint)) return `slot ${slot} of session ${session.id} is not joined`;
      if (!store.secretMatches(session, parsed.endpoint, token)) return `wrong token for slot ${slot} of session ${session.id}: the token must be the slot's secret`;
      return null;
    },
    connected(peerId) {
      const parsed = parsePeerId(peerId);
      const session = parsed && store.get(parsed.sessionId);
      if (!parsed || !session) return;
      session.connected.add(parsed.endpoint);
      store.touch(session);
    },
    disconnected(peerId) {
      const parsed = parsePeerId(peerId);
      const session = parsed && store.get(parsed.sessionId);
      if (!parsed || !session) return;
      session.connected.delete(parsed.endpoint);
      store.touch(session);
    },
    recordConnect(req) {
      recorder.add('signal-connect', remoteOf(req), requestHead(req), new Uint8Array(0));
    },
    recordMessage(req, peerId, data) {
      recorder.add('signal-message', remoteOf(req), peerId, data);
      // Only admitted sockets send messages: each one is activity of the slot's secret holder.
      const parsed = parsePeerId(peerId);
      const session = parsed && store.get(parsed.sessionId);
      if (session) store.touch(session);
    },
  });

  const sweeper = setInterval(
    () => {
      const now = Date.now();
      store.sweep(now);
      routes.createLimiter.sweep(now);
      routes.joinLimiter.sweep(now);
    },
    Math.min(ttl, lifetime, SWEEP_MAX_INTERVAL_MS),
  );
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

function positive(name: string, value: number): number {
  if (!(value > 0)) throw new Error(`${name} must be positive, got ${value}`);
  return value;
}

function remoteOf(req: http.IncomingMessage): string {
  return `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
}

function requestHead(req: http.IncomingMessage): string {
  const lines = [`${req.method ?? ''} ${req.url ?? ''} HTTP/${req.httpVersion}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  return lines.join('\r\n');
}
