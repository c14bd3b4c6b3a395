/**
 * The rig's Channel over lanes (PeerChannel.openLane, transferred into the worker): one raw data channel per
 * peer, each message one data-channel message of [tag length u16][tag UTF-8][payload], matched by the same
 * Mailbox as every Channel. Measures what a round costs when the worker itself sends and receives; no framing
 * for large messages, keepalive or per-link failure reasons (the real worker path would need them).
 */
import { type Channel, type EndpointId, Mailbox, countSent, emptyStats } from '@puma/transport';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/**
 * A Channel over the lanes `attach` hands it. Attach each lane as soon as it arrives: a data channel drops the
 * messages that arrive while it has no message listener.
 */
export function laneRingChannel(self: EndpointId): Channel & { attach(peer: EndpointId, dc: RTCDataChannel): void } {
  const stats = emptyStats();
  const box = new Mailbox(stats);
  const lanes = new Map<EndpointId, RTCDataChannel>();
  const attach = (peer: EndpointId, dc: RTCDataChannel) => {
    lanes.set(peer, dc);
    dc.binaryType = 'arraybuffer';
    dc.onmessage = (ev: MessageEvent) => {
      const bytes = new Uint8Array(ev.data as ArrayBuffer);
      const tagLength = bytes[0] | (bytes[1] << 8);
      box.deliver(peer, fromUtf8.decode(bytes.subarray(2, 2 + tagLength)), bytes.subarray(2 + tagLength));
    };
    dc.onclose = () => box.fail(new Error(`lane to ${peer} closed`));
  };
  return {
    self,
    attach,
    stats,
    send(to, tag, data) {
      const dc = lanes.get(to);
      if (!dc) throw new Error(`no lane to ${to}`);
      const t = utf8.encode(tag);
      const out = new Uint8Array(2 + t.byteLength + data.byteLength);
      out[0] = t.byteLength & 0xff;
      out[1] = t.byteLength >> 8;
      out.set(t, 2);
      out.set(data, 2 + t.byteLength);
      countSent(stats, to, data.byteLength);
      dc.send(out);
    },
    recv: (from, tag) => box.take(from, tag),
    close(reason = 'closed') {
      box.fail(new Error(reason));
      for (const dc of lanes.values()) dc.close();
    },
  };
}
