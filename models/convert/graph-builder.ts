/**
 * A small builder for ONNX graphs: ops return the names of their outputs, so
 * a model reads like the maths it computes. Constants are de-duplicated and
 * always live in the root graph, where subgraphs (If branches) see them as
 * outer-scope values.
 */
import type {
  OnnxAttribute,
  OnnxDataType,
  OnnxGraph,
  OnnxNode,
  OnnxTensor,
  OnnxValueInfo,
} from './onnx-model.js';

export const attr = {
  int: (value: number): OnnxAttribute => ({ type: 'int', value }),
  ints: (value: readonly number[]): OnnxAttribute => ({ type: 'ints', value }),
  float: (value: number): OnnxAttribute => ({ type: 'float', value }),
  graph: (value: OnnxGraph): OnnxAttribute => ({ type: 'graph', value }),
};

type Attrs = Readonly<Record<string, OnnxAttribute>>;

interface Shared {
  counter: number;
  readonly constants: Map<string, string>;
  readonly initializers: OnnxTensor[];
}

export class GraphBuilder {
  readonly #nodes: OnnxNode[] = [];
  readonly #inputs: OnnxValueInfo[] = [];
  readonly #outputs: OnnxValueInfo[] = [];
  readonly #shared: Shared;
  readonly #root: boolean;

  constructor(
    readonly name: string,
    shared?: Shared,
  ) {
    this.#root = shared === undefined;
    this.#shared = shared ?? { counter: 0, constants: new Map(), initializers: [] };
  }

  /** A builder for a subgraph (If branch) that shares names and constants with this one. */
  subgraph(name: string): GraphBuilder {
    return new GraphBuilder(name, this.#shared);
  }

  /** A value name not used anywhere in the model yet. */
  fresh(hint: string): string {
    return `${hint}_${this.#shared.counter++}`;
  }

  /** Adds a node; returns its output names (`outputs` fixes them, else they are generated). */
  op(
    opType: string,
    inputs: readonly string[],
    attributes?: Attrs,
    outputs: number | readonly string[] = 1,
  ): string[] {
    const names =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()))
        : [...outputs];
    this.#nodes.push({ opType, name: this.fresh(`n_${opType}`), inputs, outputs: names, attributes });
    return names;
  }

  /** Adds a single-output node and returns its output name. */
  op1(opType: string, inputs: readonly string[], attributes?: Attrs, output?: string): string {
    return this.op(opType, inputs, attributes, output === undefined ? 1 : [output])[0];
  }

  /** Registers a weight (usually stored externally) under its own name. */
  initializer(tensor: OnnxTensor): string {
    this.#shared.initializers.push(tensor);
    return tensor.name;
  }

  #constant(dtype: OnnxDataType, dims: readonly number[], raw: Uint8Array, key: string): string {
    const known = this.#shared.constants.get(key);
    if (known) return known;
    const name = this.fresh('const');
    this.#shared.initializers.push({ name, dtype, dims, raw });
    this.#shared.constants.set(key, name);
    return name;
  }

  /** A 1-D int64 constant (shapes, axes, indices), or a scalar with `scalar`. */
  int64(values: readonly number[], scalar = false): string {
    const raw = new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer);
    return this.#constant('int64', scalar ? [] : [values.length], raw, `i64:${scalar}:${values.join(',')}`);
  }

  /** A float32 constant of the given shape (a scalar by default). */
  float32(values: readonly number[] | Float32Array, dims: readonly number[] = []): string {
    const data = Float32Array.from(values);
    const key = `f32:${dims.join('x')}:${Array.from(data).join(',')}`;
    return this.#constant('float32', dims, new Uint8Array(data.buffer), key);
  }

  input(info: OnnxValueInfo): string {
    this.#inputs.push(info);
    return info.name;
  }

  /** Exposes `value` as graph output `info.name` (through an Identity when the names differ). */
  output(value: string, info: OnnxValueInfo): void {
    if (value !== info.name) this.op1('Identity', [value], undefined, info.name);
    this.#outputs.push(info);
  }

  build(): OnnxGraph {
    return {
      name: this.name,
      nodes: this.#nodes,
      // Only the root graph carries initializers; subgraphs read them from the outer scope.
      initializers: this.#root ? this.#shared.initializers : [],
      inputs: this.#inputs,
      outputs: this.#outputs,
    };
  }
}
