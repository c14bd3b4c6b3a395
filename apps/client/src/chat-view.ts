/**
 * The client page's Chat toggle and conversation log. Enabled only for a model whose public info carries a
 * chat template (chat.ts); otherwise it says why. In chat mode the prompt box holds the next user message: the
 * page renders the whole conversation with the template, generates from those tokens, cuts the reply at the
 * model's first stop id and adds both turns to the history, which lives on this page only ("New conversation"
 * clears it). The parties run every requested step; they cannot be told to stop early over the network yet.
 */
import { Conversation, chatSetup, type ChatReply, type ChatSetup } from './chat.ts';
import type { PublicModelInfo } from '@puma/worker/session';
import type { Tokenizer } from '@puma/models';

export interface ChatTurn {
  user: string;
  /** The rendered prompt text (history, this message, the generation prompt). */
  prompt: string;
  promptIds: number[];
  /** Every token the parties generated for this turn (the reply, the stop token and anything after it). */
  generated: number[];
  reply: string;
  stoppedBy: ChatReply['stoppedBy'];
}

/** What the page shows of chat mode, readable by the end-to-end tests (window.pumaClient.state.chat). */
export interface ChatState {
  available: boolean;
  /** Why there is no chat mode for this model; null when there is one. */
  reason: string | null;
  on: boolean;
  stopIds: number[];
  turns: ChatTurn[];
}

export interface ChatElements {
  toggle: HTMLInputElement;
  note: HTMLElement;
  system: HTMLInputElement;
  reset: HTMLButtonElement;
  log: HTMLElement;
  send: HTMLButtonElement;
}

export class ChatView {
  private setup: ChatSetup | null = null;
  private conversation: Conversation | null = null;

  constructor(
    private readonly el: ChatElements,
    readonly state: ChatState,
  ) {
    el.toggle.addEventListener('change', () => this.setOn(el.toggle.checked));
    el.reset.addEventListener('click', () => this.reset());
  }

  /** Called once the owner's public model info arrived. */
  attach(info: PublicModelInfo, tokenizer: Tokenizer | null): void {
    let s: ChatSetup | { reason: string };
    try {
      s = chatSetup(info, tokenizer);
    } catch (e) {
      s = { reason: e instanceof Error ? e.message : String(e) };
    }
    if ('reason' in s) {
      this.state.reason = s.reason;
      this.el.note.textContent = `No chat mode: ${s.reason}.`;
      return;
    }
    this.setup = s;
    Object.assign(this.state, { available: true, reason: null, stopIds: s.stopIds });
    this.el.toggle.disabled = false;
    this.el.note.textContent = `${info.modelId} has a chat template; replies end at token ${s.stopIds.join(' or ')}.`;
  }

  get on(): boolean {
    return this.state.on;
  }

  /** The prompt for `user`'s message, from the conversation so far; throws when it does not fit the model. */
  begin(user: string, maxNewTokens: number, maxPositions: number): { text: string; ids: number[] } {
    if (!this.setup) throw new Error('this model has no chat mode');
    this.conversation ??= new Conversation(this.setup, this.el.system.value);
    this.el.system.disabled = true;
    const p = this.conversation.prompt(user);
    if (p.ids.length + maxNewTokens > maxPositions) {
      throw new Error(`the conversation is ${p.ids.length} tokens; with ${maxNewTokens} new tokens it exceeds the model's ${maxPositions} positions (start a new conversation)`);
    }
    return p;
  }

  /** The reply as far as generated (cut at a stop id), for streaming it onto the page. */
  partial(generated: readonly number[]): string {
    return this.conversation?.reply(generated).text ?? '';
  }

  /** Ends a turn: the reply cut at its stop id joins the history and the log. */
  finish(user: string, prompt: { text: string; ids: number[] }, generated: number[]): ChatTurn {
    const reply = this.conversation!.reply(generated);
    this.conversation!.commit(user, reply);
    const turn: ChatTurn = { user, prompt: prompt.text, promptIds: prompt.ids, generated, reply: reply.text, stoppedBy: reply.stoppedBy };
    this.state.turns.push(turn);
    this.renderLog();
    return turn;
  }

  private setOn(on: boolean): void {
    this.state.on = on && this.setup !== null;
    this.el.log.hidden = !this.state.on;
    this.el.system.hidden = !this.state.on;
    this.el.reset.hidden = !this.state.on;
    this.el.send.textContent = this.state.on ? 'Send' : 'Generate';
  }

  private reset(): void {
    this.conversation = null;
    this.state.turns = [];
    this.el.system.disabled = false;
    this.renderLog();
  }

  private renderLog(): void {
    this.el.log.replaceChildren();
    for (const t of this.state.turns) {
      for (const [who, text] of [['you', t.user], ['model', t.reply]] as const) {
        const p = document.createElement('p');
        p.className = `turn ${who}`;
        const b = document.createElement('b');
        b.textContent = who === 'you' ? 'You: ' : 'Model: ';
        p.append(b, text);
        this.el.log.append(p);
      }
    }
  }
}
