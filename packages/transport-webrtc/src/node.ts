/**
 * Node entry ("@puma/transport-webrtc/node"): makes the browser-oriented peerjs client run in Node by installing
 * the WebRTC classes of node-datachannel, a WebSocket and the little of `location`/`navigator` peerjs reads.
 * Kept apart from index.ts so browser bundles never pull in native or Node-only modules.
 */
import polyfill from 'node-datachannel/polyfill';
import { WebSocket } from 'ws';

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
   * node-datachannel negotiates on its own as soon as a description or data channel exists, so it can emit
   * local ICE candidates before peerjs has sent the offer or answer they belong to; a receiver then gets them
   * before the remote description and drops them (browsers reject addIceCandidate in that state), and the
   * connection sometimes never forms. This class holds local candidates until setLocalDescription has
   * resolved and one task has passed (peerjs sends the description right after that await), and queues
   * remote candidates that arrive before the remote description, as a browser's operations chain would.
   */
  class NodePeerConnection extends Base {
    #localSet = false;
    #heldLocal: Event[] = [];
    #remoteSet = false;
    #earlyRemote: RTCIceCandidateInit[] = [];

    constructor(config: RTCConfiguration = {}) {
      // node-datachannel takes these two native settings through the RTCConfiguration object.
      super({ ...config, ...wanted } as RTCConfiguration);
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
      for (const c of this.#earlyRemote.splice(0)) await super.addIceCandidate(c);
    }

    override async addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
      if (!this.#remoteSet && candidate) {
        this.#earlyRemote.push(candidate);
        return;
      }
      return super.addIceCandidate(candidate);
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
