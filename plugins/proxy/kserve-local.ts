/**
 * The KServe v2 answers canopy gives itself, for what Triton cannot answer:
 * health and server metadata when there is no Triton (embedded mode), and
 * model metadata, readiness and config for speculative models Triton does
 * not know by that name (the embedded model, or an alias of a target). With
 * a Triton upstream everything else passes through.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Request, RequestHandler, Response } from 'express';
import type { CanopyCore } from './core.js';
import { asCanopyError, sendError, sendJson } from './http-errors.js';
import { unknownModel } from './route-kit.js';
import type { ServedModel } from './served-models.js';

let version: string | undefined;

function findVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'canopy') return pkg.version ?? '0.0.0';
    }
    const parent = dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

/** canopy's version, from the package.json above this file (sources and dist alike). */
export function canopyVersion(): string {
  version ??= findVersion();
  return version;
}

const TEXT_TENSORS = {
  inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1] }],
  outputs: [{ name: 'text_output', datatype: 'BYTES', shape: [1] }],
};

function metadata(model: ServedModel): Record<string, unknown> {
  return { name: model.name, versions: ['1'], platform: 'canopy', ...TEXT_TENSORS };
}

function config(model: ServedModel): Record<string, unknown> {
  const { settings } = model;
  const canopy = {
    drafters: model.host.engine.drafterNames,
    maxBudget: settings.maxBudget,
    maxTokens: settings.maxTokens,
  };
  return {
    name: model.name,
    platform: 'canopy',
    backend: 'canopy',
    max_batch_size: 0,
    input: [{ name: 'text_input', data_type: 'TYPE_STRING', dims: [1] }],
    output: [{ name: 'text_output', data_type: 'TYPE_STRING', dims: [1] }],
    parameters: { canopy: { string_value: JSON.stringify(canopy) } },
  };
}

export type ModelView = 'metadata' | 'ready' | 'config';

/** `GET /v2/models/{model}[/versions/{v}][/ready|/config]`. */
export function modelViewHandler(core: CanopyCore, view: ModelView): RequestHandler {
  return async (req: Request, res: Response) => {
    const { model } = req.params as { model: string };
    try {
      await core.ready;
      const served = await core.models.lookup(model);
      if (served && !served.onUpstream) {
        if (view === 'ready') res.status(200).end();
        else sendJson(res, 200, view === 'metadata' ? metadata(served) : config(served));
        return;
      }
      if (core.passThrough) await core.passThrough.forward(req, res);
      else sendError(res, unknownModel(core, model), 'triton');
    } catch (error) {
      sendError(res, asCanopyError(error), 'triton');
    }
  };
}

/** `GET /v2/health/live|ready` and `GET /v2` without Triton. */
export function serverViewHandler(core: CanopyCore, view: 'live' | 'ready' | 'metadata'): RequestHandler {
  return async (req: Request, res: Response) => {
    if (core.passThrough) {
      await core.passThrough.forward(req, res);
      return;
    }
    if (view === 'live') {
      res.status(200).end();
      return;
    }
    const ready = await core.ready.then(
      () => !core.closing,
      () => false,
    );
    if (view === 'ready') res.status(ready ? 200 : 503).end();
    else sendJson(res, 200, { name: 'canopy', version: canopyVersion(), extensions: ['generate'] });
  };
}
