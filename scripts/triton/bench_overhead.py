"""What Triton adds to a verify step of canopy_lm: the same request run in process and over HTTP and gRPC.

Each round runs one STEP (keep the root, one new root, a tree of N nodes) three
ways, interleaved: in this process through the model's own code (no Triton),
then over HTTP (binary tensors) and gRPC against a running server. The
difference of medians is Triton's transport, (de)serialisation and Python
backend hop. Start a server on the same model first (`npx canopy triton start
--model NAME`), then:

  .venv/triton/bin/python scripts/triton/bench_overhead.py --http URL --grpc URL --model NAME
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models" / "triton" / "canopy_lm" / "1"))
sys.path.insert(0, str(ROOT / "test" / "models" / "triton"))

from canopy_batch import BatchConfig, run_request  # noqa: E402
from canopy_runner import Runner  # noqa: E402
from canopy_sessions import SessionStore  # noqa: E402
from canopy_wire import Limits, input_getter, parse_request  # noqa: E402
from wire_client import CanopyLm, Work, build_inputs, opening  # noqa: E402


def model_dir(name: str) -> str:
    if "/" in name:
        return name
    home = os.environ.get("CANOPY_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "canopy")
    return os.path.join(home, "models", name)


class InProcess:
    """The model's code without Triton: parse, run, same as model.py does per request."""

    def __init__(self, directory: str):
        self.runner = Runner(directory)
        m = self.runner.manifest
        self.limits = Limits(m.vocab_size, m.num_layers, 64, self.runner.can_skip_layers)
        self.store = SessionStore(m.num_layers, m.num_kv_heads, m.head_dim, m.max_context, 64, 4 << 30, 3600)

    def call(self, *work: Work, **options) -> dict:
        req = parse_request(input_getter(build_inputs(work, **options)), self.limits)
        return run_request(req, self.store, self.runner, BatchConfig(512))


def random_tree(n: int, root: int, vocab: int, rng: np.random.Generator):
    parents = [-1] + [int(rng.integers(0, i)) for i in range(1, n)]
    return [root] + rng.integers(0, vocab, n - 1).tolist(), parents


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", required=True)
    ap.add_argument("--grpc", required=True)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--nodes", default="1,8,32")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--sampled", action="store_true", help="seeded sampling with penalties instead of greedy")
    args = ap.parse_args()

    local = InProcess(model_dir(args.model))
    vocab = local.runner.manifest.vocab_size
    rng = np.random.default_rng(0)
    prompt = rng.integers(3, vocab, args.context).tolist()
    sampling = ({"temperature": 0.8, "top_p": 0.95, "repetition_penalty": 1.1, "frequency_penalty": 0.2, "seed": 1}
                if args.sampled else {})
    targets = {"in-process": local, "http": CanopyLm({"http": args.http}, "http"),
               "grpc": CanopyLm({"grpc": args.grpc}, "grpc")}
    print(f"model {args.model}, {args.context} cached tokens, {'sampled' if args.sampled else 'greedy'}; "
          f"median ms per STEP request over {args.rounds} rounds (interleaved)")
    print(f"{'nodes':>5} " + " ".join(f"{name:>11}" for name in targets) + "   http-extra  grpc-extra")
    for n in (int(x) for x in args.nodes.split(",")):
        times = {name: [] for name in targets}
        roots = {}
        for name, target in targets.items():
            sid = f"bench-{name}-{n}-{time.time_ns()}"
            target.call(opening(sid, prompt, **sampling))
            roots[name] = (sid, prompt[-1], [])
        for _ in range(args.rounds):
            tokens, parents = random_tree(n, 0, vocab, rng)
            for name, target in targets.items():
                sid, root, keep = roots[name]
                tokens[0] = root
                t0 = time.perf_counter()
                out = target.call(Work(sid, tokens, parents, keep=keep))
                times[name].append((time.perf_counter() - t0) * 1000)
                roots[name] = (sid, int(out["chosen"][0]), [0])
        med = {name: statistics.median(t) for name, t in times.items()}
        print(f"{n:>5} " + " ".join(f"{med[name]:>11.2f}" for name in targets)
              + f"   {med['http'] - med['in-process']:>10.2f}  {med['grpc'] - med['in-process']:>10.2f}")


if __name__ == "__main__":
    main()
