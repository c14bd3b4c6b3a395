/** Names and addresses of endpoints: for people (error messages), for PeerJS (peer ids, signaling URL). */
import type { Peer } from 'peerjs';
import { type EndpointId, CLIENT, OWNER } from '@puma/transport';

/** Human name of an endpoint for error messages. */
export function endpointName(id: EndpointId): string {
  if (id === CLIENT) return 'client';
  if (id === OWNER) return 'model owner';
  return `party ${id}`;
}

/** The PeerJS id of an endpoint in a session; the coordinator accepts only ids of joined slots. */
export function peerIdFor(sessionId: string, endpoint: EndpointId): string {
  return `puma-${sessionId}-${endpoint}`;
}

/** URL pieces PeerJS wants for the signaling server under `coordinator`. */
export function signalingAddress(coordinator: string): { host: string; port: number; path: string; secure: boolean } {
  let url: URL;
  try {
    url = new URL(coordinator);
  } catch {
    throw new Error(`coordinator must be an absolute http(s) URL, got "${coordinator}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`coordinator must be an http(s) URL, got "${coordinator}"`);
  }
  const secure = url.protocol === 'https:';
  const base = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
  return { host: url.hostname, port: url.port ? Number(url.port) : secure ? 443 : 80, path: `${base}peerjs`, secure };
}

export type PeerConstructor = new (id: string, options: object) => Peer;

/** peerjs is imported on first use so that Node can install its WebRTC globals first (peerjs probes them on load). */
export async function loadPeer(): Promise<PeerConstructor> {
  const mod = (await import('peerjs')) as unknown as { Peer?: PeerConstructor; default?: { Peer?: PeerConstructor } };
  // Bundlers load the ES build (named export); Node loads the CommonJS build, whose exports sit on `default`.
  const Ctor = mod.Peer ?? mod.default?.Peer;
  if (!Ctor) throw new Error('the peerjs module does not export Peer');
  return Ctor;
}
