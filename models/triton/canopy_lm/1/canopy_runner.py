"""One forward pass of the converted model (docs/model-format.md) with onnxruntime.

The same graph and the same onnxruntime version (1.30.0) as the embedded
target, so both sides compute the same floats for the same pass.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import onnxruntime as ort


@dataclass(frozen=True)
class Manifest:
    name: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_kv_heads: int
    head_dim: int
    max_context: int
    eos_token_ids: tuple
    graph: str
    layer_skip_graph: Optional[str]


def read_manifest(model_dir: str) -> Manifest:
    with open(os.path.join(model_dir, "manifest.json"), encoding="utf-8") as f:
        m = json.load(f)
    if m.get("format") != 1:
        raise ValueError(f"{model_dir}/manifest.json has format {m.get('format')!r}; this model reads format 1")
    files = m.get("files", {})
    skip = files.get("layerSkipGraph")
    return Manifest(m["name"], m["vocabSize"], m["hiddenSize"], m["numLayers"], m["numKvHeads"], m["headDim"],
                    m["maxContext"], tuple(m["eosTokenIds"]), os.path.join(model_dir, files.get("graph", "model.onnx")),
                    os.path.join(model_dir, skip) if skip else None)


def tree_depths(parents: np.ndarray) -> np.ndarray:
    depths = np.zeros(parents.shape[0], np.int64)
    for i in range(1, parents.shape[0]):
        depths[i] = depths[parents[i]] + 1
    return depths


def tree_bias(parents: np.ndarray, cached: int) -> np.ndarray:
    """[n, cached + n] additive mask: every cached position, plus each node's ancestors and itself."""
    n = parents.shape[0]
    allowed = np.zeros((n, n), dtype=bool)
    for i in range(n):
        if parents[i] >= 0:
            allowed[i] = allowed[parents[i]]
        allowed[i, i] = True
    bias = np.zeros((n, cached + n), np.float32)
    bias[:, cached:][~allowed] = -np.inf
    return bias


def chain_bias(n: int, cached: int) -> np.ndarray:
    bias = np.zeros((n, cached + n), np.float32)
    bias[:, cached:][np.triu(np.ones((n, n), dtype=bool), 1)] = -np.inf
    return bias


def pick_providers(choice: str) -> list:
    available = ort.get_available_providers()
    if choice == "cpu":
        return ["CPUExecutionProvider"]
    if choice == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise RuntimeError("execution_provider is 'cuda' but this onnxruntime has no CUDAExecutionProvider "
                               "(install onnxruntime-gpu==1.30.0)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class Runner:
    """Runs passes; the caller owns every cache (the graph returns the new entries only).

    Verify and prefill passes run `files.graph`. Layer-skip scratch passes run
    `files.layerSkipGraph` (same weights, every block behind `If(layer_mask[l])`),
    loaded on first use; a single graph that takes `layer_mask` serves both.
    """

    def __init__(self, model_dir: str, provider: str = "auto", intra_op_threads: int = 0):
        self.manifest = read_manifest(model_dir)
        self._options = ort.SessionOptions()
        self._options.intra_op_num_threads = intra_op_threads
        self._providers = pick_providers(provider)
        self._main = self._load(self.manifest.graph)
        self._skip = self._main if "layer_mask" in self._inputs(self._main) else None
        self.providers = self._main.get_providers()
        self.has_argmax = "argmax" in {o.name for o in self._main.get_outputs()}

    def _load(self, path: str) -> ort.InferenceSession:
        return ort.InferenceSession(path, self._options, providers=self._providers)

    @staticmethod
    def _inputs(session: ort.InferenceSession) -> set:
        return {i.name for i in session.get_inputs()}

    @property
    def can_skip_layers(self) -> bool:
        return self._skip is not None or self.manifest.layer_skip_graph is not None

    def run(self, tokens: np.ndarray, positions: np.ndarray, bias: np.ndarray, past: list, outputs: list,
            logit_rows: np.ndarray, top_k: int = 1, skip_layers: Optional[np.ndarray] = None) -> dict:
        """Returns the asked `outputs` by name. `logit_rows` must not be empty (onnxruntime dies on M = 0)."""
        feeds = {
            "input_ids": tokens.astype(np.int64),
            "positions": positions.astype(np.int64),
            "attn_bias": bias,
            "logit_rows": logit_rows.astype(np.int64),
            "top_k": np.array([max(top_k, 1)], np.int64),
        }
        for layer, (k, v) in enumerate(past):
            feeds[f"past_key_{layer}"] = k
            feeds[f"past_value_{layer}"] = v
        session = self._main
        if skip_layers is not None and skip_layers.size:
            if self._skip is None:
                self._skip = self._load(self.manifest.layer_skip_graph)
            session = self._skip
            mask = np.ones(self.manifest.num_layers, dtype=bool)
            mask[skip_layers] = False
            feeds["layer_mask"] = mask
        elif session is self._skip:
            feeds["layer_mask"] = np.ones(self.manifest.num_layers, dtype=bool)
        return dict(zip(outputs, session.run(outputs, feeds)))

    def present_names(self) -> list:
        n = self.manifest.num_layers
        return [f"present_key_{i}" for i in range(n)] + [f"present_value_{i}" for i in range(n)]

    def hidden_name(self, layer: int) -> str:
        return "hidden_final" if layer == self.manifest.num_layers else f"hidden_{layer}"
