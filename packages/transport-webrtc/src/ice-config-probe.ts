/**
 * Relay check before connecting under a relay-only policy: one throwaway RTCPeerConnection gathers candidates
 * and must get a relay candidate from a TURN server. A wrong password or an unreachable TURN server then fails
 * at once with a message that says so, instead of every link timing out with "ICE negotiation failed". Uses the
 * global RTCPeerConnection (a browser's, or node-datachannel's after installNodeWebRtc).
 */
import type { IceConfig } from './ice-config.ts';
import { rtcConfigOf } from './ice-config.ts';

export const RELAY_PROBE_TIMEOUT_MS = 15_000;
const RELAY_CANDIDATE = / typ relay(\s|$)/m;

/** Resolves once a TURN server handed out a relay candidate; rejects naming the servers and any TURN errors. */
export async function probeRelay(config: IceConfig, timeoutMs = RELAY_PROBE_TIMEOUT_MS): Promise<void> {
  const pc = new RTCPeerConnection(rtcConfigOf({ ...config, iceTransportPolicy: 'relay' }));
  const turnErrors: string[] = [];
  const servers = config.iceServers.flatMap((s) => s.urls).filter((u) => u.startsWith('turn')).join(', ');
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string) =>
        reject(new Error(`relay-only ICE: no relay candidate from ${servers} (${why}${turnErrors.length ? `; ${turnErrors.join('; ')}` : ''}): check the TURN URLs, that the server is reachable, and the username and credential`));
      const timer = setTimeout(() => fail(`none within ${timeoutMs / 1000} s`), timeoutMs);
      pc.addEventListener('icecandidate', (e) => {
        const c = (e as RTCPeerConnectionIceEvent).candidate;
        if (c && RELAY_CANDIDATE.test(c.candidate)) {
          clearTimeout(timer);
          resolve();
        }
      });
      // Browsers report each failed TURN request (401 for a wrong credential); node-datachannel does not.
      pc.addEventListener('icecandidateerror', (e) => {
        const err = e as RTCPeerConnectionIceErrorEvent;
        turnErrors.push(`${err.url || 'TURN server'} answered ${err.errorCode} ${err.errorText}`.trim());
      });
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState !== 'complete') return;
        clearTimeout(timer);
        // The finished description lists every gathered candidate (the Node polyfill may still hold back the
        // candidate events themselves until setLocalDescription has settled).
        if (RELAY_CANDIDATE.test(pc.localDescription?.sdp ?? '')) resolve();
        else fail('gathering finished without one');
      });
      pc.createDataChannel('relay-probe');
      pc.createOffer().then((offer) => pc.setLocalDescription(offer)).catch((e: unknown) => {
        clearTimeout(timer);
        fail(`cannot start gathering: ${e instanceof Error ? e.message : String(e)}`);
      });
    });
  } finally {
    pc.close();
  }
}
