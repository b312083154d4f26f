"""canopy_eagle on the real server, through tritonclient over HTTP and gRPC: its passes
equal stateless runs of the same head graph with the LM-head rows `canopy triton start`
wrote, and its refusals carry their codes and statuses (docs/eagle.md, "The head on Triton")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from conftest import TINY_HEAD
from tritonclient.utils import InferenceServerException

META = json.loads(TINY_HEAD.with_suffix(".json").read_text())
H = META["head"]["hidden"]
OUTPUTS = ["feature_out", "topk_ids", "topk_logprobs", "present_key", "present_value"]
_DTYPES = {np.dtype(np.int32): "INT32", np.dtype(np.float32): "FP32", np.dtype(np.int64): "INT64",
           np.dtype(object): "BYTES", np.dtype(bool): "BOOL"}


class Head:
    def __init__(self, server: dict, protocol: str):
        self.module = httpclient if protocol == "http" else grpcclient
        url = server[protocol].split("://", 1)[1]
        self.client = self.module.InferenceServerClient(url)

    def infer(self, arrays: dict) -> dict:
        inputs = []
        for name, value in arrays.items():
            tensor = self.module.InferInput(name, list(value.shape), _DTYPES[value.dtype])
            tensor.set_data_from_numpy(value)
            inputs.append(tensor)
        result = self.client.infer("canopy_eagle", inputs)
        return {name: result.as_numpy(name) for name in ("feature_out", "topk_ids", "topk_logprobs")}


@pytest.fixture(params=["http", "grpc"])
def head(request, server) -> Head:
    return Head(server, request.param)


@pytest.fixture(scope="module")
def direct(server):
    """The same graph in this process, with the LM-head rows the served config names."""
    config = (Path(server["log"]).parent / "repository" / "canopy_eagle" / "config.pbtxt").read_text()
    lm_head_file = re.search(r'key: "lm_head_file", value: \{ string_value: "([^"]*)"', config).group(1)
    lm_head = np.fromfile(lm_head_file, "<f4").reshape(META["head"]["draftVocab"], H)
    session = ort.InferenceSession(str(TINY_HEAD), providers=["CPUExecutionProvider"])
    return lambda feeds: session.run(OUTPUTS, {**feeds, "lm_head": lm_head})


def pass_arrays(rng, sid: str, past: int, n: int) -> dict:
    bias = np.zeros((n, past + n), np.float32)
    for i in range(n):
        bias[i, past + i + 1:] = -np.inf
    return {
        "session_id": np.array([sid.encode()], dtype=object),
        "past": np.array([past], np.int32),
        "features": rng.standard_normal((n, H)).astype(np.float32),
        "token_embeds": rng.standard_normal((n, H)).astype(np.float32),
        "positions": np.arange(past, past + n, dtype=np.int64),
        "attn_bias": bias,
        "top_k": np.array([4], np.int32),
    }


def test_served_passes_equal_the_graph_run_here(head, direct, sid):
    rng = np.random.default_rng(11)
    kv = META["head"]["kvHeads"], META["head"]["headDim"]
    empty = np.zeros((0, *kv), np.float32)
    first = pass_arrays(rng, sid, 0, 3)
    second = pass_arrays(rng, sid, 3, 2)
    feeds = lambda a: {k: a[k] for k in ("features", "token_embeds", "positions", "attn_bias")}  # noqa: E731
    f1, i1, l1, k1, v1 = direct({**feeds(first), "past_key": empty, "past_value": empty,
                                 "top_k": np.array([4], np.int64)})
    f2, i2, l2, _, _ = direct({**feeds(second), "past_key": k1, "past_value": v1, "top_k": np.array([4], np.int64)})
    for arrays, (f, i, lp) in [(first, (f1, i1, l1)), (second, (f2, i2, l2))]:
        out = head.infer(arrays)
        np.testing.assert_allclose(out["feature_out"], f, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(out["topk_ids"], i.astype(np.int32))
        np.testing.assert_allclose(out["topk_logprobs"], lp, rtol=0, atol=1e-5)
    head.infer({"session_id": np.array([sid.encode()], dtype=object), "close": np.array([True])})


def test_an_unknown_session_is_not_found(head, sid):
    with pytest.raises(InferenceServerException) as e:
        head.infer(pass_arrays(np.random.default_rng(12), sid + "-never-opened", 5, 1))
    assert "CANOPY_SESSION_UNKNOWN" in str(e.value)
    assert e.value.status() in ("404", "StatusCode.NOT_FOUND")


def test_a_malformed_pass_is_a_bad_request(head, sid):
    arrays = pass_arrays(np.random.default_rng(13), sid, 0, 2)
    arrays["attn_bias"] = np.zeros((2, 3), np.float32)
    with pytest.raises(InferenceServerException) as e:
        head.infer(arrays)
    assert "CANOPY_BAD_REQUEST" in str(e.value) and "attn_bias" in str(e.value)
    assert e.value.status() in ("400", "StatusCode.INVALID_ARGUMENT")
