"""The target model of a canopy model directory, in JAX, for the training tool.

It reads the converted model (docs/model-format.md: `model.onnx` + its external
`model.onnx.data`) and computes exactly what the ONNX graph computes: llama
blocks with RoPE over adjacent pairs (GGUF's permuted Q/K rows), grouped-query
attention, SwiGLU, the attention scale already folded into the Q columns, and
`hidden_final` = the final-normed residual that the LM head reads.

Two entry points serve batched greedy generation with a KV cache of fixed
shape (so XLA compiles each bucket once): `prefill` runs one prompt into one
slot of the cache, `decode` advances every slot by one token.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import onnx

BLOCK_WEIGHTS = ("attn_norm", "attn_qkv", "attn_output", "ffn_norm", "ffn_gate_up", "ffn_down")


@dataclass(frozen=True)
class Shape:
    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    rope_theta: float
    rope_scale: float
    eps: float
    tied: bool
    name: str
    sha256: str

    @staticmethod
    def of(manifest: dict) -> "Shape":
        return Shape(
            vocab=manifest["vocabSize"],
            hidden=manifest["hiddenSize"],
            layers=manifest["numLayers"],
            heads=manifest["numHeads"],
            kv_heads=manifest["numKvHeads"],
            head_dim=manifest["headDim"],
            rope_theta=manifest["ropeTheta"],
            rope_scale=manifest.get("ropeScale", 1),
            eps=manifest["rmsEps"],
            tied=manifest["tiedEmbeddings"],
            name=manifest["name"],
            sha256=manifest["source"]["sha256"],
        )


def load_model(model_dir: str) -> tuple[Shape, dict[str, np.ndarray]]:
    """Reads the manifest and every float32 initializer (memory-mapped, not copied)."""
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    graph = onnx.load(os.path.join(model_dir, manifest["files"]["graph"]), load_external_data=False).graph
    data = np.memmap(os.path.join(model_dir, manifest["files"]["weights"]), dtype=np.uint8, mode="r")
    weights: dict[str, np.ndarray] = {}
    for t in graph.initializer:
        if t.data_type != onnx.TensorProto.FLOAT or t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        ext = {e.key: e.value for e in t.external_data}
        start, length = int(ext["offset"]), int(ext["length"])
        weights[t.name] = data[start : start + length].view(np.float32).reshape(tuple(t.dims))
    return Shape.of(manifest), weights


def stack_params(shape: Shape, weights: dict[str, np.ndarray]) -> dict:
    """Block weights stacked on a leading layer axis (for lax.scan), as JAX arrays."""
    blocks = {n: jnp.asarray(np.stack([weights[f"blk.{l}.{n}"] for l in range(shape.layers)])) for n in BLOCK_WEIGHTS}
    embd = jnp.asarray(weights["token_embd"])
    head = embd if shape.tied else jnp.asarray(weights["output"])
    return {"blocks": blocks, "embd": embd, "head": head, "norm": jnp.asarray(weights["output_norm"])}


def rms_norm(x, w, eps):
    return x / jnp.sqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope_tables(positions, head_dim: int, theta: float, scale: float):
    """cos and signed sin of shape positions.shape + [D]: pair (2i, 2i+1) turns by p/scale·θ^(-2i/D)."""
    i = np.arange(head_dim)
    inv = theta ** (-(2 * (i // 2)) / head_dim) / scale
    ang = positions[..., None].astype(jnp.float32) * jnp.asarray(inv, jnp.float32)
    sign = jnp.asarray(np.where(i % 2 == 0, -1.0, 1.0), jnp.float32)
    return jnp.cos(ang), jnp.sin(ang) * sign


def rotate(x, cos, sin):
    """x [..., heads, D] with cos/sin [..., D]: rotates adjacent pairs."""
    d = x.shape[-1]
    swapped = x[..., np.arange(d) ^ 1]
    return x * cos[..., None, :] + swapped * sin[..., None, :]


def _attend(q, keys, values, mask, shape: Shape):
    """q [R, Hq, D], keys/values [S, Hkv, D], mask [R, S] bool -> [R, Hq D]. Scale is in q already."""
    g = shape.heads // shape.kv_heads
    qg = q.reshape(q.shape[0], shape.kv_heads, g, shape.head_dim)
    scores = jnp.einsum("rkgd,skd->kgrs", qg, keys)
    scores = jnp.where(mask[None, None], scores, -jnp.inf)
    probs = jax.nn.softmax(scores, axis=-1)
    ctx = jnp.einsum("kgrs,skd->rkgd", probs, values)
    return ctx.reshape(q.shape[0], shape.heads * shape.head_dim)


def _qkv(x, w, l_cos, l_sin, shape: Shape):
    hq, hkv, d = shape.heads, shape.kv_heads, shape.head_dim
    h = rms_norm(x, w["attn_norm"], shape.eps)
    qkv = h @ w["attn_qkv"]
    q = rotate(qkv[..., : hq * d].reshape(*x.shape[:-1], hq, d), l_cos, l_sin)
    k = rotate(qkv[..., hq * d : (hq + hkv) * d].reshape(*x.shape[:-1], hkv, d), l_cos, l_sin)
    v = qkv[..., (hq + hkv) * d :].reshape(*x.shape[:-1], hkv, d)
    return q, k, v


def _ffn(x, w, shape: Shape):
    h = rms_norm(x, w["ffn_norm"], shape.eps)
    gate, up = jnp.split(h @ w["ffn_gate_up"], 2, axis=-1)
    return x + (jax.nn.silu(gate) * up) @ w["ffn_down"]


def prefill(params, tokens, length, shape: Shape):
    """One prompt, padded to a bucket: tokens [P] (first `length` real).

    Returns keys, values [L, P, Hkv, D], hidden_final [P, H] and the greedy next token after row length-1.
    """
    p = tokens.shape[0]
    pos = jnp.arange(p)
    cos, sin = rope_tables(pos, shape.head_dim, shape.rope_theta, shape.rope_scale)
    mask = (pos[None, :] <= pos[:, None]) & (pos[None, :] < length)

    def block(x, w):
        q, k, v = _qkv(x, w, cos, sin, shape)
        x = x + _attend(q, k, v, mask, shape) @ w["attn_output"]
        return _ffn(x, w, shape), (k, v)

    x, (keys, values) = jax.lax.scan(block, params["embd"][tokens], params["blocks"])
    final = rms_norm(x, params["norm"], shape.eps)
    logits = final[length - 1] @ params["head"].T
    return keys, values, final, jnp.argmax(logits)


def features(params, tokens, length, shape: Shape):
    """hidden_final [P, H] of one padded sequence (a prefill without KV): for teacher-forced data."""
    return prefill(params, tokens, length, shape)[2]


def decode(params, cache_k, cache_v, tokens, positions, shape: Shape):
    """One token per slot: tokens, positions [B]. The cache holds each slot's rows < position:
    keys transposed, cache_k [L, B Hkv, D, C], and cache_v [L, B Hkv, C, D], so that both attention
    products are plain batched GEMMs (a transposed operand costs XLA on CPU a copy per layer).

    Returns the new keys, values [L, B, Hkv, D], hidden_final [B, H] and greedy next tokens [B].
    The cache is only read here; `write_kv` stores the new rows (in place, donated).
    """
    cos, sin = rope_tables(positions, shape.head_dim, shape.rope_theta, shape.rope_scale)
    cap = cache_k.shape[3]
    b, g, hkv = tokens.shape[0], shape.heads // shape.kv_heads, shape.kv_heads
    past = jnp.arange(cap)[None, :] < positions[:, None]  # [B, C]
    bias = jnp.repeat(jnp.where(past, 0.0, -jnp.inf), hkv, axis=0)[:, None, :]  # [B Hkv, 1, C]

    def block(x, w, ck, cv):
        q, k, v = _qkv(x, w, cos, sin, shape)  # [B, heads, D]
        qg = q.reshape(b * hkv, g, shape.head_dim)
        kb, vb = k.reshape(b * hkv, 1, -1), v.reshape(b * hkv, 1, -1)
        # The token attends to the cached rows and to itself: scores side by side, cache untouched.
        s = jnp.concatenate([jnp.matmul(qg, ck) + bias, jnp.sum(qg * kb, -1, keepdims=True)], -1)
        p = jax.nn.softmax(s, axis=-1)
        ctx = jnp.matmul(p[..., :cap], cv) + p[..., cap:] * vb  # [B Hkv, G, D]
        x = x + ctx.reshape(b, shape.heads * shape.head_dim) @ w["attn_output"]
        return _ffn(x, w, shape), k, v

    x = params["embd"][tokens]
    keys, values = [], []
    # Unrolled: slicing the cache per layer inside lax.scan copies it.
    for l in range(shape.layers):
        w = {n: a[l] for n, a in params["blocks"].items()}
        x, k, v = block(x, w, cache_k[l], cache_v[l])
        keys.append(k)
        values.append(v)
    final = rms_norm(x, params["norm"], shape.eps)
    return jnp.stack(keys), jnp.stack(values), final, jnp.argmax(final @ params["head"].T, axis=-1)


def empty_cache(shape: Shape, slots: int, capacity: int):
    rows = slots * shape.kv_heads
    return (
        jnp.zeros((shape.layers, rows, shape.head_dim, capacity), jnp.float32),
        jnp.zeros((shape.layers, rows, capacity, shape.head_dim), jnp.float32),
    )


def write_kv(cache_k, cache_v, keys, values, positions):
    """Stores decode rows keys/values [L, B, Hkv, D] at column positions[b] of each slot."""
    l, b, hkv, _ = keys.shape
    rows = jnp.arange(b * hkv)
    cols = jnp.repeat(positions, hkv)
    cache_k = cache_k.at[:, rows, :, cols].set(jnp.transpose(keys.reshape(l, b * hkv, -1), (1, 0, 2)))
    # Advanced indices apart move to the front ([R, L, D]); side by side they stay ([L, R, D]).
    cache_v = cache_v.at[:, rows, cols, :].set(values.reshape(l, b * hkv, -1))
    return cache_k, cache_v


def write_prompt(cache_k, cache_v, keys, values, slot):
    """Stores a prefill's keys/values [L, P, Hkv, D] at columns 0..P-1 of `slot`."""
    hkv = keys.shape[2]
    k = jnp.transpose(keys, (0, 2, 3, 1))  # [L, Hkv, D, P]
    v = jnp.transpose(values, (0, 2, 1, 3))  # [L, Hkv, P, D]
    cache_k = jax.lax.dynamic_update_slice(cache_k, k, (0, slot * hkv, 0, 0))
    cache_v = jax.lax.dynamic_update_slice(cache_v, v, (0, slot * hkv, 0, 0))
    return cache_k, cache_v
