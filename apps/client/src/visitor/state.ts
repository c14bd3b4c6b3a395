/** What the visitor page shows, readable by the end-to-end tests (and the console) as window.pumaVisitor.state. */
import type { PeerLinkState } from '@puma/party/trust-ui';
import type { HostedListing, VisitState } from './hosted-api.ts';
import type { LongTaskRecord } from './long-tasks.ts';

export type VisitorPhase =
  | 'loading'
  | 'idle'
  | 'requesting'
  | 'queued'
  | 'starting'
  | 'connecting'
  | 'running'
  | 'done'
  | 'stopping'
  | 'stopped'
  | 'error';

export interface VisitorPageState {
  phase: VisitorPhase;
  /** One line for people, as the page shows it. */
  status: string;
  listing: HostedListing | null;
  /** This browser's client identity. */
  fingerprint: string | null;
  safetyCode: string | null;
  model: string | null;
  visitId: string | null;
  /** The host's state of the current visit. */
  visitState: VisitState | null;
  /** Queue position of the current visit (0: being served), and every position it was told. */
  position: number | null;
  positionsSeen: number[];
  /** Take a seat: this tab's party 1 (its key, what its worker reports). */
  seat: { fingerprint: string; safetyCode: string; phase: string; error: string | null } | null;
  links: PeerLinkState[];
  prompt: string;
  promptIds: number[];
  tokens: number[];
  text: string;
  /** Classification result (bert). */
  label: string | number | null;
  msPerToken: number[];
  /** From pressing Generate to the first token on this page (queue, party start-up, connecting, the prompt step). */
  msToFirstToken: number | null;
  /** Per generated token, the bytes each party sent for it. */
  partyBytesPerToken: number[][];
  /** When the Stop button was pressed, and when the host confirmed the visit ended everywhere (performance.now() ms). */
  stopPressedAt: number | null;
  stoppedAt: number | null;
  /** Main-thread long tasks since the current job started (phase 'running'), through its end. */
  longTasks: LongTaskRecord;
  error: string | null;
}

export function initialState(longTasks: LongTaskRecord): VisitorPageState {
  return {
    phase: 'loading',
    status: 'Loading the host listing.',
    listing: null,
    fingerprint: null,
    safetyCode: null,
    model: null,
    visitId: null,
    visitState: null,
    position: null,
    positionsSeen: [],
    seat: null,
    links: [],
    prompt: '',
    promptIds: [],
    tokens: [],
    text: '',
    label: null,
    msPerToken: [],
    msToFirstToken: null,
    partyBytesPerToken: [],
    stopPressedAt: null,
    stoppedAt: null,
    longTasks,
    error: null,
  };
}

declare global {
  interface Window {
    pumaVisitor?: { state: VisitorPageState };
  }
}
