/**
 * The ICE config a page connects with: the coordinator's (GET /api/config: its operator's STUN/TURN servers
 * and policy), made relay-only when the page's address says `ice=relay` (query or fragment), for a person who
 * wants peers never to learn their address, and for tests. A relay-only config is probed first, so a TURN server
 * that is unreachable or refuses the credential is named at once instead of every link timing out.
 */
import { checkRelayPossible, fetchIceConfig, probeRelay, type IceConfig } from '@puma/transport-webrtc';

export async function pageIceConfig(coordinator: string): Promise<IceConfig> {
  const asked = new URLSearchParams(location.search).get('ice') ?? new URLSearchParams(location.hash.replace(/^#/, '')).get('ice');
  if (asked !== null && asked !== 'relay') throw new Error(`the page parameter ice must be "relay", got "${asked}"`);
  const served = await fetchIceConfig(coordinator);
  const ice = asked === 'relay' ? checkRelayPossible({ ...served, iceTransportPolicy: 'relay' }, 'ice=relay with the coordinator\'s ICE config') : served;
  if (ice.iceTransportPolicy === 'relay') await probeRelay(ice);
  return ice;
}
