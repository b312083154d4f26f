"""The request side of the canopy_lm wire contract (docs/triton-wire.md).

Turns the raw input tensors of one Triton request into a `WireRequest` and
checks everything that can be checked without looking at live sessions:
shapes, counts, flags, tree topology, token ids, sampling ranges. Nothing here
imports Triton, so it is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import numpy as np

OPEN = 1
CLOSE = 2
SCRATCH = 4
KNOWN_FLAGS = OPEN | CLOSE | SCRATCH
MAX_SESSION_ID_BYTES = 128
SEED_LIMIT = 2**53


class WireError(Exception):
    """A request the model refuses; `code` is one of the stable codes of docs/triton-wire.md."""

    def __init__(self, code: str, message: str):
        super().__init__(f"[{code}] {message}")
        self.code = code


def bad(message: str) -> WireError:
    return WireError("CANOPY_BAD_REQUEST", message)


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters of one session, stored at OPEN (field names follow kernels/sampling-params.ts)."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int = 0


GREEDY = Sampling()


@dataclass(frozen=True)
class SessionOp:
    """What one request asks of one session; `start` is its first node in the flat arrays."""

    session_id: str
    flags: int
    start: int
    tokens: np.ndarray  # [n] int32
    parents: np.ndarray  # [n] int32
    keep: np.ndarray  # [k] int32
    sampling: Sampling

    @property
    def opens(self) -> bool:
        return bool(self.flags & OPEN)

    @property
    def closes(self) -> bool:
        return bool(self.flags & CLOSE)

    @property
    def scratch(self) -> bool:
        return bool(self.flags & SCRATCH)


@dataclass(frozen=True)
class WireRequest:
    ops: tuple  # of SessionOp
    total_nodes: int
    return_top_k: int
    hidden_layers: np.ndarray  # [Hn] int32
    skip_layers: np.ndarray  # [Sk] int32
    return_logprobs: bool = False


@dataclass(frozen=True)
class Limits:
    vocab_size: int
    num_layers: int
    max_top_k: int
    layer_skip: bool = True


_SAMPLING_INPUTS = (
    ("temperature", np.float32),
    ("top_k", np.int32),
    ("top_p", np.float32),
    ("min_p", np.float32),
    ("repetition_penalty", np.float32),
    ("frequency_penalty", np.float32),
    ("presence_penalty", np.float32),
    ("seed", np.uint64),
)


def _vector(get: Callable[[str], Optional[np.ndarray]], name: str, dtype, length: Optional[int],
            required: bool) -> Optional[np.ndarray]:
    value = get(name)
    if value is None:
        if required:
            raise bad(f"input '{name}' is missing")
        return None
    if value.dtype != dtype:
        raise bad(f"input '{name}' must be {np.dtype(dtype).name}, got {value.dtype.name}")
    if value.ndim != 1:
        raise bad(f"input '{name}' must be 1-D, got shape {list(value.shape)}")
    if length is not None and value.shape[0] != length:
        raise bad(f"input '{name}' has {value.shape[0]} entries, expected {length}")
    return value


def _session_ids(raw: np.ndarray) -> list:
    ids = []
    for item in raw.reshape(-1):
        data = item if isinstance(item, bytes) else str(item).encode()
        if not 0 < len(data) <= MAX_SESSION_ID_BYTES:
            raise bad(f"session ids must be 1..{MAX_SESSION_ID_BYTES} bytes, got {len(data)}")
        try:
            ids.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise bad("session ids must be UTF-8") from None
    if len(set(ids)) != len(ids):
        raise bad("a session id appears twice in one request")
    return ids


def _check_tree(sid: str, tokens: np.ndarray, parents: np.ndarray, chain: bool, vocab: int) -> None:
    n = tokens.shape[0]
    if n == 0:
        return
    bad_tok = np.flatnonzero((tokens < 0) | (tokens >= vocab))
    if bad_tok.size:
        i = int(bad_tok[0])
        raise bad(f"session '{sid}': node {i} has token {int(tokens[i])} outside the vocabulary [0, {vocab})")
    if parents[0] != -1:
        raise bad(f"session '{sid}': node 0 is the root and must have parent -1, got {int(parents[0])}")
    rest = parents[1:]
    idx = np.arange(1, n, dtype=np.int64)
    wrong = np.flatnonzero(rest != idx - 1) if chain else np.flatnonzero((rest < 0) | (rest >= idx))
    if wrong.size:
        i = int(wrong[0]) + 1
        rule = "an OPEN tree is a chain (parents[i] = i - 1)" if chain else "parents must satisfy 0 <= parents[i] < i"
        raise bad(f"session '{sid}': node {i} has parent {int(parents[i])}; {rule}")


def _check_sampling(sid: str, s: Sampling) -> None:
    checks = (
        ("temperature", 0 <= s.temperature <= 100),
        ("top_k", s.top_k >= 0),
        ("top_p", 0 < s.top_p <= 1),
        ("min_p", 0 <= s.min_p <= 1),
        ("repetition_penalty", 0 < s.repetition_penalty <= 100),
        ("frequency_penalty", -2 <= s.frequency_penalty <= 2),
        ("presence_penalty", -2 <= s.presence_penalty <= 2),
        ("seed", 0 <= s.seed < SEED_LIMIT),
    )
    for name, ok in checks:
        if not ok:  # NaN fails every comparison, so it lands here too
            raise bad(f"session '{sid}': sampling parameter '{name}' is out of range ({getattr(s, name)})")


def parse_request(get: Callable[[str], Optional[np.ndarray]], limits: Limits) -> WireRequest:
    """Builds and checks a WireRequest; `get(name)` returns an input as numpy, or None when absent."""
    raw_ids = get("session_id")
    if raw_ids is None:
        raise bad("input 'session_id' is missing")
    ids = _session_ids(raw_ids)
    b = len(ids)
    flags = _vector(get, "flags", np.int32, b, True)
    counts = _vector(get, "node_count", np.int32, b, True)
    if np.any((flags & ~KNOWN_FLAGS) != 0):
        raise bad(f"unknown bits in 'flags' (known: OPEN={OPEN}, CLOSE={CLOSE}, SCRATCH={SCRATCH})")
    if np.any((flags & OPEN) & ((flags & SCRATCH) >> 2)):
        raise bad("a session cannot be OPEN and SCRATCH in one request")
    if np.any(counts < 0):
        raise bad("'node_count' entries must be >= 0")
    total = int(counts.sum(dtype=np.int64))
    tokens = _vector(get, "tokens", np.int32, total, True)
    parents = _vector(get, "parents", np.int32, total, True)
    keep_counts = _vector(get, "keep_count", np.int32, b, False)
    keep_counts = np.zeros(b, np.int32) if keep_counts is None else keep_counts
    if np.any(keep_counts < 0):
        raise bad("'keep_count' entries must be >= 0")
    keep = _vector(get, "keep", np.int32, int(keep_counts.sum(dtype=np.int64)), False)
    keep = np.zeros(0, np.int32) if keep is None else keep
    sampling_cols = {name: _vector(get, name, dtype, b, False) for name, dtype in _SAMPLING_INPUTS}

    top_k_in = _vector(get, "return_top_k", np.int32, 1, False)
    return_top_k = 0 if top_k_in is None else int(top_k_in[0])
    if not 0 <= return_top_k <= limits.max_top_k:
        raise bad(f"'return_top_k' must be in [0, {limits.max_top_k}], got {return_top_k}")
    logprobs_in = _vector(get, "return_logprobs", np.int32, 1, False)
    return_logprobs = 0 if logprobs_in is None else int(logprobs_in[0])
    if return_logprobs not in (0, 1):
        raise bad(f"'return_logprobs' must be 0 or 1, got {return_logprobs}")
    hidden = _vector(get, "hidden_layers", np.int32, None, False)
    hidden = np.zeros(0, np.int32) if hidden is None else hidden
    if np.any((hidden < 0) | (hidden > limits.num_layers)):
        raise bad(f"'hidden_layers' entries must be in [0, {limits.num_layers}] ({limits.num_layers} = final norm)")
    skip = _vector(get, "skip_layers", np.int32, None, False)
    skip = np.zeros(0, np.int32) if skip is None else skip
    if np.any((skip < 0) | (skip >= limits.num_layers)):
        raise bad(f"'skip_layers' entries must be in [0, {limits.num_layers})")
    if skip.size and not limits.layer_skip:
        raise bad("this model has no layer-skip graph; 'skip_layers' is not served")

    ops = []
    node_start = 0
    keep_start = 0
    for i, sid in enumerate(ids):
        n, k, f = int(counts[i]), int(keep_counts[i]), int(flags[i])
        op_tokens = tokens[node_start:node_start + n]
        op_parents = parents[node_start:node_start + n]
        _check_tree(sid, op_tokens, op_parents, bool(f & OPEN), limits.vocab_size)
        if skip.size and n and not f & SCRATCH:
            raise bad(f"session '{sid}': 'skip_layers' applies to SCRATCH sessions only")
        sampling = GREEDY
        if f & OPEN:
            if k:
                raise bad(f"session '{sid}': OPEN takes no 'keep' entries")
            given = {name: col[i].item() for name, col in sampling_cols.items() if col is not None}
            sampling = Sampling(**given)
            _check_sampling(sid, sampling)
        ops.append(SessionOp(sid, f, node_start, op_tokens, op_parents, keep[keep_start:keep_start + k], sampling))
        node_start += n
        keep_start += k
    return WireRequest(tuple(ops), total, return_top_k, hidden, skip, bool(return_logprobs))


def input_getter(tensors: Mapping[str, np.ndarray]) -> Callable[[str], Optional[np.ndarray]]:
    """A `get` over a plain dict, for callers that already hold numpy arrays."""
    return tensors.get
