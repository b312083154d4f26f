"""Self-distillation data: the target's own greedy answers and its features.

Batched greedy decoding with continuous refill: B slots share one KV cache of
fixed capacity; a slot that finishes (EOS, `max_new` tokens) is refilled with
the next prompt at once. Prompts are taken shortest first, in chunks, and each
chunk gets the smallest capacity that fits it, since attention over the cache
is what a decode step pays for beyond the weights.

For every answer x_P .. x_{P+n-1} (P = prompt length) the features f_{P-1} ..
f_{P+n-2} are kept: `hidden_final` at the positions whose greedy choice was
the next answer token. That is exactly what the engine hands a drafter after
each verify pass (the prompt's own features never reach a drafter).

Output (a directory): `features.f16` (rows x hidden, float16) and
`sequences.jsonl` ({"prompt": ids, "answer": ids, "row": first row}).
"""

from __future__ import annotations

import json
import os
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import target as T

BUCKET = 64


def _bucket(n: int) -> int:
    return -(-n // BUCKET) * BUCKET


class Generator:
    def __init__(self, shape: T.Shape, params, eos: list[int]):
        self.shape, self.params, self.eos = shape, params, set(eos)
        self._prefill = jax.jit(partial(T.prefill, shape=shape))
        self._decode = jax.jit(partial(T.decode, shape=shape))
        self._write_kv = jax.jit(T.write_kv, donate_argnums=(0, 1))
        self._write_prompt = jax.jit(T.write_prompt, donate_argnums=(0, 1))

    def run(self, prompts: list[list[int]], out_dir: str, max_new: int, slots: int, chunk: int, log=print) -> dict:
        """Generates an answer per prompt into out_dir (appending; finished chunks are skipped on rerun)."""
        os.makedirs(out_dir, exist_ok=True)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        done_path = os.path.join(out_dir, "chunks-done.json")
        done = json.load(open(done_path)) if os.path.exists(done_path) else []
        stats = {"prompts": 0, "answerTokens": 0, "promptTokens": 0, "seconds": 0.0}
        for c0 in range(0, len(order), chunk):
            if c0 in done:
                continue
            ids = order[c0 : c0 + chunk]
            started = time.time()
            rows = self._chunk([prompts[i] for i in ids], out_dir, max_new, slots)
            seconds = time.time() - started
            done.append(c0)
            json.dump(done, open(done_path, "w"))
            stats["prompts"] += len(ids)
            stats["answerTokens"] += rows
            stats["promptTokens"] += sum(len(prompts[i]) for i in ids)
            stats["seconds"] += seconds
            log(f"chunk {c0 // chunk + 1}/{-(-len(order) // chunk)}: {len(ids)} prompts, {rows} answer tokens, "
                f"{seconds:.0f} s ({rows / seconds:.0f} tok/s)")
        return stats

    def _chunk(self, prompts: list[list[int]], out_dir: str, max_new: int, slots: int) -> int:
        s = self.shape
        cap = _bucket(max(len(p) for p in prompts) + max_new)
        ck, cv = T.empty_cache(s, slots, cap)
        queue = list(prompts)
        state: list[dict | None] = [None] * slots
        tokens = np.zeros(slots, np.int32)
        positions = np.zeros(slots, np.int32)
        feats_f = open(os.path.join(out_dir, "features.f16"), "ab")
        seqs_f = open(os.path.join(out_dir, "sequences.jsonl"), "a")
        row = feats_f.tell() // (2 * s.hidden)
        written = 0

        def finish(b: int) -> None:
            nonlocal row, written
            st = state[b]
            feats = np.stack(st["feats"]).astype(np.float16)
            feats_f.write(feats.tobytes())
            seqs_f.write(json.dumps({"prompt": st["prompt"], "answer": st["answer"], "row": row}) + "\n")
            row += len(feats)
            written += len(st["answer"])
            state[b] = None

        def ended(b: int) -> bool:
            answer = state[b]["answer"]
            return answer[-1] in self.eos or len(answer) >= max_new or positions[b] + 1 >= cap

        def refill(b: int) -> None:
            nonlocal ck, cv
            while queue:
                prompt = queue.pop(0)
                n = len(prompt)
                padded = np.zeros(_bucket(n), np.int32)
                padded[:n] = prompt
                keys, values, final, nxt = self._prefill(self.params, jnp.asarray(padded), n)
                ck, cv = self._write_prompt(ck, cv, keys, values, b)
                state[b] = {"prompt": prompt, "answer": [int(nxt)], "feats": [np.asarray(final[n - 1])]}
                tokens[b], positions[b] = int(nxt), n
                if not ended(b):
                    return
                finish(b)

        for b in range(slots):
            refill(b)
        while any(st is not None for st in state):
            keys, values, final, nxt = self._decode(self.params, ck, cv, jnp.asarray(tokens), jnp.asarray(positions))
            ck, cv = self._write_kv(ck, cv, keys, values, jnp.asarray(positions))
            final, nxt = np.asarray(final), np.asarray(nxt)
            for b, st in enumerate(state):
                if st is None:
                    continue
                # feats[i] is the feature whose greedy choice is answer[i].
                st["feats"].append(final[b])
                st["answer"].append(int(nxt[b]))
                tokens[b], positions[b] = int(nxt[b]), positions[b] + 1
                if ended(b):
                    finish(b)
                    refill(b)
        feats_f.close()
        seqs_f.close()
        return written
