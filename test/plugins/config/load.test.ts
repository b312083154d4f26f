import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isCanopyError } from '../../../kernels/errors.js';
import { loadConfig, parseModelParameter, resolveModel } from '../../../plugins/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'canopy-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function failure(run: () => unknown): { code: string; message: string; details: Record<string, unknown> } {
  try {
    run();
  } catch (error) {
    if (!isCanopyError(error)) throw error;
    return { code: error.code, message: error.message, details: { ...error.details } };
  }
  throw new Error('expected a CanopyError');
}

describe('loadConfig', () => {
  it('fills every default around the one required choice, and freezes the result', () => {
    const config = loadConfig({ file: false, env: {}, overrides: { embedded: {} } });
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 8080,
      bodyLimitBytes: 4 * 2 ** 20,
      shutdownGraceMs: 10_000,
    });
    expect(config.log.level).toBe('info');
    expect(config.metrics.enabled).toBe(true);
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow();
  });

  it('reads YAML and JSON files, and layers environment and overrides over them', () => {
    const yaml = file(
      'canopy.config.yaml',
      'upstream:\n  http: http://triton:8000\n  grpc: grpc://triton:8001\nserver:\n  port: 9000\ndefaults:\n  maxBudget: 16\n',
    );
    const env = { CANOPY_PORT: '9100', CANOPY_DRAFTERS: 'ngram,recycling', CANOPY_HOME: '/ignored' };
    const config = loadConfig({ file: yaml, env, overrides: { server: { host: '0.0.0.0' } } });
    expect(config.upstream).toMatchObject({ http: 'http://triton:8000', grpc: 'grpc://triton:8001' });
    expect(config.server).toMatchObject({ port: 9100, host: '0.0.0.0' });
    expect(config.defaults).toEqual({ maxBudget: 16, drafters: ['ngram', 'recycling'] });

    const json = file('c.json', JSON.stringify({ embedded: { model: 'tiny-random' } }));
    expect(loadConfig({ file: json, env: {} }).embedded).toEqual({ model: 'tiny-random' });
  });

  it('finds canopy.config.json in the working directory, or the file $CANOPY_CONFIG names', () => {
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    writeFileSync(join(cwd, 'canopy.config.json'), JSON.stringify({ embedded: { name: 'found' } }));
    expect(loadConfig({ cwd, env: {} }).embedded?.name).toBe('found');
    const named = file('named.json', JSON.stringify({ embedded: { name: 'named' } }));
    expect(loadConfig({ cwd, env: { CANOPY_CONFIG: named } }).embedded?.name).toBe('named');
  });

  it('lets the highest layer choose the mode: a flag --embedded replaces the file’s upstream', () => {
    const path = file('up.json', JSON.stringify({ upstream: { http: 'http://triton:8000' } }));
    const config = loadConfig({ file: path, env: {}, overrides: { embedded: { model: 'tiny-random' } } });
    expect(config.upstream).toBeUndefined();
    expect(config.embedded?.model).toBe('tiny-random');
    const back = loadConfig({
      file: path,
      env: { CANOPY_EMBEDDED_MODEL: 'x' },
      overrides: { upstream: { http: 'http://t:1' } },
    });
    expect(back.embedded).toBeUndefined();
    expect(back.upstream?.http).toBe('http://t:1');
  });

  it('names the file, the key and the likely fix of a typo', () => {
    const path = file('typo.json', JSON.stringify({ embedded: {}, server: { prot: 9000 } }));
    const error = failure(() => loadConfig({ file: path, env: {} }));
    expect(error.code).toBe('CANOPY_ERR_INVALID_CONFIG');
    expect(error.message).toContain(path);
    expect(error.message).toContain("unknown key 'server.prot'");
    expect(error.message).toContain("did you mean 'port'?");
    expect(error.details).toMatchObject({ source: path, field: 'server.prot' });
  });

  it('reports wrong types, bad files and bad environment values with their source', () => {
    const wrong = file('wrong.yaml', 'embedded: {}\nserver:\n  port: "eighty"\n');
    const typed = failure(() => loadConfig({ file: wrong, env: {} }));
    expect(typed.message).toMatch(/wrong\.yaml: 'server\.port'/);

    const broken = file('broken.json', '{"embedded": {');
    expect(failure(() => loadConfig({ file: broken, env: {} })).message).toMatch(
      /broken\.json: not valid JSON/,
    );
    expect(failure(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {} })).message).toMatch(
      /cannot read/,
    );

    const env = failure(() =>
      loadConfig({ file: false, env: { CANOPY_PORT: 'x' }, overrides: { embedded: {} } }),
    );
    expect(env).toMatchObject({ code: 'CANOPY_ERR_INVALID_CONFIG', details: { source: 'CANOPY_PORT' } });
  });

  it('requires exactly one target, and a gRPC upstream for a gRPC port', () => {
    expect(failure(() => loadConfig({ file: false, env: {} })).message).toMatch(/upstream\.http.*embedded/);
    const both = { embedded: {}, upstream: { http: 'http://t:1' } };
    const path = file('both.json', JSON.stringify(both));
    expect(failure(() => loadConfig({ file: path, env: {} })).message).toMatch(/exclude each other/);
    const grpc = failure(() =>
      loadConfig({
        file: false,
        env: {},
        overrides: { upstream: { http: 'http://t:1' }, server: { grpcPort: 1 } },
      }),
    );
    expect(grpc.details.field).toBe('server.grpcPort');
  });

  it('refuses an upstream that is not a URL', () => {
    const error = failure(() =>
      loadConfig({ file: false, env: {}, overrides: { upstream: { http: 'triton:8000' } } }),
    );
    expect(error.details.field).toBe('upstream.http');
  });
});

describe('the canopy parameter of a Triton model config', () => {
  it('accepts the JSON of a models entry and the true/false shorthands', () => {
    expect(parseModelParameter('m', '{"drafters":["ngram"],"maxBudget":32}')).toEqual({
      drafters: ['ngram'],
      maxBudget: 32,
    });
    expect(parseModelParameter('m', 'true')).toEqual({});
    expect(parseModelParameter('m', '')).toEqual({});
    expect(parseModelParameter('m', 'false')).toEqual({ enabled: false });
  });

  it('names the model and the key of a mistake', () => {
    const typo = failure(() => parseModelParameter('canopy_lm', '{"maxBudgte":8}'));
    expect(typo.code).toBe('CANOPY_ERR_INVALID_CONFIG');
    expect(typo.message).toContain("Triton model 'canopy_lm' config parameter 'canopy'");
    expect(typo.message).toContain("did you mean 'maxBudget'?");
    expect(failure(() => parseModelParameter('m', '{drafters:1}')).message).toMatch(/is not JSON/);
    expect(failure(() => parseModelParameter('m', '{"maxBudget":1000}')).details.field).toBe('maxBudget');
  });
});

describe('resolveModel', () => {
  it('takes each key from models.<name>, else the model config, else defaults, else built-ins', () => {
    const config = loadConfig({
      file: false,
      env: {},
      overrides: {
        upstream: { http: 'http://t:1' },
        defaults: { maxBudget: 16, maxTokens: 100 },
        models: { a: { drafters: ['ngram'], tokenizer: 'tiny-random' } },
      },
    });
    const fromTriton = { maxBudget: 8, drafters: ['recycling'], defaultMaxTokens: 500 };
    const a = resolveModel(config, 'a', fromTriton);
    expect(a).toMatchObject({
      target: 'a',
      tokenizer: 'tiny-random',
      maxBudget: 8,
      maxTokens: 100,
      enabled: true,
    });
    expect(a.drafters).toEqual([{ name: 'ngram' }]);
    // A default above the limit is held to it.
    expect(a.defaultMaxTokens).toBe(100);
    const b = resolveModel(config, 'b');
    expect(b.drafters.map((d) => d.name)).toEqual(['ngram', 'recycling', 'retrieval']);
    expect(b.maxBudget).toBe(16);
  });
});
