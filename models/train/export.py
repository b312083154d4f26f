"""Writes a trained head as ONNX (opset 18) for canopy's eagle drafter (and any ONNX runtime).

The graph is one head pass over N new rows against T cached rows of the head's
own KV cache, with an additive attention bias, like the target graph of
docs/model-format.md, so a whole draft tree level runs in one pass:

  inputs   features [N, H]        the feature each row extends (true or predicted)
           token_embeds [N, H]    the target's embedding of each row's token
           positions [N] int64    absolute positions (RoPE)
           attn_bias [N, T+N]     0 where a row may attend (cache, ancestors, itself), -inf elsewhere
           past_key, past_value [T, Hkv, D]
           lm_head [Vd, H]        the target's LM-head rows of the draft vocabulary (frozen, tied)
           top_k [1] int64
  outputs  feature_out [N, H]     the predicted next feature
           topk_ids [N, K] int64  indices into the draft vocabulary, best first
           topk_logprobs [N, K]   their log-softmax over the draft vocabulary
           present_key, present_value [N, Hkv, D]

The target's embedding and LM head are inputs, not weights, so the file holds
only what was trained: matrices as int8 with one float32 scale per output
column (symmetric, like GGUF's Q8_0 but per column), vectors as float16.
onnxruntime folds the Cast/Mul nodes at load, so the head runs
in float32; SmolLM2's head is 4.2 MB instead of 8.4 MB in float16.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from head import HeadShape
from quantize import quantize_columns

F32 = TensorProto.FLOAT


class _G:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, hint: str) -> str:
        self.n += 1
        return f"{hint}_{self.n}"

    def op(self, op: str, inputs: list[str], out: str | None = None, **attrs) -> str:
        out = out or self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.name(f"n_{op}"), **attrs))
        return out

    def const(self, array: np.ndarray, hint: str = "c") -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def i64(self, values) -> str:
        return self.const(np.asarray(values, np.int64), "i64")

    def weight(self, array: np.ndarray, name: str) -> str:
        """int8 matrices / float16 vectors on disk, float32 at run time (folded at load)."""
        array = np.asarray(array, np.float32)
        if array.ndim != 2:
            self.inits.append(numpy_helper.from_array(array.astype(np.float16), f"{name}_f16"))
            return self.op("Cast", [f"{name}_f16"], name, to=F32)
        q, scale = quantize_columns(array)
        self.inits.append(numpy_helper.from_array(q, f"{name}_q8"))
        self.inits.append(numpy_helper.from_array(scale[None, :], f"{name}_scale"))
        # Cast + Mul rather than DequantizeLinear: onnxruntime folds both into a float32 constant,
        # where a DequantizeLinear before a MatMul would be fused into an int8 matmul that also
        # quantizes the activations.
        return self.op("Mul", [self.op("Cast", [f"{name}_q8"], to=F32), f"{name}_scale"], name)


def _rms(g: _G, x: str, w: str, eps: float) -> str:
    mean = g.op("ReduceMean", [g.op("Mul", [x, x]), g.i64([-1])], keepdims=1)
    std = g.op("Sqrt", [g.op("Add", [mean, g.const(np.float32(eps))])])
    return g.op("Mul", [g.op("Div", [x, std]), w])


def build_head_graph(params: dict, hs: HeadShape) -> onnx.ModelProto:
    g = _G()
    p = {k: np.asarray(v, np.float32) for k, v in params.items()}
    h, d, hq, hkv = hs.hidden, hs.head_dim, hs.heads, hs.kv_heads
    grp = hq // hkv
    qkv_w = p["attn_qkv"].copy()
    qkv_w[:, : hq * d] /= np.sqrt(d)  # the attention scale, folded into the Q columns
    w = {k: g.weight(v, k) for k, v in {**p, "attn_qkv": qkv_w}.items()}

    e = _rms(g, "token_embeds", w["emb_norm"], hs.eps)
    x = g.op("MatMul", [g.op("Concat", [e, "features"], axis=-1), w["fc"]])

    inv = hs.rope_theta ** (-(2 * (np.arange(d) // 2)) / d) / hs.rope_scale
    pos = g.op("Unsqueeze", [g.op("Cast", ["positions"], to=F32), g.i64([1, 2])])
    ang = g.op("Mul", [pos, g.const(inv.astype(np.float32).reshape(1, 1, d))])  # [N, 1, D]
    cos = g.op("Cos", [ang])
    sign = np.where(np.arange(d) % 2 == 0, -1.0, 1.0).astype(np.float32).reshape(1, 1, d)
    sin = g.op("Mul", [g.op("Sin", [ang]), g.const(sign)])
    swap = g.i64(np.arange(d) ^ 1)

    def rope(t: str) -> str:
        return g.op("Add", [g.op("Mul", [t, cos]), g.op("Mul", [g.op("Gather", [t, swap], axis=-1), sin])])

    qkv = g.op("MatMul", [_rms(g, x, w["attn_norm"], hs.eps), w["attn_qkv"]])
    q, k, v = g.name("q"), g.name("k"), g.name("v")
    g.nodes.append(helper.make_node("Split", [qkv, g.i64([hq * d, hkv * d, hkv * d])], [q, k, v], axis=-1))
    q = rope(g.op("Reshape", [q, g.i64([0, hq, d])]))
    k = rope(g.op("Reshape", [k, g.i64([0, hkv, d])]))
    g.op("Identity", [k], "present_key")
    g.op("Reshape", [v, g.i64([0, hkv, d])], "present_value")

    keys = g.op("Concat", ["past_key", "present_key"], axis=0)  # [S, Hkv, D]
    values = g.op("Concat", ["past_value", "present_value"], axis=0)
    bias_shape = g.op("Shape", ["attn_bias"])  # [N, S]
    qg = g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [q, g.i64([0, hkv, grp, d])])], perm=[1, 2, 0, 3]),
                          g.i64([hkv, -1, d])])  # [Hkv, G N, D]
    scores = g.op("MatMul", [qg, g.op("Transpose", [keys], perm=[1, 2, 0])])  # [Hkv, G N, S]
    scores = g.op("Reshape", [scores, g.op("Concat", [g.i64([hkv, grp]), bias_shape], axis=0)])
    probs = g.op("Softmax", [g.op("Add", [scores, "attn_bias"])], axis=-1)  # [Hkv, G, N, S]
    s_dim = g.op("Slice", [bias_shape, g.i64([1]), g.i64([2])])
    flat = g.op("Reshape", [probs, g.op("Concat", [g.i64([hkv, -1]), s_dim], axis=0)])
    ctx = g.op("MatMul", [flat, g.op("Transpose", [values], perm=[1, 0, 2])])  # [Hkv, G N, D]
    ctx = g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [ctx, g.i64([hkv, grp, -1, d])])], perm=[2, 0, 1, 3]),
                           g.i64([-1, hq * d])])
    x = g.op("Add", [x, g.op("MatMul", [ctx, w["attn_output"]])])

    gu = g.op("MatMul", [_rms(g, x, w["ffn_norm"], hs.eps), w["ffn_gate_up"]])
    gate, up = g.name("gate"), g.name("up")
    g.nodes.append(helper.make_node("Split", [gu, g.i64([hs.ffn, hs.ffn])], [gate, up], axis=-1))
    act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
    x = g.op("Add", [x, g.op("MatMul", [act, w["ffn_down"]])])
    feat = _rms(g, x, w["out_norm"], hs.eps)
    g.op("Identity", [feat], "feature_out")

    logits = g.op("Gemm", [feat, "lm_head"], transB=1)  # [N, Vd]
    top_vals, top_ids = g.name("topv"), "topk_ids"
    g.nodes.append(helper.make_node("TopK", [logits, "top_k"], [top_vals, top_ids], axis=-1))
    g.op("GatherElements", [g.op("LogSoftmax", [logits], axis=-1), top_ids], "topk_logprobs", axis=-1)

    vi = helper.make_tensor_value_info
    inputs = [
        vi("features", F32, ["N", h]), vi("token_embeds", F32, ["N", h]), vi("positions", TensorProto.INT64, ["N"]),
        vi("attn_bias", F32, ["N", "S"]), vi("past_key", F32, ["T", hkv, d]), vi("past_value", F32, ["T", hkv, d]),
        vi("lm_head", F32, [hs.draft_vocab, h]), vi("top_k", TensorProto.INT64, [1]),
    ]
    outputs = [
        vi("feature_out", F32, ["N", h]), vi("topk_ids", TensorProto.INT64, ["N", "K"]),
        vi("topk_logprobs", F32, ["N", "K"]), vi("present_key", F32, ["N", hkv, d]),
        vi("present_value", F32, ["N", hkv, d]),
    ]
    graph = helper.make_graph(g.nodes, "canopy_eagle_head", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="canopy-train")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
