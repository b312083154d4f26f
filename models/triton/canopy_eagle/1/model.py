"""canopy_eagle: the EAGLE drafter's head as a Triton model (Python backend).

It runs the head graph of docs/eagle.md with onnxruntime and keeps one head KV
cache per client-chosen session id, so that the `eagle` drafter (option
`triton`) can draft next to a Triton-served target, on the server's hardware.
The wire contract is in docs/eagle.md ("The head on Triton"); the request logic
is canopy_head.py. One KIND_CPU instance: sessions live in this process.

Parameters `head_graph` (eagle.onnx, with eagle.json beside it) and
`lm_head_file` (the target's LM-head rows of the draft vocabulary, float32) are
filled by `canopy triton start`, which finds the head as the drafter does.
"""

import json
import threading
import traceback

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils
from canopy_head import GRAPH_OUTPUTS, HeadError, HeadStore, load_head, parse_request, run_pass

_STATUS = {"CANOPY_SESSION_UNKNOWN": "NOT_FOUND", "CANOPY_INTERNAL": "INTERNAL"}


def _param(config: dict, key: str, default: str) -> str:
    value = config.get("parameters", {}).get(key, {}).get("string_value", "")
    return value if value != "" else default


def _error(code: str, message: str):
    status = getattr(pb_utils.TritonError, _STATUS.get(code, "INVALID_ARG"))
    text = message if message.startswith("[") else f"[{code}] {message}"
    return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(text, status))


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        graph = _param(config, "head_graph", "")
        lm_head = _param(config, "lm_head_file", "")
        if not graph or not lm_head:
            raise pb_utils.TritonModelException(
                "[CANOPY_MODEL_NOT_PREPARED] head_graph and lm_head_file are empty: serve this repository "
                "with `npx canopy triton start`, which fills them")
        self.info = load_head(graph, lm_head)
        options = ort.SessionOptions()
        threads = int(_param(config, "intra_op_threads", "0"))
        if threads > 0:
            options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.max_rows = int(_param(config, "max_rows", "8192"))
        self.store = HeadStore(self.info, int(_param(config, "max_sessions", "64")),
                               float(_param(config, "session_idle_timeout_s", "600")))
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="canopy-eagle-sweeper", daemon=True)
        self._sweeper.start()
        pb_utils.Logger.log_info(f"canopy_eagle: head {graph} for {self.info.target_model} "
                                 f"({self.info.draft_vocab} draft tokens)")

    def _sweep(self):
        interval = min(1.0, max(self.store.idle_timeout_s / 4, 0.05))
        while not self._stop.wait(interval):
            with self.store.lock:
                self.store.expire_idle()

    def _run_graph(self, feeds):
        return self.session.run(GRAPH_OUTPUTS, feeds)

    def _one(self, request):
        def get(name):
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            return None if tensor is None else tensor.as_numpy()

        try:
            req = parse_request(get, self.info, self.max_rows)
            with self.store.lock:
                outputs = run_pass(req, self.store, self._run_graph)
        except HeadError as e:
            return _error(e.code, str(e))
        except Exception as e:  # a bug or a runtime failure: say so, keep serving
            pb_utils.Logger.log_error(f"canopy_eagle: {traceback.format_exc()}")
            return _error("CANOPY_INTERNAL", f"{type(e).__name__}: {e}")
        return pb_utils.InferenceResponse(
            output_tensors=[pb_utils.Tensor(name, np.ascontiguousarray(v)) for name, v in outputs.items()])

    def execute(self, requests):
        return [self._one(r) for r in requests]

    def finalize(self):
        self._stop.set()
        self._sweeper.join(timeout=2)
