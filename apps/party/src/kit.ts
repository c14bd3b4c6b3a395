/**
 * What the party, client and owner pages share: which coordinator to talk to, the session and slot secret a link
 * carries, joining a session slot with this browser's identity and opening the authenticated WebRTC channel to
 * the session's other endpoints (with the coordinator's ICE servers, page-ice.ts), the error banner, and byte
 * formatting.
 */
import {
  SLOT_SECRET_PATTERN,
  createPeerChannel,
  endpointName,
  endpointSlot,
  joinSession,
  parseFingerprint,
  rtcConfigOf,
  type Identity,
  type PeerChannel,
} from '@puma/transport-webrtc';
import type { EndpointId, PartyId } from '@puma/transport';
import { pageIceConfig } from './page-ice.ts';

/**
 * The coordinator serves the built pages under its root (dist/pages/<app>/), so by default it sits one level
 * above the page, on the page's own origin. A link's `?coordinator=` on another origin is used only after the
 * person confirms it with the button `confirm` shows (naming that origin): otherwise whoever hands out a link
 * could point the page at a coordinator of their choosing. Until then nothing is contacted.
 */
export async function resolveCoordinator(params: URLSearchParams, confirm: HTMLElement): Promise<string> {
  const given = params.get('coordinator');
  let url: URL;
  try {
    url = new URL(given ?? '../', location.href);
  } catch {
    throw new Error(`coordinator "${given}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`coordinator must be an http(s) URL, got "${given}"`);
  const coordinator = url.href.replace(/\/$/, '');
  if (url.origin === location.origin) return coordinator;
  const text = document.createElement('p');
  text.textContent =
    `This link asks the page to use the coordinator at ${url.origin} instead of this page's own (${location.origin}). ` +
    'The coordinator sees who joins and relays connection setup; use another one only if you trust whoever gave you this link.';
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = `Use the coordinator at ${url.origin}`;
  confirm.replaceChildren(text, button);
  confirm.hidden = false;
  await new Promise<void>((resolve) => button.addEventListener('click', () => resolve(), { once: true }));
  confirm.hidden = true;
  return coordinator;
}

/** Session ids are the coordinator's 32 hex digits; anything else is refused before any request. */
export function sessionParam(params: URLSearchParams): string | null {
  const id = params.get('session');
  if (id === null || id === '') return null;
  if (!/^[0-9a-f]{32}$/.test(id)) throw new Error(`session "${id}" is not a session id (32 hex digits)`);
  return id;
}

/** The link's fragment (`#secret=...&parties=...`): never sent to a server, in requests or as Referer. */
export function fragmentParams(): URLSearchParams {
  return new URLSearchParams(location.hash.replace(/^#/, ''));
}

const secretKey = (sessionId: string, self: EndpointId) => `puma-slot-secret:${sessionId}:${endpointSlot(self)}`;

/**
 * This page's slot secret: from the link's `#secret=` (then kept in sessionStorage and taken out of the address
 * bar, so it is not bookmarked or shown over a shoulder), or, after a reload, from sessionStorage.
 */
export function slotSecret(sessionId: string, self: EndpointId): string {
  // A link pasted into this tab that differs only in its fragment is a same-document navigation, which would
  // leave this page running on the old secret: load the page again so it takes the new one.
  addEventListener('hashchange', () => location.reload(), { once: true });
  const fragment = fragmentParams();
  const given = fragment.get('secret');
  if (given !== null) {
    if (!SLOT_SECRET_PATTERN.test(given)) throw new Error(`the link's slot secret "${given}" is not 32 lowercase hex digits; copy the whole link again`);
    sessionStorage.setItem(secretKey(sessionId, self), given);
    fragment.delete('secret');
    const rest = fragment.toString();
    history.replaceState(history.state, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
    return given;
  }
  const kept = sessionStorage.getItem(secretKey(sessionId, self));
  if (kept !== null) return kept;
  throw new Error(`this ${endpointName(self)} link has no slot secret (#secret=...): open the whole link the session's creator gave you`);
}

/** Keeps a slot's secret for this tab (the client page keeps its own after creating the session). */
export function keepSlotSecret(sessionId: string, self: EndpointId, secret: string): void {
  sessionStorage.setItem(secretKey(sessionId, self), secret);
}

/** Pinned party fingerprints from the link's `#parties=fp0,fp1,fp2`, or null when the link pins none. */
export function pinnedParties(): [string, string, string] | null {
  const given = fragmentParams().get('parties');
  if (given === null) return null;
  const fps = given.split(',');
  if (fps.length !== 3) throw new Error(`the link's #parties= must list 3 fingerprints (party 0, 1, 2), got ${fps.length}`);
  return fps.map((fp, i) => parseFingerprint(fp, `pinned fingerprint of party ${i}`)) as [string, string, string];
}

/** Pins as createPeerChannel's expectedPeers. */
export function expectedParties(pins: readonly string[] | null): Partial<Record<EndpointId, string>> | undefined {
  if (!pins) return undefined;
  return Object.fromEntries(pins.map((fp, i) => [i as PartyId, fp]));
}

/**
 * How long a page waits for every peer of the session to show up. People open the five pages one after the
 * other, so this is minutes, not the transport's 30 s default.
 */
export const CONNECT_TIMEOUT_MS = 5 * 60_000;
/**
 * A peer that falls silent this long counts as gone. Pages send keepalives every second from their main thread
 * (the protocol runs in workers), so 6 s of silence means a closed tab, and the page can report it within 10 s.
 */
export const IDLE_TIMEOUT_MS = 6_000;
/**
 * A reloaded page re-joins its slot while the coordinator may still count the old page's signaling connection
 * (409); it tries again for this long.
 */
const REJOIN_WAIT_MS = 15_000;
const REJOIN_RETRY_MS = 500;

export interface JoinOptions {
  coordinator: string;
  sessionId: string;
  self: EndpointId;
  peers: readonly EndpointId[];
  secret: string;
  identity: Identity;
  expectedPeers?: Partial<Record<EndpointId, string>>;
  /** Silence after which a peer counts as gone; default IDLE_TIMEOUT_MS (peers that are pages). */
  idleTimeoutMs?: number;
}

/**
 * Joins this endpoint's slot with its secret and identity and opens the channel; returns at once, with the
 * channel's `ready` telling when every link is open and authenticated (or the first failure).
 */
export async function joinAndConnect(o: JoinOptions): Promise<PeerChannel> {
  const ice = await pageIceConfig(o.coordinator);
  const slot = endpointSlot(o.self);
  const giveUpAt = Date.now() + REJOIN_WAIT_MS;
  for (;;) {
    try {
      await joinSession(o.coordinator, o.sessionId, slot, { secret: o.secret, identity: o.identity.fingerprint });
      break;
    } catch (e) {
      const stillConnected = e instanceof Error && / failed with 409:.* is in use/.test(e.message);
      if (!stillConnected || Date.now() > giveUpAt) throw e;
      await new Promise((resolve) => setTimeout(resolve, REJOIN_RETRY_MS));
    }
  }
  const channel = createPeerChannel({
    coordinator: o.coordinator,
    sessionId: o.sessionId,
    self: o.self,
    peers: o.peers,
    identity: o.identity,
    slotSecret: o.secret,
    expectedPeers: o.expectedPeers,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    idleTimeoutMs: o.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
    rtcConfig: rtcConfigOf(ice),
  });
  // A closing page says goodbye on its links, so the peers name the reason at once instead of noticing the
  // silence after IDLE_TIMEOUT_MS (Chromium does not always close the data channels of a closing tab).
  const onPageHide = () => channel.close(`${endpointName(o.self)} closed its page`);
  addEventListener('pagehide', onPageHide);
  channel.ready.catch(async (e: unknown) => {
    removeEventListener('pagehide', onPageHide);
    // The other links get a moment to finish authenticating before the channel closes: a peer then receives
    // this page's proof and can name a relay in the middle itself, instead of only hearing silence.
    await linksSettled(channel, o.peers, LINK_SETTLE_MS);
    channel.close(errorText(e));
  });
  return channel;
}

/** How long a page whose channel failed keeps its other links for their authentication to finish. */
const LINK_SETTLE_MS = 8_000;

/** Resolves once every peer's link has proved its key or failed, or after `ms`. */
async function linksSettled(channel: PeerChannel, peers: readonly EndpointId[], ms: number): Promise<void> {
  const failed = new Set<EndpointId>();
  for (const p of peers) channel.recv(p, 'page:settle-watch').catch(() => failed.add(p));
  const until = Date.now() + ms;
  while (Date.now() < until && !peers.every((p) => failed.has(p) || channel.peerIdentity(p) !== undefined)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Shows `message` in the page's error banner (an element with role="alert"). */
export function showError(banner: HTMLElement, message: string): void {
  banner.textContent = message;
  banner.hidden = false;
}
