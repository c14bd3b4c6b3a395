/**
 * Test harness for host.test.ts: a visitor in Node. It speaks the hosted API as the visitor page does (create a
 * visit, poll it every 500 ms, stop it), then joins the visit's session as the client with its own identity,
 * approving the parties the visit names, and generates with the CLI's client code. A seat visitor also runs
 * party 1 (`puma party` with the visitor's own key), as the visitor's tab would.
 */
import { CLIENT, OWNER, type EndpointId } from '@puma/transport';
import { generateIdentity, type Identity, type PeerChannel } from '@puma/transport-webrtc';
import { openClientSession, type ClientSession } from '@puma/worker/session';
import type { VisitView } from '@puma/coordinator';
import { connectEndpoint } from './session-endpoint.ts';
import { puma, type Child } from './session-test-harness.ts';

export interface ApiAnswer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export async function call<T = Record<string, unknown>>(base: string, method: 'GET' | 'POST', path: string, o: { body?: unknown; token?: string } = {}): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = {};
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (o.token !== undefined) headers['x-visit-token'] = o.token;
  const send = () => fetch(new URL(path, base), {
    method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body), signal: AbortSignal.timeout(30_000),
  });
  let res: Response;
  try {
    res = await send();
  } catch (e) {
    // A kept-alive connection the server closed meanwhile is reset on reuse; the request never arrived, so it is sent again.
    if (!/ECONNRESET|other side closed/.test(String((e as { cause?: unknown }).cause ?? e))) throw e;
    res = await send();
  }
  return { status: res.status, body: (await res.json()) as T };
}

/** A visit as its page holds it: polled every 500 ms (which keeps it alive) until `stopPolling`. */
export class Visit {
  last: VisitView;
  readonly states: string[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;

  private constructor(readonly base: string, readonly id: string, readonly token: string, readonly position: number) {
    this.last = { state: 'queued', position };
  }

  static async create(base: string, model: string, seat?: { party: 1; fingerprint: string }): Promise<Visit> {
    const answer = await call<{ visitId: string; token: string; position: number; error?: string }>(base, 'POST', '/api/hosted/visits', { body: { model, ...(seat ? { seat } : {}) } });
    if (answer.status !== 201) throw new Error(`creating a visit answered ${answer.status}: ${answer.body.error}`);
    const visit = new Visit(base, answer.body.visitId, answer.body.token, answer.body.position);
    visit.startPolling();
    return visit;
  }

  async poll(): Promise<VisitView> {
    const answer = await call<VisitView & { error?: string }>(this.base, 'GET', `/api/hosted/visits/${this.id}`, { token: this.token });
    if (answer.status !== 200) throw new Error(`polling visit ${this.id} answered ${answer.status}: ${answer.body.error}`);
    this.last = answer.body;
    if (this.states.at(-1) !== answer.body.state) this.states.push(answer.body.state);
    return answer.body;
  }

  startPolling(): void {
    this.timer ??= setInterval(() => void this.poll().catch(() => {}), 500);
  }

  stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Polls until `pred` holds for the visit's answer; fails naming the states seen when it ended otherwise or after `ms`. */
  async until(pred: (v: VisitView) => boolean, ms: number, what: string): Promise<VisitView> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await this.poll().catch((e: unknown) => {
        // A poll that failed (a busy machine) is retried until the deadline, as the page does.
        if (Date.now() > end) throw e;
        return null;
      });
      if (v && pred(v)) return v;
      const over = v !== null && ['done', 'stopped', 'failed'].includes(v.state);
      if (v && (over || Date.now() > end)) throw new Error(`visit ${this.id.slice(0, 8)}: no ${what} within ${ms} ms (states ${this.states.join(' > ')}, last ${JSON.stringify(v)})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<ApiAnswer> {
    return call(this.base, 'POST', `/api/hosted/visits/${this.id}/stop`, { token: this.token });
  }
}

/** The visitor's client endpoint in the visit's session, approving exactly the parties the visit names. */
export async function joinAsClient(view: VisitView, identity?: Identity): Promise<{ channel: PeerChannel; session: ClientSession }> {
  const s = view.session;
  if (!s) throw new Error(`visit has no session yet (state ${view.state})`);
  const me = identity ?? (await generateIdentity()).identity;
  const peers: EndpointId[] = [0, 1, 2, OWNER];
  const channel = await connectEndpoint({
    coordinator: s.coordinator, sessionId: s.sessionId, self: CLIENT, peers, connectTimeoutMs: 60_000, identity: me, slotSecret: s.clientSecret,
    expectedPeers: { 0: s.parties[0], 1: s.parties[1], 2: s.parties[2] }, log: () => {},
  });
  return { channel, session: await openClientSession({ channel, approvedParties: s.parties }) };
}

/**
 * Party 1 of a seat visit as the visitor's tab would run it, in a process of its own: `puma party` with the
 * visitor's key file, pinning the hosted parties it was told about, without a cache.
 */
export function runSeat(view: VisitView, keyFile: string): Child {
  const s = view.session;
  if (!s?.seatSecret) throw new Error('the visit has no seat secret');
  return puma('seat', [
    'party', '--coordinator', s.coordinator, '--session', s.sessionId, '--party', '1', '--secret', s.seatSecret, '--key', keyFile,
    '--peers', `party0=${s.parties[0]},party2=${s.parties[2]}`, '--backend', 'wasm',
  ]);
}
