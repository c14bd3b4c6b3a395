/**
 * The trust part of every page: this browser's own safety code, each peer's link state and safety code once its
 * link is authenticated (the peer proved its long-term key over the link itself), and, on the owner and client
 * pages, the approval of the three parties: a person compares each party's code with the one that party's page
 * shows, and only then do weight bundles or input shares go to those identities.
 */
import type { EndpointId, PartyId } from '@puma/transport';
import { endpointName, safetyCode, type Identity, type PeerChannel } from '@puma/transport-webrtc';
import { errorText } from './kit.ts';

export interface PeerLinkState {
  peer: EndpointId;
  /** 'connecting', 'authenticated' or 'failed'. */
  link: 'connecting' | 'authenticated' | 'failed';
  fingerprint: string | null;
  safetyCode: string | null;
  error: string | null;
}

/** Shows this page's own safety code in `el` (with the full fingerprint as its title, for those who check it). */
export function showOwnCode(el: HTMLElement, identity: Identity): string {
  const code = safetyCode(identity.fingerprint);
  el.textContent = code;
  el.title = `fingerprint ${identity.fingerprint}`;
  el.dataset.fingerprint = identity.fingerprint;
  return code;
}

const POLL_MS = 200;

/**
 * Watches each peer's link of `channel` and renders one row per peer into `tbody` (data-peer = endpoint id;
 * cells .link and .code). A link counts as authenticated once channel.peerIdentity names the key the peer
 * proved; it fails when a receive from that peer fails with a message naming it ("peer identity error: ...
 * party 1 ...", "party 2 disconnected").
 */
export class PeerLinks {
  readonly states: PeerLinkState[];
  private readonly waiters: Array<() => void> = [];
  private stopped = false;
  /** Why the whole channel failed (signaling refused, a link failed before all were open), if it did. */
  private channelError: string | null = null;

  constructor(
    private readonly channel: PeerChannel,
    peers: readonly EndpointId[],
    private readonly tbody: HTMLElement,
    private readonly onChange: () => void = () => {},
  ) {
    this.states = peers.map((peer) => ({ peer, link: 'connecting', fingerprint: null, safetyCode: null, error: null }));
    this.render();
    channel.ready.catch((e: unknown) => {
      this.channelError = errorText(e);
      this.changed();
    });
    for (const s of this.states) {
      // Nobody sends on this tag: the receive only ever fails, when this peer's link (or the channel) does.
      channel.recv(s.peer, 'page:link-watch').catch((e: unknown) => {
        const message = errorText(e);
        if (!message.includes(endpointName(s.peer)) || this.stopped) return;
        s.link = 'failed';
        s.error = message;
        this.changed();
      });
    }
    const poll = setInterval(() => {
      if (this.stopped || this.states.every((s) => s.link !== 'connecting')) {
        clearInterval(poll);
        return;
      }
      for (const s of this.states) {
        const fingerprint = s.link === 'connecting' ? channel.peerIdentity?.(s.peer) : undefined;
        if (!fingerprint) continue;
        s.link = 'authenticated';
        s.fingerprint = fingerprint;
        s.safetyCode = safetyCode(fingerprint);
        this.changed();
      }
    }, POLL_MS);
  }

  /** Stops showing later failures (this page closes the channel itself, or the session is over). */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves once every listed peer's link is authenticated; rejects when one of them fails first. */
  async authenticated(peers: readonly EndpointId[]): Promise<string[]> {
    for (;;) {
      const wanted = peers.map((p) => this.states.find((s) => s.peer === p)!);
      const failed = wanted.find((s) => s.link === 'failed');
      if (failed) throw new Error(failed.error!);
      if (wanted.every((s) => s.fingerprint !== null)) return wanted.map((s) => s.fingerprint!);
      if (this.channelError !== null) throw new Error(this.channelError);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Rejects once one of `peers`' links fails or the channel does; never resolves. */
  async failure(peers: readonly EndpointId[]): Promise<never> {
    for (;;) {
      const failed = this.states.find((s) => peers.includes(s.peer) && s.link === 'failed');
      if (failed) throw new Error(failed.error!);
      if (this.channelError !== null) throw new Error(this.channelError);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private changed(): void {
    this.render();
    this.onChange();
    for (const w of this.waiters.splice(0)) w();
  }

  private render(): void {
    this.tbody.replaceChildren(
      ...this.states.map((s) => {
        const row = document.createElement('tr');
        row.dataset.peer = String(s.peer);
        row.dataset.link = s.link;
        const cell = (className: string, text: string) => {
          const td = document.createElement('td');
          td.className = className;
          td.textContent = text;
          return td;
        };
        const link = s.link === 'failed' ? `failed: ${s.error}` : s.link === 'authenticated' ? 'connected, identity proved' : 'connecting';
        const code = cell('code', s.safetyCode ?? '-');
        if (s.fingerprint) code.title = `fingerprint ${s.fingerprint}`;
        row.append(cell('name', endpointName(s.peer)), cell('link', link), code);
        return row;
      }),
    );
  }
}

const PARTIES: readonly PartyId[] = [0, 1, 2];

/** Two parties that proved the same key run in one browser profile (or one key file): refuse them by name. */
export function duplicateParties(fingerprints: readonly string[]): string | null {
  for (let a = 0; a < fingerprints.length; a++) {
    for (let b = a + 1; b < fingerprints.length; b++) {
      if (fingerprints[a] === fingerprints[b]) {
        return `party ${a} and party ${b} proved the same identity (safety code ${safetyCode(fingerprints[a])}): they run in one browser profile or with one key, which must not hold two parties' shares; open each party link in its own browser profile or machine`;
      }
    }
  }
  return null;
}

export interface ApprovalControl {
  /** The paragraph saying what to compare, or what was decided. */
  text: HTMLElement;
  button: HTMLButtonElement;
}

/**
 * The three parties' fingerprints once a person approved them: the button is enabled when all three links are
 * authenticated with three different identities, and pressing it approves the codes shown. With pins (from the
 * link's `#parties=`) the channel has already refused any other key, so the parties are approved without a
 * click. Rejects when a party's link fails first or two parties share one identity.
 */
export async function approveParties(links: PeerLinks, control: ApprovalControl, pins: readonly string[] | null): Promise<[string, string, string]> {
  control.text.textContent = 'Waiting for the three parties to connect and prove their identities.';
  const fingerprints = await links.authenticated(PARTIES);
  const duplicate = duplicateParties(fingerprints);
  if (duplicate) {
    control.text.textContent = `Not approved: ${duplicate}.`;
    throw new Error(`cannot approve the parties: ${duplicate}`);
  }
  if (pins) {
    const wrong = PARTIES.find((p) => pins[p] !== fingerprints[p]);
    if (wrong !== undefined) throw new Error(`party ${wrong} proved a key other than the one pinned in this link`);
    control.text.textContent = 'Approved: the three parties proved the keys pinned in this link.';
    return fingerprints as [string, string, string];
  }
  control.text.textContent =
    "Compare each party's safety code above with the code that party's own page shows as \"Your safety code\" " +
    '(ask the person running it). Approve only if all three match.';
  control.button.disabled = false;
  // A party that drops out while the person compares codes (a refusal, a closed page) ends the wait: approving a
  // party whose link is gone would only start a session that cannot run.
  const failure = links.failure(PARTIES);
  failure.catch(() => {});
  try {
    await Promise.race([new Promise<void>((resolve) => control.button.addEventListener('click', () => resolve(), { once: true })), failure]);
  } catch (e) {
    control.text.textContent = `Not approved: ${e instanceof Error ? e.message : String(e)}.`;
    throw e;
  } finally {
    control.button.disabled = true;
  }
  control.text.textContent = `Approved parties: ${fingerprints.map((fp, i) => `party ${i} ${safetyCode(fp)}`).join(', ')}.`;
  return fingerprints as [string, string, string];
}
