/**
 * The model's chat template (HF-style Jinja, from GGUF `tokenizer.chat_template`)
 * rendered with @huggingface/jinja and the variables transformers passes:
 * `messages`, `add_generation_prompt`, and the special tokens' text.
 */
import { Template } from '@huggingface/jinja';
import { CanopyError } from '../../kernels/errors.js';

/** One chat turn. Extra fields (name, tool_calls...) are passed to the template untouched. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
  readonly [field: string]: unknown;
}

export interface ChatTemplateOptions {
  /** End with the assistant's turn opened, ready for generation (default true). */
  readonly addGenerationPrompt?: boolean;
  /** More template variables (`tools`, `documents`, ...); they override the defaults. */
  readonly variables?: Readonly<Record<string, unknown>>;
}

export interface ChatTemplate {
  render(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
}

/** Special tokens' text as transformers passes them (`bos_token`, `eos_token`, ...). */
export type SpecialTokenText = Readonly<Record<string, string>>;

/**
 * Compiles `source` (lazily: a model whose template does not parse still
 * tokenizes). A template that does not parse is CANOPY_ERR_MODEL_INVALID; a
 * missing template, or one that rejects the messages (`raise_exception`), is
 * CANOPY_ERR_CHAT_TEMPLATE.
 */
export function createChatTemplate(source: string | null, specials: SpecialTokenText): ChatTemplate {
  let compiled: Template | undefined;
  const compile = (): Template => {
    if (compiled) return compiled;
    if (source === null) {
      throw new CanopyError(
        'CANOPY_ERR_CHAT_TEMPLATE',
        'this model has no chat template; send a plain prompt',
        {
          details: { reason: 'missing' },
        },
      );
    }
    try {
      compiled = new Template(source);
    } catch (error) {
      throw new CanopyError(
        'CANOPY_ERR_MODEL_INVALID',
        `the model's chat template does not parse: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, details: { reason: 'parse' } },
      );
    }
    return compiled;
  };

  return {
    render(messages, options = {}) {
      const template = compile();
      for (const [i, m] of messages.entries()) {
        if (typeof m?.role !== 'string' || typeof m.content !== 'string') {
          throw new CanopyError(
            'CANOPY_ERR_INVALID_ARGUMENT',
            `chat message ${i} needs a string role and a string content`,
          );
        }
      }
      try {
        return template.render({
          ...specials,
          messages,
          add_generation_prompt: options.addGenerationPrompt ?? true,
          ...options.variables,
        });
      } catch (error) {
        throw new CanopyError(
          'CANOPY_ERR_CHAT_TEMPLATE',
          `the chat template cannot render these messages: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error, details: { reason: 'render' } },
        );
      }
    },
  };
}
