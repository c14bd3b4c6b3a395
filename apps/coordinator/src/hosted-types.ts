/**
 * The hosted demo's HTTP contract (`puma host`, `npm run demo -- --hosted`), shared by the visitor page and the
 * host: which models and parties the host offers, and the visits that queue for them. The coordinator serves
 * it under /api/hosted; the host process supplies a VisitRunner that starts and stops each visit's endpoints.
 */

export type HostedTask = 'generate' | 'classify';

export interface HostedModel {
  id: string;
  label: string;
  task: HostedTask;
  default: boolean;
  /** How many tokens the page asks for at most (0 for a classifier). */
  maxNewTokens: number;
}

export interface HostedParty {
  index: 0 | 1 | 2;
  /** Lowercase hex SHA-256 of the party's long-term public key. */
  fingerprint: string;
  safetyCode: string;
}

/** GET /api/hosted */
export interface HostedInfo {
  models: HostedModel[];
  parties: HostedParty[];
  maxConcurrent: number;
  /** Whether a visitor may take a seat (run party 1 in their own tab) for some model. */
  seats: boolean;
}

/** A visitor's wish to run party 1 in their own tab, with their browser identity. */
export interface SeatRequest {
  party: 1;
  fingerprint: string;
}

/** POST /api/hosted/visits body. */
export interface VisitRequest {
  model: string;
  seat?: SeatRequest;
}

/** POST /api/hosted/visits answer (201). `token` is the visit's 128-bit secret; position 0 = being served. */
export interface CreatedVisit {
  visitId: string;
  token: string;
  position: number;
}

export type VisitState = 'queued' | 'starting' | 'ready' | 'running' | 'done' | 'stopped' | 'failed';

/** What the visitor's client needs to join its session; only the visit's token holder ever sees it. */
export interface VisitSession {
  coordinator: string;
  sessionId: string;
  clientSecret: string;
  /** Fingerprints of parties 0, 1, 2 the client approves (party 1 is the visitor's own with a seat). */
  parties: [string, string, string];
  model: { id: string; task: HostedTask };
  /** Party 1's slot secret, for a visitor who took a seat. */
  seatSecret?: string;
}

/** GET /api/hosted/visits/:id answer. */
export interface VisitView {
  state: VisitState;
  position: number;
  error?: string;
  session?: VisitSession;
}

/** How a running visit reports progress to the queue. */
export interface VisitEvents {
  /**
   * The owner and the hosted parties joined the session: the client may connect. The API adds `coordinator`
   * (the origin the visitor reached).
   */
  ready(session: Omit<VisitSession, 'coordinator'>): void;
  /** The parties started computing the client's first job. */
  running(): void;
  /** Every endpoint the host started for the visit has ended: normally ('done') or not ('failed'). */
  finished(outcome: { ok: true } | { ok: false; error: string }): void;
}

export interface RunningVisit {
  /** Ends every endpoint of the visit (the reason goes to the peers); resolves once they are all gone. */
  stop(reason: string): Promise<void>;
}

/** The host's side: starts one visit's endpoints (session, owner, hosted parties) and reports through `events`. */
export interface VisitRunner {
  start(visit: { visitId: string; model: string; seat?: SeatRequest }, events: VisitEvents): RunningVisit;
  /** A slot is free and nobody waits: the host may prepare endpoints for the next visitor ahead of time. */
  idle?(): void;
  /** The host shuts down: ends whatever it prepared ahead of time. */
  close?(): Promise<void>;
}
