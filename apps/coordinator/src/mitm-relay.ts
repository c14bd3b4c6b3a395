/**
 * Test harness: a malicious coordinator front. Endpoints are given its URL as their coordinator; it forwards
 * the HTTP API and the PeerJS signaling WebSockets to the real coordinator behind it.
 *
 * In "intercept" mode it attacks every data connection: PeerJS OFFER / ANSWER / CANDIDATE messages between two
 * endpoints are not relayed. The relay answers the offerer itself, with its own RTCPeerConnection and so its own
 * DTLS fingerprint, and offers to the answerer from another RTCPeerConnection of its own under the same PeerJS
 * connection id, label and metadata. Each endpoint then runs DTLS with the relay, which bridges the two data
 * channels byte for byte and records every message it bridged: exactly what a signaling server that rewrites
 * fingerprints could do and read.
 *
 * PeerJS wire format (peerjs 1.5 client, `peer` server): JSON text messages. A client sends
 * {type, payload, dst}; the server forwards them as {type, src, dst, payload}. OFFER payload: {sdp: {type, sdp},
 * type: "data", connectionId, label, reliable, serialization, metadata}; ANSWER payload: {sdp, type,
 * connectionId}; CANDIDATE payload: {candidate, type, connectionId}. The server greets each socket with OPEN.
 *
 * It can also inject a message of its own into each offerer's channel (`injectToOfferer`), as an attacker
 * that already sits in the middle might try.
 *
 * In "lose-first-answers" mode it is an unreliable front instead: it forwards everything except the first ANSWER
 * of each pair of endpoints, as a signaling message lost in transit (the offerer's ICE then waits forever, with
 * no failure event to react to).
 *
 * The relay's peer connections are the global RTCPeerConnection: call installNodeWebRtc() first.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

export type RelayMode = 'pass-through' | 'intercept' | 'lose-first-answers';

export interface BridgedMessage {
  /** PeerJS id of the endpoint that sent it to the relay. */
  from: string;
  to: string;
  data: Uint8Array;
}

export interface MitmRelay {
  /** Give this to endpoints as their coordinator. */
  readonly url: string;
  /** Signaling messages that went through the relay (forwarded or intercepted). */
  readonly signalingMessages: number;
  /** Data connections the relay terminated on both sides. */
  readonly intercepted: number;
  /** ANSWER messages not forwarded ("lose-first-answers" mode). */
  readonly lostAnswers: number;
  /** Every data-channel message bridged between two terminated connections, in order. */
  readonly bridged: readonly BridgedMessage[];
  /**
   * The signaling server greeted this PeerJS id through the relay; stays true after the endpoint leaves (a page
   * whose links fail at once may be connected for only a moment).
   */
  greeted(peerId: string): boolean;
  close(): Promise<void>;
}

interface SignalMessage {
  type?: string;
  src?: string;
  dst?: string;
  payload?: { connectionId?: string; sdp?: RTCSessionDescriptionInit; candidate?: RTCIceCandidateInit; label?: string; [k: string]: unknown };
}

interface Client {
  socket: WebSocket;
  upstream: WebSocket;
  /** The server greeted it with OPEN: it may now receive offers. */
  greeted: boolean;
  waiting: (() => void)[];
}

/** One terminated data connection: offerer <-> relay (pcOfferer) and relay <-> answerer (pcAnswerer). */
interface Interception {
  connectionId: string;
  offer: NonNullable<SignalMessage['payload']>;
  offerer: string;
  answerer: string;
  pcOfferer: RTCPeerConnection;
  /** The current leg to the answerer (legs that fail during setup are replaced). */
  pcAnswerer: RTCPeerConnection | null;
  answererLegs: number;
  /** The offerer gave this connection up during setup. */
  abandoned: boolean;
  towardsOfferer: RTCDataChannel | null;
  towardsAnswerer: RTCDataChannel | null;
  /** Supplies the outbound channel of the offerer -> answerer pipe, once the offerer's channel exists. */
  intoAnswerer: ((c: RTCDataChannel) => void) | null;
  intoOfferer: ((c: RTCDataChannel) => void) | null;
}

/** A relay leg that fails before its channel opens is set up again, as a real endpoint would, this often. */
const MAX_ANSWERER_LEGS = 5;
const LEG_RETRY_MS = 100;

export interface RelayOptions {
  /** Intercept mode: sent to each offerer as the first message on its channel, before anything bridged. */
  injectToOfferer?: Uint8Array;
}

export async function startMitmRelay(target: string, mode: RelayMode, options: RelayOptions = {}): Promise<MitmRelay> {
  const targetUrl = new URL(target);
  const clients = new Map<string, Client>();
  const interceptions = new Map<string, Interception>();
  const bridged: BridgedMessage[] = [];
  const sockets = new Set<Socket>();
  const allConnections: RTCPeerConnection[] = [];
  let signalingMessages = 0;
  let closing = false;
  /** "lose-first-answers": the endpoint pairs ("a b", sorted) whose first ANSWER was lost. */
  const answerLost = new Set<string>();
  /** PeerJS ids the server has greeted through the relay. */
  const everGreeted = new Set<string>();

  const server = http.createServer((req, res) => {
    const upstream = http.request(
      { host: targetUrl.hostname, port: targetUrl.port, path: req.url, method: req.method, headers: { ...req.headers, host: targetUrl.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (e) => res.writeHead(502).end(JSON.stringify({ error: `relay: ${e.message}` })));
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true });

  const sendTo = (peerId: string, message: SignalMessage) => {
    const client = clients.get(peerId);
    if (!client) throw new Error(`relay: ${peerId} is not connected`);
    client.socket.send(JSON.stringify(message));
  };
  const whenGreeted = (peerId: string, then: () => void) => {
    const client = clients.get(peerId);
    if (client?.greeted) then();
    else if (client) client.waiting.push(then);
    else if (!closing) setTimeout(() => whenGreeted(peerId, then), 20);
  };

  /** Relays `candidate` events of a relay-side connection to `to`, as if they came from `as`. */
  const forwardCandidates = (pc: RTCPeerConnection, to: string, as: string, connectionId: string) => {
    pc.addEventListener('icecandidate', (e) => {
      const c = (e as RTCPeerConnectionIceEvent).candidate;
      // An endpoint that already left (it refused the link and closed) gets no more candidates.
      if (!c?.candidate || !clients.has(to)) return;
      sendTo(to, { type: 'CANDIDATE', src: as, dst: to, payload: { candidate: c.toJSON(), type: 'data', connectionId } });
    });
  };

  /**
   * Records every message arriving on `inbound` (sent by `from` for `to`) and forwards it, in order, into the
   * outbound channel once that exists and is open. Returns the function that supplies the outbound channel.
   */
  const pipe = (from: string, to: string, inbound: RTCDataChannel) => {
    const held: Uint8Array<ArrayBuffer>[] = [];
    let outbound: RTCDataChannel | null = null;
    const flush = () => {
      if (outbound?.readyState !== 'open') return;
      try {
        for (const d of held.splice(0)) outbound.send(d);
      } catch {
        // The far leg closed under us (its endpoint refused the link); what it would have carried is dropped.
      }
    };
    inbound.binaryType = 'arraybuffer';
    inbound.addEventListener('message', (e) => {
      const raw = (e as MessageEvent).data as ArrayBuffer | string;
      const data = typeof raw === 'string' ? new TextEncoder().encode(raw) : new Uint8Array(raw.slice(0));
      bridged.push({ from, to, data });
      held.push(data);
      flush();
    });
    return (channel: RTCDataChannel) => {
      outbound = channel;
      channel.addEventListener('open', flush);
      flush();
    };
  };

  /**
   * The relay's leg to the answerer: it offers under the offerer's connection id, label and metadata. Like
   * any node-datachannel offerer it can lose the DTLS race with signaling; a failed leg is set up again (the
   * answerer replaces a connection whose id it sees again), keeping what the offerer sent meanwhile.
   */
  const startAnswererLeg = async (i: Interception): Promise<void> => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    allConnections.push(pc);
    i.pcAnswerer = pc;
    i.answererLegs += 1;
    forwardCandidates(pc, i.answerer, i.offerer, i.connectionId);
    const channel = pc.createDataChannel(String(i.offer.label), { ordered: true });
    i.towardsAnswerer = channel;
    // The answerer may speak before the offerer's channel exists; its messages wait in the pipe.
    i.intoOfferer = pipe(i.answerer, i.offerer, channel);
    if (i.towardsOfferer) i.intoOfferer(i.towardsOfferer);
    i.intoAnswerer?.(channel);
    let opened = false;
    channel.addEventListener('open', () => (opened = true));
    pc.addEventListener('connectionstatechange', () => {
      const failed = pc.connectionState === 'failed' || pc.connectionState === 'closed';
      if (failed && !opened && !closing && !i.abandoned && i.pcAnswerer === pc && i.answererLegs < MAX_ANSWERER_LEGS) {
        setTimeout(() => void startAnswererLeg(i).catch(() => {}), LEG_RETRY_MS);
      }
    });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const message = { type: 'OFFER', src: i.offerer, dst: i.answerer, payload: { ...i.offer, sdp: { type: 'offer' as const, sdp: offer.sdp } } };
    whenGreeted(i.answerer, () => sendTo(i.answerer, message));
  };

  const intercept = async (from: string, message: SignalMessage): Promise<void> => {
    const p = message.payload ?? {};
    const connectionId = String(p.connectionId);
    if (message.type === 'OFFER') {
      const to = String(message.dst);
      const pcOfferer = new RTCPeerConnection({ iceServers: [] });
      allConnections.push(pcOfferer);
      const i: Interception = {
        connectionId,
        offer: p,
        offerer: from,
        answerer: to,
        pcOfferer,
        pcAnswerer: null,
        answererLegs: 0,
        abandoned: false,
        towardsOfferer: null,
        towardsAnswerer: null,
        intoAnswerer: null,
        intoOfferer: null,
      };
      interceptions.set(connectionId, i);
      forwardCandidates(pcOfferer, from, to, connectionId);
      // An offerer leg that fails during setup is abandoned by the offerer, which offers anew (a fresh
      // interception); its answerer leg goes too, as the far end of a real failed connection would.
      pcOfferer.addEventListener('connectionstatechange', () => {
        if (i.towardsOfferer?.readyState !== 'open' && (pcOfferer.connectionState === 'failed' || pcOfferer.connectionState === 'closed')) {
          i.abandoned = true;
          i.pcAnswerer?.close();
        }
      });
      pcOfferer.addEventListener('datachannel', (e) => {
        const channel = (e as RTCDataChannelEvent).channel;
        i.towardsOfferer = channel;
        const injected = options.injectToOfferer;
        // Before anything the pipe forwards: at once when node-datachannel hands over a channel that is already
        // open, else from an 'open' listener registered before the pipe's own.
        const inject = () => {
          try {
            channel.send(injected!.slice());
          } catch {
            // The offerer already hung up.
          }
        };
        if (injected && channel.readyState === 'open') inject();
        else if (injected) channel.addEventListener('open', inject);
        i.intoOfferer?.(channel);
        i.intoAnswerer = pipe(from, to, i.towardsOfferer);
        if (i.towardsAnswerer) i.intoAnswerer(i.towardsAnswerer);
      });
      await pcOfferer.setRemoteDescription(p.sdp as RTCSessionDescriptionInit);
      const answer = await pcOfferer.createAnswer();
      await pcOfferer.setLocalDescription(answer);
      sendTo(from, { type: 'ANSWER', src: to, dst: from, payload: { sdp: { type: 'answer', sdp: answer.sdp }, type: 'data', connectionId } });
      await startAnswererLeg(i);
      return;
    }
    const known = interceptions.get(connectionId);
    if (!known) return;
    const pc = from === known.offerer ? known.pcOfferer : known.pcAnswerer;
    if (!pc) return;
    if (message.type === 'ANSWER' && from === known.answerer) await pc.setRemoteDescription(p.sdp as RTCSessionDescriptionInit);
    if (message.type === 'CANDIDATE' && p.candidate) await pc.addIceCandidate(p.candidate);
  };

  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const peerId = new URL(req.url ?? '/', 'http://relay').searchParams.get('id') ?? '';
    const upstream = new WebSocket(`ws://${targetUrl.host}${req.url}`);
    upstream.on('unexpected-response', (_r, res) => {
      socket.end(`HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\nConnection: close\r\n\r\n`);
    });
    upstream.on('error', () => socket.destroy());
    upstream.on('open', () => {
      wss.handleUpgrade(req, socket, head, (client) => {
        const entry: Client = { socket: client, upstream, greeted: false, waiting: [] };
        clients.set(peerId, entry);
        upstream.on('message', (data: RawData) => {
          const text = String(data);
          if (!entry.greeted && (JSON.parse(text) as SignalMessage).type === 'OPEN') {
            entry.greeted = true;
            everGreeted.add(peerId);
            client.send(text);
            for (const then of entry.waiting.splice(0)) then();
            return;
          }
          client.send(text);
        });
        client.on('message', (data: RawData) => {
          signalingMessages += 1;
          const text = String(data);
          const message = JSON.parse(text) as SignalMessage;
          const attacked = mode === 'intercept' && ['OFFER', 'ANSWER', 'CANDIDATE'].includes(message.type ?? '');
          const pair = [peerId, message.dst ?? ''].sort().join(' ');
          if (mode === 'lose-first-answers' && message.type === 'ANSWER' && !answerLost.has(pair)) answerLost.add(pair);
          else if (attacked) void intercept(peerId, message).catch(() => {});
          else upstream.send(text);
        });
        client.on('close', () => {
          if (clients.get(peerId) === entry) clients.delete(peerId);
          upstream.close();
        });
        upstream.on('close', () => client.close());
      });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get signalingMessages() {
      return signalingMessages;
    },
    get intercepted() {
      return interceptions.size;
    },
    get lostAnswers() {
      return answerLost.size;
    },
    bridged,
    greeted: (peerId) => everGreeted.has(peerId),
    async close() {
      closing = true;
      for (const pc of allConnections) pc.close();
      for (const c of clients.values()) {
        c.socket.terminate();
        c.upstream.terminate();
      }
      wss.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
