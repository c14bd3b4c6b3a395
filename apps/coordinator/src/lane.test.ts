/**
 * PeerChannel.openLane between Node endpoints (node-datachannel): a lane is one more data channel on the
 * authenticated connection of a link, carrying raw messages both ways, closed with the link; bad requests are
 * refused by name. Lives with the coordinator because it needs both (apps may import packages, not the other
 * way round). The browser side (a lane transferred into a Web Worker) is timed by
 * scripts/bench/transport-lab/ring-bench.ts.
 */
import { describe, expect, it } from 'vitest';
import { LANE_STREAMS, createPeerChannel, createSession, endpointSlot, joinSession, type PeerChannel } from '@puma/transport-webrtc';
import { useChannelLab } from './channel-lab.ts';
import { withinMs } from './test-clients.ts';

const lab = useChannelLab(3);
const { channels } = lab;

async function connectPair(): Promise<[PeerChannel, PeerChannel]> {
  const s = await createSession(lab.coordinator.url, { model: 'test', params: {} });
  for (const e of [0, 1]) await joinSession(lab.coordinator.url, s.id, endpointSlot(e), { secret: s.slotSecrets[endpointSlot(e)], identity: lab.identities[e].fingerprint });
  const ends = [0, 1].map((self) => {
    const ch = createPeerChannel({
      coordinator: lab.coordinator.url, sessionId: s.id, self, peers: [1 - self], identity: lab.identities[self], slotSecret: s.slotSecrets[endpointSlot(self)],
      connectTimeoutMs: 20_000, closeFlushMs: 2_000,
    });
    channels.push(ch);
    return ch;
  });
  return ends as [PeerChannel, PeerChannel];
}

function opened(dc: RTCDataChannel): Promise<void> {
  if (dc.readyState === 'open') return Promise.resolve();
  return new Promise((resolve, reject) => {
    dc.onopen = () => resolve();
    dc.onclose = () => reject(new Error('lane closed before it opened'));
  });
}

function nextMessage(dc: RTCDataChannel): Promise<Uint8Array> {
  return new Promise((resolve) => {
    dc.onmessage = (ev: MessageEvent) => resolve(new Uint8Array(ev.data as ArrayBuffer));
  });
}

describe('lanes on WebRTC links', () => {
  it('opens a negotiated data channel on the authenticated link that carries bytes both ways and closes with the link', async () => {
    const [a, b] = await connectPair();
    // Before the link is authenticated, no lane.
    expect(() => a.openLane(1, LANE_STREAMS.min, () => {})).toThrow(/cannot open a lane to party 1: its link is not open/);
    await withinMs(Promise.all([a.ready, b.ready]), 20_000, 'connecting');
    const lanes: RTCDataChannel[] = [];
    a.openLane(1, LANE_STREAMS.min, (dc) => lanes.push(dc));
    b.openLane(0, LANE_STREAMS.min, (dc) => lanes.push(dc));
    expect(lanes.map((dc) => [dc.negotiated, dc.id, dc.ordered])).toEqual([[true, LANE_STREAMS.min, true], [true, LANE_STREAMS.min, true]]);
    const [laneA, laneB] = lanes;
    laneA.binaryType = 'arraybuffer';
    laneB.binaryType = 'arraybuffer';
    await withinMs(Promise.all(lanes.map(opened)), 10_000, 'opening the lanes');
    const atB = nextMessage(laneB);
    const atA = nextMessage(laneA);
    laneA.send(new Uint8Array([1, 2, 3]));
    laneB.send(new Uint8Array([9, 8]));
    expect([...(await withinMs(atB, 10_000, 'a lane message from party 0'))]).toEqual([1, 2, 3]);
    expect([...(await withinMs(atA, 10_000, 'a lane message from party 1'))]).toEqual([9, 8]);
    // The link's own traffic is untouched by the lane.
    a.send(1, 'after the lane', new Uint8Array([7]));
    expect([...(await withinMs(b.recv(0, 'after the lane'), 10_000, 'a link message'))]).toEqual([7]);
    const laneClosed = new Promise<void>((resolve) => laneB.addEventListener('close', () => resolve()));
    a.close('party 0 is done');
    await withinMs(laneClosed, 10_000, "party 1's lane closing with the link");
  }, 60_000);

  it('refuses unknown peers, streams outside the lane range and closed channels, naming the problem', async () => {
    const [a, b] = await connectPair();
    await withinMs(Promise.all([a.ready, b.ready]), 20_000, 'connecting');
    expect(() => a.openLane(2, LANE_STREAMS.min, () => {})).toThrow(/party 0: no link to party 2 \(peers: party 1\)/);
    for (const bad of [0, 1, LANE_STREAMS.min - 1, LANE_STREAMS.max + 1, 16.5]) {
      expect(() => a.openLane(1, bad, () => {})).toThrow(new RegExp(`lane stream ${bad} is not an integer from ${LANE_STREAMS.min} to ${LANE_STREAMS.max}`));
    }
    a.close('leaving');
    expect(() => a.openLane(1, LANE_STREAMS.min, () => {})).toThrow(/party 0: channel closed \(leaving\)/);
  }, 60_000);
});
