"""Executes one checked WireRequest against the live sessions (docs/triton-wire.md).

Two phases, so that a malformed request fails as a whole and changes nothing:
`_check` looks at every session first (exists, keep path, context, capacity),
then `run_request` does each session's work in request order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
from canopy_runner import Runner, chain_bias, tree_bias, tree_depths
from canopy_sampling import History, choose_tree_tokens
from canopy_sessions import PendingTree, Session, SessionStore
from canopy_wire import Sampling, SessionOp, WireError, WireRequest


@dataclass(frozen=True)
class BatchConfig:
    prefill_chunk: int


class Outputs:
    """Output tensors of one request, filled session by session."""

    def __init__(self, req: WireRequest, hidden_size: int):
        s, k = req.total_nodes, req.return_top_k
        self.chosen = np.full(s, -1, np.int32)  # [S]
        self.topk_ids = np.full((s, k), -1, np.int32)  # [S, k]
        self.topk_logprobs = np.zeros((s, k), np.float32)  # [S, k]
        self.hidden = np.zeros((req.hidden_layers.size, s, hidden_size), np.float32)  # [Hn, S, H]
        self.chosen_logprobs = np.full(s, np.nan, np.float32)  # [S]
        self.session_length = np.zeros(len(req.ops), np.int32)  # [B]
        self.compute_ms = np.zeros(len(req.ops), np.float32)  # [B]

    def as_dict(self, req: WireRequest) -> dict:
        out = {"chosen": self.chosen, "session_length": self.session_length, "compute_ms": self.compute_ms}
        if req.return_top_k:
            out["topk_ids"] = self.topk_ids
            out["topk_logprobs"] = self.topk_logprobs
        if req.hidden_layers.size:
            out["hidden"] = self.hidden
        if req.return_logprobs:
            out["chosen_logprobs"] = self.chosen_logprobs
        return out


def _context_full(sid: str, needed: int, limit: int) -> WireError:
    return WireError("CANOPY_CONTEXT_FULL", f"session '{sid}' needs {needed} positions; the model holds {limit}")


def _check_keep(op: SessionOp, session: Session) -> None:
    keep = op.keep
    if not keep.size:
        return
    pending = session.pending
    if pending is None:
        raise WireError("CANOPY_BAD_REQUEST", f"session '{op.session_id}': 'keep' names nodes but no STEP tree is held")
    n = pending.tokens.shape[0]
    if keep[0] != 0 or np.any(keep >= n) or np.any(pending.parents[keep[1:]] != keep[:-1]):
        raise WireError("CANOPY_BAD_REQUEST", f"session '{op.session_id}': 'keep' must be a path of the previous "
                        f"STEP tree ({n} nodes) starting at its root, got {keep.tolist()}")


def _check(req: WireRequest, store: SessionStore) -> None:
    new_sessions, extra_bytes = 0, 0
    per_token = store.bytes_per_token
    for op in req.ops:
        n = op.tokens.shape[0]
        if op.opens:
            if store.exists(op.session_id):
                raise WireError("CANOPY_SESSION_EXISTS", f"session '{op.session_id}' is already open")
            if n + 1 > store.max_context:
                raise _context_full(op.session_id, n + 1, store.max_context)
            new_sessions += 1
            extra_bytes += n * per_token
            continue
        session = store.get(op.session_id)
        _check_keep(op, session)
        needed = session.length + op.keep.size + (int(tree_depths(op.parents).max()) + 1 if n else 0)
        if needed > store.max_context:
            raise _context_full(op.session_id, needed, store.max_context)
        held = session.pending.nbytes if session.pending else 0
        extra_bytes += op.keep.size * per_token + (0 if op.scratch else n * per_token) - held
    store.check_room(new_sessions, extra_bytes)


def _open(op: SessionOp, store: SessionStore, runner: Runner, out: Outputs, req: WireRequest,
          cfg: BatchConfig) -> Session:
    n = op.tokens.shape[0]
    session = store.open(op.session_id, op.sampling, n + 1)
    store.reserve(session, n)
    chunk = cfg.prefill_chunk if cfg.prefill_chunk > 0 else max(n, 1)
    hidden_names = [runner.hidden_name(int(layer)) for layer in req.hidden_layers]
    # With return_top_k, OPEN rows carry the top-k after every prompt token (drafters learn from the prompt).
    top_k = req.return_top_k
    names = runner.present_names() + hidden_names + (["topk_ids", "topk_logprobs"] if top_k else [])
    layers = runner.manifest.num_layers
    for c0 in range(0, n, chunk):
        tokens = op.tokens[c0:c0 + chunk]
        m = tokens.shape[0]
        positions = np.arange(session.length, session.length + m, dtype=np.int64)
        res = runner.run(tokens, positions, chain_bias(m, session.length), session.past(), names,
                         logit_rows=np.arange(m) if top_k else np.array([m - 1]), top_k=top_k)
        session.append(tokens, [res[f"present_key_{i}"] for i in range(layers)],
                       [res[f"present_value_{i}"] for i in range(layers)])
        rows = slice(op.start + c0, op.start + c0 + m)
        for h, name in enumerate(hidden_names):
            out.hidden[h, rows] = res[name]
        if top_k:
            out.topk_ids[rows] = res["topk_ids"]
            out.topk_logprobs[rows] = res["topk_logprobs"]
    return session


def _keep(op: SessionOp, store: SessionStore, session: Session) -> None:
    pending, session.pending = session.pending, None
    if op.keep.size:
        kept = (pending.tokens[op.keep], [k[op.keep] for k in pending.keys], [v[op.keep] for v in pending.values])
        del pending  # its memory is free before the cache grows
        store.reserve(session, op.keep.size)
        session.append(*kept)


def _plain_greedy(s: Optional[Sampling]) -> bool:
    return s is None or (s.temperature == 0 and s.repetition_penalty == 1 and s.frequency_penalty == 0
                         and s.presence_penalty == 0)


def _step(op: SessionOp, session: Session, runner: Runner, out: Outputs, req: WireRequest) -> None:
    n = op.tokens.shape[0]
    layers = runner.manifest.num_layers
    depths = tree_depths(op.parents)
    sampling = None if op.scratch else session.sampling  # scratch passes are greedy
    # Plain greedy reads the graph's argmax (first maximum, as the sampler's) and skips the [n, V] logits.
    argmax = runner.has_argmax and _plain_greedy(sampling)
    hidden_names = [runner.hidden_name(int(layer)) for layer in req.hidden_layers]
    # A greedy choice's log-probability is the graph's top-1 entry (the graph always computes k >= 1).
    top = req.return_top_k or (argmax and req.return_logprobs)
    names = ["argmax" if argmax else "logits"] + (["topk_ids", "topk_logprobs"] if top else [])
    names += hidden_names
    if not op.scratch:
        names += runner.present_names()
    res = runner.run(op.tokens, session.length + depths, tree_bias(op.parents, session.length), session.past(), names,
                     logit_rows=np.arange(n), top_k=req.return_top_k,
                     skip_layers=req.skip_layers if op.scratch else None)
    rows = slice(op.start, op.start + n)
    if argmax:
        out.chosen[rows] = res["argmax"]
    else:
        committed = np.append(session.history[: session.length], op.tokens[0])  # root last
        history = History.from_committed(runner.manifest.vocab_size, committed, session.prompt_length)
        out.chosen[rows] = choose_tree_tokens(res["logits"], sampling, history, op.tokens, op.parents,
                                              committed.shape[0], depths)
    if req.return_top_k:
        out.topk_ids[rows] = res["topk_ids"]
        out.topk_logprobs[rows] = res["topk_logprobs"]
    if req.return_logprobs:
        if argmax:
            # An argmax that differs from top-1 is tied with it: the same log-probability.
            out.chosen_logprobs[rows] = res["topk_logprobs"][:, 0]
        else:
            out.chosen_logprobs[rows] = _chosen_logprobs(res["logits"], out.chosen[rows])
    for h, name in enumerate(hidden_names):
        out.hidden[h, rows] = res[name]
    if not op.scratch:
        session.pending = PendingTree(op.tokens.copy(), op.parents.copy(),
                                      [res[f"present_key_{i}"] for i in range(layers)],
                                      [res[f"present_value_{i}"] for i in range(layers)])


def _chosen_logprobs(logits: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """[n] float32: log softmax(logits[i])[chosen[i]] in float64 (the raw distribution); NaN where chosen is -1."""
    out = np.full(chosen.shape[0], np.nan, np.float32)
    for i in np.flatnonzero(chosen >= 0):
        row = logits[i].astype(np.float64)
        top = row.max()
        out[i] = row[chosen[i]] - top - np.log(np.exp(row - top).sum())
    return out


def run_request(req: WireRequest, store: SessionStore, runner: Runner, cfg: BatchConfig) -> dict:
    """Runs every session's work; the caller holds `store.lock`. Raises WireError for a refused request."""
    _check(req, store)
    out = Outputs(req, runner.manifest.hidden_size)
    now = time.monotonic()
    for i, op in enumerate(req.ops):
        started = time.perf_counter()
        if op.opens:
            session = _open(op, store, runner, out, req, cfg)
        else:
            session = store.get(op.session_id)
            _keep(op, store, session)
            if op.tokens.shape[0]:
                _step(op, session, runner, out, req)
        session.last_used = now
        out.session_length[i] = session.length + 1
        if op.closes:
            store.close(op.session_id)
        # This session's own work; the client counts the rest of its wait (queue, other sessions) apart.
        out.compute_ms[i] = (time.perf_counter() - started) * 1000
    return out.as_dict(req)
