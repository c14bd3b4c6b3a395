/**
 * Node entry ("@puma/transport-webrtc/node"): makes the browser-oriented peerjs client run in Node by installing
 * the WebRTC classes of node-datachannel, a WebSocket and the little of `location`/`navigator` peerjs reads.
 * Also the Node key file of an endpoint's identity (node-identity.ts). Kept apart from index.ts so browser
 * bundles never pull in native or Node-only modules.
 */
import polyfill from 'node-datachannel/polyfill';
import { WebSocket } from 'ws';
import { assertNodeIceSupport, encodeCredentialsForNode } from './ice-config-node.ts';

export { assertNodeIceSupport, iceConfigFromFlags } from './ice-config-node.ts';
export { TURN_REST_USER, mintTurnCredentials, readTurnSecret } from './ice-turn-rest.ts';
export { loadOrCreateIdentityFile } from './node-identity.ts';

export interface NodeWebRtcOptions {
  /**
   * Local address node-datachannel binds its ICE sockets to. Default 127.0.0.1, which confines peers to
   * loopback (tests, several parties on one machine); set a LAN address, or '0.0.0.0' for all, otherwise.
   */
  bindAddress?: string;
  /** Largest data-channel message this side accepts and advertises in SDP. Default 256 KiB, like Chromium. */
  maxMessageSize?: number;
}

let installed: Required<NodeWebRtcOptions> | null = null;
/** How long remote candidates wait for node-datachannel's ICE transport, and how often they retry. */
const REMOTE_CANDIDATE_WAIT_MS = 10_000;
const REMOTE_CANDIDATE_RETRY_MS = 20;

/**
 * Sets globalThis.RTCPeerConnection / RTCSessionDescription / RTCIceCandidate (node-datachannel), and, where
 * Node lacks them, WebSocket (ws), `location` and `navigator`. Call it before the first createPeerChannel.
 * Calling it again with the same options does nothing; different options throw, since peer connections made
 * earlier would silently keep the old ones.
 */
export function installNodeWebRtc(options: NodeWebRtcOptions = {}): void {
  const wanted = { bindAddress: options.bindAddress ?? '127.0.0.1', maxMessageSize: options.maxMessageSize ?? 256 * 1024 };
  if (installed) {
    if (installed.bindAddress !== wanted.bindAddress || installed.maxMessageSize !== wanted.maxMessageSize) {
      throw new Error(`node WebRTC is already installed with ${JSON.stringify(installed)}; cannot switch to ${JSON.stringify(wanted)}`);
    }
    return;
  }
  const Base = polyfill.RTCPeerConnection;
  /**
   * Two ordering gaps between peerjs (written for browsers) and node-datachannel, closed here:
   * - node-datachannel negotiates on its own as soon as a description or data channel exists, so it can emit
   *   local ICE candidates before peerjs has sent the offer or answer they belong to; a browser receiving
   *   those rejects them. Local candidates are held until setLocalDescription has resolved and one task has
   *   passed (peerjs sends the description right after that await).
   * - node-datachannel creates its ICE transport asynchronously after setRemoteDescription, and rejects
   *   candidates that arrive earlier ("without ICE transport"); peerjs would drop them and the connection
   *   sometimes never forms. Remote candidates are queued, in order, until one is accepted, as a browser's
   *   operations chain would do.
   */
  class NodePeerConnection extends Base {
    #localSet = false;
    #heldLocal: Event[] = [];
    #remoteSet = false;
    #queuedRemote: RTCIceCandidateInit[] = [];
    #retry: ReturnType<typeof setTimeout> | undefined;
    #retryUntil = 0;
    #flushing = false;
    #closed = false;

    constructor(config: RTCConfiguration = {}) {
      // node-datachannel takes these two native settings through the RTCConfiguration object. ICE servers it
      // cannot use are refused rather than dropped (ice-config-node.ts).
      assertNodeIceSupport(config, 'rtcConfig');
      super({ ...encodeCredentialsForNode(config), ...wanted } as RTCConfiguration);
    }

    override dispatchEvent(event: Event): boolean {
      if (event.type === 'icecandidate' && !this.#localSet) {
        this.#heldLocal.push(event);
        return true;
      }
      return super.dispatchEvent(event);
    }

    override async setLocalDescription(description: RTCSessionDescriptionInit): Promise<void> {
      await super.setLocalDescription(description);
      if (this.#localSet) return;
      setTimeout(() => {
        this.#localSet = true;
        for (const e of this.#heldLocal.splice(0)) super.dispatchEvent(e);
      }, 0);
    }

    override async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
      await super.setRemoteDescription(description);
      this.#remoteSet = true;
      this.#retryUntil = Date.now() + REMOTE_CANDIDATE_WAIT_MS;
      void this.#flushRemote();
    }

    override async addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
      if (!candidate) return super.addIceCandidate(candidate);
      this.#queuedRemote.push(candidate);
      if (this.#remoteSet) void this.#flushRemote();
    }

    override close(): void {
      this.#closed = true;
      clearTimeout(this.#retry);
      this.#queuedRemote = [];
      super.close();
    }

    async #flushRemote(): Promise<void> {
      if (this.#flushing) return;
      this.#flushing = true;
      try {
        while (this.#queuedRemote.length > 0 && !this.#closed) {
          try {
            await super.addIceCandidate(this.#queuedRemote[0]);
          } catch (e) {
            if (/without (ICE transport|remote description)/.test(String(e)) && Date.now() < this.#retryUntil) {
              await new Promise((resolve) => (this.#retry = setTimeout(resolve, REMOTE_CANDIDATE_RETRY_MS)));
              continue;
            }
            // Any other rejection is final for this candidate, as in a browser; the others may still connect.
          }
          this.#queuedRemote.shift();
        }
      } finally {
        this.#flushing = false;
      }
    }
  }

  // A browser WebSocket without an error handler just dispatches the event; ws is an EventEmitter and would
  // throw it as an uncaught exception. peerjs listens only for close, which follows every error.
  class BrowserLikeWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.on('error', () => {});
    }
  }
  const g = globalThis as Record<string, unknown>;
  g.RTCPeerConnection = NodePeerConnection;
  g.RTCSessionDescription = polyfill.RTCSessionDescription;
  g.RTCIceCandidate = polyfill.RTCIceCandidate;
  g.RTCDataChannel = polyfill.RTCDataChannel;
  g.WebSocket ??= BrowserLikeWebSocket;
  g.location ??= { protocol: 'http:', hostname: '127.0.0.1', host: '127.0.0.1', href: 'http://127.0.0.1/' };
  g.navigator ??= { userAgent: `Node.js ${process.version}`, platform: process.platform };
  installed = wanted;
}
