"""canopy_lm: the reference Triton model of canopy (Python backend).

It serves the converted model of docs/model-format.md with onnxruntime and
keeps one KV cache per client-chosen session id; the wire contract is
docs/triton-wire.md. Run it with one KIND_CPU instance: sessions live in this
process, so a second instance would not see them.

The converted model is parameter `model_dir`, else `$CANOPY_HOME/models/<model_name>`
(CANOPY_HOME defaults as in docs/model-format.md). The parameters the Triton
target reads (model_name, vocab_size, num_layers, hidden_size, max_context,
eos_token_ids) must agree with that model's manifest, or the model does not load.
"""

import json
import os
import threading
import traceback

import numpy as np
import triton_python_backend_utils as pb_utils
from canopy_batch import BatchConfig, run_request
from canopy_runner import Manifest, Runner, read_manifest
from canopy_sessions import SessionStore
from canopy_wire import Limits, WireError, parse_request

# Triton status codes per canopy code: HTTP 400 / 404 / 503 and their gRPC twins.
_STATUS = {
    "CANOPY_SESSION_UNKNOWN": "NOT_FOUND",
    "CANOPY_CAPACITY": "UNAVAILABLE",
    "CANOPY_CANCELLED": "CANCELLED",
    "CANOPY_INTERNAL": "INTERNAL",
}


def _param(config: dict, key: str, default: str) -> str:
    value = config.get("parameters", {}).get(key, {}).get("string_value", "")
    return value if value != "" else default


def model_dir_from(config: dict) -> str:
    explicit = _param(config, "model_dir", "")
    if explicit:
        return explicit
    home = os.environ.get("CANOPY_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "canopy")
    return os.path.join(home, "models", _param(config, "model_name", "smollm2-135m-instruct"))


def check_config_facts(config: dict, m: Manifest) -> None:
    """Clients build their view of the model from these parameters: a stale one must not load."""
    facts = {"model_name": m.name, "vocab_size": str(m.vocab_size), "num_layers": str(m.num_layers),
             "hidden_size": str(m.hidden_size), "max_context": str(m.max_context),
             "eos_token_ids": ",".join(str(t) for t in m.eos_token_ids)}
    wrong = [f"{key}={_param(config, key, '')!r} (manifest: {value!r})" for key, value in facts.items()
             if _param(config, key, value).replace(" ", "") != value]
    if wrong:
        raise pb_utils.TritonModelException(
            "[CANOPY_MODEL_MISMATCH] config.pbtxt disagrees with the converted model: " + ", ".join(wrong))


def _error(code: str, message: str):
    status = getattr(pb_utils.TritonError, _STATUS.get(code, "INVALID_ARG"))
    text = message if message.startswith("[") else f"[{code}] {message}"
    return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(text, status))


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        model_dir = model_dir_from(config)
        if not os.path.isfile(os.path.join(model_dir, "manifest.json")):
            raise pb_utils.TritonModelException(
                f"[CANOPY_MODEL_NOT_PREPARED] no converted model at {model_dir} (run `npx canopy prepare-model`)")
        check_config_facts(config, read_manifest(model_dir))
        self.runner = Runner(model_dir, _param(config, "execution_provider", "auto"),
                             int(_param(config, "intra_op_threads", "0")))
        m = self.runner.manifest
        self.limits = Limits(m.vocab_size, m.num_layers, int(_param(config, "max_top_k", "64")),
                             layer_skip=self.runner.can_skip_layers)
        self.batch = BatchConfig(prefill_chunk=int(_param(config, "prefill_chunk", "512")))
        self.store = SessionStore(m.num_layers, m.num_kv_heads, m.head_dim, m.max_context,
                                  max_sessions=int(_param(config, "max_sessions", "64")),
                                  max_kv_bytes=int(_param(config, "max_kv_bytes", str(2 << 30))),
                                  idle_timeout_s=float(_param(config, "session_idle_timeout_s", "600")))
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="canopy-idle-sweeper", daemon=True)
        self._sweeper.start()
        pb_utils.Logger.log_info(f"canopy_lm: serving {m.name} from {model_dir} on {self.runner.providers}")

    def _sweep(self):
        interval = min(1.0, max(self.store.idle_timeout_s / 4, 0.05))
        while not self._stop.wait(interval):
            with self.store.lock:
                expired = self.store.expire_idle()
            if expired:
                pb_utils.Logger.log_info(f"canopy_lm: closed {len(expired)} idle session(s)")

    def _forget(self, request):
        """A cancelled request closes every session it names: the client no longer knows their state."""
        ids = pb_utils.get_input_tensor_by_name(request, "session_id")
        with self.store.lock:
            for raw in ids.as_numpy().reshape(-1) if ids is not None else ():
                self.store.close(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))
        return _error("CANOPY_CANCELLED", "the request was cancelled; its sessions are closed")

    def _one(self, request):
        if request.is_cancelled():
            return self._forget(request)

        def get(name):
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            return None if tensor is None else tensor.as_numpy()

        try:
            req = parse_request(get, self.limits)
            with self.store.lock:
                outputs = run_request(req, self.store, self.runner, self.batch)
        except WireError as e:
            return _error(e.code, str(e))
        except Exception as e:  # a bug or a runtime failure: say so, keep serving
            pb_utils.Logger.log_error(f"canopy_lm: {traceback.format_exc()}")
            return _error("CANOPY_INTERNAL", f"{type(e).__name__}: {e}")
        if request.is_cancelled():
            return self._forget(request)
        asked = set(request.requested_output_names())
        tensors = [pb_utils.Tensor(name, np.ascontiguousarray(value)) for name, value in outputs.items()
                   if not asked or name in asked]
        return pb_utils.InferenceResponse(output_tensors=tensors)

    def execute(self, requests):
        return [self._one(r) for r in requests]

    def finalize(self):
        self._stop.set()
        self._sweeper.join(timeout=2)
        with self.store.lock:
            self.store.expire_idle(now=float("inf"))
