"""Rewrites a head graph exported with float16 matrices into the current int8 form.

    python3 models/train/quantize.py models/heads/<model>/eagle.onnx

Every 2-D float16 initializer feeding a Cast becomes int8 with one float32
scale per column (quantize_columns, which export.py uses too), cast and
scaled back to float32 in the graph; vectors stay float16. Prints how far the new graph's outputs move on random inputs.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def quantize_columns(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per column of a [in, out] matrix: w ≈ q * scale[None, :]."""
    amax = np.abs(w).max(axis=0)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def quantize_graph(model: onnx.ModelProto) -> int:
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    done = 0
    for node in list(g.node):
        if node.op_type != "Cast" or node.input[0] not in inits:
            continue
        init = inits[node.input[0]]
        if len(init.dims) != 2:
            continue
        base = node.input[0].removesuffix("_f16")
        q, scale = quantize_columns(numpy_helper.to_array(init).astype(np.float32))
        g.initializer.remove(init)
        g.initializer.extend([numpy_helper.from_array(q, f"{base}_q8"),
                              numpy_helper.from_array(scale[None, :], f"{base}_scale")])
        # As export.py writes it: Cast(int8 → float32) then Mul by the column scales.
        index = list(g.node).index(node)
        node.input[0] = f"{base}_q8"
        cast_out = f"{base}_q8_f32"
        out = node.output[0]
        node.output[0] = cast_out
        g.node.insert(index + 1, helper.make_node("Mul", [cast_out, f"{base}_scale"], [out], name=f"{node.name}_scale"))
        done += 1
    return done


def main() -> int:
    path = sys.argv[1]
    model = onnx.load(path)
    before = model.SerializeToString()
    count = quantize_graph(model)
    onnx.checker.check_model(model)
    after = model.SerializeToString()
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is not None:
        print(compare(before, after, ort))
    with open(path + ".tmp", "wb") as f:
        f.write(after)
    os.replace(path + ".tmp", path)
    print(f"{path}: {count} matrices to int8, {len(before) / 1e6:.1f} MB -> {len(after) / 1e6:.1f} MB")
    return 0


def compare(before: bytes, after: bytes, ort) -> str:
    """Feature error and top-1 agreement of the two graphs on random rows against a random cache."""
    a = ort.InferenceSession(before, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(after, providers=["CPUExecutionProvider"])
    shapes = {i.name: i.shape for i in a.get_inputs()}
    h = shapes["features"][1]
    hkv, d = shapes["past_key"][1], shapes["past_key"][2]
    rng = np.random.default_rng(0)
    n, t, vd = 64, 32, 8192
    feeds = {
        "features": rng.standard_normal((n, h)).astype(np.float32),
        "token_embeds": (0.05 * rng.standard_normal((n, h))).astype(np.float32),
        "positions": np.arange(t, t + n, dtype=np.int64),
        "attn_bias": np.where(np.tril(np.ones((n, t + n)), t) > 0, 0, -np.inf).astype(np.float32),
        "past_key": rng.standard_normal((t, hkv, d)).astype(np.float32),
        "past_value": rng.standard_normal((t, hkv, d)).astype(np.float32),
        "lm_head": (0.05 * rng.standard_normal((vd, h))).astype(np.float32),
        "top_k": np.array([4], np.int64),
    }
    fa, ia = a.run(["feature_out", "topk_ids"], feeds)
    fb, ib = b.run(["feature_out", "topk_ids"], feeds)
    rel = float(np.linalg.norm(fa - fb) / np.linalg.norm(fa))
    top1 = float((ia[:, 0] == ib[:, 0]).mean())
    return f"relative feature error {rel:.4f}, top-1 agreement {top1:.3f} over {n} random rows"


if __name__ == "__main__":
    sys.exit(main())
