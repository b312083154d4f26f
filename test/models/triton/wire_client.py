"""A small client of the canopy_lm wire contract (docs/triton-wire.md) over tritonclient, HTTP or gRPC."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

OPEN, CLOSE, SCRATCH = 1, 2, 4

_DTYPES = {"int32": "INT32", "float32": "FP32", "uint64": "UINT64", "object": "BYTES", "float64": "FP64"}


@dataclass
class Work:
    """One session's part of a request."""

    session: str
    tokens: Sequence[int] = ()
    parents: Optional[Sequence[int]] = None  # default: a chain
    flags: int = 0
    keep: Sequence[int] = ()
    sampling: dict = field(default_factory=dict)

    def parent_list(self) -> list:
        if self.parents is not None:
            return list(self.parents)
        return [i - 1 for i in range(len(self.tokens))]


def opening(session: str, prompt: Sequence[int], **sampling) -> Work:
    """OPEN: the prompt without its last token, as a chain."""
    return Work(session, list(prompt[:-1]), flags=OPEN, sampling=sampling)


SAMPLING_DEFAULTS = {
    "temperature": 0.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "repetition_penalty": 1.0,
    "frequency_penalty": 0.0, "presence_penalty": 0.0, "seed": 0,
}
_SAMPLING_TYPES = {"top_k": np.int32, "seed": np.uint64}


def build_inputs(work: Sequence[Work], return_top_k: int = 0, hidden_layers: Sequence[int] = (),
                 skip_layers: Sequence[int] = (), overrides: Optional[dict] = None,
                 return_logprobs: bool = False) -> dict:
    """The request's input arrays by name; `overrides` replaces or adds raw arrays (None removes one)."""
    arrays = {
        "session_id": np.array([w.session.encode() for w in work], dtype=object),
        "flags": np.array([w.flags for w in work], np.int32),
        "node_count": np.array([len(w.tokens) for w in work], np.int32),
        "tokens": np.array([t for w in work for t in w.tokens], np.int32),
        "parents": np.array([p for w in work for p in w.parent_list()], np.int32),
        "keep_count": np.array([len(w.keep) for w in work], np.int32),
        "keep": np.array([k for w in work for k in w.keep], np.int32),
    }
    if any(w.sampling for w in work):
        for name, default in SAMPLING_DEFAULTS.items():
            dtype = _SAMPLING_TYPES.get(name, np.float32)
            arrays[name] = np.array([w.sampling.get(name, default) for w in work], dtype)
    if return_top_k:
        arrays["return_top_k"] = np.array([return_top_k], np.int32)
    if return_logprobs:
        arrays["return_logprobs"] = np.array([1], np.int32)
    if hidden_layers:
        arrays["hidden_layers"] = np.array(hidden_layers, np.int32)
    if skip_layers:
        arrays["skip_layers"] = np.array(skip_layers, np.int32)
    for name, value in (overrides or {}).items():
        if value is None:
            arrays.pop(name, None)
        else:
            arrays[name] = value
    return arrays


class CanopyLm:
    """Calls one canopy_lm model over HTTP or gRPC."""

    def __init__(self, endpoints: dict, protocol: str, model: str = "canopy_lm"):
        self.protocol = protocol
        self.model = model
        if protocol == "http":
            self._mod = httpclient
            self._client = httpclient.InferenceServerClient(endpoints["http"].removeprefix("http://"))
        else:
            self._mod = grpcclient
            self._client = grpcclient.InferenceServerClient(endpoints["grpc"].removeprefix("grpc://"))

    def raw(self, arrays: dict, outputs: Optional[Sequence[str]] = None) -> dict:
        """Sends the arrays as inputs; `outputs` names the outputs to ask for (default: all)."""
        inputs = []
        for name, value in arrays.items():
            tensor = self._mod.InferInput(name, list(value.shape), _DTYPES[value.dtype.name])
            if self.protocol == "http":
                tensor.set_data_from_numpy(value, binary_data=True)
            else:
                tensor.set_data_from_numpy(value)
            inputs.append(tensor)
        asked = [self._mod.InferRequestedOutput(name) for name in outputs] if outputs else None
        result = self._client.infer(self.model, inputs, outputs=asked)
        names = [o["name"] if isinstance(o, dict) else o.name for o in self._outputs(result)]
        return {name: result.as_numpy(name) for name in names}

    def _outputs(self, result):
        response = result.get_response()
        return response["outputs"] if isinstance(response, dict) else response.outputs

    def call(self, *work: Work, **options) -> dict:
        return self.raw(build_inputs(work, **options))

    def is_ready(self) -> bool:
        return self._client.is_model_ready(self.model)


def error_of(call) -> InferenceServerException:
    """Runs `call`, which must fail, and returns the server's error."""
    try:
        call()
    except InferenceServerException as e:
        return e
    raise AssertionError("the request was expected to fail")
