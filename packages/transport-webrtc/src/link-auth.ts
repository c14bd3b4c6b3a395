/**
 * End-to-end authentication of a link (DESIGN.md, "Trust"). The signaling server carries both the peer ids and
 * the SDP, DTLS certificate fingerprints included, so it could answer each side itself and sit in the middle of
 * the encrypted channel. Each side therefore signs, with its long-term identity key, a transcript naming the
 * session, both endpoints and the DTLS fingerprints of both ends of every data channel of the link as IT sees
 * them. The verifier rebuilds the transcript from its own view: the signer's local fingerprint is the verifier's
 * remote one and vice versa. A relay that terminated DTLS on either side shows each side a different remote
 * fingerprint, the rebuilt transcript differs, and the signature fails; the relay cannot sign for the
 * endpoints' keys. Replaying a proof needs the DTLS private key behind the fingerprint it names, which never
 * leaves the endpoint's WebRTC stack (a fresh certificate per RTCPeerConnection).
 *
 * Cost: one signature and one verification per link at setup, and one AUTH frame each way (sent at once when
 * the channels open, so both travel together: half a round trip); nothing per message.
 */
import type { EndpointId } from '@puma/transport';
import { type Identity, fingerprintOf, safetyCode, verifySignature } from './identity.ts';
import { type AuthFields, encodeAuth } from './frame.ts';

export const LINK_AUTH_LABEL = 'puma-link-auth/1';

/** The DTLS fingerprints of one data channel's connection, as this side sees them. */
export interface DtlsView {
  local: string;
  remote: string;
}

/** A failure to prove or verify identities; its message starts with "peer identity error:". */
export class PeerIdentityError extends Error {}

/**
 * The `a=fingerprint:` lines of an SDP, normalised (algorithm lowercase, hex uppercase), deduplicated, sorted
 * and joined by commas; "" when there is none.
 */
export function sdpFingerprints(sdp: string): string {
  const found = new Set<string>();
  for (const m of sdp.matchAll(/^a=fingerprint:\s*(\S+)\s+([0-9A-Fa-f:]+)\s*$/gm)) {
    found.add(`${m[1].toLowerCase()} ${m[2].toUpperCase()}`);
  }
  return [...found].sort().join(',');
}

/** Reads both fingerprints of a connection; throws when either description lacks one (never skips). */
export function dtlsView(pc: RTCPeerConnection, what: string): DtlsView {
  const read = (side: 'local' | 'remote') => {
    const sdp = (side === 'local' ? pc.localDescription : pc.remoteDescription)?.sdp;
    if (!sdp) throw new Error(`${what} has no ${side} description to read its DTLS fingerprint from`);
    const fp = sdpFingerprints(sdp);
    if (!fp) throw new Error(`the ${side} description of ${what} carries no a=fingerprint line`);
    return fp;
  };
  return { local: read('local'), remote: read('remote') };
}

interface Transcript {
  sessionId: string;
  signer: EndpointId;
  verifier: EndpointId;
  signerKey: string;
  maxMessageBytes: number;
  /** Per channel index: the signer's local and remote fingerprints. */
  channels: readonly DtlsView[];
}

function encodeTranscript(t: Transcript): Uint8Array {
  const lines = [
    LINK_AUTH_LABEL,
    `session ${t.sessionId}`,
    `signer ${t.signer} key ${t.signerKey}`,
    `verifier ${t.verifier}`,
    `max-message-bytes ${t.maxMessageBytes}`,
    `channels ${t.channels.length}`,
    ...t.channels.map((c, i) => `channel ${i} signer-local ${c.local} signer-remote ${c.remote}`),
  ];
  return new TextEncoder().encode(lines.join('\n'));
}

export interface LinkContext {
  sessionId: string;
  self: EndpointId;
  remote: EndpointId;
  /** This side's view of every channel of the link, by channel index. */
  views: readonly DtlsView[];
}

/** This side's AUTH frame for a link. */
export async function makeAuthFrame(identity: Identity, link: LinkContext, maxMessageBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const transcript = encodeTranscript({
    sessionId: link.sessionId,
    signer: link.self,
    verifier: link.remote,
    signerKey: identity.fingerprint,
    maxMessageBytes,
    channels: link.views,
  });
  return encodeAuth({ publicKey: identity.publicKey, maxMessageBytes, signature: await identity.sign(transcript) });
}

/**
 * Checks the peer's AUTH against this side's view of the link and the pinned fingerprint, if any. Returns the
 * proven fingerprint; throws PeerIdentityError naming the peer and the reason.
 */
export async function verifyAuthFrame(auth: AuthFields, link: LinkContext, peerName: string, expected: string | undefined): Promise<string> {
  const fingerprint = await fingerprintOf(auth.publicKey);
  if (expected !== undefined && fingerprint !== expected) {
    throw new PeerIdentityError(
      `peer identity error: ${peerName} presented the key ${fingerprint} (safety code ${safetyCode(fingerprint)}), ` +
        `but this session expects ${expected} (safety code ${safetyCode(expected)})`,
    );
  }
  const transcript = encodeTranscript({
    sessionId: link.sessionId,
    signer: link.remote,
    verifier: link.self,
    signerKey: fingerprint,
    maxMessageBytes: auth.maxMessageBytes,
    channels: link.views.map((v) => ({ local: v.remote, remote: v.local })),
  });
  let valid: boolean;
  try {
    valid = await verifySignature(auth.publicKey, transcript, auth.signature);
  } catch (e) {
    throw new PeerIdentityError(`peer identity error: ${peerName} sent an unusable public key: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!valid) {
    throw new PeerIdentityError(
      `peer identity error: ${peerName}: its proof does not match this link's DTLS fingerprints: a relay may be intercepting the connection`,
    );
  }
  return fingerprint;
}
