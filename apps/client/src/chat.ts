/**
 * Chat mode of the client page, without the DOM: an instruct model's public info carries its tokenizer.json and
 * tokenizer_config.json (kind hf-json), whose "chat_template" is rendered with @huggingface/jinja (ChatTemplate,
 * as `puma chat` does) over the conversation held on this page only. Each turn's prompt is the whole history
 * plus the new user message and the generation prompt, tokenized without added special tokens (the template
 * writes them). A reply ends at the first of the model's stop ids (tokenizer_config.json's eos_token and
 * config.json's eos_token_id) or at the token limit; the stop token is not part of the reply's text.
 */
import { ChatTemplate, HfTokenizer, type ChatMessage, type Tokenizer } from '@puma/models';
import type { PublicModelInfo } from '@puma/worker/session';

export interface ChatSetup {
  template: ChatTemplate;
  tokenizer: HfTokenizer;
  stopIds: number[];
}

/** The chat setup of a model, or the reason it has none (shown beside the disabled Chat toggle). */
export function chatSetup(info: Pick<PublicModelInfo, 'modelId' | 'config'>, tokenizer: Tokenizer | null): ChatSetup | { reason: string } {
  if (!info.config.causal || info.config.numLabels > 0) return { reason: `${info.modelId} is not a language model` };
  if (!(tokenizer instanceof HfTokenizer)) {
    return { reason: `${info.modelId} came without tokenizer.json and tokenizer_config.json, which chat needs for its template` };
  }
  if (tokenizer.tokenizerConfig.chat_template === undefined || tokenizer.tokenizerConfig.chat_template === null) {
    return { reason: `${info.modelId} has no chat_template in its tokenizer_config.json; use plain generation` };
  }
  // A carried chat_template.jinja / .json is already the config's template (it wins); errors name that file.
  const template = ChatTemplate.fromTokenizer(tokenizer, `${info.modelId}'s tokenizer_config.json`);
  const stops = new Set<number>();
  const eos = tokenizer.specialToken('eos_token');
  if (eos) stops.add(eos.id);
  if (info.config.eosTokenId !== undefined) stops.add(info.config.eosTokenId);
  return { template, tokenizer, stopIds: [...stops] };
}

export interface ChatReply {
  /** The reply's tokens, up to (not including) the first stop id. */
  ids: number[];
  text: string;
  stoppedBy: 'eos' | 'max-tokens';
}

/** A conversation's history (system message, then user and assistant turns), kept on the page only. */
export class Conversation {
  readonly messages: ChatMessage[] = [];

  constructor(
    private readonly setup: ChatSetup,
    system?: string,
  ) {
    if (system !== undefined && system.trim() !== '') this.messages.push({ role: 'system', content: system });
  }

  /** The prompt for the next reply: the history and `user` rendered with the generation prompt, and its tokens. */
  prompt(user: string): { text: string; ids: number[] } {
    if (user.trim() === '') throw new Error('type a message first');
    const text = this.setup.template.render([...this.messages, { role: 'user', content: user }], true);
    const ids = this.setup.tokenizer.encode(text);
    if (ids.length === 0) throw new Error(`${this.setup.template.source} rendered an empty prompt`);
    return { text, ids };
  }

  /** Cuts generated tokens at the first stop id. */
  reply(generated: readonly number[]): ChatReply {
    const stop = generated.findIndex((t) => this.setup.stopIds.includes(t));
    const ids = stop < 0 ? [...generated] : generated.slice(0, stop);
    return { ids, text: this.setup.tokenizer.decode(ids), stoppedBy: stop < 0 ? 'max-tokens' : 'eos' };
  }

  /** Adds a finished turn to the history. */
  commit(user: string, reply: ChatReply): void {
    this.messages.push({ role: 'user', content: user }, { role: 'assistant', content: reply.text });
  }
}
