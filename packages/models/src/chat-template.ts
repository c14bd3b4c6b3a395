/**
 * Chat templates: the Jinja text instruct models ship in tokenizer_config.json ("chat_template", a string or a
 * list of named templates), or in a file of its own beside it, rendered with @huggingface/jinja the way
 * transformers' apply_chat_template does: the variables messages, add_generation_prompt, bos_token, eos_token (and
 * the other special tokens the config names); @huggingface/jinja provides raise_exception itself. The rendered
 * text already holds the special tokens the template writes (e.g. BOS), so it is tokenized without adding any
 * (HfTokenizer.encode).
 *
 * Where the template comes from, as transformers' tokenizer loading decides it: a separate chat_template.jinja
 * (the template's text; newer folders save it there) takes priority over tokenizer_config.json's entry; we also
 * read chat_template.json ({ "chat_template": ... }, the processors' older format) when there is no .jinja.
 */
import { Template } from '@huggingface/jinja';

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token'];

/** A special token from tokenizer_config.json: a string or an AddedToken object { content }. */
function specialText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** The separate template files of a model folder, in priority order (the first present wins over the rest). */
export const CHAT_TEMPLATE_FILES = ['chat_template.jinja', 'chat_template.json'] as const;
export type ChatTemplateFileName = (typeof CHAT_TEMPLATE_FILES)[number];

/** A separate template file's contents: `name` says how to read it, `source` is how errors name it (its path). */
export interface ChatTemplateFile {
  readonly name: ChatTemplateFileName;
  readonly text: string;
  readonly source: string;
}

/**
 * The template value a separate file holds: chat_template.jinja's whole text, or chat_template.json's
 * "chat_template" (a string or a list of named templates). A malformed file is an error naming it.
 */
export function chatTemplateOfFile(f: ChatTemplateFile): unknown {
  if (f.name === 'chat_template.jinja') return f.text;
  let doc: unknown;
  try {
    doc = JSON.parse(f.text);
  } catch (err) {
    throw new Error(`${f.source}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !('chat_template' in doc)) {
    throw new Error(`${f.source}: must be a JSON object with a "chat_template" entry`);
  }
  return (doc as { chat_template: unknown }).chat_template;
}

export class ChatTemplate {
  readonly #template: Template;
  readonly #specials: Record<string, string>;
  readonly source: string;

  private constructor(template: Template, specials: Record<string, string>, source: string) {
    this.#template = template;
    this.#specials = specials;
    this.source = source;
  }

  /**
   * The template of a tokenizer_config.json (parsed). `templateFile` names the separate file the config's
   * "chat_template" was taken from (HfTokenizer puts a chat_template.jinja's text there), so errors name that file.
   * A list of named templates uses the one named "default". A model without one is an error naming the file.
   */
  static fromConfig(tokenizerConfig: Readonly<Record<string, unknown>>, source = 'tokenizer_config.json', templateFile?: string): ChatTemplate {
    let text: unknown = tokenizerConfig.chat_template;
    const where = templateFile ?? `${source} "chat_template"`;
    if (Array.isArray(text)) {
      const named = text.find((t) => (t as { name?: unknown })?.name === 'default');
      if (!named) throw new Error(`${where} lists templates named ${JSON.stringify(text.map((t) => (t as { name?: unknown })?.name))} but none is "default"`);
      text = (named as { template?: unknown }).template;
    }
    if (text === undefined || text === null) {
      throw new Error(`${source} has no "chat_template" (and there is no chat_template.jinja or chat_template.json): this model has no chat format; use "puma generate" for plain text`);
    }
    if (typeof text !== 'string' || text.trim() === '') throw new Error(`${where} must be a non-empty string of Jinja text`);
    let template: Template;
    try {
      template = new Template(text);
    } catch (err) {
      throw new Error(`${where} is not a valid Jinja template: ${(err as Error).message}`);
    }
    const specials: Record<string, string> = {};
    for (const key of SPECIAL_KEYS) {
      const v = specialText(tokenizerConfig[key]);
      if (v !== undefined) specials[key] = v;
    }
    return new ChatTemplate(template, specials, where);
  }

  /** The template of a tokenizer from tokenizer.json: its config's, or the separate file's it was loaded with. */
  static fromTokenizer(tokenizer: { readonly tokenizerConfig: Readonly<Record<string, unknown>>; readonly chatTemplateFile?: string }, configSource = 'tokenizer_config.json'): ChatTemplate {
    return ChatTemplate.fromConfig(tokenizer.tokenizerConfig, configSource, tokenizer.chatTemplateFile);
  }

  /** The prompt text for `messages`; with addGenerationPrompt, ending where the assistant's reply begins. */
  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
    try {
      return this.#template.render({
        ...this.#specials,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: addGenerationPrompt,
      });
    } catch (err) {
      throw new Error(`${this.source}: rendering failed: ${(err as Error).message}`);
    }
  }
}
