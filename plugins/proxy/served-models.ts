/**
 * The speculative models a canopy server answers for, one engine each,
 * shared by every route (and by the HTTP and gRPC fronts).
 *
 * Where they come from:
 * - embedded: the one model in process;
 * - upstream: `models.<name>` of the config, and, with `upstream.discover`,
 *   every Triton model whose config.pbtxt has a `canopy` parameter: read for
 *   the ready models at start, and on first use for a name canopy has not
 *   seen (a model loaded later). A name without the parameter is not asked
 *   again for `upstream.discoveryTtlMs`.
 */
import type { Logger } from 'pino';
import { DEFAULT_MODEL, loadManifest } from '../../adapters/model-store/index.js';
import { createHttpClient, type KServeClient } from '../../adapters/targets/triton/index.js';
import type { EngineObserver } from '../../engine/index.js';
import { CanopyError, isCanopyError } from '../../kernels/errors.js';
import {
  type CanopyConfig,
  MODEL_PARAMETER,
  type ModelSettings,
  parseModelParameter,
  type ResolvedModel,
  resolveModel,
} from '../config/index.js';
import { type ModelHost, openModelHost } from '../host/model-host.js';

export interface ServedModel {
  /** The name clients use. */
  readonly name: string;
  readonly settings: ResolvedModel;
  readonly host: ModelHost;
  /** Seconds since the epoch, for `/v1/models`. */
  readonly created: number;
  /** Whether Triton serves a model of this name itself (false: embedded, or an alias of its target). */
  readonly onUpstream: boolean;
}

export interface ServedModels {
  /** Opens what is known at start; configuration errors throw (a start-up error). */
  start(): Promise<void>;
  /** The served model of that name, opened on first use; undefined when canopy does not serve it. */
  lookup(name: string): Promise<ServedModel | undefined>;
  list(): ServedModel[];
  /** The upstream client used for discovery (upstream mode). */
  readonly client: KServeClient | undefined;
  close(): Promise<void>;
}

export interface ServedModelsOptions {
  readonly config: CanopyConfig;
  readonly logger: Logger;
  readonly observer?: EngineObserver;
}

// Faults that mean "Triton is not there yet", not "the configuration is wrong".
const UNAVAILABLE = new Set([
  'CANOPY_ERR_UPSTREAM_UNREACHABLE',
  'CANOPY_ERR_UPSTREAM_NOT_READY',
  'CANOPY_ERR_UPSTREAM_TIMEOUT',
]);
const MAX_REMEMBERED = 4096;
const isUnavailable = (error: unknown) => isCanopyError(error) && UNAVAILABLE.has(error.code);

export function createServedModels(options: ServedModelsOptions): ServedModels {
  const { config, logger } = options;
  const log = logger.child({ component: 'models' });
  const upstream = config.upstream;
  const client = upstream
    ? createHttpClient({ url: upstream.http, timeoutMs: upstream.timeoutMs })
    : undefined;
  const served = new Map<string, ServedModel>();
  const opening = new Map<string, Promise<ServedModel | undefined>>();
  /** name → time until which it is known not to be speculative. */
  const notServed = new Map<string, number>();
  // Names come from clients: keep the memory of misses bounded.
  const remember = (name: string) => {
    if (notServed.size >= MAX_REMEMBERED) {
      const now = Date.now();
      for (const [n, until] of notServed) if (until <= now) notServed.delete(n);
      if (notServed.size >= MAX_REMEMBERED) notServed.clear();
    }
    notServed.set(name, Date.now() + (upstream?.discoveryTtlMs ?? 0));
  };
  let closed = false;
  const embeddedModel = () => config.embedded?.model ?? DEFAULT_MODEL;

  /** The engine names itself after the prepared model; metrics name the model as clients do. */
  function observerFor(name: string): EngineObserver | undefined {
    const base = options.observer;
    if (!base) return undefined;
    return {
      onStep: (_model, nodes, accepted, verifyMs, queuedMs) =>
        base.onStep?.(name, nodes, accepted, verifyMs, queuedMs),
      onRequest: (_model, stats) => base.onRequest?.(name, stats),
      onDrafterError: (_model, drafter) => base.onDrafterError?.(name, drafter),
    };
  }

  async function openHost(settings: ResolvedModel, onUpstream: boolean): Promise<ServedModel> {
    let host: ModelHost;
    if (!upstream) {
      host = await openModelHost({
        model: embeddedModel(),
        target: { kind: 'embedded', threads: config.embedded?.threads },
        drafters: settings.drafters,
        maxBudget: settings.maxBudget,
        logger,
        observer: observerFor(settings.name),
      });
    } else {
      let tokenizer = settings.tokenizer;
      if (tokenizer === undefined) {
        tokenizer = (await client!.modelConfig(settings.target)).parameters.model_name;
        if (!tokenizer) {
          throw new CanopyError(
            'CANOPY_ERR_INVALID_CONFIG',
            `model '${settings.name}': Triton model '${settings.target}' has no 'model_name' parameter; ` +
              'set `tokenizer` to the prepared model whose tokenizer it uses',
            { details: { model: settings.name } },
          );
        }
      }
      const grpc = upstream.targetTransport === 'grpc';
      host = await openModelHost({
        model: tokenizer,
        target: {
          kind: 'triton',
          url: grpc ? upstream.grpc! : upstream.http,
          model: settings.target,
          timeoutMs: upstream.timeoutMs,
        },
        drafters: settings.drafters,
        maxBudget: settings.maxBudget,
        logger,
        observer: observerFor(settings.name),
      });
    }
    if (closed) {
      await host.dispose();
      throw new CanopyError('CANOPY_ERR_SHUTTING_DOWN', 'canopy is shutting down');
    }
    const model: ServedModel = {
      name: settings.name,
      settings,
      host,
      created: Math.floor(Date.now() / 1000),
      onUpstream,
    };
    served.set(settings.name, model);
    log.info(
      {
        model: settings.name,
        target: upstream ? settings.target : 'embedded',
        drafters: host.engine.drafterNames,
      },
      'serving model with speculative decoding',
    );
    return model;
  }

  /** The `canopy` parameter of a Triton model, or undefined when it has none (or is not there). */
  async function fromModelConfig(name: string): Promise<ModelSettings | undefined> {
    if (!client || !upstream?.discover) return undefined;
    try {
      const raw = (await client.modelConfig(name)).parameters[MODEL_PARAMETER];
      return raw === undefined ? undefined : parseModelParameter(name, raw);
    } catch (error) {
      if (isCanopyError(error, 'CANOPY_ERR_UPSTREAM_ERROR') && error.details?.status === 400)
        return undefined;
      if (isCanopyError(error, 'CANOPY_ERR_UPSTREAM_NOT_READY')) return undefined;
      throw error;
    }
  }

  function open(name: string, discovered: ModelSettings | undefined): Promise<ServedModel | undefined> {
    const settings = resolveModel(config, name, discovered);
    if (!settings.enabled) {
      remember(name);
      return Promise.resolve(undefined);
    }
    const onUpstream = upstream !== undefined && settings.target === name;
    const pending = openHost(settings, onUpstream).finally(() => opening.delete(name));
    opening.set(name, pending);
    return pending;
  }

  async function discoverAtStart(): Promise<void> {
    const index = await client!.repositoryIndex();
    for (const entry of index) {
      if (entry.state !== 'READY' || served.has(entry.name) || opening.has(entry.name)) continue;
      const discovered = await fromModelConfig(entry.name);
      if (discovered === undefined) {
        remember(entry.name);
        continue;
      }
      await open(entry.name, discovered);
    }
  }

  return {
    client,
    async start() {
      if (!upstream) {
        // Without an explicit name the model is served under its own (manifest) name.
        const name = config.embedded?.name ?? loadManifest(embeddedModel()).manifest.name;
        await openHost(resolveModel(config, name), false);
        return;
      }
      try {
        for (const [name, own] of Object.entries(config.models)) {
          if (own.enabled === false) continue;
          // A model named in the file may still carry settings in its Triton config.
          await open(
            name,
            own.target === undefined || own.target === name ? await fromModelConfig(name) : undefined,
          );
        }
        if (upstream.discover) await discoverAtStart();
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        log.warn({ err: error }, 'Triton is not reachable yet; models will be opened on first use');
      }
    },
    async lookup(name) {
      const known = served.get(name);
      if (known) return known;
      const pending = opening.get(name);
      if (pending) return pending;
      if (closed || !upstream) return undefined;
      if ((notServed.get(name) ?? 0) > Date.now()) return undefined;
      const own = config.models[name];
      if (own?.enabled === false) return undefined;
      let discovered: ModelSettings | undefined;
      try {
        discovered =
          own?.target === undefined || own.target === name ? await fromModelConfig(name) : undefined;
      } catch (error) {
        // Found after start, a broken parameter is the upstream's fault as far as the client can tell.
        if (!isCanopyError(error, 'CANOPY_ERR_INVALID_CONFIG')) throw error;
        log.error({ err: error, model: name }, 'ignoring the model: its canopy parameter is invalid');
        throw new CanopyError('CANOPY_ERR_UPSTREAM_ERROR', error.message, { details: error.details ?? {} });
      }
      if (own === undefined && discovered === undefined) {
        remember(name);
        return undefined;
      }
      return opening.get(name) ?? served.get(name) ?? open(name, discovered);
    },
    list: () => [...served.values()],
    async close() {
      closed = true;
      await Promise.allSettled([...opening.values()]);
      await Promise.allSettled([...served.values()].map((m) => m.host.dispose()));
      served.clear();
      await client?.close();
    },
  };
}
