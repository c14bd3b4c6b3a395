/**
 * The hosted demo's HTTP API as the visitor page sees it (served by `puma host` on the page's own origin): the
 * listing (models, hosted parties), asking for a visit, polling it, stopping it. Every answer is checked field by
 * field, so a host that answers something else is named in an error instead of breaking the page later.
 */
import { parseFingerprint } from '@puma/transport-webrtc';

// The contract's types are the host's own (apps/coordinator/src/hosted-types.ts); type-only, so no server code
// reaches the page's bundle.
export type {
  HostedTask as ModelTask, HostedModel, HostedParty, HostedInfo as HostedListing, VisitState, VisitSession,
  CreatedVisit as VisitTicket, VisitView as VisitStatus,
} from '@puma/coordinator';
import type {
  HostedTask as ModelTask, HostedModel, HostedParty, HostedInfo as HostedListing, VisitState, VisitSession,
  CreatedVisit as VisitTicket, VisitView as VisitStatus,
} from '@puma/coordinator';

const VISIT_STATES: readonly VisitState[] = ['queued', 'starting', 'ready', 'running', 'done', 'stopped', 'failed'];

type Json = Record<string, unknown>;

function object(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} is not an object`);
  return v as Json;
}
function string(o: Json, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new Error(`${what}.${key} is not a non-empty string`);
  return v;
}
function count(o: Json, key: string, what: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`${what}.${key} is not a whole number`);
  return v;
}
function task(o: Json, what: string): ModelTask {
  const v = o.task;
  if (v !== 'generate' && v !== 'classify') throw new Error(`${what}.task must be "generate" or "classify", got ${JSON.stringify(v)}`);
  return v;
}

export function parseListing(body: unknown): HostedListing {
  const o = object(body, 'the host listing');
  if (!Array.isArray(o.models) || o.models.length === 0) throw new Error('the host listing names no models');
  const models = o.models.map((m, i) => {
    const what = `the host listing's models[${i}]`;
    const mo = object(m, what);
    if (typeof mo.default !== 'boolean') throw new Error(`${what}.default is not true or false`);
    return { id: string(mo, 'id', what), label: string(mo, 'label', what), task: task(mo, what), default: mo.default, maxNewTokens: count(mo, 'maxNewTokens', what) };
  });
  if (!Array.isArray(o.parties) || o.parties.length !== 3) throw new Error('the host listing must name 3 parties');
  const parties = o.parties.map((p, i) => {
    const what = `the host listing's parties[${i}]`;
    const po = object(p, what);
    if (po.index !== i) throw new Error(`${what}.index must be ${i}, got ${JSON.stringify(po.index)}`);
    return { index: i as 0 | 1 | 2, fingerprint: parseFingerprint(string(po, 'fingerprint', what), `${what}.fingerprint`), safetyCode: string(po, 'safetyCode', what) };
  });
  if (typeof o.seats !== 'boolean') throw new Error('the host listing\'s "seats" is not true or false');
  return { models, parties, maxConcurrent: count(o, 'maxConcurrent', 'the host listing'), seats: o.seats };
}

function parseSession(v: unknown): VisitSession {
  const what = 'the visit\'s session';
  const o = object(v, what);
  if (!Array.isArray(o.parties) || o.parties.length !== 3) throw new Error(`${what} must name 3 parties`);
  const parties = o.parties.map((fp, i) => parseFingerprint(String(fp), `${what}.parties[${i}]`)) as [string, string, string];
  const model = object(o.model, `${what}.model`);
  return {
    coordinator: string(o, 'coordinator', what),
    sessionId: string(o, 'sessionId', what),
    clientSecret: string(o, 'clientSecret', what),
    parties,
    model: { id: string(model, 'id', `${what}.model`), task: task(model, `${what}.model`) },
    ...(o.seatSecret === undefined ? {} : { seatSecret: string(o, 'seatSecret', what) }),
  };
}

export function parseVisitStatus(body: unknown): VisitStatus {
  const o = object(body, 'the visit status');
  const state = o.state as VisitState;
  if (!VISIT_STATES.includes(state)) throw new Error(`the visit status has an unknown state ${JSON.stringify(o.state)}`);
  return {
    state,
    position: count(o, 'position', 'the visit status'),
    ...(typeof o.error === 'string' ? { error: o.error } : {}),
    ...(o.session === undefined || o.session === null ? {} : { session: parseSession(o.session) }),
  };
}

/** How long one API request may take before the page gives up on it with an error. */
const REQUEST_TIMEOUT_MS = 10_000;

/** The host's API next to this page (relative, so a host behind a reverse proxy under a path prefix works). */
export class HostedApi {
  constructor(private readonly base: URL) {}

  static forPage(): HostedApi {
    return new HostedApi(new URL('./api/hosted', location.href));
  }

  async listing(): Promise<HostedListing> {
    return parseListing(await this.request('GET', '', undefined, {}, 'the host listing'));
  }

  async requestVisit(model: string, seat?: { party: 1; fingerprint: string }): Promise<VisitTicket> {
    const o = object(await this.request('POST', '/visits', { model, ...(seat ? { seat } : {}) }, {}, 'a visit'), 'the visit ticket');
    return { visitId: string(o, 'visitId', 'the visit ticket'), token: string(o, 'token', 'the visit ticket'), position: count(o, 'position', 'the visit ticket') };
  }

  async status(ticket: VisitTicket): Promise<VisitStatus> {
    return parseVisitStatus(await this.request('GET', `/visits/${encodeURIComponent(ticket.visitId)}`, undefined, { 'x-visit-token': ticket.token }, 'the visit status'));
  }

  async stop(ticket: VisitTicket): Promise<void> {
    await this.request('POST', `/visits/${encodeURIComponent(ticket.visitId)}/stop`, undefined, { 'x-visit-token': ticket.token }, 'stopping the visit');
  }

  /** For pagehide: a beacon survives the page's unloading where fetch may not. */
  stopBeacon(ticket: VisitTicket): boolean {
    const url = new URL(`${this.base.href}/visits/${encodeURIComponent(ticket.visitId)}/stop`);
    url.searchParams.set('token', ticket.token);
    return navigator.sendBeacon(url.href);
  }

  private async request(method: string, path: string, body: unknown, headers: Record<string, string>, what: string): Promise<unknown> {
    const url = `${this.base.href}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (e) {
      throw new Error(`could not reach the host for ${what} (${method} ${url}): ${e instanceof Error ? e.message : String(e)}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      throw new Error(`the host answered ${what} with ${res.status} and no JSON: ${text.slice(0, 120)}`);
    }
    if (!res.ok) {
      const error = typeof (parsed as Json | null)?.error === 'string' ? (parsed as Json).error : text.slice(0, 200);
      throw new Error(`the host refused ${what} (${res.status}): ${error}`);
    }
    return parsed;
  }
}
