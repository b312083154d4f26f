"""The state and the passes of canopy_eagle, without Triton (tested on its own).

An EAGLE head pass (docs/eagle.md) runs N new rows after the first `past` rows
of a session's head KV cache. The head graph is stateless: it takes the cached
keys and values and returns the new rows' own, which this module appends. So a
client keeps nothing but a row count: it sends `past` (how many cached rows its
new rows follow; the cache is cut to that first, which drops the rows of the
previous draft) and gets the features and top-k children of every row.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

MAX_SESSION_ID_BYTES = 128
MIN_CAPACITY = 64


class HeadError(Exception):
    """A request the model refuses; `code` is stable (docs/eagle.md, "The head on Triton")."""

    def __init__(self, code: str, message: str):
        super().__init__(f"[{code}] {message}")
        self.code = code


def bad(message: str) -> HeadError:
    return HeadError("CANOPY_BAD_REQUEST", message)


@dataclass(frozen=True)
class HeadInfo:
    """What eagle.json says about the head, and the LM-head rows of its draft vocabulary."""

    hidden: int
    kv_heads: int
    head_dim: int
    draft_vocab: int
    feature_layer: int
    target_model: str
    lm_head: np.ndarray  # [draft_vocab, hidden] float32


def load_head(graph: str, lm_head_file: str) -> HeadInfo:
    meta_path = os.path.splitext(graph)[0] + ".json"
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("format") != 1:
        raise ValueError(f"{meta_path} has format {meta.get('format')!r}; canopy_eagle reads format 1")
    head = meta["head"]
    hidden, vocab = int(head["hidden"]), int(head["draftVocab"])
    lm_head = np.fromfile(lm_head_file, dtype="<f4")
    if lm_head.size != vocab * hidden:
        raise ValueError(f"{lm_head_file} holds {lm_head.size} floats, expected {vocab} x {hidden} "
                         f"(the draft vocabulary's LM-head rows; `canopy triton start` writes it)")
    return HeadInfo(hidden, int(head["kvHeads"]), int(head["headDim"]), vocab, int(meta["target"]["featureLayer"]),
                    str(meta["target"]["model"]), lm_head.reshape(vocab, hidden))


@dataclass
class HeadSession:
    keys: np.ndarray  # [capacity, kvHeads, headDim]
    values: np.ndarray
    length: int = 0
    last_used: float = field(default_factory=time.monotonic)

    def append(self, at: int, keys: np.ndarray, values: np.ndarray) -> None:
        n = keys.shape[0]
        need = at + n
        if need > self.keys.shape[0]:
            capacity = max(MIN_CAPACITY, self.keys.shape[0])
            while capacity < need:
                capacity *= 2
            grown_k = np.empty((capacity, *self.keys.shape[1:]), np.float32)
            grown_v = np.empty((capacity, *self.values.shape[1:]), np.float32)
            grown_k[:at] = self.keys[:at]
            grown_v[:at] = self.values[:at]
            self.keys, self.values = grown_k, grown_v
        self.keys[at:need] = keys
        self.values[at:need] = values
        self.length = need


@dataclass(frozen=True)
class HeadRequest:
    session_id: str
    close: bool
    past: int = 0
    features: Optional[np.ndarray] = None  # [N, H]
    token_embeds: Optional[np.ndarray] = None  # [N, H]
    positions: Optional[np.ndarray] = None  # [N] int64
    attn_bias: Optional[np.ndarray] = None  # [N, past + N]
    top_k: int = 0


def parse_request(get: Callable[[str], Optional[np.ndarray]], info: HeadInfo, max_rows: int) -> HeadRequest:
    """Checks shapes and ranges of one request's tensors (`get(name)` is None when absent)."""
    raw = get("session_id")
    if raw is None or raw.size != 1:
        raise bad("session_id must hold exactly one id")
    sid = raw.reshape(-1)[0]
    sid = sid.decode("utf-8", "replace") if isinstance(sid, bytes) else str(sid)
    if not sid or len(sid.encode("utf-8")) > MAX_SESSION_ID_BYTES:
        raise bad(f"session_id must be 1..{MAX_SESSION_ID_BYTES} bytes")
    close = get("close")
    if close is not None and bool(close.reshape(-1)[0]):
        return HeadRequest(sid, True)
    tensors = {name: get(name) for name in ("past", "features", "token_embeds", "positions", "attn_bias", "top_k")}
    missing = [name for name, value in tensors.items() if value is None]
    if missing:
        raise bad(f"missing input(s) {', '.join(missing)} (only `close` may come alone)")
    past = int(tensors["past"].reshape(-1)[0])
    top_k = int(tensors["top_k"].reshape(-1)[0])
    features, embeds = tensors["features"], tensors["token_embeds"]
    positions, bias = tensors["positions"].reshape(-1), tensors["attn_bias"]
    h = info.hidden
    n = positions.shape[0]
    if n < 1:
        raise bad("a pass needs at least one row")
    if features.shape != (n, h) or embeds.shape != (n, h):
        raise bad(f"features and token_embeds must be [{n}, {h}], got {list(features.shape)} and {list(embeds.shape)}")
    if past < 0 or past + n > max_rows:
        raise bad(f"past = {past} with {n} new rows is outside 0..{max_rows} rows")
    if bias.shape != (n, past + n):
        raise bad(f"attn_bias must be [{n}, {past + n}], got {list(bias.shape)}")
    if not 1 <= top_k <= info.draft_vocab:
        raise bad(f"top_k = {top_k} is outside 1..{info.draft_vocab}")
    if np.any(positions < 0):
        raise bad("positions must be non-negative")
    return HeadRequest(sid, False, past, features.astype(np.float32, copy=False),
                       embeds.astype(np.float32, copy=False), positions.astype(np.int64, copy=False),
                       bias.astype(np.float32, copy=False), top_k)


class HeadStore:
    """Live sessions, least recently used first; bounded in count and idle time."""

    def __init__(self, info: HeadInfo, max_sessions: int, idle_timeout_s: float):
        self.info = info
        self.max_sessions = max_sessions
        self.idle_timeout_s = idle_timeout_s
        self.sessions: "OrderedDict[str, HeadSession]" = OrderedDict()
        self.lock = threading.Lock()

    def get(self, sid: str, past: int) -> HeadSession:
        session = self.sessions.get(sid)
        if session is None:
            if past != 0:
                raise HeadError("CANOPY_SESSION_UNKNOWN",
                                f"session {sid!r} is not open (closed, expired or evicted); start again with past = 0")
            if len(self.sessions) >= self.max_sessions:
                self.sessions.popitem(last=False)  # the least recently used session goes
            shape = (MIN_CAPACITY, self.info.kv_heads, self.info.head_dim)
            session = HeadSession(np.empty(shape, np.float32), np.empty(shape, np.float32))
            self.sessions[sid] = session
        elif past > session.length:
            raise bad(f"past = {past} but session {sid!r} has {session.length} rows")
        self.sessions.move_to_end(sid)
        session.last_used = time.monotonic()
        return session

    def close(self, sid: str) -> bool:
        return self.sessions.pop(sid, None) is not None

    def expire_idle(self, now: Optional[float] = None) -> list:
        now = time.monotonic() if now is None else now
        gone = [sid for sid, s in self.sessions.items() if now - s.last_used > self.idle_timeout_s]
        for sid in gone:
            del self.sessions[sid]
        return gone


def run_pass(req: HeadRequest, store: HeadStore, run_graph: Callable[[dict], list]) -> dict:
    """One head pass for an open request; `run_graph(feeds)` runs eagle.onnx and returns its outputs in order."""
    if req.close:
        store.close(req.session_id)
        return {}
    started = time.perf_counter()
    session = store.get(req.session_id, req.past)
    feature, ids, logprobs, keys, values = run_graph({
        "features": req.features,
        "token_embeds": req.token_embeds,
        "positions": req.positions,
        "attn_bias": req.attn_bias,
        "past_key": session.keys[: req.past],
        "past_value": session.values[: req.past],
        "lm_head": store.info.lm_head,
        "top_k": np.array([req.top_k], np.int64),
    })
    session.append(req.past, keys, values)
    # The pass's own time, so that a client can tell it from its wait in Triton's queue (docs/eagle.md).
    compute_ms = np.array([(time.perf_counter() - started) * 1000], np.float32)
    return {"feature_out": feature, "topk_ids": ids.astype(np.int32), "topk_logprobs": logprobs,
            "compute_ms": compute_ms}


GRAPH_OUTPUTS = ["feature_out", "topk_ids", "topk_logprobs", "present_key", "present_value"]
