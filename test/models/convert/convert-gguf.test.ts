import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../../../adapters/model-store/index.js';
import { createEmbeddedTarget } from '../../../adapters/targets/embedded/index.js';
import { type ErrorCode, isCanopyError } from '../../../kernels/errors.js';
import { GREEDY } from '../../../kernels/sampling-params.js';
import { convertGguf, MODEL_FILES } from '../../../models/convert/convert-gguf.js';
import { dequantize } from '../../../models/convert/dequantize.js';
import { GgmlType } from '../../../models/convert/ggml-types.js';
import { writeGguf } from '../../../models/convert/gguf-writer.js';
import { f32ToF16 } from '../../../models/convert/half-float.js';
import { type GgufContents, TINY_SHAPE, tinyGguf } from '../../../models/convert/tiny-model.js';

function encodedF16(values: Float32Array): Uint8Array {
  return new Uint8Array(Uint16Array.from(values, f32ToF16).buffer);
}

const dir = mkdtempSync(join(tmpdir(), 'canopy-convert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
async function convert(contents: GgufContents) {
  const id = count++;
  const gguf = join(dir, `in-${id}.gguf`);
  writeGguf(gguf, contents.metadata, contents.tensors);
  const outDir = join(dir, `out-${id}`);
  return { outDir, manifest: await convertGguf({ gguf, outDir, name: `m${id}` }) };
}

async function expectRefused(contents: GgufContents, code: ErrorCode, names: string): Promise<string> {
  try {
    await convert(contents);
  } catch (error) {
    expect(isCanopyError(error, code), String(error)).toBe(true);
    expect((error as Error).message).toContain(names);
    return (error as Error).message;
  }
  return expect.unreachable(`expected ${code}`);
}

describe('convertGguf', () => {
  it('writes a complete directory whose manifest describes the model', async () => {
    const { outDir, manifest } = await convert(tinyGguf(1));
    for (const file of Object.values(MODEL_FILES)) expect(existsSync(join(outDir, file))).toBe(true);
    expect(loadManifest(outDir).manifest).toEqual(manifest);
    expect(manifest).toMatchObject({
      architecture: 'llama',
      hiddenSize: TINY_SHAPE.hiddenSize,
      numLayers: TINY_SHAPE.numLayers,
      numHeads: TINY_SHAPE.numHeads,
      numKvHeads: TINY_SHAPE.numKvHeads,
      headDim: TINY_SHAPE.hiddenSize / TINY_SHAPE.numHeads,
      maxContext: TINY_SHAPE.maxContext,
      tiedEmbeddings: true,
      source: { quantization: 'Q8_0' },
    });
    expect(manifest.eosTokenIds).toContain(2);
    const tokenizer = JSON.parse(readFileSync(join(outDir, MODEL_FILES.tokenizer), 'utf8'));
    expect(tokenizer.tokens.length).toBe(manifest.vocabSize);
  });

  it('reads an untied LM head from output.weight', async () => {
    const tied = await convert(tinyGguf(4));
    const contents = tinyGguf(4);
    const embd = contents.tensors.find((t) => t.name === 'token_embd.weight')!;
    // The same values as the (F16) embedding, so both models must agree.
    const head = dequantize(GgmlType.F16, encodedF16(embd.data as Float32Array), embd.data.length);
    contents.tensors.push({ name: 'output.weight', dims: embd.dims, type: GgmlType.F32, data: head });
    const untied = await convert(contents);
    expect(untied.manifest.tiedEmbeddings).toBe(false);
    const results = [];
    for (const model of [tied.outDir, untied.outDir]) {
      const target = await createEmbeddedTarget({ model });
      const s = await target.open(Int32Array.of(1, 20, 30, 40), { sampling: GREEDY });
      results.push(
        await s.step({ tokens: Int32Array.of(40, 50), parents: Int32Array.of(-1, 0) }, { topK: 5 }),
      );
      await target.dispose();
    }
    expect(Array.from(results[1].chosen)).toEqual(Array.from(results[0].chosen));
    const [a, b] = results.map((r) => Array.from(r.topKLogprobs!));
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4);
  });

  it('names an unsupported architecture', async () => {
    const contents = tinyGguf();
    contents.metadata[0] = ['general.architecture', { type: 'string', value: 'gpt2' }];
    await expectRefused(contents, 'CANOPY_ERR_UNSUPPORTED_ARCHITECTURE', "'gpt2'");
  });

  it('names an unsupported quantization and the tensor that uses it', async () => {
    const contents = tinyGguf();
    const i = contents.tensors.findIndex((t) => t.name === 'blk.0.ffn_up.weight');
    const t = contents.tensors[i];
    // IQ4_NL: 32 values in 18 bytes.
    contents.tensors[i] = { ...t, type: 20, data: new Uint8Array(((t.dims[0] * t.dims[1]) / 32) * 18) };
    const message = await expectRefused(contents, 'CANOPY_ERR_UNSUPPORTED_QUANTIZATION', 'IQ4_NL');
    expect(message).toContain('blk.0.ffn_up.weight');
  });

  it('refuses tensors a llama graph has no place for', async () => {
    const contents = tinyGguf();
    const h = TINY_SHAPE.hiddenSize;
    contents.tensors.push({
      name: 'blk.0.attn_q.bias',
      dims: [h],
      type: GgmlType.F32,
      data: new Float32Array(h),
    });
    await expectRefused(contents, 'CANOPY_ERR_UNSUPPORTED_ARCHITECTURE', 'blk.0.attn_q.bias');
  });

  it('writes nothing when it refuses', async () => {
    const contents = tinyGguf();
    contents.metadata[0] = ['general.architecture', { type: 'string', value: 'mamba' }];
    await expectRefused(contents, 'CANOPY_ERR_UNSUPPORTED_ARCHITECTURE', 'mamba');
    expect(existsSync(join(dir, `out-${count - 1}`))).toBe(false);
  });
});
