/**
 * Client page, the hosted privacy demo: creates a session (or opens a client link), shows the links for the three
 * parties and the model owner (each carrying only its own slot's secret, in the fragment), shows the parties'
 * safety codes once their links are authenticated and waits for the person to approve them (or for pinned
 * fingerprints from `#parties=` to match), then generates from a prompt with the approved parties. The prompt
 * leaves this page only as secret shares (one per approved party) and only this page reconstructs the output. Cost counters come from the
 * parties' per-step reports; the "who sees what" panel shows the actual bytes each party received for the
 * current input next to the clear text. For instruct models whose public info carries a chat template, a Chat
 * toggle turns the prompt box into a conversation (chat-view.ts), kept on this page only.
 */
import { CLIENT, OWNER, type Channel } from '@puma/transport';
import { createSession, endpointSlot, type Identity, type PeerChannel, type SlotName } from '@puma/transport-webrtc';
import { loadOrCreateBrowserIdentity } from '@puma/worker/browser';
import { openClientSession, type ClientSession, type TokenEvent } from '@puma/worker/session';
import {
  errorText,
  expectedParties,
  formatBytes,
  joinAndConnect,
  keepSlotSecret,
  pinnedParties,
  resolveCoordinator,
  sessionParam,
  showError,
  slotSecret,
} from '@puma/party/kit';
import { PeerLinks, approveParties, showOwnCode, type PeerLinkState } from '@puma/party/trust-ui';
import { InputTap, hexDump } from './input-tap.ts';
import { ChatView, type ChatState } from './chat-view.ts';

const $ = (id: string) => document.getElementById(id) as HTMLElement;
const input = (id: string) => document.getElementById(id) as HTMLInputElement;

/** What the page shows, readable by the end-to-end tests as window.pumaClient.state. */
export interface ClientPageState {
  phase: 'no-session' | 'connecting' | 'waiting-for-model' | 'ready' | 'generating' | 'done' | 'ended' | 'error';
  sessionId: string | null;
  /** This browser's safety code and fingerprint. */
  safetyCode: string | null;
  fingerprint: string | null;
  /** Each peer's link: state and, once authenticated, its safety code. */
  links: PeerLinkState[];
  /** The parties' fingerprints once approved (input shares go only to them). */
  approvedParties: string[] | null;
  partyLinks: string[];
  ownerLink: string | null;
  modelId: string | null;
  promptIds: number[];
  tokens: number[];
  text: string;
  /** Per generated token: milliseconds the client waited for it. */
  msPerToken: number[];
  /** Bytes each party sent in this generation, from the parties' step reports. */
  partyBytes: number[];
  roundsPerToken: number | null;
  clientBytesSent: number;
  clientBytesReceived: number;
  /** Chat mode: whether the model has one, whether it is on, and the conversation's turns. */
  chat: ChatState;
  error: string | null;
}

const state: ClientPageState = {
  phase: 'no-session',
  sessionId: null,
  safetyCode: null,
  fingerprint: null,
  links: [],
  approvedParties: null,
  partyLinks: [],
  ownerLink: null,
  modelId: null,
  promptIds: [],
  tokens: [],
  text: '',
  msPerToken: [],
  partyBytes: [0, 0, 0],
  roundsPerToken: null,
  clientBytesSent: 0,
  clientBytesReceived: 0,
  chat: { available: false, reason: null, on: false, stopIds: [], turns: [] },
  error: null,
};

declare global {
  interface Window {
    pumaClient?: { state: ClientPageState };
  }
}
window.pumaClient = { state };

function fail(message: string): void {
  // The first failure is the cause; later ones (the same failure seen by another waiting call) only echo it.
  if (state.error !== null) return;
  state.error = message;
  state.phase = 'error';
  $('session-status').textContent = 'Session failed.';
  showError($('error'), message);
  input('generate').disabled = true;
  input('end').disabled = true;
  input('new-session').disabled = false;
  input('use-link').disabled = false;
}

/** The clear input of a generation step, which only this page knows: the prompt, then each new token. */
function showClearInput(step: number, what: string): void {
  $('view-client').textContent = `step ${step}: ${what}`;
}

const secretsKey = (sessionId: string) => `puma-session-secrets:${sessionId}`;

/**
 * The party and owner links of a session this tab created, each with only its own slot's secret, in the
 * fragment (never sent to a server); null when this tab did not create the session (it came from a client link).
 */
function pageLinks(coordinator: string, explicitCoordinator: boolean, sessionId: string): { parties: string[]; owner: string } | null {
  const kept = sessionStorage.getItem(secretsKey(sessionId));
  if (kept === null) return null;
  const secrets = JSON.parse(kept) as Record<SlotName, string>;
  const link = (path: string, self: number, extra: Record<string, string>) => {
    const q = new URLSearchParams({ session: sessionId, ...extra });
    if (explicitCoordinator) q.set('coordinator', coordinator);
    return new URL(`${path}?${q}#secret=${secrets[endpointSlot(self)]}`, location.href).href;
  };
  return {
    parties: [0, 1, 2].map((i) => link('../party/', i, { party: String(i), backend: 'auto' })),
    owner: link('./owner.html', OWNER, {}),
  };
}

function showLinks(links: { parties: string[]; owner: string }): void {
  const ul = $('links');
  ul.replaceChildren();
  const add = (label: string, href: string) => {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener';
    a.textContent = href;
    li.append(`${label}: `, a);
    ul.append(li);
  };
  links.parties.forEach((href, i) => add(`party ${i}`, href));
  add('model owner', links.owner);
}

function renderCounters(channel: Channel): void {
  const n = state.msPerToken.length;
  const total = state.msPerToken.reduce((s, v) => s + v, 0);
  $('c-rate').textContent = n ? (n / (total / 1000)).toFixed(2) : '-';
  // The first token includes the whole prompt; later ones are the steady per-token cost.
  const later = state.msPerToken.slice(1);
  $('c-ms').textContent = later.length ? (later.reduce((s, v) => s + v, 0) / later.length).toFixed(0) : n ? state.msPerToken[0].toFixed(0) : '-';
  $('c-rounds').textContent = state.roundsPerToken === null ? '-' : String(state.roundsPerToken);
  $('c-party-bytes').textContent = state.partyBytes.map(formatBytes).join(' / ');
  state.clientBytesSent = channel.stats.bytesSent;
  state.clientBytesReceived = channel.stats.bytesReceived;
  $('c-client-bytes').textContent = `${formatBytes(state.clientBytesSent)} / ${formatBytes(state.clientBytesReceived)}`;
}

async function connect(coordinator: string, sessionId: string, identity: Identity): Promise<void> {
  state.sessionId = sessionId;
  state.phase = 'connecting';
  input('new-session').disabled = true;
  input('use-link').disabled = true;
  const secret = slotSecret(sessionId, CLIENT);
  const pins = pinnedParties();
  $('session-status').textContent = `Session ${sessionId}: open the four links below (each in its own browser profile or machine); waiting for them to connect.`;
  const peers = [0, 1, 2, OWNER];
  const channel = await joinAndConnect({ coordinator, sessionId, self: CLIENT, peers, secret, identity, expectedPeers: expectedParties(pins) });
  const links = new PeerLinks(channel, peers, $('peer-links'), () => (state.links = structuredClone(links.states)));
  state.links = structuredClone(links.states);
  let session: ClientSession;
  let tap: InputTap;
  // A failure before the session is open (an identity error, a refused approval) is told to the peers, which
  // would wait otherwise.
  try {
    ({ session, tap } = await approveAndOpen(channel, links, pins));
  } catch (e) {
    channel.close(errorText(e));
    throw e;
  }
  // Between prompts nothing waits on the parties, so a party that leaves then would go unnoticed: a receive
  // nobody answers fails when that party's link fails or the runtime closes the channel over a failure.
  for (const p of [0, 1, 2]) {
    channel.recv(p, 'page:party-watch').catch((e: unknown) => {
      if (state.phase !== 'ended') fail(errorText(e));
    });
  }
  state.modelId = session.info.modelId;
  state.phase = 'ready';
  $('session-status').textContent = `Session ${sessionId}: ready, model ${session.info.modelId}.`;
  const chat = new ChatView({
    toggle: input('chat-mode'), note: $('chat-note'), system: input('chat-system'), reset: document.getElementById('chat-reset') as HTMLButtonElement,
    log: $('conversation'), send: document.getElementById('generate') as HTMLButtonElement,
  }, state.chat);
  chat.attach(session.info, session.tokenizer);
  setUpGeneration(session, tap, chat);
}

async function approveAndOpen(channel: PeerChannel, links: PeerLinks, pins: [string, string, string] | null): Promise<{ session: ClientSession; tap: InputTap }> {
  await channel.ready;
  $('session-status').textContent = `Session ${state.sessionId}: everyone is connected; approve the parties below.`;
  const approvedParties = await approveParties(links, { text: $('approval-text'), button: document.getElementById('approve') as HTMLButtonElement }, pins);
  state.approvedParties = approvedParties;
  const tap = new InputTap(channel, (party, step, bytes) => {
    $(`view-${party}`).textContent = `step ${step}: ${bytes.byteLength} bytes\n${hexDump(bytes)}`;
    if (party === 0 && step === 0) showClearInput(0, `the prompt\n${JSON.stringify(($('prompt') as HTMLTextAreaElement).value)}`);
  });
  state.phase = 'waiting-for-model';
  $('session-status').textContent = `Session ${state.sessionId}: everyone is connected; waiting for the model owner's public model info.`;
  return { session: await openClientSession({ channel: tap, approvedParties }), tap };
}

function setUpGeneration(session: ClientSession, channel: Channel, chat: ChatView): void {
  const generateButton = input('generate');
  const endButton = input('end');
  generateButton.disabled = false;
  endButton.disabled = false;
  generateButton.addEventListener('click', () => {
    generate(session, channel, chat).catch((e: unknown) => fail(errorText(e)));
  });
  endButton.addEventListener('click', () => {
    state.phase = 'ended';
    session.end();
    channel.close('the client ended the session');
    generateButton.disabled = true;
    endButton.disabled = true;
    $('session-status').textContent = `Session ${state.sessionId} ended. Create a new session to run again.`;
    input('new-session').disabled = false;
    input('use-link').disabled = false;
  });
}

async function generate(session: ClientSession, channel: Channel, chat: ChatView): Promise<void> {
  const maxNewTokens = Number(input('max-new').value);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new Error(`new tokens must be a positive integer, got "${input('max-new').value}"`);
  const prompt = ($('prompt') as HTMLTextAreaElement).value;
  if (!session.tokenizer) throw new Error('the model owner sent no tokenizer, so this page cannot turn text into tokens');
  // In chat mode the box holds the next message; the prompt is the conversation rendered by the template.
  const turn = chat.on ? chat.begin(prompt, maxNewTokens, session.info.config.maxPositions) : null;
  Object.assign(state, { phase: 'generating', tokens: [], text: '', msPerToken: [], partyBytes: [0, 0, 0], roundsPerToken: null, promptIds: [] });
  input('generate').disabled = true;
  input('end').disabled = true;
  const out = $('output');
  const promptSpan = document.createElement('span');
  promptSpan.className = 'prompt';
  promptSpan.textContent = turn ? turn.text : prompt;
  const generated = document.createElement('span');
  out.replaceChildren(promptSpan, generated);
  const meter = setInterval(() => renderCounters(channel), 500);
  try {
    const result = await session.generate({
      prompt: turn ? turn.ids : prompt,
      maxNewTokens,
      // A chat reply ends at the model's stop token, and the parties stop computing with it.
      stopIds: turn ? chat.state.stopIds : undefined,
      onToken: (t: TokenEvent) => {
        state.tokens.push(t.token);
        state.text += t.text;
        state.msPerToken.push(t.ms);
        t.cost.forEach((c, i) => (state.partyBytes[i] += c.bytesSent));
        state.roundsPerToken = t.cost[0]?.rounds ?? null;
        generated.textContent = turn ? chat.partial(state.tokens) : state.text;
        // The token just generated is the next step's input; its shares have already gone out.
        if (t.index + 1 < maxNewTokens) showClearInput(t.index + 1, `token ${t.token}\n${JSON.stringify(t.text)}`);
        renderCounters(channel);
      },
    });
    state.promptIds = result.promptIds;
    if (turn) {
      const done = chat.finish(prompt, turn, result.tokens);
      generated.textContent = done.reply;
      ($('prompt') as HTMLTextAreaElement).value = '';
    }
    state.phase = 'done';
  } finally {
    clearInterval(meter);
    renderCounters(channel);
  }
  input('generate').disabled = false;
  input('end').disabled = false;
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const identity = await loadOrCreateBrowserIdentity();
  state.fingerprint = identity.fingerprint;
  state.safetyCode = showOwnCode($('own-code'), identity);
  // Nothing is contacted before the coordinator is settled (a foreign one only after the person confirms it).
  const coordinator = await resolveCoordinator(params, $('coordinator-confirm'));
  const explicitCoordinator = params.has('coordinator');
  input('new-session').disabled = false;
  input('use-link').disabled = false;
  // Each session is a fresh page load with ?session=, so no state carries over from the last one.
  input('new-session').addEventListener('click', () => {
    input('new-session').disabled = true;
    createSession(coordinator, { model: input('model-name').value.trim() || 'unnamed' }).then(
      (s) => {
        // This tab keeps every slot's secret to show the links; each link then carries only its own.
        sessionStorage.setItem(secretsKey(s.id), JSON.stringify(s.slotSecrets));
        keepSlotSecret(s.id, CLIENT, s.slotSecrets.client);
        location.search = new URLSearchParams({ ...Object.fromEntries(params), session: s.id }).toString();
      },
      (e: unknown) => fail(errorText(e)),
    );
  });
  input('use-link').addEventListener('click', () => {
    const text = input('client-link').value.trim();
    try {
      location.assign(new URL(text).href);
      if (new URL(text).search === location.search) location.reload();
    } catch {
      fail(`"${text}" is not a link; paste the whole client link (with its #secret=...)`);
    }
  });
  const session = sessionParam(params);
  if (!session) return;
  const links = pageLinks(coordinator, explicitCoordinator, session);
  if (links) {
    state.partyLinks = links.parties;
    state.ownerLink = links.owner;
    showLinks(links);
  }
  connect(coordinator, session, identity).catch((e: unknown) => fail(errorText(e)));
}

main().catch((e: unknown) => fail(errorText(e)));
