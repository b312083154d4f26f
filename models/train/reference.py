"""Teacher-forced data: the target's features over reference answers.

Generating the target's own answers costs one decoding step per token; a
reference answer costs a share of one batched prefill pass, several times
cheaper on a CPU. GSM8K's training answers (MIT) are used, rewritten as
plain prose (the calculator annotations `<<48/2=24>>` dropped, `#### 72`
turned into a closing sentence). The loss needs no labels from the text: its
targets are the target's own next features and next-token distributions at
every position, which is what the head must imitate. Written in the format of
generate.py; `sequences.jsonl` rows carry "source": "reference", and held-out
acceptance is measured on the target's own answers only.
"""

from __future__ import annotations

import json
import os
import re
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import target as T

BUCKET = 64


def prose(answer: str) -> str:
    text = re.sub(r"<<[^>]*>>", "", answer)
    text, _, final = text.partition("####")
    return text.strip() + (f"\nThe answer is {final.strip()}." if final.strip() else "")


def reference_chats(gsm8k_path: str, skip: set[str], n: int, seed: int = 2) -> list[tuple[str, str]]:
    """(question, prose answer) pairs from GSM8K's training split, none of the questions in `skip`."""
    with open(gsm8k_path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rng = np.random.default_rng(seed)
    rng.shuffle(rows)
    return [(r["question"], prose(r["answer"])) for r in rows if r["question"] not in skip][:n]


def run_reference(shape: T.Shape, params, sequences: list[tuple[list[int], list[int]]], out_dir: str,
                  batch: int = 8, log=print) -> dict:
    """Features of `prompt + answer` for each (prompt ids, answer ids) pair, in generate.py's format."""
    os.makedirs(out_dir, exist_ok=True)
    stats_path = os.path.join(out_dir, "stats.json")
    if os.path.exists(stats_path):
        return json.load(open(stats_path))
    run = jax.jit(jax.vmap(partial(T.features, shape=shape), in_axes=(None, 0, 0)))
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i][0]) + len(sequences[i][1]))
    started, row, answer_tokens = time.time(), 0, 0
    with open(os.path.join(out_dir, "features.f16"), "wb") as feats_f, \
            open(os.path.join(out_dir, "sequences.jsonl"), "w") as seqs_f:
        for b0 in range(0, len(order), batch):
            group = [sequences[i] for i in order[b0 : b0 + batch]]
            width = -(-max(len(p) + len(a) for p, a in group) // BUCKET) * BUCKET
            tokens = np.zeros((len(group), width), np.int32)
            lengths = np.zeros(len(group), np.int32)
            for j, (p, a) in enumerate(group):
                tokens[j, : len(p) + len(a)] = p + a
                lengths[j] = len(p) + len(a)
            final = np.asarray(run(params, jnp.asarray(tokens), jnp.asarray(lengths)))
            for j, (p, a) in enumerate(group):
                # feats[i] is the feature at the position before answer[i], as in generate.py.
                feats = final[j, len(p) - 1 : len(p) - 1 + len(a)].astype(np.float16)
                feats_f.write(feats.tobytes())
                seqs_f.write(json.dumps({"prompt": p, "answer": a, "row": row, "source": "reference"}) + "\n")
                row += len(a)
                answer_tokens += len(a)
            if (b0 // batch) % 50 == 0:
                log(f"reference: {b0 + len(group)}/{len(order)} sequences, {time.time() - started:.0f} s")
    stats = {"sequences": len(sequences), "answerTokens": answer_tokens, "seconds": round(time.time() - started)}
    json.dump(stats, open(stats_path, "w"))
    return stats
