/**
 * Sets up the links' data channels through PeerJS and the coordinator's signaling server: this endpoint's
 * registration, offers to peers with a higher endpoint id and answers to those with a lower one, retries of
 * setups that failed or stalled, re-offers of offers that expired, and the signaling server's errors. Kept apart
 * from peer-channel.ts (the Channel and its life cycle) because none of it matters once a link's channels are open.
 */
import type { DataConnection, Peer, PeerError } from 'peerjs';
import type { EndpointId } from '@puma/transport';
import { endpointName, loadPeer, type signalingAddress } from './addressing.ts';
import type { Link } from './link.ts';
import { MAX_CHANNELS_PER_PEER, type ResolvedOptions } from './options.ts';
import { errorText } from './util.ts';

/** Delay before re-offering to a peer that had not yet registered with the signaling server. */
const REOFFER_DELAY_MS = 250;
/** First delay before setting up a failed channel again; it doubles per failure up to the maximum. */
const SETUP_RETRY_MS = 100;
const SETUP_RETRY_MAX_MS = 2_000;
/**
 * A channel still not open this long after its offer is set up again. Lost signaling (a candidate that expired
 * at the server while its peer was registering) leaves ICE checking forever with no failure event, so only a
 * deadline notices; it doubles per attempt, so a slow but live network is not cut off again and again.
 */
const SETUP_STALL_MS = 15_000;
const SETUP_STALL_MAX_MS = 60_000;

/** Delay before a setup's next attempt after `failures` failed ones: doubling from SETUP_RETRY_MS up to the maximum. */
const retryDelay = (failures: number): number => Math.min(SETUP_RETRY_MAX_MS, SETUP_RETRY_MS * 2 ** Math.min(failures - 1, 8));

interface ChannelMeta {
  puma: 1;
  index: number;
  count: number;
}

function isChannelMeta(m: unknown): m is ChannelMeta {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return (
    r.puma === 1 &&
    Number.isInteger(r.count) &&
    Number.isInteger(r.index) &&
    (r.count as number) >= 1 &&
    (r.count as number) <= MAX_CHANNELS_PER_PEER &&
    (r.index as number) >= 0 &&
    (r.index as number) < (r.count as number)
  );
}

/** What the setup asks of the channel that owns the links (peer-channel.ts). */
export interface SetupHooks {
  /** The channel was closed: nothing more is set up. */
  isClosed(): boolean;
  /** All of `link`'s data channels just opened, and it started authenticating. */
  connected(link: Link): void;
}

export class LinkSetup {
  /** The signaling server's WebSocket URL, for error messages. */
  readonly url: string;
  /** The signaling server registered this endpoint. */
  registered = false;
  private peer: Peer | null = null;
  private readonly byPeerId = new Map<string, Link>();

  constructor(
    private readonly addr: ReturnType<typeof signalingAddress>,
    private readonly peerId: string,
    private readonly links: ReadonlyMap<EndpointId, Link>,
    private readonly opts: ResolvedOptions,
    private readonly hooks: SetupHooks,
  ) {
    this.url = `${addr.secure ? 'wss' : 'ws'}://${addr.host}:${addr.port}${addr.path}`;
    for (const link of links.values()) this.byPeerId.set(link.remotePeerId, link);
  }

  /** Registers with the signaling server, then offers every link this endpoint opens. */
  start(): void {
    this.register().catch((e: unknown) => this.failAll(`cannot start WebRTC: ${errorText(e)}`));
  }

  /** Leaves the signaling server. */
  destroy(): void {
    this.peer?.destroy();
    this.peer = null;
  }

  private async register(): Promise<void> {
    const PeerCtor = await loadPeer();
    if (this.hooks.isClosed()) return;
    const peer = new PeerCtor(this.peerId, {
      host: this.addr.host,
      port: this.addr.port,
      path: this.addr.path,
      secure: this.addr.secure,
      token: this.opts.slotSecret,
      config: this.opts.rtcConfig,
      debug: 0,
    });
    this.peer = peer;
    peer.on('open', () => {
      this.registered = true;
      for (const link of this.links.values()) if (link.opener) this.offer(link);
    });
    peer.on('connection', (conn) => this.onIncoming(conn));
    peer.on('error', (e) => this.onPeerError(e));
  }

  /** Opens the link's data channels towards a peer with a higher endpoint id. */
  private offer(link: Link): void {
    for (let index = 0; index < link.count; index++) this.offerChannel(link, index);
  }

  private offerChannel(link: Link, index: number): void {
    if (link.error || link.connected || this.hooks.isClosed() || !this.peer) return;
    const meta: ChannelMeta = { puma: 1, index, count: link.count };
    const conn = this.peer.connect(link.remotePeerId, { reliable: true, serialization: 'raw', label: `puma-${index}`, metadata: meta });
    if (!conn) {
      link.fail(`cannot connect to ${link.name}: lost the signaling server at ${this.url}`);
      return;
    }
    this.adopt(link, index, conn);
    const stallMs = Math.min(SETUP_STALL_MAX_MS, SETUP_STALL_MS * 2 ** Math.min(link.setupFailures, 4));
    const stall = setTimeout(() => {
      if (link.conns[index] !== conn || conn.open) return;
      this.onSetupFailed(link, index, `channel ${index} did not open within ${stallMs / 1000} s`);
      conn.close();
    }, stallMs);
    // In Node the deadline must not keep a finished endpoint's process alive.
    (stall as { unref?: () => void }).unref?.();
  }

  /**
   * A link whose channels were lost before its peer proved its identity is set up again, until the connect
   * deadline (which then names `why`): a peer process that crashed, or a tab reloaded, during the setup leaves
   * its slot to be taken again, and whoever takes it next must prove the slot's identity from the start. Only a
   * link failing after its peer proved itself, or whose peer failed the proof or said BYE, fails the session.
   */
  restart(link: Link, why: string): void {
    if (link.open || link.error || this.hooks.isClosed()) return;
    link.resetBeforeProof(why);
    link.setupFailures += 1;
    if (!link.opener) return;
    const delay = retryDelay(link.setupFailures);
    setTimeout(() => {
      if (!link.connected && link.conns.length === 0) this.offer(link);
    }, delay);
  }

  /**
   * A channel that fails before it ever opened is set up again, until the connect deadline: a DTLS handshake
   * can lose a race with signaling (node-datachannel, as offerer, verifies the peer's certificate before the
   * answer carrying its fingerprint has arrived, and aborts), and a fresh attempt then usually succeeds.
   */
  private onSetupFailed(link: Link, index: number, why: string): void {
    if (link.connected || link.error || this.hooks.isClosed()) return;
    link.conns[index] = undefined;
    link.setupFailures += 1;
    link.lastError = `${why}; ${link.setupFailures} setup attempt(s) failed`;
    if (!link.opener) return;
    const delay = retryDelay(link.setupFailures);
    setTimeout(() => {
      if (link.conns[index] === undefined) this.offerChannel(link, index);
    }, delay);
  }

  private onIncoming(conn: DataConnection): void {
    const link = this.byPeerId.get(conn.peer);
    const meta: unknown = conn.metadata;
    if (!link || link.opener || !isChannelMeta(meta) || link.error || this.hooks.isClosed()) {
      conn.close();
      return;
    }
    if (link.connected) {
      // A late duplicate offer; the link already runs on the channels it has.
      conn.close();
      return;
    }
    if (meta.count !== link.count) {
      // The opening side decides the channel count; a new count means it restarted its offers.
      for (const old of link.conns) old?.close();
      link.conns = [];
      link.count = meta.count;
    }
    this.adopt(link, meta.index, conn);
  }

  private adopt(link: Link, index: number, conn: DataConnection): void {
    const old = link.conns[index];
    link.conns[index] = conn;
    old?.close();
    const current = () => link.conns[index] === conn;
    conn.on('open', () => {
      if (current()) this.onChannelOpen(link, conn);
    });
    conn.on('data', (data) => {
      if (current()) link.onData(index, data);
    });
    conn.on('close', () => {
      if (!current()) return;
      if (!link.connected) this.onSetupFailed(link, index, 'the channel closed during setup');
      else if (!link.open) this.restart(link, `${link.name} disconnected before it proved its identity`);
      else link.fail(`${link.name} disconnected`);
    });
    // peerjs reacts to ICE states only, and node-datachannel may not report ICE "closed" after a failed DTLS
    // handshake; the connection state does say "failed".
    const pc = conn.peerConnection;
    pc.addEventListener('connectionstatechange', () => {
      const state = pc.connectionState;
      if (!current() || (state !== 'failed' && state !== 'closed')) return;
      if (link.connected && !link.open) this.restart(link, `${link.name} disconnected before it proved its identity (connection ${state})`);
      else if (conn.open) link.fail(`${link.name} disconnected (connection ${state})`);
      else this.onSetupFailed(link, index, `the connection ${state === 'failed' ? 'failed' : 'closed'} during setup`);
    });
    conn.on('error', (e) => {
      if (!current()) return;
      link.lastError = e.message || e.type;
      // Once open, a failure also closes the connection, and the 'close' handler fails the link.
      if (!conn.open && (e.type === 'negotiation-failed' || e.type === 'connection-closed')) {
        this.onSetupFailed(link, index, e.type === 'negotiation-failed' ? 'ICE negotiation failed' : 'the connection closed during setup');
      }
    });
  }

  private onChannelOpen(link: Link, conn: DataConnection): void {
    const dc = conn.dataChannel;
    dc.bufferedAmountLowThreshold = Math.floor(this.opts.highWaterMark / 4);
    dc.addEventListener('bufferedamountlow', () => link.pump());
    const all = link.conns.length === link.count && link.conns.every((c) => c?.open);
    if (!all || link.connected || link.error) return;
    link.lastError = `${link.name} did not prove its identity`;
    link.onChannelsOpen();
    this.hooks.connected(link);
  }

  private onPeerError(e: PeerError<string>): void {
    if (this.hooks.isClosed()) return;
    const text = e.message || e.type;
    switch (e.type) {
      case 'peer-unavailable': {
        // The offer expired at the signaling server because that peer had not registered yet: offer again.
        const link = [...this.links.values()].find((l) => text.includes(l.remotePeerId));
        // Every queued message of an expired offer (the offer and each candidate) reports it: one re-offer does.
        if (!link || link.connected || link.error || link.reofferPending) return;
        link.lastError = `${link.name} had not connected to the signaling server`;
        link.reofferPending = true;
        for (const c of link.conns) c?.close();
        link.conns = [];
        setTimeout(() => {
          link.reofferPending = false;
          this.offer(link);
        }, REOFFER_DELAY_MS);
        return;
      }
      case 'unavailable-id':
        this.failAll(`peer id ${this.peerId} is taken: another ${endpointName(this.opts.self)} is registered for this session`);
        return;
      case 'network':
      case 'socket-error':
      case 'socket-closed':
      case 'server-error':
      case 'disconnected':
        // Connected links no longer need the signaling server; only the ones still being set up fail.
        for (const link of this.links.values()) {
          if (link.connected) continue;
          link.fail(
            `lost the signaling server at ${this.url} (${text}); it refuses sessions that do not exist, ` +
              `slots that were not joined and endpoints without their slot's secret`,
          );
        }
        return;
      case 'webrtc':
        for (const l of this.links.values()) if (!l.connected) l.lastError = text;
        return;
      default:
        this.failAll(`WebRTC setup failed (${e.type}): ${text}`);
    }
  }

  private failAll(message: string): void {
    for (const link of this.links.values()) link.fail(message);
  }
}
