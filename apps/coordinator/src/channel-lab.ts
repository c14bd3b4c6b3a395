/**
 * Test harness for the WebRTC channel tests: a coordinator on loopback, one long-term identity per endpoint id (as
 * a deployment would have), and the channels a test opens, closed after each test. Registers the vitest hooks.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { generateIdentity, type Identity, type PeerChannel } from '@puma/transport-webrtc';
import { installNodeWebRtc } from '@puma/transport-webrtc/node';
import { startCoordinator, type Coordinator } from './index.ts';

export interface ChannelLab {
  readonly coordinator: Coordinator;
  readonly identities: readonly Identity[];
  /** Channels to close after the current test. */
  readonly channels: PeerChannel[];
}

export function useChannelLab(endpoints: number): ChannelLab {
  let coordinator: Coordinator | undefined;
  let identities: Identity[] = [];
  const channels: PeerChannel[] = [];
  beforeAll(async () => {
    installNodeWebRtc();
    coordinator = await startCoordinator();
    identities = await Promise.all(Array.from({ length: endpoints }, async () => (await generateIdentity()).identity));
  });
  afterEach(async () => {
    const open = channels.splice(0);
    for (const ch of open) ch.close('test finished');
    await Promise.all(open.map((ch) => ch.closed));
  });
  afterAll(async () => {
    await coordinator?.close();
  });
  return {
    get coordinator() {
      if (!coordinator) throw new Error('the channel lab has not started (use it inside a test)');
      return coordinator;
    },
    get identities() {
      return identities;
    },
    channels,
  };
}
