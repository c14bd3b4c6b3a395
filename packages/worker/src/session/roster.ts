/**
 * Who the parties are: a roster is the three parties' identity fingerprints (lowercase hex sha256 of their
 * long-term public keys), in party order. The model owner decides who may hold its weight bundles, the client
 * who may hold its input shares; each endpoint compares a peer's roster entry with the identity that peer
 * proved on its link (Channel.peerIdentity) before it sends that peer anything of value.
 */
import { endpointLabel, type Channel, type EndpointId, type PartyId } from '@puma/transport';

export type Roster = readonly [string, string, string];

const FINGERPRINT = /^[0-9a-f]{64}$/;

/** A fingerprint as people see it in messages: its first 16 hex digits (64 bits; enough to tell keys apart). */
export function shortFingerprint(fp: string): string {
  return `${fp.slice(0, 16)}…`;
}

/** Validates one fingerprint (64 hex digits, any case) and returns it in lowercase. */
export function checkFingerprint(value: unknown, what: string): string {
  if (typeof value !== 'string' || !FINGERPRINT.test(value.toLowerCase())) {
    throw new Error(`${what} must be an identity fingerprint of 64 hex digits, got ${JSON.stringify(value)?.slice(0, 80)}`);
  }
  return value.toLowerCase();
}

/** Validates a roster: three distinct fingerprints (lowercased). `what` names it in errors ("approved parties"). */
export function checkRoster(value: unknown, what: string): Roster {
  if (!Array.isArray(value) || value.length !== 3) throw new Error(`${what} must list three identity fingerprints (parties 0, 1, 2), got ${JSON.stringify(value)?.slice(0, 200)}`);
  const roster = value.map((v, p) => checkFingerprint(v, `${what}: party ${p}'s fingerprint`)) as unknown as Roster;
  for (let p = 0; p < 3; p++) {
    for (let q = p + 1; q < 3; q++) {
      if (roster[p] === roster[q]) {
        throw new Error(`${what}: parties ${p} and ${q} have the same identity ${shortFingerprint(roster[p])}; one identity never holds two parties' shares`);
      }
    }
  }
  return roster;
}

/** Whether the channel authenticates its links at all (plain in-memory channels do not). */
export function reportsIdentities(channel: Channel): boolean {
  return typeof channel.peerIdentity === 'function';
}

/**
 * Throws unless `peer` proved `expected` on its link. A channel without identities, or a link not (yet)
 * authenticated, counts as a mismatch: nothing of value goes to a peer of unknown identity.
 */
export function checkPeerIdentity(channel: Channel, peer: EndpointId, expected: string): void {
  const proven = channel.peerIdentity?.(peer);
  const who = endpointLabel(peer);
  if (proven === undefined) throw new Error(`peer identity error: ${who}'s link is not authenticated`);
  if (proven !== expected) throw new Error(`peer identity error: ${who} is ${shortFingerprint(proven)}, not the approved ${shortFingerprint(expected)}`);
}

/** checkPeerIdentity for each of `peers` when the channel reports identities; a no-op on channels without them. */
export function checkPeersIfAuthenticated(channel: Channel, roster: Roster, peers: readonly PartyId[]): void {
  if (!reportsIdentities(channel)) return;
  for (const q of peers) checkPeerIdentity(channel, q, roster[q]);
}
