/**
 * The PeerJS signaling server (the `peer` package) on the coordinator's own HTTP server, at /peerjs.
 * Browsers and Node endpoints exchange SDP offers/answers and ICE candidates through it; nothing else.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import { ExpressPeerServer } from 'peer';
import { WebSocketServer, type ServerOptions } from 'ws';

export const SIGNALING_PATH = '/peerjs';
/** Offers and candidates are a few KiB; anything near this is not signaling. */
const MAX_SIGNAL_BYTES = 64 * 1024;

export interface SignalingHooks {
  /** Returns why a WebSocket for `peerId` presenting `token` is refused, or null to admit it. */
  admit(peerId: string, token: string): string | null;
  /** `peerId` now holds a signaling socket (at most one at a time). */
  connected(peerId: string): void;
  /** `peerId`'s signaling socket closed. */
  disconnected(peerId: string): void;
  /** Raw WebSocket upgrade request (URL and headers) of every connection attempt, admitted or not. */
  recordConnect(req: http.IncomingMessage): void;
  /** Every message as received, before the server parses it. */
  recordMessage(req: http.IncomingMessage, peerId: string, data: Uint8Array): void;
}

export interface Signaling {
  /** Closes `peerId`'s signaling socket, if it has one. */
  drop(peerId: string): void;
  close(): void;
}

/**
 * `peer` keeps two self-rescheduling housekeeping timers (expiring queued offers, dropping dead clients) and
 * has no way to stop them, which would keep Node alive after close(). Its setup, and each of those timer
 * callbacks, runs inside `run`, where setTimeout records the handles; `clear` stops the chain. The swap is
 * synchronous and undone before `run` returns, so no other code sees it.
 */
class TimerScope {
  private readonly live = new Set<ReturnType<typeof setTimeout>>();
  private stopped = false;

  run<T>(fn: () => T): T {
    const original = globalThis.setTimeout;
    const scoped = ((cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const handle = original(() => {
        this.live.delete(handle);
        if (!this.stopped) this.run(() => cb(...args));
      }, ms);
      this.live.add(handle);
      return handle;
    }) as typeof setTimeout;
    globalThis.setTimeout = scoped;
    try {
      return fn();
    } finally {
      globalThis.setTimeout = original;
    }
  }

  clear(): void {
    this.stopped = true;
    for (const h of this.live) clearTimeout(h);
    this.live.clear();
  }
}

/** The `id` and `token` a PeerJS client puts in its WebSocket URL (peerjs's `token` option travels there). */
function credentialsOf(req: http.IncomingMessage): { peerId: string; token: string } {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  return { peerId: query.get('id') ?? '', token: query.get('token') ?? '' };
}

export function attachSignaling(server: http.Server, hooks: SignalingHooks): Signaling {
  const made: { wss?: WebSocketServer } = {};
  const timers = new TimerScope();
  /**
   * The TCP socket holding each admitted peer id, from admission until it closes. Admitting one id once at a
   * time matters: the peer server hands an id's registration to any later socket presenting the same token.
   */
  const holders = new Map<string, Socket>();
  const admit = (req: http.IncomingMessage): { status: number; reason: string } | null => {
    const { peerId, token } = credentialsOf(req);
    if (holders.has(peerId)) return { status: 409, reason: `${peerId} is already connected to signaling` };
    const refusal = hooks.admit(peerId, token);
    if (refusal !== null) return { status: 403, reason: refusal };
    const socket = req.socket;
    holders.set(peerId, socket);
    // The TCP socket closes both when an admitted WebSocket closes and when its handshake fails after admission.
    socket.once('close', () => {
      if (holders.get(peerId) !== socket) return;
      holders.delete(peerId);
      hooks.disconnected(peerId);
    });
    hooks.connected(peerId);
    return null;
  };
  const createWebSocketServer = (options: ServerOptions): WebSocketServer => {
    const wss = new WebSocketServer({
      ...options,
      maxPayload: MAX_SIGNAL_BYTES,
      verifyClient: (info, done) => {
        hooks.recordConnect(info.req);
        const refusal = admit(info.req);
        if (refusal === null) done(true);
        else done(false, refusal.status, refusal.reason);
      },
    });
    // Registered before the peer server's own listeners, so each message is recorded before it is handled.
    wss.on('connection', (socket, req) => {
      const { peerId } = credentialsOf(req);
      socket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
        const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
        hooks.recordMessage(req, peerId, bytes);
      });
    });
    made.wss = wss;
    return wss;
  };
  const app = timers.run(() => {
    const peerApp = ExpressPeerServer(server, {
      path: SIGNALING_PATH,
      key: 'peerjs',
      allow_discovery: false,
      createWebSocketServer,
    });
    // ExpressPeerServer wires itself up on Express's 'mount' event. It is served from a plain node:http server
    // here (the WebSocket upgrade is all we use), so the event comes with a stand-in parent whose prototypes are
    // the app's own, which makes Express's prototype inheritance on mount a no-op.
    const own = peerApp as unknown as Record<'request' | 'response' | 'engines' | 'settings', object>;
    peerApp.emit('mount', {
      request: Object.getPrototypeOf(own.request),
      response: Object.getPrototypeOf(own.response),
      engines: Object.getPrototypeOf(own.engines),
      settings: Object.getPrototypeOf(own.settings),
    });
    return peerApp;
  });
  const wss = made.wss;
  if (!wss) throw new Error('the peer signaling server did not create its WebSocket server');
  // Socket errors and unparsable messages from clients; the peer server drops those clients itself.
  app.on('error', () => {});
  return {
    drop(peerId) {
      holders.get(peerId)?.destroy();
    },
    close() {
      timers.clear();
      for (const socket of wss.clients) socket.terminate();
      for (const socket of holders.values()) socket.destroy();
      wss.close();
    },
  };
}
