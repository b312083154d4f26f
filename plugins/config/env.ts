/**
 * Configuration from environment variables: a fixed table of `CANOPY_*`
 * names, each setting one key. Other `CANOPY_*` variables (CANOPY_HOME,
 * CANOPY_TRITON_*...) belong to other parts of canopy and are not read here.
 */
import { CanopyError } from '../../kernels/errors.js';
import type { CanopyConfigInput } from './schema.js';

type Kind = 'string' | 'integer' | 'boolean' | 'list';

/** Variable → [path in the config, kind]. */
export const ENV_VARIABLES: Readonly<Record<string, readonly [readonly string[], Kind]>> = {
  CANOPY_HOST: [['server', 'host'], 'string'],
  CANOPY_PORT: [['server', 'port'], 'integer'],
  CANOPY_GRPC_PORT: [['server', 'grpcPort'], 'integer'],
  CANOPY_BODY_LIMIT_BYTES: [['server', 'bodyLimitBytes'], 'integer'],
  CANOPY_SHUTDOWN_GRACE_MS: [['server', 'shutdownGraceMs'], 'integer'],
  CANOPY_UPSTREAM: [['upstream', 'http'], 'string'],
  CANOPY_UPSTREAM_GRPC: [['upstream', 'grpc'], 'string'],
  CANOPY_UPSTREAM_TIMEOUT_MS: [['upstream', 'timeoutMs'], 'integer'],
  CANOPY_DISCOVER: [['upstream', 'discover'], 'boolean'],
  CANOPY_EMBEDDED_MODEL: [['embedded', 'model'], 'string'],
  CANOPY_DRAFTERS: [['defaults', 'drafters'], 'list'],
  CANOPY_MAX_BUDGET: [['defaults', 'maxBudget'], 'integer'],
  CANOPY_MAX_TOKENS: [['defaults', 'maxTokens'], 'integer'],
  CANOPY_LOG_LEVEL: [['log', 'level'], 'string'],
};

function convert(name: string, raw: string, kind: Kind): unknown {
  const value = raw.trim();
  switch (kind) {
    case 'string':
      return value;
    case 'integer': {
      if (!/^-?\d+$/.test(value)) throw bad(name, raw, 'an integer');
      return Number(value);
    }
    case 'boolean': {
      if (/^(1|true|yes|on)$/i.test(value)) return true;
      if (/^(0|false|no|off)$/i.test(value)) return false;
      throw bad(name, raw, 'true or false');
    }
    case 'list':
      // `none` = an empty list (plain decoding), as the CLI's --drafters.
      return value === 'none' || value === '' ? [] : value.split(',').map((s) => s.trim());
  }
}

function bad(name: string, raw: string, what: string): CanopyError {
  return new CanopyError(
    'CANOPY_ERR_INVALID_CONFIG',
    `environment variable ${name} must be ${what}, got '${raw}'`,
    {
      details: { source: name },
    },
  );
}

/** The configuration layer the environment sets (only the variables present). */
export function configFromEnv(env: NodeJS.ProcessEnv): CanopyConfigInput {
  const out: Record<string, unknown> = {};
  for (const [name, [path, kind]] of Object.entries(ENV_VARIABLES)) {
    const raw = env[name];
    if (raw === undefined) continue;
    let node = out;
    for (const key of path.slice(0, -1)) {
      node[key] ??= {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = convert(name, raw, kind);
  }
  return out as CanopyConfigInput;
}
