/**
 * Triton's generate extension and text infer, answered by canopy for the
 * embedded tiny model: the text equals plain decoding, streamed or not, and
 * each answer carries its speculation stats.
 */
import { describe, expect, it } from 'vitest';
import { GREEDY } from '../../../kernels/sampling-params.js';
import { json, MODEL, plainText, post, sseData, useTinyServer } from './helpers.js';

const get = useTinyServer();
const PROMPT = 'The answer is 42.';

describe('POST /v2/models/{model}/generate', () => {
  it('returns plain decoding’s text with the speculation stats of the request', async () => {
    const { url, plain } = get();
    const res = await post(`${url}/v2/models/${MODEL}/generate`, {
      id: 'r1',
      text_input: PROMPT,
      parameters: { max_tokens: 48, temperature: 0 },
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    const expected = await plainText(plain, plain.tokenizer.encode(PROMPT, { addSpecial: true }), 48, GREEDY);
    expect(body).toMatchObject({ id: 'r1', model_name: MODEL, model_version: '1', text_output: expected });
    expect(body.finish_reason).toBe('length');
    expect(body.canopy.completionTokens).toBe(48);
    expect(body.canopy.steps).toBeGreaterThan(0);
    // Speculation on the tiny model's repetitive output accepts drafts.
    expect(body.canopy.tau).toBeGreaterThan(1);
    expect(body.canopy.acceptedTokens).toBeGreaterThan(0);
  });

  it('keeps seeded sampling identical to plain decoding with the same seed', async () => {
    const { url, plain } = get();
    const params = { max_tokens: 40, temperature: 0.9, top_p: 0.95, seed: 1234 };
    const res = await post(`${url}/v2/models/${MODEL}/generate`, { text_input: PROMPT, parameters: params });
    const sampling = { ...GREEDY, temperature: 0.9, topP: 0.95, seed: 1234 };
    const expected = await plainText(
      plain,
      plain.tokenizer.encode(PROMPT, { addSpecial: true }),
      40,
      sampling,
    );
    expect((await json(res)).text_output).toBe(expected);
  });

  it('reads parameters at the top level too (TensorRT-LLM style), and stops at a stop string', async () => {
    const { url, plain } = get();
    const prompt = plain.tokenizer.encode(PROMPT, { addSpecial: true });
    const full = await plainText(plain, prompt, 30, GREEDY);
    const stop = full.slice(6, 9);
    const res = await post(`${url}/v2/models/${MODEL}/generate`, {
      text_input: PROMPT,
      max_tokens: 30,
      stop_words: [stop],
    });
    const body = await json(res);
    expect(body.text_output).toBe(await plainText(plain, prompt, 30, GREEDY, [stop]));
    expect(body.text_output.length).toBeLessThan(full.length);
    expect(body.finish_reason).toBe('stop');
  });

  it('puts the prompt first when exclude_input_in_output is false', async () => {
    const { url } = get();
    const res = await post(`${url}/v2/models/${MODEL}/generate`, {
      text_input: PROMPT,
      parameters: { max_tokens: 4, exclude_input_in_output: false },
    });
    expect((await json(res)).text_output.startsWith(PROMPT)).toBe(true);
  });

  it('honours per-request control: speculation off, a budget cap, a drafter subset', async () => {
    const { url } = get();
    const ask = async (parameters: Record<string, unknown>) =>
      (await json(await post(`${url}/v2/models/${MODEL}/generate`, { text_input: PROMPT, parameters })))
        .canopy;
    const off = await ask({ max_tokens: 24, speculate: false });
    expect(off).toMatchObject({ draftedTokens: 0, acceptedTokens: 0, steps: 24, tau: 1 });
    const capped = await ask({ max_tokens: 24, max_budget: 2 });
    expect(capped.meanBudget).toBeLessThanOrEqual(2);
    const ngram = await ask({ max_tokens: 24, drafters: 'ngram' });
    expect(Object.keys(ngram.acceptedByDrafter).every((d) => d === 'ngram')).toBe(true);
  });
});

describe('POST /v2/models/{model}/generate_stream', () => {
  it('streams pieces that add up to the same text, the last event with the stats', async () => {
    const { url, plain } = get();
    const res = await post(`${url}/v2/models/${MODEL}/generate_stream`, {
      text_input: PROMPT,
      parameters: { max_tokens: 48 },
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseData(await res.text()).map((d) => JSON.parse(d));
    expect(events.length).toBeGreaterThan(2);
    const expected = await plainText(plain, plain.tokenizer.encode(PROMPT, { addSpecial: true }), 48, GREEDY);
    expect(events.map((e) => e.text_output).join('')).toBe(expected);
    expect(events.slice(0, -1).every((e) => e.finish_reason === undefined && e.model_name === MODEL)).toBe(
      true,
    );
    expect(events.at(-1)).toMatchObject({ finish_reason: 'length', canopy: { completionTokens: 48 } });
  });

  it('never streams the beginning of a stop string', async () => {
    const { url, plain } = get();
    const prompt = plain.tokenizer.encode(PROMPT, { addSpecial: true });
    const full = await plainText(plain, prompt, 40, GREEDY);
    const stop = full.slice(10, 16);
    const res = await post(`${url}/v2/models/${MODEL}/generate_stream`, {
      text_input: PROMPT,
      max_tokens: 40,
      stop,
    });
    const pieces = sseData(await res.text()).map((d) => JSON.parse(d).text_output as string);
    const expected = await plainText(plain, prompt, 40, GREEDY, [stop]);
    expect(expected.length).toBeLessThan(full.length);
    expect(pieces.join('')).toBe(expected);
  });
});

describe('POST /v2/models/{model}/infer with text_input', () => {
  it('answers a JSON infer with text_output', async () => {
    const { url, plain } = get();
    const res = await post(`${url}/v2/models/${MODEL}/infer`, {
      id: 'i1',
      inputs: [
        { name: 'text_input', datatype: 'BYTES', shape: [1, 1], data: [[PROMPT]] },
        { name: 'max_tokens', datatype: 'INT32', shape: [1], data: [20] },
      ],
      parameters: { temperature: 0 },
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    const expected = await plainText(plain, plain.tokenizer.encode(PROMPT, { addSpecial: true }), 20, GREEDY);
    expect(body).toMatchObject({ id: 'i1', model_name: MODEL, parameters: { finish_reason: 'length' } });
    expect(body.outputs).toEqual([{ name: 'text_output', datatype: 'BYTES', shape: [1], data: [expected] }]);
    expect(JSON.parse(body.parameters.canopy_stats).completionTokens).toBe(20);
  });

  it('answers a binary-tensor infer in binary, as tritonclient asks', async () => {
    const { url, plain } = get();
    const text = Buffer.from(PROMPT);
    const element = Buffer.alloc(4 + text.length);
    element.writeUInt32LE(text.length, 0);
    text.copy(element, 4);
    const params = Buffer.from(JSON.stringify({ max_tokens: 16 }));
    const paramsElement = Buffer.concat([Buffer.from(Uint32Array.of(params.length).buffer), params]);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          {
            name: 'text_input',
            datatype: 'BYTES',
            shape: [1],
            parameters: { binary_data_size: element.length },
          },
          {
            name: 'sampling_parameters',
            datatype: 'BYTES',
            shape: [1],
            parameters: { binary_data_size: paramsElement.length },
          },
        ],
        parameters: { binary_data_output: true },
      }),
    );
    const res = await fetch(`${url}/v2/models/${MODEL}/infer`, {
      method: 'POST',
      headers: { 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, element, paramsElement]),
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    const length = Number(res.headers.get('inference-header-content-length'));
    const json = JSON.parse(body.subarray(0, length).toString());
    expect(json.outputs[0]).toMatchObject({ name: 'text_output', datatype: 'BYTES', shape: [1] });
    const data = body.subarray(length);
    const out = data.subarray(4, 4 + data.readUInt32LE(0)).toString();
    expect(out).toBe(
      await plainText(plain, plain.tokenizer.encode(PROMPT, { addSpecial: true }), 16, GREEDY),
    );
  });
});

describe('KServe endpoints without Triton', () => {
  it('answers health, server and model metadata itself', async () => {
    const { url } = get();
    expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
    expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
    expect(await json(await fetch(`${url}/v2`))).toMatchObject({ name: 'canopy', extensions: ['generate'] });
    expect(await json(await fetch(`${url}/v2/models/${MODEL}`))).toMatchObject({
      name: MODEL,
      inputs: [{ name: 'text_input', datatype: 'BYTES' }],
      outputs: [{ name: 'text_output', datatype: 'BYTES' }],
    });
    expect((await fetch(`${url}/v2/models/${MODEL}/versions/1/ready`)).status).toBe(200);
    const config = await json(await fetch(`${url}/v2/models/${MODEL}/config`));
    expect(JSON.parse(config.parameters.canopy.string_value).drafters).toEqual([
      'ngram',
      'recycling',
      'retrieval',
    ]);
    const unknown = await fetch(`${url}/v2/models/nope/ready`);
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ code: 'CANOPY_ERR_UNKNOWN_MODEL' });
  });
});
