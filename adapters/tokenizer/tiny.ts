/**
 * The tiny tokenizer: a small synthetic byte-level BPE vocabulary for the
 * tiny random-weight model (`prepare-model --tiny`), so that tests exercise
 * the real tokenizer code paths without downloading anything. Laid out like
 * SmolLM2's: specials first, then the 256 byte tokens, then merges learned
 * from the fixed text below; same pre-tokenizer (`smollm`) and a ChatML
 * template. Deterministic: the same vocabulary every time.
 */
import { BYTE_TO_CHAR } from './byte-level.js';
import { TOKENIZER_FILE_FORMAT, TOKENIZER_FILE_VERSION, type TokenizerFile, TokenType } from './file.js';
import { createPreTokenizer } from './pre-tokenizers.js';
import { learnByteBpe } from './train-bpe.js';

/** Default cap on the tiny vocabulary (the built-in text yields 481 tokens under it). */
export const TINY_VOCAB_SIZE = 512;
const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;
const MAX_VOCAB = 1024;

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// Original text written for this file; it only has to look like English chat.
const CORPUS = `<|im_start|>system
You are a helpful assistant. Answer the question in a few short sentences.<|im_end|>
<|im_start|>user
What is the capital of France?<|im_end|>
<|im_start|>assistant
The capital of France is Paris. It is also the largest city in the country.<|im_end|>
<|im_start|>user
How many days are there in a week, and how many hours in a day?<|im_end|>
<|im_start|>assistant
There are 7 days in a week and 24 hours in a day, so a week has 168 hours.<|im_end|>
A tree grows from a small seed. The root goes down into the ground and the stem goes up to the light.
Each branch can carry many leaves, and each leaf turns the light of the sun into food for the tree.
When the wind is strong, the branches move, but the root holds the tree in its place.
In the morning the garden is quiet; in the evening the birds come back to their trees.
The river runs past the old mill, under the stone bridge, and into the lake behind the hill.
People in the town walk to the market on Saturday to buy bread, cheese, apples and fresh fish.
The train leaves the station at 8:15 and arrives in the city at 9:40, if it is on time.
She wrote the numbers 3, 14, 159 and 2653 on the board, then asked the class what came next.
A good answer is short, clear and true. If you do not know the answer, say that you do not know.
The model reads the question, thinks about it, and then writes the answer one token at a time.
Speculative decoding guesses the next tokens with a cheap drafter and checks them with the model.
When the guess is right, the model accepts several tokens in one step, and the answer comes faster.
When the guess is wrong, the model keeps its own token, and nothing in the answer changes.
The weather today is sunny with a light wind from the west; tomorrow it will rain in the afternoon.
He opened the window, looked at the sky, and decided to take an umbrella with him anyway.
Water boils at 100 degrees Celsius at sea level and freezes at 0 degrees.
The library is open from Monday to Friday, and on Sunday it is closed for the whole day.
Please write a short story about a cat who finds a key, opens a door, and discovers a new garden.
Translate the sentence into French: the book is on the table next to the window.
Summarize the text in two sentences and list the three most important facts it contains.
`;

const trained = new Map<number, TokenizerFile>();

/** The tiny tokenizer with at most `vocabSize` tokens (default 512, capped at 1024; fewer when the text runs out of pairs). */
export function tinyTokenizerFile(options: { vocabSize?: number } = {}): TokenizerFile {
  const vocabSize = Math.min(options.vocabSize ?? TINY_VOCAB_SIZE, MAX_VOCAB);
  const cached = trained.get(vocabSize);
  if (cached) return cached;
  // Specials are never built by merges: train on the text between them.
  const text = CORPUS.split(/<\|im_(?:start|end)\|>/).join('');
  const merges = learnByteBpe(text, createPreTokenizer('smollm'), vocabSize - SPECIALS.length - 256);
  // Two merges can spell the same token ('ab c', 'a bc'): one id each text.
  const tokens = [...new Set([...SPECIALS, ...BYTE_TO_CHAR, ...merges.map((m) => m.replace(' ', ''))])];
  const file: TokenizerFile = Object.freeze({
    format: TOKENIZER_FILE_FORMAT,
    version: TOKENIZER_FILE_VERSION,
    model: 'byte-bpe',
    pre: 'smollm',
    tokens,
    tokenTypes: tokens.map((_, id) => (id < SPECIALS.length ? TokenType.control : TokenType.normal)),
    merges,
    bosTokenId: 1,
    eosTokenId: 2,
    unkTokenId: 0,
    padTokenId: 2,
    stopTokenIds: [0, 2],
    addBos: false,
    addEos: false,
    chatTemplate: CHATML_TEMPLATE,
  });
  trained.set(vocabSize, file);
  return file;
}
