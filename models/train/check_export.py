"""Self-check of export.py: the ONNX head computes what the JAX head computes.

    python3 models/train/check_export.py

A random head (weights rounded as exported: int8 matrices, float16 vectors) runs over a sequence
in JAX in one causal pass, and in onnxruntime in two passes, the second
reading the first's KV cache, as the drafter runs it. Exits non-zero on a
mismatch.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from export import build_head_graph  # noqa: E402
from head import HeadShape, forward_unrolled, init_params  # noqa: E402
from quantize import quantize_columns  # noqa: E402


def as_exported(v) -> np.ndarray:
    """A weight as the exported graph holds it (export.py `weight`), back in float32."""
    v = np.asarray(v, np.float32)
    if v.ndim != 2:
        return v.astype(np.float16).astype(np.float32)
    q, scale = quantize_columns(v)
    return q.astype(np.float32) * scale


def main() -> int:
    hs = HeadShape(hidden=64, heads=4, kv_heads=2, head_dim=16, ffn=96, rope_theta=10000.0, rope_scale=1.0,
                   eps=1e-5, draft_vocab=50)
    rng = np.random.default_rng(0)
    params = {k: jnp.asarray(as_exported(v)) for k, v in init_params(hs, np.full(64, 1.5, np.float32), 0).items()}
    r = 20
    feats = rng.normal(size=(1, r, 64)).astype(np.float32)
    embeds = rng.normal(size=(1, r, 64)).astype(np.float32)
    positions = (37 + np.arange(r))[None].astype(np.int32)
    want = np.asarray(forward_unrolled(params, feats, embeds, positions, np.ones((1, r), bool), 1, hs))[0, 0]

    sess = ort.InferenceSession(build_head_graph(params, hs).SerializeToString())
    lm_head = rng.normal(size=(50, 64)).astype(np.float32)

    def run(a: int, b: int, past_k: np.ndarray, past_v: np.ndarray):
        n, t = b - a, past_k.shape[0]
        bias = np.zeros((n, t + n), np.float32)
        for i in range(n):
            bias[i, t + i + 1 :] = -np.inf
        return sess.run(None, {
            "features": feats[0, a:b], "token_embeds": embeds[0, a:b],
            "positions": positions[0, a:b].astype(np.int64), "attn_bias": bias,
            "past_key": past_k, "past_value": past_v, "lm_head": lm_head, "top_k": np.array([5], np.int64),
        })

    empty = np.zeros((0, 2, 16), np.float32)
    first = run(0, 8, empty, empty)
    second = run(8, r, first[3], first[4])
    got = np.concatenate([first[0], second[0]])
    top = np.concatenate([first[1], second[1]])
    err = float(np.abs(got - want).max())
    same_top = bool((np.argsort(-(want @ lm_head.T), axis=1, kind="stable")[:, :5] == top).all())
    print(f"max |onnx - jax| = {err:.2e}; top-5 ids agree: {same_top}")
    return 0 if err < 1e-4 and same_top else 1


if __name__ == "__main__":
    sys.exit(main())
