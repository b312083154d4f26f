/**
 * The official `openai` client against canopy: completions and chat
 * completions, streaming and not, get the text plain decoding produces
 * (greedy), on the tiny model here and on SmolLM2 under CANOPY_MODEL_TESTS=1.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../../../adapters/model-store/index.js';
import { GREEDY } from '../../../kernels/sampling-params.js';
import { loadConfig } from '../../../plugins/config/index.js';
import { type ModelHost, openModelHost } from '../../../plugins/host/model-host.js';
import { type CanopyServer, startCanopyServer } from '../../../plugins/proxy/index.js';
import { MODEL, plainText, useTinyServer } from './helpers.js';

const get = useTinyServer();
const client = () => new OpenAI({ baseURL: `${get().url}/v1`, apiKey: 'unused', maxRetries: 0 });

async function collect(
  stream: AsyncIterable<{ choices: { text?: string; delta?: { content?: string | null } }[] }>,
) {
  const chunks: unknown[] = [];
  let text = '';
  for await (const chunk of stream) {
    chunks.push(chunk);
    for (const c of chunk.choices) text += c.text ?? c.delta?.content ?? '';
  }
  return { text, chunks: chunks as Record<string, unknown>[] };
}

describe('OpenAI completions through the openai client', () => {
  const prompt = 'Once upon a time';

  it('returns plain decoding’s text, with usage and speculation stats', async () => {
    const { plain } = get();
    const completion = await client().completions.create({
      model: MODEL,
      prompt,
      max_tokens: 40,
      temperature: 0,
    });
    const expected = await plainText(plain, plain.tokenizer.encode(prompt, { addSpecial: true }), 40, GREEDY);
    expect(completion.choices[0].text).toBe(expected);
    expect(completion.choices[0].finish_reason).toBe('length');
    expect(completion.usage).toMatchObject({ completion_tokens: 40 });
    expect((completion as unknown as { canopy: { steps: number } }).canopy.steps).toBeGreaterThan(0);
  });

  it('streams the same text, ending with [DONE]', async () => {
    const { plain } = get();
    const stream = await client().completions.create({
      model: MODEL,
      prompt,
      max_tokens: 40,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { text, chunks } = await collect(stream);
    expect(text).toBe(
      await plainText(plain, plain.tokenizer.encode(prompt, { addSpecial: true }), 40, GREEDY),
    );
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 40 } });
    expect(chunks.at(-2)).toMatchObject({
      choices: [{ finish_reason: 'length' }],
      canopy: { completionTokens: 40 },
    });
  });

  it('takes canopy’s own body field: speculation off gives the same text and no drafts', async () => {
    const body = { model: MODEL, prompt, max_tokens: 20, temperature: 0, canopy: { speculate: false } };
    const off = await client().completions.create(body as OpenAI.CompletionCreateParamsNonStreaming);
    const on = await client().completions.create({
      ...body,
      canopy: undefined,
    } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(off.choices[0].text).toBe(on.choices[0].text);
    expect((off as unknown as { canopy: { draftedTokens: number } }).canopy.draftedTokens).toBe(0);
  });
});

describe('OpenAI chat completions through the openai client', () => {
  const messages = [
    { role: 'system' as const, content: 'You are terse.' },
    { role: 'user' as const, content: 'Name a colour.' },
  ];

  it('applies the model’s chat template and returns plain decoding’s text, streamed or not', async () => {
    const { plain } = get();
    const expected = await plainText(plain, plain.tokenizer.encodeChat(messages), 32, GREEDY);
    const chat = await client().chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 32,
      temperature: 0,
    });
    expect(chat.choices[0].message).toMatchObject({ role: 'assistant', content: expected });
    const stream = await client().chat.completions.create({
      model: MODEL,
      messages,
      max_completion_tokens: 32,
      temperature: 0,
      stream: true,
    });
    const { text, chunks } = await collect(stream);
    expect(text).toBe(expected);
    expect(chunks[0]).toMatchObject({
      object: 'chat.completion.chunk',
      choices: [{ delta: { role: 'assistant' } }],
    });
  });

  it('returns plain decoding’s log-probabilities per token, streamed and not', async () => {
    const { plain } = get();
    const prompt = plain.tokenizer.encodeChat(messages);
    const expected = await plain.engine.generate({
      prompt,
      maxNewTokens: 24,
      sampling: GREEDY,
      speculate: false,
      logprobs: 2,
    });
    const request = {
      model: MODEL,
      messages,
      max_tokens: 24,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    };
    const chat = await client().chat.completions.create(request);
    const content = chat.choices[0].logprobs?.content ?? [];
    expect(content).toHaveLength(expected.tokens.length);
    expect(chat.usage?.completion_tokens).toBe(content.length);
    for (const [t, entry] of content.entries()) {
      const id = expected.tokens[t];
      expect(entry.bytes).toEqual([...plain.tokenizer.tokenBytes(id)]);
      expect(entry.logprob).toBeCloseTo(expected.logprobs!.logprobs[t], 4);
      expect(entry.top_logprobs.map((a) => a.bytes)).toEqual(
        [...expected.logprobs!.topIds.subarray(t * 2, t * 2 + 2)].map((a) => [
          ...plain.tokenizer.tokenBytes(a),
        ]),
      );
      // Greedy: the token is the most likely one.
      expect(entry.top_logprobs[0].logprob).toBeCloseTo(entry.logprob, 6);
    }
    const stream = await client().chat.completions.create({ ...request, stream: true });
    const streamed = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    // The same tokens and alternatives; values agree to float rounding (tree shapes differ run to run).
    const shape = (e: (typeof content)[number]) => [e.bytes, e.top_logprobs.map((a) => a.bytes)];
    expect(streamed.map(shape)).toEqual(content.map(shape));
    for (const [t, entry] of streamed.entries()) expect(entry.logprob).toBeCloseTo(content[t].logprob, 4);
  });

  it('gives completions OpenAI’s parallel log-probability arrays with text offsets', async () => {
    const { plain } = get();
    const prompt = 'Once upon a time';
    const completion = await client().completions.create({
      model: MODEL,
      prompt,
      max_tokens: 16,
      temperature: 0,
      logprobs: 3,
    });
    const lp = completion.choices[0].logprobs!;
    expect(lp.tokens).toHaveLength(16);
    expect(lp.token_logprobs).toHaveLength(16);
    expect(lp.top_logprobs?.every((alternatives) => Object.keys(alternatives).length <= 3)).toBe(true);
    expect(lp.text_offset?.[0]).toBe(0);
    for (let t = 1; t < 16; t++)
      expect(lp.text_offset![t]).toBe(lp.text_offset![t - 1] + lp.tokens![t - 1].length);
    expect(lp.tokens!.join('')).toBe(
      await plainText(plain, plain.tokenizer.encode(prompt, { addSpecial: true }), 16, GREEDY),
    );
    const stream = await client().completions.create({
      model: MODEL,
      prompt,
      max_tokens: 16,
      temperature: 0,
      logprobs: 3,
      stream: true,
    });
    const offsets: number[] = [];
    const values: number[] = [];
    for await (const chunk of stream) {
      offsets.push(...(chunk.choices[0]?.logprobs?.text_offset ?? []));
      values.push(...(chunk.choices[0]?.logprobs?.token_logprobs ?? []));
    }
    expect(offsets).toEqual(lp.text_offset);
    expect(values).toHaveLength(16);
    for (const [t, v] of values.entries()) expect(v).toBeCloseTo(lp.token_logprobs![t], 4);
  });

  it('refuses log-probability requests it cannot answer, with a stable code', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ top_logprobs: 2 }, 'top_logprobs'],
      [{ logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
      [{ logprobs: true, top_logprobs: -1 }, 'top_logprobs'],
    ];
    for (const [extra, field] of cases) {
      const error = await client()
        .chat.completions.create({ model: MODEL, messages, max_tokens: 4, ...extra })
        .catch((e: unknown) => e);
      expect(error, JSON.stringify(extra)).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('CANOPY_ERR_INVALID_ARGUMENT');
      expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain(field);
    }
    const legacy = await client()
      .completions.create({ model: MODEL, prompt: 'x', max_tokens: 4, logprobs: 99 })
      .catch((e: unknown) => e);
    expect((legacy as InstanceType<typeof OpenAI.APIError>).code).toBe('CANOPY_ERR_INVALID_ARGUMENT');
  });

  it('lists the served models', async () => {
    const models = await client().models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
  });

  it('maps canopy errors to the client’s error classes with the stable code', async () => {
    const error = await client()
      .chat.completions.create({ model: 'nope', messages, max_tokens: 4 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('CANOPY_ERR_UNKNOWN_MODEL');
    const range = await client()
      .completions.create({ model: MODEL, prompt: 'x', max_tokens: 0 })
      .catch((e: unknown) => e);
    expect(range).toBeInstanceOf(OpenAI.BadRequestError);
    expect((range as InstanceType<typeof OpenAI.APIError>).code).toBe('CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE');
  });
});

describe.runIf(process.env.CANOPY_MODEL_TESTS === '1')('the openai client on SmolLM2-135M-Instruct', () => {
  let server: CanopyServer;
  let plain: ModelHost;
  beforeAll(async () => {
    const config = loadConfig({
      file: false,
      env: {},
      overrides: { server: { port: 0 }, embedded: {}, log: { level: 'warn' } },
    });
    server = await startCanopyServer(config);
    plain = await openModelHost({ model: DEFAULT_MODEL, drafters: [] });
  });
  afterAll(async () => {
    await server?.close(0);
    await plain?.dispose();
  });

  it('chats exactly as plain greedy decoding, streamed and not', async () => {
    const openai = new OpenAI({ baseURL: `${server.http}/v1`, apiKey: 'unused', maxRetries: 0 });
    const messages = [
      { role: 'user' as const, content: 'List three prime numbers and explain why each is prime.' },
    ];
    const expected = await plainText(plain, plain.tokenizer.encodeChat(messages), 96, GREEDY);
    const chat = await openai.chat.completions.create({
      model: DEFAULT_MODEL,
      messages,
      max_tokens: 96,
      temperature: 0,
    });
    expect(chat.choices[0].message.content).toBe(expected);
    const stream = await openai.chat.completions.create({
      model: DEFAULT_MODEL,
      messages,
      max_tokens: 96,
      temperature: 0,
      stream: true,
    });
    expect((await collect(stream)).text).toBe(expected);
  });
});
