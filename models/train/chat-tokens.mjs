// Tokenizes chats and decodes answers for the Python training tool with canopy's
// own tokenizer and chat template, so training prompts are encoded exactly as
// the engine and the benchmark encode them. Needs `npm run build` first.
//
// One JSON request per stdin line, one JSON answer per stdout line:
//   {"chat": [{"role": "user", "content": "..."}]}  -> {"ids": [...]}  (ends with the assistant turn opened;
//                                                      "generation": false leaves it closed)
//   {"decode": [ids...]}                             -> {"text": "..."}
import { createInterface } from 'node:readline';
import { loadTokenizer } from '../../dist/adapters/tokenizer/index.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node models/train/chat-tokens.mjs MODEL_DIR');
  process.exit(2);
}
const tokenizer = await loadTokenizer(dir);
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const request = JSON.parse(line);
  const answer = request.chat
    ? { ids: [...tokenizer.encodeChat(request.chat, { addGenerationPrompt: request.generation !== false })] }
    : { text: tokenizer.decode(Int32Array.from(request.decode), { skipSpecial: true }) };
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
