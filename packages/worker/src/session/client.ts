/**
 * The client's side: public model info from the owner, then jobs on the parties. The client alone sees the
 * prompt in the clear and alone reconstructs the output, and its input shares go only to the parties it
 * approved: each party's link must have proved the approved identity before any job is sent.
 */
import { LLAMA_BOS, buildsModelInput, type Tokenizer } from '@puma/models';
import { classifyClient, generateClient, greedy } from '@puma/models/secure';
import { CLIENT, OWNER, type PartyId } from '@puma/transport';
import { SessionGuard } from './guard.ts';
import { decodeJson, encodeJson } from './json.ts';
import { decodePublicInfo, tokenizerFromSource } from './public-info.ts';
import { checkPeersIfAuthenticated, checkRoster, type Roster } from './roster.ts';
import { StepWatch, checkStepTimeout, trackReceives, type TrackedChannel } from './step-watch.ts';
import type {
  ClassifyResult, ClientSession, ClientSessionOptions, ClientStatus, GenerateOptions, GenerateResult, JobRequest, PublicModelInfo, StepCost,
} from './types.ts';

const PARTIES = [0, 1, 2] as const;

type ClientEmit = (phase: ClientStatus['phase'], message: string, error?: string) => void;

/**
 * Waits for the owner's public model info and for the three parties to be ready (their links are then up and
 * proven), checks each party's identity against `approvedParties`, and returns a session that runs jobs on them.
 */
export async function openClientSession(o: ClientSessionOptions): Promise<ClientSession> {
  if (o.channel.self !== CLIENT) throw new Error(`the client runs on endpoint ${CLIENT}, not ${o.channel.self}`);
  const approved = checkRoster(o.approvedParties, 'client: approved parties');
  const stepTimeoutMs = checkStepTimeout(o.stepTimeoutMs);
  const channel = trackReceives(o.channel);
  const guard = new SessionGuard(channel, [...PARTIES, OWNER], o.signal);
  const emit: ClientEmit = (phase, message, error) =>
    o.onStatus?.({ phase, message, bytesSent: channel.stats.bytesSent, bytesReceived: channel.stats.bytesReceived, error });
  let info: PublicModelInfo;
  let tokenizer: Tokenizer | null;
  try {
    emit('waiting-for-model', 'waiting for the model description from the owner');
    info = decodePublicInfo(await guard.run(channel.recv(OWNER, 'public')));
    channel.send(OWNER, 'public:ok', new Uint8Array(0));
    tokenizer = info.tokenizer ? tokenizerFromSource(info.tokenizer, info.config.vocabSize) : null;
    emit('waiting-for-model', `model ${info.modelId}: waiting for the parties to load their weights`);
    await guard.run(Promise.all(PARTIES.map((p) => channel.recv(p, 'ready'))));
    checkPeersIfAuthenticated(channel, approved, PARTIES);
  } catch (e) {
    const err = guard.fail(e);
    emit('error', err.message, err.message);
    throw err;
  }
  emit('ready', `model ${info.modelId} (${info.config.arch}, ${info.config.numLayers} layers); ready`);
  return new ClientSessionImpl(channel, guard, info, tokenizer, emit, approved, stepTimeoutMs);
}

/** openClientSession + one generation + end. */
export async function runClientSession(o: ClientSessionOptions & GenerateOptions): Promise<GenerateResult> {
  const session = await openClientSession(o);
  const result = await session.generate(o);
  session.end();
  return result;
}

class ClientSessionImpl implements ClientSession {
  private jobs = 0;
  private busy = false;
  private over = false;
  private failure: Error | null = null;

  constructor(
    private readonly channel: TrackedChannel,
    private readonly guard: SessionGuard,
    readonly info: PublicModelInfo,
    readonly tokenizer: Tokenizer | null,
    private readonly emit: ClientEmit,
    private readonly approved: Roster,
    private readonly stepTimeoutMs: number,
  ) {
    // A failure between jobs (a party stopped, a link dropped) ends the session too; the next job call says why.
    guard.failed.catch((err: Error) => this.ended(err));
  }

  async generate(o: GenerateOptions): Promise<GenerateResult> {
    const c = this.info.config;
    const reveal = o.reveal ?? 'logits';
    if (reveal !== 'logits' && reveal !== 'argmax') throw new Error(`reveal must be "logits" or "argmax", got ${JSON.stringify(reveal)}`);
    if (!c.causal || c.numLabels > 0) throw new Error(`model ${this.info.modelId} is not a causal language model; use classify`);
    const promptIds = typeof o.prompt === 'string' ? this.encodePrompt(o.prompt) : [...o.prompt];
    for (const t of promptIds) {
      if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new Error(`prompt token ${t} is outside the vocabulary of ${c.vocabSize}`);
    }
    if (promptIds.length === 0) throw new Error('the prompt has no tokens');
    const room = c.maxPositions - promptIds.length;
    if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1 || o.maxNewTokens > room) {
      throw new Error(`maxNewTokens must be an integer in [1, ${room}] (prompt of ${promptIds.length} tokens, model of ${c.maxPositions} positions), got ${o.maxNewTokens}`);
    }
    return this.job(async (n, watch) => {
      const earlyStop = o.stopIds !== undefined;
      this.send(n, { kind: 'generate', promptLength: promptIds.length, maxNewTokens: o.maxNewTokens, reveal, earlyStop, parties: this.approved });
      this.emit('running', `job ${n}: generating ${o.maxNewTokens} tokens`);
      const t0 = performance.now();
      const tokens: number[] = [];
      const costs: StepCost[][] = [];
      let text = '';
      let last = t0;
      // Token events wait for the parties' cost reports of their step, which follow the output shares.
      let events = Promise.resolve();
      await this.guard.run(generateClient(this.channel, {
        job: n, prompt: promptIds, vocab: c.vocabSize, maxNewTokens: o.maxNewTokens, reveal, pick: o.pick ?? greedy, stopIds: o.stopIds,
        onToken: (s, i) => {
          watch.progress(Math.min(i + 1, o.maxNewTokens - 1));
          const now = performance.now();
          const ms = now - last;
          last = now;
          tokens.push(s.token);
          const full = this.tokenizer ? this.tokenizer.decode(tokens) : '';
          const piece = full.slice(text.length);
          text = full;
          const cost = this.costs(n, i);
          events = events.then(async () => {
            const perParty = await cost;
            costs[i] = perParty;
            o.onToken?.({ index: i, token: s.token, text: piece, ms, cost: perParty, logits: s.logits });
          });
        },
      }));
      await this.guard.run(events);
      const seconds = (performance.now() - t0) / 1000;
      this.emit('ready', `job ${n}: ${tokens.length} tokens in ${seconds.toFixed(1)} s`);
      return { promptIds, tokens, text, costs, seconds };
    });
  }

  async classify(o: { text: string } | { ids: readonly number[] }): Promise<ClassifyResult> {
    const c = this.info.config;
    if (c.numLabels === 0) throw new Error(`model ${this.info.modelId} has no classifier head; use generate`);
    let ids: number[];
    if ('ids' in o) {
      ids = [...o.ids];
    } else {
      if (!buildsModelInput(this.tokenizer)) throw new Error(`model ${this.info.modelId} came without a BERT tokenizer (tokenizer.json or vocab.txt); pass token ids`);
      ids = this.tokenizer.encodeForModel(o.text, undefined, c.maxPositions).ids;
    }
    if (ids.length === 0 || ids.length > c.maxPositions) throw new Error(`classify needs 1 to ${c.maxPositions} tokens, got ${ids.length}`);
    for (const t of ids) if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new Error(`token ${t} is outside the vocabulary of ${c.vocabSize}`);
    return this.job(async (n) => {
      this.send(n, { kind: 'classify', length: ids.length, parties: this.approved });
      this.emit('running', `job ${n}: classifying ${ids.length} tokens`);
      const t0 = performance.now();
      const logits = await this.guard.run(classifyClient(this.channel, { job: n, ids, vocab: c.vocabSize }));
      await this.guard.run(this.costs(n, 0));
      const best = greedy(logits);
      const seconds = (performance.now() - t0) / 1000;
      this.emit('ready', `job ${n}: classified in ${seconds.toFixed(1)} s`);
      return { ids, logits, label: c.labels?.[best] ?? best, seconds };
    });
  }

  end(): void {
    if (this.over) return;
    if (this.busy) throw new Error('a job is still running; wait for it before ending the session');
    this.over = true;
    this.send(this.jobs, { kind: 'end', parties: this.approved });
    this.guard.finish();
    this.emit('done', `session over after ${this.jobs} job(s)`);
  }

  private encodePrompt(text: string): number[] {
    if (!this.tokenizer) throw new Error(`model ${this.info.modelId} came without a tokenizer; pass the prompt as token ids`);
    const c = this.info.config;
    const ids = this.tokenizer.encode(text);
    if (c.arch === 'llama') return [c.bosTokenId ?? LLAMA_BOS, ...ids];
    // GPT-2 has no BOS; an empty prompt starts from its end-of-text token, as in its training data.
    return ids.length > 0 ? ids : [c.eosTokenId ?? 0];
  }

  /** Sends job header n to every party, after checking again that each link proved the approved identity. */
  private send(n: number, job: JobRequest): void {
    checkPeersIfAuthenticated(this.channel, this.approved, PARTIES as readonly PartyId[]);
    for (const p of PARTIES) this.channel.send(p, `job:${n}`, encodeJson(job));
  }

  private costs(n: number, step: number): Promise<StepCost[]> {
    return Promise.all(PARTIES.map(async (p) => decodeJson(await this.channel.recv(p, `j${n}/cost:${step}`), `cost report from party ${p}`) as StepCost));
  }

  /** Runs one job at a time with a deadline per step; a failure ends the session (the parties stop too). */
  private async job<T>(body: (n: number, watch: StepWatch) => Promise<T>): Promise<T> {
    if (this.over) throw this.failure ?? new Error('the session is over');
    if (this.busy) throw new Error('a job is already running; the parties run one at a time');
    this.busy = true;
    const n = this.jobs++;
    const watch = new StepWatch(n, this.stepTimeoutMs, this.channel, (e) => this.guard.fail(e));
    try {
      return await body(n, watch);
    } catch (e) {
      const err = this.guard.fail(e);
      this.ended(err);
      throw err;
    } finally {
      watch.stop();
      this.busy = false;
    }
  }

  private ended(err: Error): void {
    if (this.over) return;
    this.over = true;
    this.failure = err;
    this.emit('error', err.message, err.message);
  }
}
