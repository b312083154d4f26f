"""tritonclient (HTTP and gRPC) pointed at canopy's proxy and at Triton directly.

Run by test/plugins/proxy/triton.test.ts with one JSON argument:
{"direct": {"http": "host:port", "grpc": "host:port"}, "proxy": {...}, "model": "canopy_lm",
 "prompt": "...", "max_tokens": N}. Prints one JSON object with what each side answered; the
test compares them (and the texts with plain decoding on Triton directly).
"""

from __future__ import annotations

import json
import queue
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

MODULES = {"http": httpclient, "grpc": grpcclient}


def client(protocol: str, url: str):
    return MODULES[protocol].InferenceServerClient(url)


def add_sub(c, protocol: str) -> dict:
    module = MODULES[protocol]
    a = np.arange(4, dtype=np.float32)
    b = np.full(4, 0.5, dtype=np.float32)
    inputs = [module.InferInput("INPUT0", [4], "FP32"), module.InferInput("INPUT1", [4], "FP32")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    result = c.infer("add_sub", inputs)
    return {name: result.as_numpy(name).tolist() for name in ("OUTPUT0", "OUTPUT1")}


def metadata(c, protocol: str) -> dict:
    kwargs = {"as_json": True} if protocol == "grpc" else {}
    return {
        "live": c.is_server_live(),
        "ready": c.is_server_ready(),
        "model_ready": c.is_model_ready("add_sub"),
        "model": c.get_model_metadata("add_sub", **kwargs),
        "config": c.get_model_config("add_sub", **kwargs),
    }


def text_inputs(module, prompt: str, max_tokens: int, stream: bool | None = None) -> list:
    text = module.InferInput("text_input", [1], "BYTES")
    text.set_data_from_numpy(np.array([prompt.encode()], dtype=object))
    limit = module.InferInput("max_tokens", [1], "INT32")
    limit.set_data_from_numpy(np.array([max_tokens], dtype=np.int32))
    inputs = [text, limit]
    if stream is not None:
        flag = module.InferInput("stream", [1], "BOOL")
        flag.set_data_from_numpy(np.array([stream], dtype=bool))
        inputs.append(flag)
    return inputs


def grpc_parameter(parameters, key):
    if key not in parameters:
        return None
    p = parameters[key]
    return getattr(p, p.WhichOneof("parameter_choice"))


def text_infer(c, protocol: str, model: str, prompt: str, max_tokens: int) -> dict:
    module = MODULES[protocol]
    result = c.infer(model, text_inputs(module, prompt, max_tokens), parameters={"temperature": 0})
    response = result.get_response()
    if protocol == "http":
        stats = response["parameters"]["canopy_stats"]
    else:
        stats = grpc_parameter(response.parameters, "canopy_stats")
    return {"text": result.as_numpy("text_output")[0].decode(), "stats": json.loads(stats)}


def stream_text(url: str, model: str, prompt: str, max_tokens: int) -> dict:
    c = grpcclient.InferenceServerClient(url)
    answers: queue.Queue = queue.Queue()
    c.start_stream(callback=lambda result, error: answers.put((result, error)))
    c.async_stream_infer(model, text_inputs(grpcclient, prompt, max_tokens, stream=True), request_id="s1")
    pieces = []
    responses = 0
    while True:
        result, error = answers.get(timeout=120)
        if error is not None:
            raise RuntimeError(str(error))
        responses += 1
        pieces.append(result.as_numpy("text_output")[0].decode())
        if grpc_parameter(result.get_response().parameters, "triton_final_response"):
            break
    c.stop_stream()
    return {"text": "".join(pieces), "responses": responses}


def main() -> None:
    args = json.loads(sys.argv[1])
    out: dict = {"add_sub": {}, "metadata": {}, "generate": {}}
    for protocol in ("http", "grpc"):
        direct = client(protocol, args["direct"][protocol])
        proxy = client(protocol, args["proxy"][protocol])
        out["add_sub"][protocol] = {"direct": add_sub(direct, protocol), "proxy": add_sub(proxy, protocol)}
        out["metadata"][protocol] = {"direct": metadata(direct, protocol), "proxy": metadata(proxy, protocol)}
        out["generate"][protocol] = text_infer(proxy, protocol, args["model"], args["prompt"], args["max_tokens"])
    out["generate"]["grpc_stream"] = stream_text(args["proxy"]["grpc"], args["model"], args["prompt"], args["max_tokens"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
