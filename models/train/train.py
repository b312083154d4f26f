"""Trains the draft head on the self-distillation data (data.py) and measures it.

Loss per row and unroll depth k (weight 0.8^k, EAGLE-3's training-time test):
smooth-L1 between the predicted and the true next feature (EAGLE-1's
regression) + cross-entropy against the target's own next-token distribution
(soft labels: softmax of the true next feature through the frozen LM head,
restricted to the draft vocabulary; Direct Alignment / DistillSpec style
distillation rather than one-hot labels).

Acceptance is measured on held-out answers as the drafter meets it: at depth
k the head has drafted k-1 tokens on its own features, and the row counts as
accepted when its top-1 token is the target's greedy token, given that the
tokens before it were (teacher forcing on the true tokens is exactly that
condition). τ of a greedy chain of D tokens follows as 1 + Σ_k Π_{j≤k} acc_j.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from head import HeadShape, forward_unrolled, init_params


@dataclass(frozen=True)
class TrainPlan:
    epochs: int = 5
    batch: int = 16
    lr: float = 1e-3
    warmup: int = 100
    depth: int = 2
    feat_weight: float = 1.0
    ce_weight: float = 0.5
    noise: float = 0.0
    seed: int = 0


@dataclass
class Sequence:
    prompt_len: int
    answer: np.ndarray  # [n] int32
    feats: np.ndarray  # [n, H] float16: feats[i] chose answer[i]


def draft_vocab(seqs: list[Sequence], size: int, must: list[int], vocab: int) -> np.ndarray:
    """`must` (e.g. EOS), then the most frequent answer tokens, then the rest by id, up to `size`; sorted ids."""
    counts = np.bincount(np.concatenate([s.answer for s in seqs]), minlength=vocab)
    order = [int(t) for t in np.argsort(-counts, kind="stable")]
    keep = list(dict.fromkeys([*must, *order]))[:size]
    return np.asarray(sorted(keep), np.int32)


def make_batches(seqs: list[Sequence], batch: int, rng: np.random.Generator, shuffle: bool):
    """Similar lengths batched together (little padding); rows padded to a multiple of 32."""
    order = np.argsort([len(s.answer) for s in seqs], kind="stable")
    groups = [order[i : i + batch] for i in range(0, len(order), batch)]
    if shuffle:
        rng.shuffle(groups)
    for g in groups:
        yield [seqs[i] for i in g]


def pack(group: list[Sequence], embed: np.ndarray, hidden: int):
    n = max(len(s.answer) for s in group)
    r = -(-n // 32) * 32
    b = len(group)
    feats = np.zeros((b, r, hidden), np.float32)
    embeds = np.zeros((b, r, hidden), np.float32)
    positions = np.zeros((b, r), np.int32)
    valid = np.zeros((b, r), bool)
    targets = np.zeros((b, r), np.int32)
    for j, s in enumerate(group):
        m = len(s.answer)
        feats[j, :m] = s.feats
        embeds[j, :m] = embed[s.answer]
        positions[j, :m] = s.prompt_len - 1 + np.arange(m)
        valid[j, :m] = True
        targets[j, : m - 1] = s.answer[1:]
    return feats, embeds, positions, valid, targets


def _losses(p, feats, embeds, positions, valid, lm_head, hs: HeadShape, plan: TrainPlan, noise_key):
    if plan.noise > 0:
        feats_in = feats + plan.noise * jax.random.normal(noise_key, feats.shape)
    else:
        feats_in = feats
    out = forward_unrolled(p, feats_in, embeds, positions, valid, plan.depth, hs)  # [K, B, R, H]
    nxt = jnp.concatenate([feats[:, 1:], jnp.zeros_like(feats[:, :1])], axis=1)  # f_{i+1}
    has_next = jnp.concatenate([valid[:, 1:], jnp.zeros_like(valid[:, :1])], axis=1)
    teacher = jax.nn.softmax(jax.lax.stop_gradient(nxt @ lm_head.T), axis=-1)
    total, parts = 0.0, []
    for k in range(plan.depth):
        mask = has_next & (jnp.arange(feats.shape[1]) >= k)[None]
        denom = jnp.maximum(mask.sum(), 1)
        diff = jnp.abs(out[k] - nxt)
        feat = jnp.where(diff < 1, 0.5 * diff * diff, diff - 0.5).mean(-1)
        ce = -(teacher * jax.nn.log_softmax(out[k] @ lm_head.T, axis=-1)).sum(-1)
        feat_l = (feat * mask).sum() / denom
        ce_l = (ce * mask).sum() / denom
        total = total + 0.8**k * (plan.feat_weight * feat_l + plan.ce_weight * ce_l)
        parts.append((feat_l, ce_l))
    return total, parts


def train(seqs: list[Sequence], held: list[Sequence], embed: np.ndarray, lm_rows: np.ndarray, d2t: np.ndarray,
          hs: HeadShape, out_norm: np.ndarray, plan: TrainPlan, log=print) -> tuple[dict, dict]:
    """embed: the target's input embedding [V, H]; lm_rows: its LM head [V, H] (the same array when tied)."""
    lm_head = jnp.asarray(lm_rows[d2t])
    params = init_params(hs, out_norm, plan.seed)
    rng = np.random.default_rng(plan.seed)
    steps_per_epoch = math.ceil(len(seqs) / plan.batch)
    total_steps = plan.epochs * steps_per_epoch
    warmup = min(plan.warmup, total_steps // 10)
    schedule = optax.warmup_cosine_decay_schedule(0.0, plan.lr, warmup, total_steps, plan.lr * 0.05)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=0.01))
    state = opt.init(params)

    @partial(jax.jit, donate_argnums=(0, 1))
    def step(params, state, feats, embeds, positions, valid, key):
        (loss, parts), grads = jax.value_and_grad(_losses, has_aux=True)(
            params, feats, embeds, positions, valid, lm_head, hs, plan, key)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss, parts

    key = jax.random.PRNGKey(plan.seed)
    started = time.time()
    n = 0
    for epoch in range(plan.epochs):
        run_loss = []
        for group in make_batches(seqs, plan.batch, rng, shuffle=True):
            feats, embeds, positions, valid, _ = pack(group, embed, hs.hidden)
            key, sub = jax.random.split(key)
            params, state, loss, parts = step(params, state, feats, embeds, positions, valid, sub)
            run_loss.append(float(loss))
            n += 1
            if n % 50 == 0:
                log(f"step {n}/{total_steps} loss {np.mean(run_loss[-50:]):.4f} "
                    f"(feat {float(parts[0][0]):.4f} ce {float(parts[0][1]):.4f}) {time.time() - started:.0f} s")
        acc = evaluate(params, held, embed, lm_rows, d2t, hs, plan.depth + 2)
        log(f"epoch {epoch + 1}: held-out acceptance by depth {[round(a, 3) for a in acc['acceptance']]}, "
            f"chain tau {acc['chainTau']:.2f}")
    record = {"steps": n, "epochs": plan.epochs, "trainSeconds": round(time.time() - started), **evaluate(
        params, held, embed, lm_rows, d2t, hs, max(plan.depth + 2, 6))}
    return params, record


def evaluate(params, held: list[Sequence], embed: np.ndarray, lm_rows: np.ndarray, d2t: np.ndarray, hs: HeadShape,
             depth: int) -> dict:
    """Held-out top-1 acceptance by draft depth (see the module doc) and the greedy chain's τ."""
    lm_head = jnp.asarray(lm_rows[d2t])
    fwd = jax.jit(partial(forward_unrolled, depth=depth, hs=hs))
    hits = np.zeros(depth)
    counts = np.zeros(depth)
    for group in make_batches(held, 16, np.random.default_rng(0), shuffle=False):
        feats, embeds, positions, valid, targets = pack(group, embed, hs.hidden)
        out = fwd(params, feats, embeds, positions, valid)
        guess = d2t[np.asarray(jnp.argmax(out @ lm_head.T, axis=-1))]  # [K, B, R]
        has_next = np.concatenate([valid[:, 1:], np.zeros_like(valid[:, :1])], axis=1)
        for k in range(depth):
            mask = has_next.copy()
            mask[:, :k] = False
            hits[k] += ((guess[k] == targets) & mask).sum()
            counts[k] += mask.sum()
    acc = hits / np.maximum(counts, 1)
    tau = 1 + sum(np.prod(acc[: k + 1]) for k in range(depth))
    return {"acceptance": [float(a) for a in acc], "chainTau": float(tau), "heldOutRows": int(counts[0])}
