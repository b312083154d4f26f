"""Live sessions of canopy_lm: their KV caches and the bounds on them.

A session's *history* is every committed token that has a KV entry (prompt
first); the root, the last committed token, is never in it: it arrives as node
0 of each tree. The KV cache of layer l is a pair of position-major arrays
[capacity, kvHeads, headDim], so `cache[:length]` is the zero-copy view that the
graph takes as `past_key_l` / `past_value_l`.

The bound `max_kv_bytes` is on what sessions *use* (committed entries and held
trees), so geometric over-allocation never refuses a request: capacity grows
geometrically while there is room, and when there is none, every cache is
trimmed to its length before the store allocates more.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from canopy_wire import Sampling, WireError

MIN_CAPACITY = 64


@dataclass
class PendingTree:
    """The last STEP tree: its KV waits for the next request's `keep`."""

    tokens: np.ndarray  # [n] int32
    parents: np.ndarray  # [n] int32
    keys: list  # L x [n, kvHeads, headDim]
    values: list  # L x [n, kvHeads, headDim]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.keys) + sum(a.nbytes for a in self.values)


@dataclass
class Session:
    session_id: str
    sampling: Sampling
    prompt_length: int
    keys: list  # L x [capacity, kvHeads, headDim]
    values: list
    history: np.ndarray  # [capacity] int32, valid up to `length`
    length: int = 0
    pending: Optional[PendingTree] = None
    last_used: float = field(default_factory=time.monotonic)

    @property
    def capacity(self) -> int:
        return self.history.shape[0]

    @property
    def allocated_bytes(self) -> int:
        held = sum(a.nbytes for a in self.keys) + sum(a.nbytes for a in self.values)
        return held + (self.pending.nbytes if self.pending else 0)

    def used_bytes(self, bytes_per_token: int) -> int:
        return self.length * bytes_per_token + (self.pending.nbytes if self.pending else 0)

    def resize(self, capacity: int) -> None:
        """Moves the committed entries into buffers of `capacity` (>= length) positions."""
        n = self.length
        keys = [np.empty((capacity, *k.shape[1:]), np.float32) for k in self.keys]
        values = [np.empty((capacity, *v.shape[1:]), np.float32) for v in self.values]
        for dst, src in zip(keys + values, self.keys + self.values):
            dst[:n] = src[:n]
        history = np.empty(capacity, np.int32)
        history[:n] = self.history[:n]
        self.keys, self.values, self.history = keys, values, history

    def past(self) -> list:
        """L x (keys, values) views of the committed cache, [length, kvHeads, headDim] each."""
        return [(k[: self.length], v[: self.length]) for k, v in zip(self.keys, self.values)]

    def append(self, tokens: np.ndarray, keys: list, values: list) -> None:
        """Appends committed entries; the caller reserved room first."""
        n = tokens.shape[0]
        end = self.length + n
        for dst, src in zip(self.keys, keys):
            dst[self.length:end] = src
        for dst, src in zip(self.values, values):
            dst[self.length:end] = src
        self.history[self.length:end] = tokens
        self.length = end


class SessionStore:
    """Sessions by id, bounded in count and in KV bytes. Callers hold `lock` around every use."""

    def __init__(self, num_layers: int, kv_heads: int, head_dim: int, max_context: int,
                 max_sessions: int, max_kv_bytes: int, idle_timeout_s: float):
        self.lock = threading.Lock()
        self._shape = (kv_heads, head_dim)
        self._layers = num_layers
        self.bytes_per_token = 2 * num_layers * kv_heads * head_dim * 4
        self.max_context = max_context
        self.max_sessions = max_sessions
        self.max_kv_bytes = max_kv_bytes
        self.idle_timeout_s = idle_timeout_s
        self._sessions: dict = {}

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def used_bytes(self) -> int:
        return sum(s.used_bytes(self.bytes_per_token) for s in self._sessions.values())

    @property
    def allocated_bytes(self) -> int:
        return sum(s.allocated_bytes for s in self._sessions.values())

    def get(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise WireError("CANOPY_SESSION_UNKNOWN", f"session '{session_id}' is not open "
                            "(closed, expired after idling, or the server restarted)")
        return session

    def exists(self, session_id: str) -> bool:
        return session_id in self._sessions

    def check_room(self, new_sessions: int, extra_bytes: int) -> None:
        """Raises CANOPY_CAPACITY when `new_sessions` more sessions or `extra_bytes` more KV would not fit."""
        if len(self._sessions) + new_sessions > self.max_sessions:
            raise WireError("CANOPY_CAPACITY", f"too many open sessions: {len(self._sessions)} open, "
                            f"{new_sessions} more asked, at most {self.max_sessions}")
        held = self.used_bytes
        if held + extra_bytes > self.max_kv_bytes:
            raise WireError("CANOPY_CAPACITY", f"KV memory would exceed its bound: {held} bytes held, "
                            f"{extra_bytes} more needed, at most {self.max_kv_bytes}")

    def open(self, session_id: str, sampling: Sampling, prompt_length: int) -> Session:
        empty = [np.zeros((0, *self._shape), np.float32) for _ in range(2 * self._layers)]
        session = Session(session_id, sampling, prompt_length, empty[: self._layers], empty[self._layers:],
                          np.zeros(0, np.int32))
        self._sessions[session_id] = session
        return session

    def reserve(self, session: Session, extra: int) -> None:
        """Makes room for `extra` more committed entries; check_room already vouched that they fit."""
        need = session.length + extra
        if need <= session.capacity:
            return
        spare = (self.max_kv_bytes - self.allocated_bytes) // self.bytes_per_token + session.capacity
        if spare < need:
            for other in self._sessions.values():
                if other.capacity > other.length:
                    other.resize(other.length)
            spare = (self.max_kv_bytes - self.allocated_bytes) // self.bytes_per_token + session.capacity
        session.resize(max(need, min(max(2 * session.capacity, MIN_CAPACITY), self.max_context, spare)))

    def close(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def expire_idle(self, now: Optional[float] = None) -> list:
        """Closes sessions idle for longer than the timeout; returns their ids."""
        now = time.monotonic() if now is None else now
        expired = [sid for sid, s in self._sessions.items() if now - s.last_used > self.idle_timeout_s]
        for sid in expired:
            del self._sessions[sid]
        return expired
