/**
 * The hand-written ONNX encoder, checked by the real consumer: onnxruntime
 * loads and runs what it writes (negative int64 attributes, float
 * attributes, inline and external tensors, an If subgraph).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { ExternalDataWriter } from '../../../models/convert/external-data.js';
import { attr, GraphBuilder } from '../../../models/convert/graph-builder.js';
import { encodeOnnxModel } from '../../../models/convert/onnx-model.js';

const dir = mkdtempSync(join(tmpdir(), 'canopy-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ONNX encoder', () => {
  it('writes a model onnxruntime runs, with external weights and an If branch', async () => {
    const data = new ExternalDataWriter(join(dir, 'm.onnx.data'), 'm.onnx.data');
    const weight = data.add('w', [3, 2], Float32Array.of(1, 2, 3, 4, 5, 6));
    const big = data.add('big', [1 << 18], new Float32Array(1 << 18).fill(0.5)); // 1 MiB: aligned
    data.close();
    expect(big.external?.offset).toBe(65536);

    const g = new GraphBuilder('test');
    g.initializer(weight);
    g.initializer(big);
    const x = g.input({ name: 'x', dtype: 'float32', shape: ['N', 3] });
    const flag = g.input({ name: 'flag', dtype: 'bool', shape: [] });
    const y = g.op1('MatMul', [x, 'w']); // [N, 2]
    const soft = g.op1('Softmax', [y], { axis: attr.int(-1) });
    const then = g.subgraph('then');
    then.output(then.op1('Mul', [soft, g.float32([2])], undefined, 'then_out'), {
      name: 'then_out',
      dtype: 'float32',
    });
    const other = g.subgraph('else');
    other.output(other.op1('Identity', [soft], undefined, 'else_out'), {
      name: 'else_out',
      dtype: 'float32',
    });
    const picked = g.op1('If', [flag], {
      then_branch: attr.graph(then.build()),
      else_branch: attr.graph(other.build()),
    });
    const total = g.op1('ReduceSum', [g.op1('Unsqueeze', ['big', g.int64([-1])]), g.int64([0, -1])], {
      keepdims: attr.int(0),
    });
    g.output(picked, { name: 'out', dtype: 'float32', shape: ['N', 2] });
    g.output(total, { name: 'total', dtype: 'float32', shape: [] });
    const path = join(dir, 'm.onnx');
    writeFileSync(
      path,
      encodeOnnxModel({ graph: g.build(), opset: 18, producer: 'test', producerVersion: '1' }),
    );

    const session = await ort.InferenceSession.create(path);
    const feeds = (f: boolean) => ({
      x: new ort.Tensor('float32', Float32Array.of(1, 0, 0, 0, 0, 1), [2, 3]),
      flag: new ort.Tensor('bool', Uint8Array.of(f ? 1 : 0), []),
    });
    const on = await session.run(feeds(true));
    const off = await session.run(feeds(false));
    // Row 0 of x picks w's row 0 = (1, 2): softmax = (0.269, 0.731).
    const s0 = 1 / (1 + Math.E);
    expect(off.out.data[0]).toBeCloseTo(s0, 5);
    expect(on.out.data[0]).toBeCloseTo(2 * s0, 5);
    expect(on.total.data[0]).toBe((1 << 18) * 0.5);
    await session.release();
  });
});
