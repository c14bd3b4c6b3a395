/** Options of the WebRTC channel, their defaults and their validation. */
import { type EndpointId, OWNER } from '@puma/transport';
import { endpointName } from './addressing.ts';
import { parseIceConfig } from './ice-config.ts';
import { type Identity, parseFingerprint } from './identity.ts';

export interface PeerChannelOptions {
  /** Base URL of the coordinator, e.g. "http://127.0.0.1:9000"; its signaling server lives under /peerjs. */
  coordinator: string;
  /** Session id from the coordinator (letters and digits). */
  sessionId: string;
  /** This endpoint: 0, 1, 2 (parties), CLIENT (3) or OWNER (4). */
  self: EndpointId;
  /** The endpoints this one exchanges messages with. The lower id of each pair opens the connection. */
  peers: readonly EndpointId[];
  /** This endpoint's long-term key; every link proves it to the peer (link-auth.ts). */
  identity: Identity;
  /** The secret of this endpoint's slot; the signaling server admits the endpoint only with it (PeerJS `token`). */
  slotSecret: string;
  /** Pinned key fingerprints per peer: a peer that proves another key is refused ("peer identity error"). */
  expectedPeers?: Partial<Record<EndpointId, string>>;
  /** Data channels per peer pair; frames are striped across them. Decided by the opening side. Default 1. */
  channelsPerPeer?: number;
  /** Links not open after this long fail with "connection to party N timed out after S s". Default 30 000. */
  connectTimeoutMs?: number;
  /**
   * Passed to every RTCPeerConnection. Default `{ iceServers: [] }` (host candidates only: loopback, LAN).
   * Its iceServers and iceTransportPolicy are checked like an ICE config (ice-config.ts; rtcConfigOf makes one).
   */
  rtcConfig?: RTCConfiguration;
  /** Largest data-channel message, header included; also capped by the SCTP transport's maxMessageSize. */
  maxFrameBytes?: number;
  /** Bytes a data channel may hold buffered before sending waits for it to drain. Default 4 MiB. */
  highWaterMark?: number;
  /**
   * Largest message this endpoint accepts, announced to each peer; a link sends at most the smaller of the two
   * sides' limits. Default 64 MiB (the largest message today is an 8 MiB share part).
   */
  maxMessageBytes?: number;
  /**
   * Bytes a link may hold in partially received messages. A sender completes one message before starting the
   * next, so at most two large messages are partial at once. Default 2 x maxMessageBytes.
   */
  maxPendingBytes?: number;
  /** A channel that sent nothing for this long sends a 4-byte PING. Default 1 000. */
  keepaliveMs?: number;
  /**
   * A link fails ("connection to party N lost") when its channels received nothing, not even a PING, for this
   * long: the peer vanished without closing (crashed tab, lost network). One channel of several may stay silent
   * for three times as long while the others hear the peer (link.ts SIBLING_GRACE). Default 10 000.
   */
  idleTimeoutMs?: number;
  /** How long close() keeps flushing queued data and waiting for the peers' BYE. Default 10 000. */
  closeFlushMs?: number;
}

export type ResolvedOptions = Required<Omit<PeerChannelOptions, 'rtcConfig' | 'expectedPeers'>> & {
  rtcConfig: RTCConfiguration;
  /** Lowercase fingerprints, validated. */
  expectedPeers: Map<EndpointId, string>;
};

const KiB = 1024;
const MiB = 1024 * KiB;
export const MAX_CHANNELS_PER_PEER = 16;
const DEFAULTS = {
  channelsPerPeer: 1,
  connectTimeoutMs: 30_000,
  maxFrameBytes: 256 * KiB,
  highWaterMark: 4 * MiB,
  maxMessageBytes: 64 * MiB,
  keepaliveMs: 1_000,
  idleTimeoutMs: 10_000,
  closeFlushMs: 10_000,
};

/** Fills in defaults and throws a clear error for any invalid option. */
export function resolveOptions(opts: PeerChannelOptions): ResolvedOptions {
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as PeerChannelOptions;
  const merged = { ...DEFAULTS, rtcConfig: { iceServers: [] }, ...given };
  const o: ResolvedOptions = {
    ...merged,
    maxPendingBytes: given.maxPendingBytes ?? 2 * merged.maxMessageBytes,
    expectedPeers: new Map(),
  };
  validate(o);
  for (const [key, fp] of Object.entries(opts.expectedPeers ?? {})) {
    const peer = Number(key);
    if (fp === undefined) continue;
    if (!o.peers.includes(peer)) throw new Error(`expectedPeers names endpoint ${key}, which is not among the peers (${o.peers.join(', ')})`);
    o.expectedPeers.set(peer, parseFingerprint(fp, `expected key of ${endpointName(peer)}`));
  }
  return o;
}

function validate(o: ResolvedOptions): void {
  const isEndpoint = (x: unknown) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= OWNER;
  if (!isEndpoint(o.self)) throw new Error(`self must be an endpoint id 0..${OWNER}, got ${String(o.self)}`);
  if (!/^[A-Za-z0-9]+$/.test(o.sessionId)) throw new Error(`session id must be letters and digits, got "${o.sessionId}"`);
  // PeerJS puts the token into the signaling URL unescaped.
  if (typeof o.slotSecret !== 'string' || !/^[A-Za-z0-9]+$/.test(o.slotSecret)) {
    throw new Error("slotSecret must be the slot's secret from the coordinator (letters and digits)");
  }
  const id = o.identity as Partial<typeof o.identity> | undefined;
  if (!(id?.publicKey instanceof Uint8Array) || typeof id.fingerprint !== 'string' || typeof id.sign !== 'function') {
    throw new Error('identity must be an Identity (generateIdentity, loadOrCreateIdentityFile or loadOrCreateBrowserIdentity)');
  }
  const seen = new Set<EndpointId>();
  for (const p of o.peers) {
    if (!isEndpoint(p)) throw new Error(`peers must be endpoint ids 0..${OWNER}, got ${String(p)}`);
    if (p === o.self) throw new Error(`peers must not include this endpoint (${o.self})`);
    if (seen.has(p)) throw new Error(`peers lists ${p} twice`);
    seen.add(p);
  }
  if (!Number.isInteger(o.channelsPerPeer) || o.channelsPerPeer < 1 || o.channelsPerPeer > MAX_CHANNELS_PER_PEER) {
    throw new Error(`channelsPerPeer must be an integer in 1..${MAX_CHANNELS_PER_PEER}, got ${o.channelsPerPeer}`);
  }
  if (!(o.maxFrameBytes >= 1024)) throw new Error(`maxFrameBytes must be at least 1024, got ${o.maxFrameBytes}`);
  if (!(o.highWaterMark >= o.maxFrameBytes)) throw new Error('highWaterMark must be at least maxFrameBytes');
  for (const k of ['connectTimeoutMs', 'keepaliveMs', 'idleTimeoutMs', 'closeFlushMs', 'maxMessageBytes'] as const) {
    if (!(o[k] > 0)) throw new Error(`${k} must be positive, got ${o[k]}`);
  }
  if (o.idleTimeoutMs < 3 * o.keepaliveMs) throw new Error('idleTimeoutMs must be at least 3 keepalive intervals');
  if (o.maxMessageBytes > 0xffffffff) throw new Error('maxMessageBytes cannot exceed 2^32 - 1 (the frame length field)');
  if (!(o.maxPendingBytes >= o.maxMessageBytes)) throw new Error('maxPendingBytes must be at least maxMessageBytes');
  const { iceServers, iceTransportPolicy } = o.rtcConfig;
  parseIceConfig({ iceServers, iceTransportPolicy }, 'rtcConfig');
}
