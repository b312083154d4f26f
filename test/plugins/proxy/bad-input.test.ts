/**
 * Bad input gets a 4xx with a stable code and a message that says what to
 * fix; nothing crashes, and a request in flight meanwhile is unaffected.
 */
import { describe, expect, it } from 'vitest';
import { json, MODEL, post, useTinyServer } from './helpers.js';

const LIMIT = 4096;
const get = useTinyServer({ server: { bodyLimitBytes: LIMIT }, defaults: { maxTokens: 200 } });

async function refusal(
  res: Response,
): Promise<{ status: number; code: string; message: string; param?: unknown }> {
  const body = await json(res);
  if (typeof body.error === 'string') return { status: res.status, code: body.code, message: body.error };
  return { status: res.status, code: body.error.code, message: body.error.message, param: body.error.param };
}

const generate = (body: unknown, init?: RequestInit) =>
  post(`${get().url}/v2/models/${MODEL}/generate`, body, init);
const completions = (body: unknown) => post(`${get().url}/v1/completions`, body);
const chat = (body: unknown) => post(`${get().url}/v1/chat/completions`, body);

describe('bad input', () => {
  it('invalid JSON → 400 CANOPY_ERR_INVALID_JSON, in Triton’s shape on /v2 and OpenAI’s on /v1', async () => {
    const triton = await generate('{"text_input": "a",');
    expect(triton.status).toBe(400);
    const raw = await json(triton);
    expect(typeof raw.error).toBe('string');
    expect(raw.code).toBe('CANOPY_ERR_INVALID_JSON');
    const openai = await refusal(await completions('[1, 2'));
    expect(openai).toMatchObject({ status: 400, code: 'CANOPY_ERR_INVALID_JSON' });
    expect(await refusal(await chat('[]'))).toMatchObject({
      status: 400,
      code: 'CANOPY_ERR_INVALID_ARGUMENT',
    });
  });

  it('wrong types → 400 naming the field', async () => {
    expect(await refusal(await generate({ text_input: 5 }))).toMatchObject({
      code: 'CANOPY_ERR_INVALID_ARGUMENT',
      message: expect.stringContaining("'text_input'"),
    });
    expect(
      await refusal(await generate({ text_input: 'a', parameters: { temperature: 'hot' } })),
    ).toMatchObject({
      code: 'CANOPY_ERR_INVALID_SAMPLING',
      message: expect.stringContaining("'temperature'"),
    });
    expect(await refusal(await generate({ text_input: 'a', parameters: { top_p: 7 } }))).toMatchObject({
      code: 'CANOPY_ERR_INVALID_SAMPLING',
      message: expect.stringContaining("'top_p'"),
    });
    expect(await refusal(await chat({ model: MODEL, messages: 'hi' }))).toMatchObject({
      status: 400,
      code: 'CANOPY_ERR_INVALID_ARGUMENT',
      param: 'messages',
    });
    expect(
      await refusal(await chat({ model: MODEL, messages: [{ role: 'robot', content: 'x' }] })),
    ).toMatchObject({
      param: 'messages.0.role',
    });
  });

  it('unknown parameters and fields → 400 naming them, with the likely fix', async () => {
    const typo = await refusal(await generate({ text_input: 'a', parameters: { max_token: 3 } }));
    expect(typo).toMatchObject({ code: 'CANOPY_ERR_INVALID_ARGUMENT' });
    expect(typo.message).toContain("did you mean 'max_tokens'?");
    const field = await refusal(await completions({ model: MODEL, promt: 'a' }));
    expect(field.message).toContain("unknown key 'promt'");
    expect(await refusal(await completions({ model: MODEL, prompt: 'a', n: 2 }))).toMatchObject({
      code: 'CANOPY_ERR_INVALID_ARGUMENT',
      message: expect.stringContaining('not supported'),
    });
  });

  it('unknown models → 404 CANOPY_ERR_UNKNOWN_MODEL listing the served ones', async () => {
    const triton = await refusal(await post(`${get().url}/v2/models/gpt-9/generate`, { text_input: 'a' }));
    expect(triton).toMatchObject({ status: 404, code: 'CANOPY_ERR_UNKNOWN_MODEL' });
    expect(triton.message).toContain(MODEL);
    expect(await refusal(await completions({ model: 'gpt-9', prompt: 'a' }))).toMatchObject({
      status: 404,
      code: 'CANOPY_ERR_UNKNOWN_MODEL',
    });
    expect(await refusal(await fetch(`${get().url}/v3/nothing`))).toMatchObject({
      status: 404,
      code: 'CANOPY_ERR_NOT_FOUND',
    });
  });

  it('oversized bodies → 413 CANOPY_ERR_BODY_TOO_LARGE, declared or streamed', async () => {
    const big = { text_input: 'x'.repeat(LIMIT + 1) };
    expect(await refusal(await generate(big))).toMatchObject({
      status: 413,
      code: 'CANOPY_ERR_BODY_TOO_LARGE',
    });
    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
        controller.close();
      },
    });
    const streamed = await fetch(`${get().url}/v1/completions`, {
      method: 'POST',
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(await refusal(streamed)).toMatchObject({ status: 413, code: 'CANOPY_ERR_BODY_TOO_LARGE' });
  });

  it('max_tokens out of range → 400 CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE with the limit', async () => {
    for (const max_tokens of [0, -3, 201, 2.5]) {
      const r = await refusal(await generate({ text_input: 'a', parameters: { max_tokens } }));
      expect(r.status).toBe(400);
      expect(r.code).toMatch(/CANOPY_ERR_(MAX_TOKENS_OUT_OF_RANGE|INVALID_ARGUMENT)/);
    }
    const over = await refusal(await completions({ model: MODEL, prompt: 'a', max_tokens: 201 }));
    expect(over).toMatchObject({ code: 'CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE', param: 'max_tokens' });
    expect(over.message).toContain('from 1 to 200');
  });

  it('invalid UTF-8, raw or as a lone surrogate → 400 CANOPY_ERR_INVALID_UTF8', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"text_input": "'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    expect(await refusal(await generate(bytes as unknown as string, { body: bytes }))).toMatchObject({
      status: 400,
      code: 'CANOPY_ERR_INVALID_UTF8',
    });
    expect(
      await refusal(await chat(`{"model":"${MODEL}","messages":[{"role":"user","content":"\\ud800"}]}`)),
    ).toMatchObject({ status: 400, code: 'CANOPY_ERR_INVALID_UTF8' });
  });

  it('unknown drafter names and budgets out of range → 400 with their codes', async () => {
    const drafter = await refusal(
      await generate({ text_input: 'a', parameters: { drafters: 'ngram,nope' } }),
    );
    expect(drafter).toMatchObject({ status: 400, code: 'CANOPY_ERR_UNKNOWN_DRAFTER' });
    expect(drafter.message).toContain('ngram, recycling, retrieval');
    const openai = await refusal(
      await completions({ model: MODEL, prompt: 'a', canopy: { drafters: ['eagle9'] } }),
    );
    expect(openai).toMatchObject({ code: 'CANOPY_ERR_UNKNOWN_DRAFTER', param: 'canopy.drafters' });
    expect(await refusal(await generate({ text_input: 'a', parameters: { max_budget: 0 } }))).toMatchObject({
      code: 'CANOPY_ERR_BUDGET_OUT_OF_RANGE',
    });
  });

  it('empty and too long prompts → 400', async () => {
    expect(await refusal(await generate({ text_input: '' }))).toMatchObject({
      code: 'CANOPY_ERR_INVALID_ARGUMENT',
    });
    // The tiny model's context is 512 tokens.
    const long = await refusal(
      await generate({ text_input: 'a b '.repeat(400), parameters: { max_tokens: 4 } }),
    );
    expect(long).toMatchObject({ status: 400, code: 'CANOPY_ERR_PROMPT_TOO_LONG' });
  });

  it('leaves a request in flight unaffected', async () => {
    const good = post(`${get().url}/v2/models/${MODEL}/generate`, {
      text_input: 'Hello world',
      parameters: { max_tokens: 150, speculate: false },
    });
    const bad = await Promise.all([
      generate('{'),
      generate({ text_input: 1 }),
      completions({ model: 'x', prompt: 'a' }),
      generate({ text_input: 'a', parameters: { drafters: 'nope' } }),
    ]);
    expect(bad.map((r) => r.status)).toEqual([400, 400, 404, 400]);
    const answer = await json(await good);
    expect(answer.canopy.completionTokens).toBe(150);
    expect((await fetch(`${get().url}/v2/health/ready`)).status).toBe(200);
  });
});
