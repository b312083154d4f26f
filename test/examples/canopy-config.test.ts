/** examples/canopy.config.yaml is a valid configuration that says what examples/proxy.sh relies on. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, resolveModel } from '../../plugins/config/index.js';

const FILE = fileURLToPath(new URL('../../examples/canopy.config.yaml', import.meta.url));

describe('examples/canopy.config.yaml', () => {
  it('loads, and makes canopy_lm speculative with its drafters', () => {
    const config = loadConfig({ file: FILE, env: {} });
    expect(config.upstream).toMatchObject({ http: 'http://127.0.0.1:8000', grpc: 'grpc://127.0.0.1:8001' });
    expect(config.server.host).toBe('127.0.0.1');
    const model = resolveModel(config, 'canopy_lm');
    expect(model.drafters.map((d) => d.name)).toEqual(['ngram', 'recycling', 'retrieval']);
    expect(model).toMatchObject({ target: 'canopy_lm', maxBudget: 32, maxTokens: 2048, enabled: true });
  });

  it('gives way to the flags examples/proxy.sh passes', () => {
    const config = loadConfig({
      file: FILE,
      env: {},
      overrides: {
        upstream: { http: 'http://127.0.0.1:1', grpc: 'grpc://127.0.0.1:2' },
        server: { port: 0, grpcPort: 0 },
      },
    });
    expect(config.upstream?.http).toBe('http://127.0.0.1:1');
    expect(config.server).toMatchObject({ port: 0, grpcPort: 0, shutdownGraceMs: 15_000 });
  });
});
