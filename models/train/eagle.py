"""Trains an EAGLE-style draft head for a prepared canopy model, in one command.

    python3 models/train/eagle.py --model smollm2-135m-instruct

Stages (each resumable; the data stages are the slow part on a CPU):
  1. data: the target's own greedy answers to training prompts and its features (data.py)
  2. train: the head, with held-out acceptance per epoch (train.py)
  3. export: eagle.onnx + eagle.json into the model's cache directory (or --out),
     where canopy's `eagle` drafter finds it.

Needs `npm run build` (the tokenizer helper runs canopy's own tokenizer) and the
packages in models/train/requirements.txt. See docs/eagle.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import data as D  # noqa: E402
import target as T  # noqa: E402
from export import build_head_graph  # noqa: E402
from generate import Generator  # noqa: E402
from head import HeadShape  # noqa: E402
from train import Sequence, TrainPlan, draft_vocab, evaluate, train  # noqa: E402


def canopy_home() -> str:
    if os.environ.get("CANOPY_HOME"):
        return os.environ["CANOPY_HOME"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "canopy")


def model_dir(name: str) -> str:
    return name if os.path.isdir(name) else os.path.join(canopy_home(), "models", name)


def load_sequences(work: str, hidden: int) -> tuple[list[Sequence], list[Sequence]]:
    """(the target's own answers, teacher-forced reference answers)."""
    own, ref = [], []
    for stage in ("stage1", "stage2", "reference"):
        path = os.path.join(work, stage)
        if not os.path.exists(os.path.join(path, "stats.json")):
            continue
        feats = D.read_features(path, hidden)
        for s in D.read_sequences(path):
            n = len(s["answer"])
            if n >= 2:
                seq = Sequence(len(s["prompt"]), np.asarray(s["answer"], np.int32),
                               np.asarray(feats[s["row"] : s["row"] + n]))
                (ref if s.get("source") == "reference" else own).append(seq)
    return own, ref


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="prepared model name or directory")
    ap.add_argument("--out", help="directory for eagle.onnx/eagle.json (default: the model directory)")
    ap.add_argument("--work", help="data and checkpoints (default: <model dir>/eagle-work)")
    ap.add_argument("--gsm8k", default=os.path.join(HERE, "..", "..", "..", "shared", "data", "gsm8k", "train.jsonl"))
    ap.add_argument("--math", type=int, default=360, help="GSM8K training questions the target answers")
    ap.add_argument("--generic", type=int, default=460, help="self-instruct prompts the target answers")
    ap.add_argument("--followup", type=int, default=160, help="stage-two prompts built from stage-one answers")
    ap.add_argument("--reference", type=int, default=1200, help="GSM8K reference answers, teacher-forced")
    ap.add_argument("--max-new", type=int, default=160)
    ap.add_argument("--slots", type=int, default=48, help="sequences decoded together")
    ap.add_argument("--draft-vocab", type=int, default=8192)
    ap.add_argument("--ffn", type=int, default=0, help="head FFN width (default: the target's)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--depth", type=int, default=2, help="training-time-test unroll depth")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--held-out", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    mdir = model_dir(args.model)
    work = args.work or os.path.join(mdir, "eagle-work")
    out = args.out or mdir
    os.makedirs(work, exist_ok=True)
    log = lambda m: print(m, flush=True)  # noqa: E731

    shape, weights = T.load_model(mdir)
    manifest = json.load(open(os.path.join(mdir, "manifest.json")))
    started = time.time()
    gen = Generator(shape, T.stack_params(shape, weights), manifest["eosTokenIds"])
    plan = D.DataPlan(gsm8k=args.gsm8k, math=args.math, generic=args.generic, followup=args.followup,
                      reference=args.reference, max_new=args.max_new, slots=args.slots)
    data_stats = D.build_dataset(mdir, gen, work, plan, log)
    del gen
    data_seconds = time.time() - started

    own, ref = load_sequences(work, shape.hidden)
    rng = np.random.default_rng(args.seed)
    rng.shuffle(own)
    # Acceptance is measured on the target's own answers: that is the text the drafter meets.
    n_held = max(1, int(len(own) * args.held_out))
    held, trainset = own[:n_held], own[n_held:] + ref
    d2t = draft_vocab(trainset, min(args.draft_vocab, shape.vocab), manifest["eosTokenIds"], shape.vocab)
    embed = np.asarray(weights["token_embd"], np.float32)
    lm_rows = embed if shape.tied else np.asarray(weights["output"], np.float32)
    answer_tokens = sum(len(s.answer) for s in trainset)
    covered = np.isin(np.concatenate([s.answer for s in held]), d2t).mean()
    log(f"{len(trainset)} training answers ({len(ref)} teacher-forced; {answer_tokens} tokens), {len(held)} held out; "
        f"draft vocabulary {len(d2t)} covers {covered:.3f} of held-out answer tokens")

    hs = HeadShape(hidden=shape.hidden, heads=shape.heads, kv_heads=shape.kv_heads, head_dim=shape.head_dim,
                   ffn=args.ffn or int(manifest["ffnSize"]), rope_theta=shape.rope_theta,
                   rope_scale=shape.rope_scale, eps=shape.eps, draft_vocab=len(d2t))
    tplan = TrainPlan(epochs=args.epochs, batch=args.batch, lr=args.lr, depth=args.depth, seed=args.seed)
    params, record = train(trainset, held, embed, lm_rows, d2t, hs, np.asarray(weights["output_norm"]), tplan, log)

    os.makedirs(out, exist_ok=True)
    model = build_head_graph(params, hs)
    graph_path = os.path.join(out, "eagle.onnx")
    with open(graph_path + ".tmp", "wb") as f:
        f.write(model.SerializeToString())
    meta = {
        "format": 1,
        "target": {"model": shape.name, "vocabSize": shape.vocab, "hiddenSize": shape.hidden,
                   "numLayers": shape.layers, "featureLayer": shape.layers, "sourceSha256": shape.sha256},
        "head": {"hidden": hs.hidden, "heads": hs.heads, "kvHeads": hs.kv_heads, "headDim": hs.head_dim,
                 "ffn": hs.ffn, "ropeTheta": hs.rope_theta, "ropeScale": hs.rope_scale, "eps": hs.eps,
                 "draftVocab": hs.draft_vocab},
        "draftVocab": [int(t) for t in d2t],
        "training": {
            "tool": "models/train/eagle.py",
            "data": {**data_stats, "trainAnswers": len(trainset), "teacherForcedAnswers": len(ref),
                     "heldOutAnswers": len(held),
                     "trainAnswerTokens": int(answer_tokens), "draftVocabCoverage": round(float(covered), 4),
                     "sources": ["gsm8k train questions (MIT)", "canopy self-instruct templates",
                                 "stage-two prompts from the target's own answers",
                                 "gsm8k train reference answers (MIT), teacher-forced"]},
            "plan": {**vars(tplan), "maxNew": args.max_new, "ffn": hs.ffn},
            "dataSeconds": round(data_seconds),
            **record,
        },
    }
    with open(os.path.join(out, "eagle.json.tmp"), "w") as f:
        json.dump(meta, f, indent=1)
    # The graph first, the metadata last: a head is complete when its eagle.json exists.
    os.replace(graph_path + ".tmp", graph_path)
    os.replace(os.path.join(out, "eagle.json.tmp"), os.path.join(out, "eagle.json"))
    log(f"wrote {graph_path} ({os.path.getsize(graph_path) / 1e6:.1f} MB); "
        f"held-out acceptance {[round(a, 3) for a in record['acceptance']]}, chain tau {record['chainTau']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
