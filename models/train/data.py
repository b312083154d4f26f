"""Builds the self-distillation data set: prompts -> the target's answers and features.

Stage one answers the GSM8K and self-instruct prompts; stage two answers
prompts made from stage-one answers (long inputs, second turns). Each stage
writes its own directory and is skipped when already complete, so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

import numpy as np

import prompts as P
from generate import Generator
from reference import reference_chats, run_reference

HERE = os.path.dirname(os.path.abspath(__file__))


class ChatTokenizer:
    """canopy's tokenizer and chat template, through models/train/chat-tokens.mjs (needs `npm run build`)."""

    def __init__(self, model_dir: str):
        self._proc = subprocess.Popen(
            ["node", os.path.join(HERE, "chat-tokens.mjs"), model_dir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def _ask(self, request: dict) -> dict:
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("chat-tokens.mjs stopped; run `npm run build` first")
        return json.loads(line)

    def chat(self, messages: list[dict], generation: bool = True) -> list[int]:
        return self._ask({"chat": messages, "generation": generation})["ids"]

    def answer_ids(self, messages: list[dict], answer: str, eos: set[int]) -> tuple[list[int], list[int]]:
        """(prompt ids, answer ids through its end-of-turn token) as the chat template renders them."""
        prompt = self.chat(messages)
        full = self.chat([*messages, {"role": "assistant", "content": answer}], generation=False)
        if full[: len(prompt)] != prompt:
            raise ValueError("the chat template renders a prompt that is not a prefix of the conversation")
        rest = full[len(prompt) :]
        end = next((i for i, t in enumerate(rest) if t in eos), len(rest) - 1)
        return prompt, rest[: end + 1]

    def decode(self, ids: list[int]) -> str:
        return self._ask({"decode": ids})["text"]

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait()


@dataclass(frozen=True)
class DataPlan:
    gsm8k: str
    math: int = 360
    generic: int = 460
    followup: int = 160
    reference: int = 1200
    max_new: int = 160
    max_prompt: int = 768
    slots: int = 48
    chunk: int = 160


def read_sequences(stage_dir: str) -> list[dict]:
    with open(os.path.join(stage_dir, "sequences.jsonl")) as f:
        return [json.loads(line) for line in f]


def read_features(stage_dir: str, hidden: int) -> np.ndarray:
    return np.memmap(os.path.join(stage_dir, "features.f16"), dtype=np.float16, mode="r").reshape(-1, hidden)


def _stage(gen: Generator, chats_ids: list[list[int]], out: str, plan: DataPlan, log) -> dict:
    stats_path = os.path.join(out, "stats.json")
    if os.path.exists(stats_path):
        return json.load(open(stats_path))
    kept = [ids for ids in chats_ids if len(ids) <= plan.max_prompt]
    stats = gen.run(kept, out, plan.max_new, plan.slots, plan.chunk, log)
    json.dump(stats, open(stats_path, "w"))
    return stats


def build_dataset(model_dir: str, gen: Generator, out_dir: str, plan: DataPlan, log=print) -> dict:
    tok = ChatTokenizer(model_dir)
    try:
        first = P.first_stage(plan.gsm8k, plan.math, plan.generic)
        log(f"stage 1: {len(first)} prompts")
        s1 = _stage(gen, [tok.chat(c) for c in first], os.path.join(out_dir, "stage1"), plan, log)
        # Match answers back to their chats by prompt ids (generation reorders by length).
        by_ids = {tuple(tok.chat(c)): c for c in first}
        answered = [(by_ids[tuple(s["prompt"])], tok.decode(s["answer"]))
                    for s in read_sequences(os.path.join(out_dir, "stage1")) if tuple(s["prompt"]) in by_ids]
        second = P.followups(answered, plan.followup)
        log(f"stage 2: {len(second)} prompts")
        s2 = _stage(gen, [tok.chat(c) for c in second], os.path.join(out_dir, "stage2"), plan, log)
        ref = reference_chats(plan.gsm8k, {c[0]["content"] for c in first}, plan.reference)
        log(f"reference: {len(ref)} GSM8K answers, teacher-forced")
        pairs = [tok.answer_ids([{"role": "user", "content": q}], a, set(gen.eos)) for q, a in ref]
        pairs = [(p, a) for p, a in pairs if len(p) <= plan.max_prompt and 2 <= len(a) <= 2 * plan.max_new]
        s3 = run_reference(gen.shape, gen.params, pairs, os.path.join(out_dir, "reference"), log=log)
    finally:
        tok.close()
    return {"stage1": s1, "stage2": s2, "reference": s3}
