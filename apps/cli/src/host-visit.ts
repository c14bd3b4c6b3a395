/**
 * One visit of the hosted demo, as the host runs it: a coordinator session of its own (so the client slot's
 * secret goes only to this visit's token holder), the model owner in this process serving that session, and
 * the hosted parties as `puma party` processes. With a seat, the visitor's tab is party 1: the host starts
 * parties 0 and 2 only, and the owner serves a fresh sharing made for {host 0, visitor, host 2} (a sharing's
 * bundles only ever go to one set of identities).
 */
import { type VisitEvents, type VisitRunner, type RunningVisit, type SeatRequest } from '@puma/coordinator';
import { CLIENT, OWNER, type PartyId } from '@puma/transport';
import { createSession, getSession, type Identity, type PeerChannel } from '@puma/transport-webrtc';
import { serveOwner } from '@puma/worker/session';
import type { HostModel } from './host-models.ts';
import { PartyProcess } from './host-party-process.ts';
import { firstDeparture } from './owner.ts';
import { connectEndpoint, type EndpointIce } from './session-endpoint.ts';

export interface HostSetup {
  /** The coordinator as the host reaches it (loopback). */
  coordinator: string;
  models: ReadonlyMap<string, HostModel>;
  owner: Identity;
  /** Key file and fingerprint of each hosted party. */
  parties: readonly [{ keyFile: string; fingerprint: string }, { keyFile: string; fingerprint: string }, { keyFile: string; fingerprint: string }];
  cacheDir: (party: PartyId) => string;
  runDir: string;
  /** How long endpoints wait for their peers (the visitor's page among them). */
  connectTimeoutS: number;
  /** The owner's STUN/TURN servers and policy; null: host candidates only. */
  ice: EndpointIce | null;
  /** Flags passed through to every `puma party` (the same ICE configuration). */
  partyArgs: readonly string[];
  log: (line: string) => void;
  /** Every line of every party's stderr, for --verbose. */
  partyLog?: (line: string) => void;
}

const READY_POLL_MS = 100;
const API_ATTEMPTS = 3;

/**
 * Calls this host's own coordinator, again when the request did not get through: on a loaded machine a kept-alive
 * loopback connection can be closed by the server just as the client reuses it.
 */
async function retryUnreachable<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= API_ATTEMPTS || !(e instanceof Error && e.message.includes(' unreachable: '))) throw e;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}
/** How long a standby session's endpoints wait for a visitor before they are replaced by fresh ones. */
const STANDBY_WAIT_S = 1800;
/** Standby sessions that failed in a row before the host stops preparing them (cold starts still work). */
const MAX_STANDBY_FAILURES = 3;
const STANDBY_RETRY_MS = 5_000;

/**
 * Forwards a run's events to the visit it serves. A standby run starts before any visitor: its events are held
 * until a visit attaches, then replayed.
 */
class EventRelay implements VisitEvents {
  private target: VisitEvents | null = null;
  private readySession: Parameters<VisitEvents['ready']>[0] | null = null;
  private isRunning = false;
  outcome: Parameters<VisitEvents['finished']>[0] | null = null;

  constructor(private readonly hooks: { ready?: () => void; unattachedEnd?: (outcome: Parameters<VisitEvents['finished']>[0]) => void } = {}) {}

  attach(target: VisitEvents): void {
    this.target = target;
    if (this.readySession) target.ready(this.readySession);
    if (this.isRunning) target.running();
    if (this.outcome) target.finished(this.outcome);
  }

  ready(session: Parameters<VisitEvents['ready']>[0]): void {
    this.readySession = session;
    this.hooks.ready?.();
    this.target?.ready(session);
  }

  running(): void {
    this.isRunning = true;
    this.target?.running();
  }

  finished(outcome: Parameters<VisitEvents['finished']>[0]): void {
    this.outcome = outcome;
    if (this.target) this.target.finished(outcome);
    else this.hooks.unattachedEnd?.(outcome);
  }
}

/**
 * Starts each visit's endpoints. While a slot is free and nobody waits, it keeps one standby session of the
 * default model ready (owner and parties joined, weights loaded), so the next visitor of that model is ready at
 * once instead of waiting for three processes to start.
 */
export class HostVisitRunner implements VisitRunner {
  private standby: { run: VisitRun; relay: EventRelay; model: string } | null = null;
  private standbyFailures = 0;
  private closed = false;

  constructor(private readonly setup: HostSetup, private readonly standbyModel?: string) {}

  start(visit: { visitId: string; model: string; seat?: SeatRequest }, events: VisitEvents): RunningVisit {
    const model = this.setup.models.get(visit.model);
    if (!model) throw new Error(`no model ${visit.model}`);
    const name = visit.visitId.slice(0, 8);
    const standby = this.standby;
    if (standby && standby.model === visit.model && !visit.seat && standby.relay.outcome === null) {
      this.standby = null;
      standby.run.rename(name);
      this.setup.log(`visit ${name}: served by the standby session`);
      standby.relay.attach(events);
      return { stop: (reason) => standby.run.stop(reason) };
    }
    const run = new VisitRun(this.setup, name, model, visit.seat, events, this.setup.connectTimeoutS);
    void run.run();
    return { stop: (reason) => run.stop(reason) };
  }

  idle(): void {
    if (this.closed || this.standby || this.standbyModel === undefined || this.standbyFailures >= MAX_STANDBY_FAILURES) return;
    const model = this.setup.models.get(this.standbyModel);
    if (!model) return;
    const relay = new EventRelay({
      ready: () => (this.standbyFailures = 0),
      unattachedEnd: (outcome) => {
        // Nobody came (the wait ran out) or it failed: prepare a fresh one while the slot stays free.
        if (this.standby?.relay === relay) this.standby = null;
        if (!outcome.ok) this.standbyFailures += 1;
        setTimeout(() => this.idle(), outcome.ok ? 0 : STANDBY_RETRY_MS).unref();
      },
    });
    const run = new VisitRun(this.setup, 'standby', model, undefined, relay, STANDBY_WAIT_S);
    this.standby = { run, relay, model: model.info.id };
    void run.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.standby?.run.stop('the host is shutting down');
  }
}

class VisitRun {
  private stopping: string | null = null;
  private readonly parties: PartyProcess[] = [];
  private ownerChannel: PeerChannel | null = null;
  private finished!: Promise<void>;
  private markFinished!: () => void;

  constructor(
    private readonly setup: HostSetup,
    private name: string,
    private readonly model: HostModel,
    private readonly seat: SeatRequest | undefined,
    private readonly events: VisitEvents,
    private readonly connectTimeoutS: number,
  ) {
    this.finished = new Promise((resolve) => (this.markFinished = resolve));
  }

  async run(): Promise<void> {
    const { setup, model } = this;
    let outcome: { ok: true } | { ok: false; error: string };
    try {
      const hosted: PartyId[] = this.seat ? [0, 2] : [0, 1, 2];
      const approved: [string, string, string] = [setup.parties[0].fingerprint, this.seat?.fingerprint ?? setup.parties[1].fingerprint, setup.parties[2].fingerprint];
      const shares = this.seat ? await model.freshSharing!() : model.shares;
      const session = await retryUnreachable(() => createSession(setup.coordinator, { model: model.info.id }));
      this.setup.log(`visit ${this.name}: session ${session.id}, ${model.info.id}${this.seat ? ', visitor in seat 1' : ''}`);
      this.throwIfStopping();
      const owner = this.serveOwner(session.id, session.slotSecrets.owner, approved, shares, !this.seat);
      for (const p of hosted) {
        const pins = [...([0, 1, 2] as const).filter((q) => q !== p).map((q) => `party${q}=${approved[q]}`), `owner=${setup.owner.fingerprint}`].join(',');
        this.parties.push(await PartyProcess.start({
          party: p as 0 | 1 | 2, coordinator: setup.coordinator, sessionId: session.id, secret: session.slotSecrets[`party${p}`],
          keyFile: setup.parties[p].keyFile, cacheDir: setup.cacheDir(p), runDir: setup.runDir, peers: pins,
          connectTimeoutS: this.connectTimeoutS, extraArgs: setup.partyArgs, onLine: (l) => setup.partyLog?.(`visit ${this.name}: ${l}`),
        }));
        this.throwIfStopping();
      }
      void Promise.race(this.parties.map((p) => p.running)).then(() => this.events.running());
      const ended = Promise.all([owner, ...this.parties.map((p) => p.exited)]);
      const slots = ['owner', ...hosted.map((p) => `party${p}` as const)] as const;
      const ready = this.waitForSlots(session.id, slots).then(() => {
        this.events.ready({
          sessionId: session.id, clientSecret: session.slotSecrets.client, parties: approved, model: { id: model.info.id, task: model.info.task },
          ...(this.seat ? { seatSecret: session.slotSecrets.party1 } : {}),
        });
      });
      const [ownerResult, ...exits] = await Promise.all([ended, ready]).then(([all]) => all);
      const failure = exits.find((e) => !e.ok)?.message ?? (ownerResult.ok ? undefined : ownerResult.message);
      outcome = failure === undefined ? { ok: true } : { ok: false, error: failure };
    } catch (e) {
      const error = this.stopping ?? (e instanceof Error ? e.message : String(e));
      // Also an owner endpoint still joining then leaves as soon as it has joined.
      this.stopping ??= `the visit failed: ${error}`;
      await this.stopEndpoints(this.stopping);
      outcome = { ok: false, error };
    }
    setup.log(`visit ${this.name}: ${outcome.ok ? 'done' : `ended: ${outcome.error}`}`);
    this.events.finished(outcome);
    this.markFinished();
  }

  /** A standby run takes the name of the visit it serves, for the log. */
  rename(name: string): void {
    this.name = name;
  }

  async stop(reason: string): Promise<void> {
    this.stopping ??= reason;
    await this.stopEndpoints(reason);
    await this.finished;
  }

  private throwIfStopping(): void {
    if (this.stopping !== null) throw new Error(this.stopping);
  }

  private async stopEndpoints(reason: string): Promise<void> {
    this.ownerChannel?.close(`the host stopped this visit: ${reason}`);
    await Promise.all(this.parties.map((p) => p.stop()));
  }

  /** The owner endpoint for this session: serves it, then stays until the first peer leaves (as `puma owner` does). */
  private async serveOwner(
    sessionId: string, secret: string, approved: [string, string, string], shares: HostModel['shares'], persistent: boolean,
  ): Promise<{ ok: boolean; message: string }> {
    const { setup } = this;
    try {
      const channel = await connectEndpoint({
        coordinator: setup.coordinator, sessionId, self: OWNER, peers: [0, 1, 2, CLIENT], connectTimeoutMs: this.connectTimeoutS * 1000,
        identity: setup.owner, slotSecret: secret, expectedPeers: { 0: approved[0], 1: approved[1], 2: approved[2] }, log: () => {}, ice: setup.ice,
      });
      this.ownerChannel = channel;
      if (this.stopping !== null) channel.close(`the host stopped this visit: ${this.stopping}`);
      try {
        await serveOwner({ channel, shares, approvedParties: approved, recordHolders: persistent ? () => this.model.recordHolders() : undefined });
        await firstDeparture(channel);
        return { ok: true, message: 'owner served the session' };
      } finally {
        channel.close('model owner: session over');
        await channel.closed;
      }
    } catch (e) {
      // The parties fail too when the owner leaves; their messages name what happened first.
      await Promise.all(this.parties.map((p) => p.stop()));
      return { ok: false, message: `model owner: ${e instanceof Error ? e.message : String(e)}` };
    }
  }

  /** Polls the coordinator until every slot the host fills is registered on the signaling server. */
  private async waitForSlots(sessionId: string, slots: readonly ('owner' | 'party0' | 'party1' | 'party2')[]): Promise<void> {
    const until = Date.now() + this.setup.connectTimeoutS * 1000;
    for (;;) {
      this.throwIfStopping();
      const info = await retryUnreachable(() => getSession(this.setup.coordinator, sessionId));
      if (slots.every((s) => info.slots[s].connected)) return;
      const gone = await Promise.race([...this.parties.map((p) => p.exited), new Promise<null>((r) => setTimeout(() => r(null), READY_POLL_MS))]);
      if (gone !== null) throw new Error(gone.message);
      if (Date.now() > until) throw new Error(`the hosted endpoints did not join within ${this.setup.connectTimeoutS} s`);
    }
  }
}
