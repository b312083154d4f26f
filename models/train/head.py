"""The EAGLE-style draft head, in JAX (training side; export.py writes the same maths as ONNX).

Row i of a sequence pairs the target's feature f_i (hidden_final at position
i) with the token x_{i+1} the target chose from it, and predicts f_{i+1}:

    e   = RMSNorm(embed(x_{i+1}))                  (frozen target embedding)
    h   = [e, f_i] @ W_fc                          [2H] -> [H]
    h   = one llama decoder block over the rows    (causal, RoPE, its own KV cache)
    f^  = RMSNorm(h) * w_out                       the predicted feature
    p   = softmax(f^ @ E_d^T)                      over the draft vocabulary (EAGLE-3's
                                                   reduced vocabulary), E_d = frozen LM-head rows

`forward_unrolled` runs the training-time test of EAGLE-3: at depth k a row
reads its own prediction from depth k-1 instead of the true feature, and
attends to the true rows up to where its draft chain began plus its own chain
(the rows the drafter would hold at that depth), so the head learns from the
inputs it sees when drafting several tokens ahead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np

from target import rms_norm, rope_tables, rotate


@dataclass(frozen=True)
class HeadShape:
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    rope_theta: float
    rope_scale: float
    eps: float
    draft_vocab: int

    def to_json(self) -> dict:
        return asdict(self)


def init_params(hs: HeadShape, out_norm: np.ndarray, seed: int) -> dict:
    """Random init (scaled normal); the output norm starts as the target's final norm.

    (Seeding the block with the target's last block was tried: lower held-out acceptance.)
    """
    rng = np.random.default_rng(seed)
    h, d = hs.hidden, hs.head_dim

    def dense(n_in: int, n_out: int, scale: float = 1.0) -> jnp.ndarray:
        return jnp.asarray(rng.normal(0, scale / np.sqrt(n_in), (n_in, n_out)), jnp.float32)

    params = {
        "emb_norm": jnp.ones(h, jnp.float32),
        "fc": dense(2 * h, h),
        "attn_norm": jnp.ones(h, jnp.float32),
        "attn_qkv": dense(h, (hs.heads + 2 * hs.kv_heads) * d),
        "attn_output": dense(hs.heads * d, h, 0.5),
        "ffn_norm": jnp.ones(h, jnp.float32),
        "ffn_gate_up": dense(h, 2 * hs.ffn),
        "ffn_down": dense(hs.ffn, h, 0.5),
        "out_norm": jnp.asarray(out_norm, jnp.float32),
    }
    return params


def _qkv(p, x, cos, sin, hs: HeadShape):
    hq, hkv, d = hs.heads, hs.kv_heads, hs.head_dim
    h = rms_norm(x, p["attn_norm"], hs.eps)
    qkv = h @ p["attn_qkv"]
    lead = x.shape[:-1]
    # The attention scale is folded into q, as in the target graph.
    q = rotate(qkv[..., : hq * d].reshape(*lead, hq, d), cos, sin) / np.sqrt(d)
    k = rotate(qkv[..., hq * d : (hq + hkv) * d].reshape(*lead, hkv, d), cos, sin)
    v = qkv[..., (hq + hkv) * d :].reshape(*lead, hkv, d)
    return q, k, v


def _attend(q, keys, values, mask, hs: HeadShape):
    """q [B, R, Hq, D]; keys/values [B, S, Hkv, D]; mask [B, R, S] -> [B, R, Hq D]."""
    b, r = q.shape[:2]
    g = hs.heads // hs.kv_heads
    qg = q.reshape(b, r, hs.kv_heads, g, hs.head_dim)
    scores = jnp.einsum("brkgd,bskd->bkgrs", qg, keys)
    scores = jnp.where(mask[:, None, None], scores, -1e30)
    ctx = jnp.einsum("bkgrs,bskd->brkgd", jax.nn.softmax(scores, axis=-1), values)
    return ctx.reshape(b, r, hs.heads * hs.head_dim)


def _finish(p, x, ctx, hs: HeadShape):
    x = x + ctx @ p["attn_output"]
    h = rms_norm(x, p["ffn_norm"], hs.eps)
    gate, up = jnp.split(h @ p["ffn_gate_up"], 2, axis=-1)
    x = x + (jax.nn.silu(gate) * up) @ p["ffn_down"]
    return rms_norm(x, p["out_norm"], hs.eps)


def _inputs(p, feats, embeds, hs: HeadShape):
    return jnp.concatenate([rms_norm(embeds, p["emb_norm"], hs.eps), feats], axis=-1) @ p["fc"]


def forward_unrolled(p, feats, embeds, positions, valid, depth: int, hs: HeadShape):
    """Predicted features at every unroll depth.

    feats [B, R, H]: true features f_0..f_{R-1}; embeds [B, R, H]: embeddings of x_1..x_R (the
    token paired with each row); positions [B, R]; valid [B, R] marks real rows.
    Returns [depth, B, R, H]: entry k-1 at row i predicts f_{i+1} from a chain that started
    k-1 rows earlier (rows i-k+2..i use predicted features).
    """
    r = feats.shape[1]
    cos, sin = rope_tables(positions, hs.head_dim, hs.rope_theta, hs.rope_scale)
    idx = jnp.arange(r)
    causal = (idx[None, :] <= idx[:, None])[None] & valid[:, None, :]  # [B, R, R]
    x = _inputs(p, feats, embeds, hs)
    q, k, v = _qkv(p, x, cos, sin, hs)
    out = [_finish(p, x, _attend(q, k, v, causal, hs), hs)]
    keys, values = [k], [v]
    for step in range(1, depth):
        # Row i now reads the prediction of f_i made one depth shallower at row i-1.
        prev = jnp.concatenate([jnp.zeros_like(out[-1][:, :1]), out[-1][:, :-1]], axis=1)
        x = _inputs(p, prev, embeds, hs)
        q, k, v = _qkv(p, x, cos, sin, hs)
        keys.append(k)
        values.append(v)
        # True rows j <= i - step, then the chain rows: depth d (1..step) at row i - step + d.
        masks = [(idx[None, :] <= idx[:, None] - step)[None] & valid[:, None, :]]
        for d in range(1, step + 1):
            masks.append(jnp.broadcast_to((idx[None, :] == idx[:, None] - step + d)[None], causal.shape))
        all_k = jnp.concatenate(keys, axis=1)
        all_v = jnp.concatenate(values, axis=1)
        ctx = _attend(q, all_k, all_v, jnp.concatenate(masks, axis=2), hs)
        out.append(_finish(p, x, ctx, hs))
    return jnp.stack(out)
