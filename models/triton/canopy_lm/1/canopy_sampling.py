"""Sampling and the counter-based generator: the Python twin of kernels/sample.ts and kernels/rng.ts.

docs/sampling.md is the normative text; test/vectors/sampling.json holds the vectors both
implementations pass (models/triton/test_sampling.py checks this file against them).

Only numpy. Every step mirrors the TypeScript operation for operation in float64, including the
order of every sum, so both sides choose the same token; the one thing not pinned down is the last
bit of exp() (fdlibm in V8, the platform's in numpy), which can matter only when a draw lands within
an ulp of a boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

_MASK64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_TWO_POW_53 = float(1 << 53)


def mix64(z: int) -> int:
    """SplitMix64's finaliser on a 64-bit unsigned integer."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def splitmix64_at(state: int, n: int) -> int:
    """The n-th (0-based) output of SplitMix64 started from `state`."""
    return mix64((state + (n + 1) * _GAMMA) & _MASK64)


def uniform_at(seed: int, position: int) -> float:
    """The uniform number in [0, 1) for `position` of the stream keyed by `seed` (both unsigned integers)."""
    key = splitmix64_at(int(seed) & _MASK64, 0)
    return (splitmix64_at(key, int(position)) >> 11) / _TWO_POW_53


@dataclass(frozen=True)
class SamplingParams:
    """Field names follow canopy_wire.Sampling (and kernels/sampling-params.ts); any object with them works."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int = 0


def _f32(value: float) -> float:
    """Real-valued parameters are float32 on the wire; both sides round them so before use."""
    return float(np.float32(value))


class History:
    """What the penalties look at: the prompt (repetition only) and the committed generated tokens.

    A node's path (the drafted tokens between the root and the node) is passed per call and layered on
    top, so one History serves every node of a tree.
    """

    def __init__(self, vocab_size: int, prompt: Sequence[int] | np.ndarray = (),
                 generated: Sequence[int] | np.ndarray = ()):
        self.vocab_size = int(vocab_size)
        prompt = np.asarray(prompt, dtype=np.int64).reshape(-1)
        generated = np.asarray(generated, dtype=np.int64).reshape(-1)
        self.counts = np.bincount(generated, minlength=self.vocab_size).astype(np.int64)
        self.in_prompt = np.zeros(self.vocab_size, dtype=bool)
        self.in_prompt[prompt] = True
        self._seen = np.union1d(np.flatnonzero(self.in_prompt), np.flatnonzero(self.counts))

    @classmethod
    def from_committed(cls, vocab_size: int, committed: np.ndarray, prompt_length: int) -> "History":
        """Committed tokens (prompt first, root last) split at `prompt_length`."""
        return cls(vocab_size, committed[:prompt_length], committed[prompt_length:])

    def penalised(self, logits: np.ndarray, params, path: Sequence[int] | np.ndarray = ()) -> np.ndarray:
        """Step 1: float64 logits with the penalties over this history plus `path`."""
        out = np.asarray(logits, dtype=np.float32).astype(np.float64)
        r = _f32(params.repetition_penalty)
        f = _f32(params.frequency_penalty)
        p = _f32(params.presence_penalty)
        if r == 1 and f == 0 and p == 0:
            return out
        path = np.asarray(path, dtype=np.int64).reshape(-1)
        touched = np.union1d(self._seen, path) if path.size else self._seen
        counts = self.counts[touched].copy()
        if path.size:
            ids, extra = np.unique(path, return_counts=True)
            counts[np.searchsorted(touched, ids)] += extra
        values = out[touched]
        if r != 1:
            values = np.where(values > 0, values / r, values * r)
        generated = counts > 0
        values[generated] = values[generated] - f * counts[generated].astype(np.float64) - p
        out[touched] = values
        return out


def _top_k_candidates(s: np.ndarray, k: int) -> np.ndarray:
    """Ids of the k largest s, lower id first among equals, in ascending id order."""
    v = s.shape[0]
    kth = np.partition(s, v - k)[v - k]
    above = np.flatnonzero(s > kth)
    equal = np.flatnonzero(s == kth)[: k - above.size]
    return np.sort(np.concatenate([above, equal]))


def _sequential_sum(values: np.ndarray) -> float:
    """Left-to-right float64 sum (np.sum is pairwise and would round differently)."""
    return float(np.cumsum(values)[-1]) if values.size else 0.0


# Weights at or above each threshold form a prefix of σ; only that prefix gets sorted.
_THRESHOLDS = (2.0 ** -8, 2.0 ** -24, 2.0 ** -60, 0.0)


def processed_distribution(logits: np.ndarray, params, history: History, path=()):
    """Steps 1 and 3–8: the kept token ids in σ order, their weights w, and their mass K (temperature > 0)."""
    return _prepare(logits, params, history, path, None)


def choose_token(logits: np.ndarray, params, history: History, position: int, path=()) -> int:
    """The token after a node with `logits` [V], history + `path`, chosen for absolute `position`."""
    if _f32(params.temperature) == 0:
        return int(np.argmax(history.penalised(logits, params, path)))  # first maximum: lowest id on ties
    return _prepare(logits, params, history, path, uniform_at(params.seed, position))


def _prepare(logits, params, history, path, u):
    """With u None: (kept ids in σ order, their w, K). With u: the drawn token (step 8)."""
    temperature = _f32(params.temperature)
    s = history.penalised(logits, params, path) / temperature
    m = s.max()
    v = s.shape[0]
    k = int(params.top_k)
    cand = _top_k_candidates(s, k) if 0 < k < v else np.arange(v)
    w = np.exp(s[cand] - m)
    total = _sequential_sum(w)
    top_p = _f32(params.top_p)
    min_p = _f32(params.min_p)
    n_min = int(np.count_nonzero(w >= min_p)) if min_p > 0 else cand.size
    for threshold in _THRESHOLDS:
        head = np.flatnonzero(w >= threshold) if threshold > 0 else np.arange(cand.size)
        complete = head.size == cand.size
        order = head[np.lexsort((cand[head], -w[head]))]  # w descending, id ascending
        cum = np.cumsum(w[order])
        kept = cand.size
        if top_p < 1:
            j = int(np.searchsorted(cum, top_p * total, side="left"))  # first cum >= topP * S
            if j == order.size and not complete:
                continue
            kept = min(j + 1, cand.size)
        kept = min(kept, n_min)
        if kept <= order.size:
            break
        # σ is known only up to the head, but a draw over everything may still end inside it.
        if u is not None and kept == cand.size and cum.size and cum[-1] > u * total:
            return int(cand[order[int(np.searchsorted(cum, u * total, side="right"))]])
    kept_ids = cand[order[:kept]]
    kept_w = w[order[:kept]]
    if kept == cand.size:
        mass = total
    else:
        last_w, last_id = kept_w[-1], kept_ids[-1]
        in_kept = (w > last_w) | ((w == last_w) & (cand <= last_id))
        mass = _sequential_sum(w[in_kept])
    if u is None:
        return kept_ids, kept_w, mass
    if kept <= 1:
        return int(kept_ids[0])
    j = int(np.searchsorted(cum[:kept], u * mass, side="right"))  # first cum > x
    return int(kept_ids[min(j, kept - 1)])


def _no_penalties(params) -> bool:
    return (_f32(params.repetition_penalty) == 1 and _f32(params.frequency_penalty) == 0
            and _f32(params.presence_penalty) == 0)


def choose_tree_tokens(logits: np.ndarray, params, history: History, tokens: np.ndarray, parents: np.ndarray,
                       committed_length: int, depths: Optional[np.ndarray] = None) -> np.ndarray:
    """[n] int32: the chosen token at every reachable node of a tree (node 0 = the root, the last committed
    token); -1 at nodes no walk can reach (greedy without penalties fills every node: argmax is cheap).

    `committed_length` counts the committed tokens, root included; the token chosen at a node of depth d
    is the one for absolute position committed_length + d, and its penalties count the node's own path.
    """
    n = tokens.shape[0]
    if params is None or (_f32(params.temperature) == 0 and _no_penalties(params)):
        return np.argmax(logits[:n], axis=-1).astype(np.int32)  # first maximum = lowest id on ties
    if depths is None:
        depths = np.zeros(n, dtype=np.int64)
        for i in range(1, n):
            depths[i] = depths[parents[i]] + 1
    # Draw only where a walk can arrive: the root, and a node whose parent was reached and chose
    # this node's token. Other nodes get -1; a walk never reads them (docs/triton-wire.md).
    out = np.full(n, -1, dtype=np.int32)
    for i in range(n):
        if i > 0 and (out[parents[i]] < 0 or out[parents[i]] != tokens[i]):
            continue
        path = []
        node = i
        while node > 0:
            path.append(int(tokens[node]))
            node = int(parents[node])
        out[i] = choose_token(logits[i], params, history, committed_length + int(depths[i]), path[::-1])
    return out
