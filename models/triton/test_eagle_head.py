"""canopy_eagle's request logic (canopy_eagle/1/canopy_head.py) without a server: its
passes over a session's server-side head cache must equal stateless runs of the head
graph given the right cached rows, and bad requests must get their stable codes.
Run: python -m pytest models/triton/test_eagle_head.py"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "canopy_eagle" / "1"))

from canopy_head import (  # noqa: E402
    GRAPH_OUTPUTS,
    HeadError,
    HeadInfo,
    HeadStore,
    load_head,
    parse_request,
    run_pass,
)

ROOT = Path(__file__).resolve().parents[2]
HEAD = ROOT / "test" / "adapters" / "drafters" / "eagle" / "fixtures" / "tiny-random" / "eagle.onnx"
META = json.loads(HEAD.with_suffix(".json").read_text())
H = META["head"]["hidden"]
V = META["head"]["draftVocab"]


@pytest.fixture(scope="module")
def graph():
    session = ort.InferenceSession(str(HEAD), providers=["CPUExecutionProvider"])
    return lambda feeds: session.run(GRAPH_OUTPUTS, feeds)


@pytest.fixture()
def info(tmp_path):
    rows = np.random.default_rng(0).standard_normal((V, H)).astype(np.float32) * 0.1
    rows.tofile(tmp_path / "lm_head.f32")
    return load_head(str(HEAD), str(tmp_path / "lm_head.f32"))


def causal(n: int, past: int) -> np.ndarray:
    bias = np.zeros((n, past + n), np.float32)
    for i in range(n):
        bias[i, past + i + 1:] = -np.inf
    return bias


def tensors(rng, sid: str, past: int, n: int, bias=None, top_k: int = 4) -> dict:
    return {
        "session_id": np.array([sid.encode()], dtype=object),
        "past": np.array([past], np.int32),
        "features": rng.standard_normal((n, H)).astype(np.float32),
        "token_embeds": rng.standard_normal((n, H)).astype(np.float32),
        "positions": np.arange(past, past + n, dtype=np.int64),
        "attn_bias": causal(n, past) if bias is None else bias,
        "top_k": np.array([top_k], np.int32),
    }


def direct(graph, info: HeadInfo, t: dict, past_key, past_value):
    return graph({"features": t["features"], "token_embeds": t["token_embeds"], "positions": t["positions"],
                  "attn_bias": t["attn_bias"], "past_key": past_key, "past_value": past_value,
                  "lm_head": info.lm_head, "top_k": t["top_k"].astype(np.int64)})


def request(store: HeadStore, graph, t: dict, max_rows: int = 8192) -> dict:
    return run_pass(parse_request(t.get, store.info, max_rows), store, graph)


def test_passes_over_the_server_cache_equal_stateless_runs(graph, info):
    rng = np.random.default_rng(1)
    store = HeadStore(info, max_sessions=4, idle_timeout_s=60)
    empty = np.zeros((0, info.kv_heads, info.head_dim), np.float32)
    # Three true rows, then two draft rows after them (a tree level), then the draft is dropped:
    # one more true row after the three.
    a = tensors(rng, "s", 0, 3)
    b_bias = np.zeros((2, 5), np.float32)
    b_bias[0, 4] = -np.inf
    b_bias[1, 3] = -np.inf  # siblings: each sees the true rows and itself
    b = tensors(rng, "s", 3, 2, bias=b_bias)
    c = tensors(rng, "s", 3, 1)
    fa, ia, la, ka, va = direct(graph, info, a, empty, empty)
    fb, ib, lb, _, _ = direct(graph, info, b, ka, va)
    fc, ic, lc, _, _ = direct(graph, info, c, ka, va)
    for t, (f, i, lp) in [(a, (fa, ia, la)), (b, (fb, ib, lb)), (c, (fc, ic, lc))]:
        out = request(store, graph, t)
        np.testing.assert_array_equal(out["feature_out"], f)
        np.testing.assert_array_equal(out["topk_ids"], i.astype(np.int32))
        np.testing.assert_array_equal(out["topk_logprobs"], lp)
        assert out["topk_ids"].dtype == np.int32 and out["topk_ids"].shape == (t["positions"].size, 4)
        # The pass's own time, for the client's wait estimate.
        assert out["compute_ms"].dtype == np.float32 and out["compute_ms"].shape == (1,) and out["compute_ms"][0] > 0
    assert store.sessions["s"].length == 4


def test_close_and_unknown_sessions(graph, info):
    rng = np.random.default_rng(2)
    store = HeadStore(info, max_sessions=4, idle_timeout_s=60)
    request(store, graph, tensors(rng, "s", 0, 2))
    assert request(store, graph, {"session_id": np.array([b"s"], dtype=object), "close": np.array([True])}) == {}
    with pytest.raises(HeadError) as e:
        request(store, graph, tensors(rng, "s", 2, 1))
    assert e.value.code == "CANOPY_SESSION_UNKNOWN"
    # past = 0 (re)starts a session.
    request(store, graph, tensors(rng, "s", 0, 1))
    with pytest.raises(HeadError) as e:
        request(store, graph, tensors(rng, "s", 2, 1))  # it holds one row
    assert e.value.code == "CANOPY_BAD_REQUEST"


def test_bounds_evict_the_least_recently_used_and_the_idle(graph, info):
    rng = np.random.default_rng(3)
    store = HeadStore(info, max_sessions=2, idle_timeout_s=60)
    for sid in ("a", "b"):
        request(store, graph, tensors(rng, sid, 0, 1))
    request(store, graph, tensors(rng, "a", 1, 1))  # a is now the most recently used
    request(store, graph, tensors(rng, "c", 0, 1))
    assert sorted(store.sessions) == ["a", "c"]
    assert sorted(store.expire_idle(now=float("inf"))) == ["a", "c"]
    assert not store.sessions


@pytest.mark.parametrize("change, message", [
    ({"session_id": np.array([b""], dtype=object)}, "session_id"),
    ({"session_id": np.array([b"x" * 129], dtype=object)}, "session_id"),
    ({"features": np.zeros((2, H), np.float32)}, "features"),
    ({"token_embeds": np.zeros((1, H + 1), np.float32)}, "token_embeds"),
    ({"attn_bias": np.zeros((1, 2), np.float32)}, "attn_bias"),
    ({"top_k": np.array([0], np.int32)}, "top_k"),
    ({"top_k": np.array([V + 1], np.int32)}, "top_k"),
    ({"past": np.array([-1], np.int32)}, "past"),
    ({"positions": np.array([-1], np.int64)}, "positions"),
    ({"features": None}, "missing"),
])
def test_bad_requests_are_refused_before_any_work(info, change, message):
    t = tensors(np.random.default_rng(4), "s", 0, 1)
    t.update(change)
    with pytest.raises(HeadError) as e:
        parse_request(lambda name: t.get(name), info, 8192)
    assert e.value.code == "CANOPY_BAD_REQUEST" and message in str(e.value)


def test_rows_beyond_the_session_bound_are_refused(info):
    t = tensors(np.random.default_rng(5), "s", 0, 3)
    with pytest.raises(HeadError, match="outside 0..2 rows"):
        parse_request(t.get, info, 2)


def test_a_wrong_lm_head_file_does_not_load(tmp_path):
    np.zeros(V * H - 1, np.float32).tofile(tmp_path / "short.f32")
    with pytest.raises(ValueError, match="expected"):
        load_head(str(HEAD), str(tmp_path / "short.f32"))
