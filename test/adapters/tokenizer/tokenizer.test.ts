import { describe, expect, it } from 'vitest';
import { createTokenizer, type TokenizerFile, tinyTokenizerFile } from '../../../adapters/tokenizer/index.js';
import { isCanopyError } from '../../../kernels/errors.js';
import { randomText, SPECIAL_LOOKALIKES, seededRandom } from './random-text.js';

const file = tinyTokenizerFile();
const tok = createTokenizer(file);
const utf8 = new TextEncoder();

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isCanopyError(error) ? error.code : `not a CanopyError: ${String(error)}`;
  }
  return undefined;
}

describe('tokenizer on the tiny vocabulary', () => {
  it('decodes what it encodes, for random Unicode text', () => {
    const rand = seededRandom(1);
    for (let i = 0; i < 500; i++) {
      const text = randomText(rand);
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });

  it('decodes what it encodes when special tokens are parsed', () => {
    const rand = seededRandom(2);
    for (let i = 0; i < 200; i++) {
      const text = randomText(rand, { extra: SPECIAL_LOOKALIKES });
      expect(tok.decode(tok.encode(text, { parseSpecial: true }))).toBe(text);
    }
  });

  it('gives tokens whose bytes concatenate to the UTF-8 of the text', () => {
    const rand = seededRandom(3);
    for (let i = 0; i < 100; i++) {
      const text = randomText(rand);
      const parts = Array.from(tok.encode(text), (id) => Array.from(tok.tokenBytes(id)));
      expect(parts.flat()).toEqual(Array.from(utf8.encode(text)));
    }
  });

  it('splits numbers into one token per digit (smollm)', () => {
    for (const text of ['12345', 'in 2024, 7 of 10', '3.14159', ' 000']) {
      const digits = [...text].filter((c) => /\d/.test(c)).length;
      const digitTokens = Array.from(tok.encode(text)).filter((id) => /\d/.test(tok.decode([id])));
      expect(digitTokens.length).toBe(digits);
      for (const id of digitTokens) expect(tok.decode([id])).toMatch(/^\d$/);
    }
  });

  it('matches control tokens only when asked to parse special tokens', () => {
    const text = '<|im_start|>user\nhi<|im_end|>';
    const parsed = Array.from(tok.encode(text, { parseSpecial: true }));
    expect(parsed[0]).toBe(1);
    expect(parsed.at(-1)).toBe(2);
    const plain = Array.from(tok.encode(text));
    expect(plain.some((id) => tok.isSpecial(id))).toBe(false);
    expect(tok.decode(plain)).toBe(text);
  });

  it('leaves control tokens out of the text only with skipSpecial', () => {
    const ids = tok.encode('<|im_start|>assistant\nParis.<|im_end|>', { parseSpecial: true });
    expect(tok.decode(ids)).toBe('<|im_start|>assistant\nParis.<|im_end|>');
    expect(tok.decode(ids, { skipSpecial: true })).toBe('assistant\nParis.');
  });

  it('adds BOS and EOS only when asked and when the model wants them', () => {
    const wants: TokenizerFile = { ...file, addBos: true, addEos: true };
    const withSpecials = createTokenizer(wants);
    const ids = Array.from(withSpecials.encode('hello', { addSpecial: true }));
    expect(ids[0]).toBe(file.bosTokenId);
    expect(ids.at(-1)).toBe(file.eosTokenId);
    expect(Array.from(withSpecials.encode('hello'))).toEqual(ids.slice(1, -1));
    expect(Array.from(tok.encode('hello', { addSpecial: true }))).toEqual(ids.slice(1, -1));
  });

  it('compresses English text below one token per byte', () => {
    const text = 'The capital of France is Paris, and the river runs past the old mill under the bridge.';
    expect(tok.encode(text).length).toBeLessThan(utf8.encode(text).length / 2);
  });

  it('rejects token ids outside the vocabulary', () => {
    expect(codeOf(() => tok.decode([tok.vocabSize]))).toBe('CANOPY_ERR_TOKEN_OUT_OF_VOCAB');
    expect(codeOf(() => tok.tokenBytes(-1))).toBe('CANOPY_ERR_TOKEN_OUT_OF_VOCAB');
    expect(codeOf(() => tok.decode([1.5]))).toBe('CANOPY_ERR_TOKEN_OUT_OF_VOCAB');
  });

  it('stops on the end-of-turn and end-of-text tokens', () => {
    expect([...tok.stopTokenIds].sort()).toEqual([0, 2]);
    expect(tok.eosTokenId).toBe(2);
  });
});

describe('stream decoder', () => {
  it('never emits a broken character when multibyte text arrives byte token by byte token', () => {
    const rand = seededRandom(4);
    for (let i = 0; i < 200; i++) {
      const text = randomText(rand);
      const ids = tok.encode(text);
      const stream = tok.createStreamDecoder();
      let out = '';
      for (const id of ids) {
        const piece = stream.push(id);
        // A split character would surface as U+FFFD (the text has none of its own).
        expect(piece).not.toContain('\ufffd');
        out += piece;
      }
      out += stream.flush();
      expect(out).toBe(text);
    }
  });

  it('holds the first bytes of an emoji until its last byte arrives', () => {
    const ids = Array.from(tok.encode('🤖'));
    expect(ids.length).toBe(4); // no merges for it in the tiny vocabulary: one token per byte
    const stream = tok.createStreamDecoder();
    expect(ids.slice(0, 3).map((id) => stream.push(id))).toEqual(['', '', '']);
    expect(stream.push(ids[3])).toBe('🤖');
  });

  it('turns bytes left incomplete at the end into U+FFFD on flush', () => {
    const ids = Array.from(tok.encode('a🤖'));
    const stream = tok.createStreamDecoder();
    const text = ids
      .slice(0, -1)
      .map((id) => stream.push(id))
      .join('');
    expect(text).toBe('a');
    expect(stream.flush()).toBe('\ufffd');
  });

  it('skips control tokens when asked, like decode', () => {
    const ids = tok.encode('<|im_start|>assistant\nhé<|im_end|>', { parseSpecial: true });
    const stream = tok.createStreamDecoder({ skipSpecial: true });
    const text = Array.from(ids, (id) => stream.push(id)).join('') + stream.flush();
    expect(text).toBe(tok.decode(ids, { skipSpecial: true }));
  });
});

describe('chat template', () => {
  const conversation = [
    { role: 'user', content: 'What is the capital of France?' },
    { role: 'assistant', content: 'Paris.' },
    { role: 'user', content: 'And of Italy?' },
  ];

  it('renders a two-turn conversation in ChatML with the assistant turn opened', () => {
    const expected = conversation.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('');
    expect(tok.applyChatTemplate(conversation)).toBe(`${expected}<|im_start|>assistant\n`);
    expect(tok.applyChatTemplate(conversation, { addGenerationPrompt: false })).toBe(expected);
  });

  it('encodes a chat with its markers as single control tokens', () => {
    const ids = Array.from(tok.encodeChat(conversation));
    expect(ids.filter((id) => id === 1).length).toBe(4);
    expect(ids.filter((id) => id === 2).length).toBe(3);
    expect(tok.decode(ids)).toBe(tok.applyChatTemplate(conversation));
  });

  it('passes the special tokens text to the template, as transformers does', () => {
    const custom = createTokenizer({ ...file, chatTemplate: '{{ bos_token }}|{{ eos_token }}' });
    expect(custom.applyChatTemplate([])).toBe('<|im_start|>|<|im_end|>');
  });

  it('reports a template that does not parse, one that raises, and a missing one', () => {
    const broken = createTokenizer({ ...file, chatTemplate: '{% for message in %}' });
    expect(codeOf(() => broken.applyChatTemplate(conversation))).toBe('CANOPY_ERR_MODEL_INVALID');
    const raising = createTokenizer({
      ...file,
      chatTemplate: "{{ raise_exception('roles must alternate') }}",
    });
    expect(codeOf(() => raising.applyChatTemplate(conversation))).toBe('CANOPY_ERR_CHAT_TEMPLATE');
    const none = createTokenizer({ ...file, chatTemplate: null });
    expect(codeOf(() => none.applyChatTemplate(conversation))).toBe('CANOPY_ERR_CHAT_TEMPLATE');
    // A broken template does not stop plain tokenization.
    expect(broken.decode(broken.encode('still fine'))).toBe('still fine');
  });

  it('rejects a message without string content', () => {
    const bad = [{ role: 'user', content: 42 }] as unknown as typeof conversation;
    expect(codeOf(() => tok.applyChatTemplate(bad))).toBe('CANOPY_ERR_INVALID_ARGUMENT');
  });

  it('does not double a BOS the template already wrote', () => {
    const bosFirst = createTokenizer({ ...file, addBos: true, chatTemplate: '{{ bos_token }}hi' });
    expect(Array.from(bosFirst.encodeChat([])).filter((id) => id === file.bosTokenId).length).toBe(1);
  });
});
