/**
 * Take a seat: this tab runs party 1 of the visit, so the host holds only two of the three shares and cannot put
 * the prompt together alone. The party has its own identity key in this browser (apart from the client's, since
 * one key must not hold a party's share and act as the client), joins the party 1 slot with the visit's seat
 * secret, pins the two hosted parties' keys, and runs the party in a Web Worker (weights cached in IndexedDB),
 * as the party page does.
 */
import { CLIENT, OWNER, type EndpointId } from '@puma/transport';
import type { Identity } from '@puma/transport-webrtc';
import { loadOrCreateBrowserIdentity, startBrowserParty, type BackendChoice, type BrowserParty } from '@puma/worker/browser';
import type { PartySessionReport, PartyStatus } from '@puma/worker/session';
import { joinAndConnect } from '@puma/party/kit';
import type { VisitSession } from './hosted-api.ts';
import { HOSTED_IDLE_TIMEOUT_MS } from './hosted-client.ts';

/** The IndexedDB name of the seat's key: one per browser profile, separate from the client's. */
const SEAT_IDENTITY = 'visitor-seat-party';
export const SEAT_PARTY = 1;

export function loadSeatIdentity(): Promise<Identity> {
  return loadOrCreateBrowserIdentity(SEAT_IDENTITY);
}

export interface SeatOptions {
  coordinator: string;
  session: VisitSession;
  identity: Identity;
  /** This page's client identity: the seat's link to the client must prove it. */
  clientFingerprint: string;
  backend: BackendChoice;
  onStatus: (s: PartyStatus) => void;
}

export interface Seat {
  /** Resolves with the party's report when the session ends normally; rejects with why it failed. */
  readonly done: Promise<PartySessionReport>;
  /** Stops the party (its peers are told `reason`), at any point from joining on. */
  stop(reason: string): void;
}

/** Joins as party 1 and starts the party worker once every link is up. */
export async function takeSeat(o: SeatOptions): Promise<Seat> {
  const secret = o.session.seatSecret;
  if (!secret) throw new Error('the host gave this visit no seat secret, so this tab cannot run party 1');
  if (o.session.parties[SEAT_PARTY] !== o.identity.fingerprint) {
    throw new Error("the host's session names another key than this tab's for party 1; refusing to run the seat");
  }
  const peers: EndpointId[] = [0, 2, CLIENT, OWNER];
  const channel = await joinAndConnect({
    coordinator: o.coordinator,
    sessionId: o.session.sessionId,
    self: SEAT_PARTY,
    peers,
    secret,
    identity: o.identity,
    expectedPeers: { 0: o.session.parties[0], 2: o.session.parties[2], [CLIENT]: o.clientFingerprint },
    idleTimeoutMs: HOSTED_IDLE_TIMEOUT_MS,
  });
  let party: BrowserParty | null = null;
  let stopped: string | null = null;
  const done = channel.ready.then(async () => {
    if (stopped !== null) throw new Error(`party ${SEAT_PARTY} stopped: ${stopped}`);
    party = startBrowserParty({ id: SEAT_PARTY, channel, backend: o.backend, identity: o.identity.fingerprint, onStatus: o.onStatus });
    const report = await party.done;
    channel.close(`party ${SEAT_PARTY} finished`);
    return report;
  });
  done.catch(() => {});
  return {
    done,
    stop(reason) {
      if (stopped !== null) return;
      stopped = reason;
      if (party) void party.stop(reason);
      else channel.close(reason);
    },
  };
}
