import { describe, expect, it } from 'vitest';
import { AUTH, decodeFrame, type Frame } from './frame.ts';
import { generateIdentity, safetyCode } from './identity.ts';
import { type DtlsView, type LinkContext, PeerIdentityError, dtlsView, makeAuthFrame, sdpFingerprints, verifyAuthFrame } from './link-auth.ts';

const FP = (byte: string) => `sha-256 ${Array(32).fill(byte).join(':')}`;
const sdp = (...fps: string[]) => ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', ...fps.map((f) => `a=fingerprint:${f}`)].join('\r\n') + '\r\n';

function authOf(bytes: Uint8Array): Extract<Frame, { kind: typeof AUTH }> {
  const f = decodeFrame(bytes);
  if (f.kind !== AUTH) throw new Error('not an AUTH frame');
  return f;
}

/** Party 0 and party 1 on a two-channel link, each view as that side sees it. */
function honestViews(): { zero: DtlsView[]; one: DtlsView[] } {
  const zero = [
    { local: FP('A0'), remote: FP('B0') },
    { local: FP('A1'), remote: FP('B1') },
  ];
  return { zero, one: zero.map((v) => ({ local: v.remote, remote: v.local })) };
}

describe('link authentication', () => {
  it('reads and normalises SDP fingerprint lines', () => {
    expect(sdpFingerprints(sdp('SHA-256 ab:cd'))).toBe('sha-256 AB:CD');
    expect(sdpFingerprints(sdp('sha-256 AB:CD', 'sha-1 01:02', 'sha-256 ab:cd'))).toBe('sha-1 01:02,sha-256 AB:CD');
    expect(sdpFingerprints(sdp())).toBe('');
    const pc = (local?: string, remote?: string) =>
      ({ localDescription: local === undefined ? null : { sdp: local }, remoteDescription: remote === undefined ? null : { sdp: remote } }) as unknown as RTCPeerConnection;
    expect(dtlsView(pc(sdp(FP('11')), sdp(FP('22'))), 'ch')).toEqual({ local: FP('11'), remote: FP('22') });
    expect(() => dtlsView(pc(sdp(FP('11'))), 'channel 0 of the link to party 1')).toThrow(
      'channel 0 of the link to party 1 has no remote description to read its DTLS fingerprint from',
    );
    expect(() => dtlsView(pc(sdp(), sdp(FP('22'))), 'channel 0')).toThrow('the local description of channel 0 carries no a=fingerprint line');
  });

  it('accepts a proof made over the same link, seen from the other end', async () => {
    const { identity } = await generateIdentity();
    const { zero, one } = honestViews();
    const frame = authOf(await makeAuthFrame(identity, { sessionId: 's1', self: 0, remote: 1, views: zero }, 1 << 20));
    expect(frame.maxMessageBytes).toBe(1 << 20);
    const atOne: LinkContext = { sessionId: 's1', self: 1, remote: 0, views: one };
    expect(await verifyAuthFrame(frame, atOne, 'party 0', undefined)).toBe(identity.fingerprint);
    expect(await verifyAuthFrame(frame, atOne, 'party 0', identity.fingerprint)).toBe(identity.fingerprint);
  });

  it('refuses a proof whose link differs: a relay in the middle, another session, other endpoints, an altered limit', async () => {
    const { identity } = await generateIdentity();
    const { zero, one } = honestViews();
    const frame = authOf(await makeAuthFrame(identity, { sessionId: 's1', self: 0, remote: 1, views: zero }, 1 << 20));
    const relayed = one.map((v, i) => (i === 1 ? { ...v, remote: FP('EE') } : v));
    const cases: LinkContext[] = [
      { sessionId: 's1', self: 1, remote: 0, views: relayed },
      { sessionId: 's2', self: 1, remote: 0, views: one },
      { sessionId: 's1', self: 2, remote: 0, views: one },
      { sessionId: 's1', self: 1, remote: 0, views: one.slice(0, 1) },
    ];
    for (const link of cases) {
      const err = await verifyAuthFrame(frame, link, 'party 0', undefined).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PeerIdentityError);
      expect((err as Error).message).toBe(
        "peer identity error: party 0: its proof does not match this link's DTLS fingerprints: a relay may be intercepting the connection",
      );
    }
    const altered = { ...frame, maxMessageBytes: 1 << 30 };
    await expect(verifyAuthFrame(altered, { sessionId: 's1', self: 1, remote: 0, views: one }, 'party 0', undefined)).rejects.toThrow(/its proof does not match/);
  });

  it('refuses a valid proof of a key other than the pinned one, with both safety codes', async () => {
    const { identity } = await generateIdentity();
    const pinned = (await generateIdentity()).identity.fingerprint;
    const { zero, one } = honestViews();
    const frame = authOf(await makeAuthFrame(identity, { sessionId: 's1', self: 4, remote: 0, views: zero }, 1 << 20));
    await expect(verifyAuthFrame(frame, { sessionId: 's1', self: 0, remote: 4, views: one }, 'model owner', pinned)).rejects.toThrow(
      `peer identity error: model owner presented the key ${identity.fingerprint} (safety code ${safetyCode(identity.fingerprint)}), ` +
        `but this session expects ${pinned} (safety code ${safetyCode(pinned)})`,
    );
  });

  it('refuses a key that is not an ECDSA P-256 key', async () => {
    const { identity } = await generateIdentity();
    const { zero, one } = honestViews();
    const frame = authOf(await makeAuthFrame(identity, { sessionId: 's1', self: 0, remote: 1, views: zero }, 1 << 20));
    const broken = { ...frame, publicKey: frame.publicKey.subarray(0, 40) };
    await expect(verifyAuthFrame(broken, { sessionId: 's1', self: 1, remote: 0, views: one }, 'party 0', undefined)).rejects.toThrow(
      /^peer identity error: party 0 sent an unusable public key: not an ECDSA P-256 public key/,
    );
  });
});
