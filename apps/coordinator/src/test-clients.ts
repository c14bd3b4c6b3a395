/**
 * Test harness for the coordinator's tests: raw API requests from a chosen loopback source address, and raw
 * signaling WebSockets that register a peer id the way PeerJS does (id and token in the URL query).
 */
import http from 'node:http';
import { WebSocket } from 'ws';
import type { Coordinator } from './index.ts';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed body; tests read whichever fields the route answers. */
  json: any;
}

export interface RequestOptions {
  /** Source address of the connection, e.g. 127.0.0.2 (any 127/8 address reaches a 127.0.0.1 listener). */
  localAddress?: string;
  headers?: Record<string, string>;
}

const REQUEST_TIMEOUT_MS = 5_000;

export function api(c: Coordinator, method: string, path: string, body?: string | object, options: RequestOptions = {}): Promise<Answer> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${c.url}${path}`,
      {
        method,
        agent: false,
        localAddress: options.localAddress,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(text) });
          } catch {
            reject(new Error(`${method} ${path} answered ${res.statusCode} with a body that is not JSON: ${text.slice(0, 200)}`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} got no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export type SignalingOutcome = { open: true; socket: WebSocket } | { open: false; status: number; reason: string };

/** Opens a signaling WebSocket for `peerId`; resolves once the peer server answers OPEN, or with the refusal. */
export function registerPeer(c: Coordinator, peerId: string, token: string | undefined): Promise<SignalingOutcome> {
  const query = new URLSearchParams({ key: 'peerjs', id: peerId });
  if (token !== undefined) query.set('token', token);
  const socket = new WebSocket(`${c.url.replace('http', 'ws')}/peerjs/peerjs?${query}`);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`registering ${peerId} got no answer within ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    const settle = (outcome: SignalingOutcome) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    socket.once('message', (m) => {
      const type = (JSON.parse(String(m)) as { type?: string }).type;
      if (type === 'OPEN') settle({ open: true, socket });
      else {
        socket.terminate();
        settle({ open: false, status: 0, reason: String(m) });
      }
    });
    socket.once('unexpected-response', (_req, res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => settle({ open: false, status: res.statusCode ?? 0, reason: Buffer.concat(parts).toString('utf8') }));
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Polls `check` every 20 ms until it holds, failing after `ms`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `p`, or a rejection naming `what` when it takes longer than `ms`. */
export function withinMs<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
