/**
 * The hosted demo's visitor page, at the site root of `puma host`: pick a model, type, press Generate. The page
 * asks the host for a visit (waiting in its queue if the parties are busy), then runs the client here: the prompt
 * is secret-shared in this browser, the three parties compute on shares, and only this page puts the answer
 * back together. Tokens stream in with a live cost chart and the three parties' view; Stop ends the job on every
 * endpoint. "Run party 1 in this tab" makes this browser one of the three parties, so the host holds only two.
 */
import { safetyCode, type Identity } from '@puma/transport-webrtc';
import { loadOrCreateBrowserIdentity, parseBackendChoice } from '@puma/worker/browser';
import type { TokenEvent } from '@puma/worker/session';
import { errorText, formatBytes, showError } from '@puma/party/kit';
import { showOwnCode } from '@puma/party/trust-ui';
import { CostChart } from './cost-chart.ts';
import { HostedApi, type HostedListing, type HostedModel, type VisitSession, type VisitStatus } from './hosted-api.ts';
import { runHostedJob } from './hosted-client.ts';
import { LongTaskMeter } from './long-tasks.ts';
import { PartiesView } from './parties-view.ts';
import { SEAT_PARTY, loadSeatIdentity, takeSeat, type Seat } from './seat.ts';
import { initialState, type VisitorPhase } from './state.ts';
import { VisitPoller } from './visit-poller.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const longTasks = new LongTaskMeter(() => state.phase);
const state = initialState(longTasks.record);
window.pumaVisitor = { state };

const api = HostedApi.forPage();
const chart = new CostChart($('chart'));
const parties = new PartiesView($('diagram'), $('cards'));
/** The session API and signaling live on the host that serves this page (never on an origin a visit names). */
const coordinator = new URL('./', location.href).href.replace(/\/$/, '');
const params = new URLSearchParams(location.search);

const LISTING_ATTEMPTS = 3;
const LISTING_REFRESH_MS = 20_000;
/** How long the page keeps polling a finished visit for the host to report it done. */
const DONE_POLL_MS = 5_000;

/** The visit in progress, if any. */
let current: { poller: VisitPoller | null; abort: AbortController; seat: Seat | null; started: boolean } | null = null;

function setPhase(phase: VisitorPhase, status: string): void {
  // The responsiveness record covers the generation itself: from the job's start to its end.
  if (phase === 'running' && state.phase !== 'running') longTasks.reset();
  state.phase = phase;
  state.status = status;
  $('status').textContent = status;
  const busy = !['idle', 'done', 'stopped', 'error'].includes(phase);
  $<HTMLButtonElement>('generate').disabled = busy || state.listing === null;
  $<HTMLButtonElement>('stop').disabled = !busy || phase === 'stopping';
  $<HTMLSelectElement>('model').disabled = busy;
  $<HTMLInputElement>('seat').disabled = busy || !state.listing?.seats;
}

function fail(message: string): void {
  state.error = message;
  showError($('error'), message);
  setPhase('error', 'Failed; see the message above. Press Generate to try again.');
}

function selectedModel(): HostedModel {
  const id = $<HTMLSelectElement>('model').value;
  const model = state.listing?.models.find((m) => m.id === id);
  if (!model) throw new Error(`model "${id}" is not one the host offers`);
  return model;
}

function showModelControls(): void {
  const model = selectedModel();
  const maxNew = $<HTMLInputElement>('max-new');
  maxNew.max = String(model.maxNewTokens);
  if (Number(maxNew.value) > model.maxNewTokens) maxNew.value = String(model.maxNewTokens);
  $('max-new-row').hidden = model.task !== 'generate';
  // The chart is per generated token; a classification has one step.
  $('chart').hidden = model.task !== 'generate';
  $<HTMLButtonElement>('generate').textContent = model.task === 'generate' ? 'Generate' : 'Classify';
}

function showListing(listing: HostedListing): void {
  for (const p of listing.parties) {
    if (safetyCode(p.fingerprint) !== p.safetyCode) throw new Error(`the host lists party ${p.index} with safety code ${p.safetyCode}, but its key's code is ${safetyCode(p.fingerprint)}`);
  }
  const partiesChanged = state.listing?.parties.some((p, i) => p.fingerprint !== listing.parties[i].fingerprint) ?? true;
  state.listing = listing;
  const select = $<HTMLSelectElement>('model');
  const chosen = select.value;
  select.replaceChildren(
    ...listing.models.map((m) => {
      const option = document.createElement('option');
      option.value = m.id;
      option.textContent = `${m.label} (${m.task === 'generate' ? 'generation' : 'classification'})`;
      return option;
    }),
  );
  // A refreshed listing keeps the visitor's choice.
  select.value = listing.models.some((m) => m.id === chosen) ? chosen : (listing.models.find((m) => m.default) ?? listing.models[0]).id;
  showModelControls();
  if (partiesChanged) parties.setParties(listing.parties.map((p) => ({ safetyCode: p.safetyCode, where: 'hosted' })));
  $('seat-row').hidden = !listing.seats;
  $('concurrency').textContent =
    listing.maxConcurrent === 1 ? 'The parties serve one visitor at a time; others wait in a queue.' : `The parties serve up to ${listing.maxConcurrent} visitors at once; others wait in a queue.`;
}

/** The visit's parties must be the listed ones (party 1: this tab's seat key, when taking a seat). */
function checkVisitParties(session: VisitSession, seatFingerprint: string | null): void {
  const listed = state.listing!.parties;
  session.parties.forEach((fp, p) => {
    const want = seatFingerprint !== null && p === SEAT_PARTY ? seatFingerprint : listed[p].fingerprint;
    if (fp !== want) throw new Error(`the host's session names a key for party ${p} (safety code ${safetyCode(fp)}) other than ${p === SEAT_PARTY && seatFingerprint ? "this tab's seat" : 'the one it lists'} (${safetyCode(want)}); refusing to send it input shares`);
  });
}

function resetOutput(prompt: string): void {
  Object.assign(state, {
    error: null, prompt, promptIds: [], tokens: [], text: '', label: null, msPerToken: [], msToFirstToken: null, partyBytesPerToken: [], links: [],
    position: null, positionsSeen: [], visitId: null, visitState: null, seat: null, stopPressedAt: null, stoppedAt: null,
  });
  $('error').hidden = true;
  chart.clear();
  parties.resetInputs();
  parties.setLinks([]);
  $('peer-links').replaceChildren();
  const promptSpan = document.createElement('span');
  promptSpan.className = 'prompt';
  promptSpan.textContent = prompt;
  const generated = document.createElement('span');
  generated.id = 'generated';
  $('output').replaceChildren(promptSpan, generated);
  renderCounters();
}

function renderCounters(): void {
  const later = state.msPerToken.slice(1);
  $('c-tokens').textContent = String(state.tokens.length);
  $('c-ms').textContent = later.length ? (later.reduce((s, v) => s + v, 0) / later.length).toFixed(0) : state.msPerToken.length ? state.msPerToken[0].toFixed(0) : '-';
  const totals = [0, 1, 2].map((p) => state.partyBytesPerToken.reduce((s, b) => s + (b[p] ?? 0), 0));
  $('c-bytes').textContent = state.partyBytesPerToken.length ? totals.map(formatBytes).join(' / ') : '-';
  $('c-longtask').textContent = state.longTasks.supported ? `${state.longTasks.longestMs.toFixed(0)} ms` : 'not reported by this browser';
}

function onToken(t: TokenEvent, maxNewTokens: number, pressedAt: number): void {
  state.msToFirstToken ??= performance.now() - pressedAt;
  state.tokens.push(t.token);
  state.text += t.text;
  state.msPerToken.push(t.ms);
  const bytes = t.cost.map((c) => c.bytesSent);
  state.partyBytesPerToken.push(bytes);
  $('generated').textContent = state.text;
  chart.add(t.ms, bytes);
  // The token just generated is the next step's input; its shares have already gone out.
  if (t.index + 1 < maxNewTokens) parties.showClearInput(t.index + 1, `token ${t.token}\n${JSON.stringify(t.text)}`);
  renderCounters();
}

async function startVisit(identity: Identity): Promise<void> {
  const pressedAt = performance.now();
  const model = selectedModel();
  const prompt = $<HTMLTextAreaElement>('prompt').value;
  const maxNewTokens = Number($<HTMLInputElement>('max-new').value);
  if (model.task === 'generate' && (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > model.maxNewTokens)) {
    throw new Error(`new tokens must be a whole number from 1 to ${model.maxNewTokens}, got "${$<HTMLInputElement>('max-new').value}"`);
  }
  // A visit the host still counts (one that failed here, or whose end it has not reported yet) is let go at once.
  void current?.poller?.stop().catch(() => {});
  resetOutput(prompt);
  state.model = model.id;
  const visit: NonNullable<typeof current> = { poller: null, abort: new AbortController(), seat: null, started: false };
  current = visit;
  const seatIdentity = $<HTMLInputElement>('seat').checked ? await loadSeatIdentity() : null;
  if (seatIdentity) {
    state.seat = { fingerprint: seatIdentity.fingerprint, safetyCode: safetyCode(seatIdentity.fingerprint), phase: 'waiting for the visit', error: null };
    parties.setParties(state.listing!.parties.map((p) => (p.index === SEAT_PARTY ? { safetyCode: state.seat!.safetyCode, where: 'this tab' } : { safetyCode: p.safetyCode, where: 'hosted' })));
  } else {
    parties.setParties(state.listing!.parties.map((p) => ({ safetyCode: p.safetyCode, where: 'hosted' })));
  }
  setPhase('requesting', 'Asking the host for a visit.');
  const ticket = await api.requestVisit(model.id, seatIdentity ? { party: SEAT_PARTY, fingerprint: seatIdentity.fingerprint } : undefined);
  if (current !== visit || visit.abort.signal.aborted) {
    void api.stop(ticket).catch(() => {});
    return;
  }
  state.visitId = ticket.visitId;
  const onStatus = (s: VisitStatus) => {
    if (current !== visit) return;
    state.visitState = s.state;
    state.position = s.position;
    if (!state.positionsSeen.includes(s.position)) state.positionsSeen.push(s.position);
    if (s.state === 'queued') setPhase('queued', `In the queue: position ${s.position}. The parties are serving someone else; this page keeps your place while it stays open.`);
    else if (s.state === 'starting') setPhase('starting', 'Your turn: the hosted parties and the model owner are joining your session.');
    else if ((s.state === 'ready' || s.state === 'running') && s.session && !visit.started) {
      visit.started = true;
      runVisit(visit, s.session, identity, seatIdentity, model, { prompt, maxNewTokens, pressedAt }).catch((e: unknown) => {
        if (!visit.abort.signal.aborted) fail(errorText(e));
      });
    } else if (s.state === 'failed' || (s.state === 'stopped' && !visit.abort.signal.aborted)) {
      visit.abort.abort(new Error(`the host ended the visit${s.error ? `: ${s.error}` : ''}`));
      visit.seat?.stop('the host ended the visit');
      fail(`the host ended the visit (${s.state})${s.error ? `: ${s.error}` : ''}`);
    }
  };
  visit.poller = new VisitPoller(api, ticket, onStatus, (message) => {
    if (current !== visit || visit.abort.signal.aborted) return;
    visit.abort.abort(new Error(`lost the host: ${message}`));
    visit.seat?.stop('the visitor lost the host');
    fail(`lost the host: ${message}`);
  });
}

async function runVisit(
  visit: NonNullable<typeof current>, session: VisitSession, identity: Identity, seatIdentity: Identity | null, model: HostedModel,
  { prompt, maxNewTokens, pressedAt }: { prompt: string; maxNewTokens: number; pressedAt: number },
): Promise<void> {
  checkVisitParties(session, seatIdentity?.fingerprint ?? null);
  if (session.model.id !== model.id) throw new Error(`the host opened a session for model ${session.model.id}, not ${model.id}`);
  setPhase('connecting', 'Connecting to the parties.');
  if (seatIdentity) {
    visit.seat = await takeSeat({
      coordinator, session, identity: seatIdentity, clientFingerprint: identity.fingerprint, backend: parseBackendChoice(params.get('backend')),
      onStatus: (s) => {
        state.seat!.phase = `${s.phase}: ${s.message}`;
        $('seat-status').textContent = `party 1 in this tab (${s.backend || 'starting'}): ${s.phase}: ${s.message}`;
      },
    });
    visit.seat.done.catch((e: unknown) => {
      state.seat!.error = errorText(e);
      $('seat-status').textContent = `party 1 in this tab: ${errorText(e)}`;
    });
  }
  const result = await runHostedJob(
    {
      coordinator, session, identity, signal: visit.abort.signal, linkRows: $('peer-links'),
      onLinks: (links) => {
        state.links = links;
        parties.setLinks(links);
      },
      onPhase: (phase, message) => setPhase(phase, message),
      onInputShare: (party, step, bytes) => {
        parties.showShare(party, step, bytes);
        if (party === 0 && step === 0) parties.showClearInput(0, `your ${model.task === 'generate' ? 'prompt' : 'text'}\n${JSON.stringify(prompt)}`);
      },
    },
    model.task === 'generate' ? { task: 'generate', prompt, maxNewTokens, onToken: (t) => onToken(t, maxNewTokens, pressedAt) } : { task: 'classify', text: prompt },
  );
  if (result.task === 'generate') state.promptIds = result.result.promptIds;
  else {
    state.label = result.result.label;
    $('generated').textContent = `  → label: ${result.result.label}`;
  }
  if (visit.seat) await visit.seat.done;
  // The host marks the visit done once the session ended normally; past this, it ends an unpolled visit itself.
  setTimeout(() => visit.poller?.finish(), DONE_POLL_MS);
  renderCounters();
  setPhase('done', result.task === 'generate' ? `Done: ${state.tokens.length} tokens, put together only in this page.` : `Done: label ${state.label}, put together only in this page.`);
}

async function stopVisit(): Promise<void> {
  const visit = current;
  if (!visit) return;
  state.stopPressedAt = performance.now();
  setPhase('stopping', 'Stopping: telling the parties and the host.');
  visit.abort.abort(new Error('the visitor pressed Stop'));
  visit.seat?.stop('the visitor pressed Stop');
  try {
    // The host answers once every endpoint it started for the visit is gone.
    await visit.poller?.stop();
    state.stoppedAt = performance.now();
  } catch (e) {
    fail(`the session was closed here, but the host did not take the stop: ${errorText(e)}`);
    return;
  }
  setPhase('stopped', 'Stopped: the parties were told to stop and the host freed them for the next visitor.');
  renderCounters();
}

/** The first listing, asked for a few times: a host busy sharing a model may be slow to answer. */
async function loadListing(): Promise<HostedListing> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.listing();
    } catch (e) {
      if (attempt === LISTING_ATTEMPTS) throw e;
      $('status').textContent = `The host is slow to answer (${errorText(e)}); asking again.`;
    }
  }
}

async function main(): Promise<void> {
  setPhase('loading', 'Loading the host listing.');
  const identity = await loadOrCreateBrowserIdentity();
  state.fingerprint = identity.fingerprint;
  state.safetyCode = showOwnCode($('own-code'), identity);
  showListing(await loadListing());
  setPhase('idle', 'Type something and press the button.');
  $('model').addEventListener('change', showModelControls);
  // The host lists its default model first and adds larger ones once it has shared them.
  setInterval(() => {
    if (['idle', 'done', 'stopped', 'error'].includes(state.phase)) api.listing().then(showListing, () => {});
  }, LISTING_REFRESH_MS);
  $('generate').addEventListener('click', () => {
    startVisit(identity).catch((e: unknown) => fail(errorText(e)));
  });
  $('stop').addEventListener('click', () => void stopVisit());
  setInterval(renderCounters, 1000);
}

main().catch((e: unknown) => fail(errorText(e)));
