/**
 * The drafter registry. Built-in drafters register here exactly like
 * third-party ones; configuration names a drafter and the registry builds it.
 * The object's shape is checked when it registers, so a broken plugin fails at
 * start-up rather than mid-request.
 */
import type { DrafterCapabilities, DrafterDefinition } from '../adapters/drafter.js';
import { CanopyError } from '../kernels/errors.js';

const NAME = /^[a-z][a-z0-9-]{0,47}$/;

export interface DrafterRegistry {
  register(definition: DrafterDefinition<unknown>): void;
  /** Throws CANOPY_ERR_UNKNOWN_DRAFTER naming the known drafters. */
  get(name: string): DrafterDefinition<unknown>;
  has(name: string): boolean;
  names(): string[];
}

function shapeError(name: unknown, what: string): CanopyError {
  return new CanopyError('CANOPY_ERR_DRAFTER_SHAPE', `drafter ${JSON.stringify(name)}: ${what}`);
}

function checkCapabilities(name: string, c: unknown): void {
  if (typeof c !== 'object' || c === null) throw shapeError(name, 'capabilities must be an object');
  const caps = c as Partial<DrafterCapabilities>;
  for (const flag of ['tree', 'probabilities', 'needsTarget'] as const) {
    if (typeof caps[flag] !== 'boolean') throw shapeError(name, `capabilities.${flag} must be a boolean`);
  }
  if (!Number.isInteger(caps.needsTopK) || (caps.needsTopK as number) < 0) {
    throw shapeError(name, 'capabilities.needsTopK must be an integer ≥ 0');
  }
  const layers = caps.needsHiddenLayers;
  if (!Array.isArray(layers) || !layers.every((l) => Number.isInteger(l) && l >= 0)) {
    throw shapeError(name, 'capabilities.needsHiddenLayers must be an array of layer indices');
  }
}

/** Checks that a value has the shape of a DrafterDefinition. */
export function assertDrafterDefinition(value: unknown): asserts value is DrafterDefinition<unknown> {
  if (typeof value !== 'object' || value === null) throw shapeError(value, 'a definition must be an object');
  const def = value as Partial<DrafterDefinition<unknown>>;
  if (typeof def.name !== 'string' || !NAME.test(def.name)) {
    throw shapeError(def.name, 'name must match /^[a-z][a-z0-9-]{0,47}$/');
  }
  checkCapabilities(def.name, def.capabilities);
  if (typeof def.parseOptions !== 'function') throw shapeError(def.name, 'parseOptions must be a function');
  if (typeof def.create !== 'function') throw shapeError(def.name, 'create must be a function');
}

export function createDrafterRegistry(initial: readonly DrafterDefinition<unknown>[] = []): DrafterRegistry {
  const byName = new Map<string, DrafterDefinition<unknown>>();
  const registry: DrafterRegistry = {
    register(definition) {
      assertDrafterDefinition(definition);
      if (byName.has(definition.name)) {
        throw new CanopyError(
          'CANOPY_ERR_DUPLICATE_DRAFTER',
          `a drafter named '${definition.name}' is already registered`,
        );
      }
      byName.set(definition.name, Object.freeze({ ...definition }));
    },
    get(name) {
      const def = byName.get(name);
      if (!def) {
        throw new CanopyError(
          'CANOPY_ERR_UNKNOWN_DRAFTER',
          `unknown drafter '${name}'; known drafters: ${[...byName.keys()].join(', ') || '(none)'}`,
          { details: { drafter: name, known: [...byName.keys()] } },
        );
      }
      return def;
    },
    has: (name) => byName.has(name),
    names: () => [...byName.keys()],
  };
  for (const def of initial) registry.register(def);
  return registry;
}
