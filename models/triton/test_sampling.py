"""The Python sampler against the shared vectors (test/vectors/sampling.json, written by
test/vectors/generate-sampling.ts). Run: python -m pytest models/triton/test_sampling.py"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "canopy_lm" / "1"))

from canopy_sampling import (  # noqa: E402
    History,
    SamplingParams,
    choose_token,
    choose_tree_tokens,
    processed_distribution,
    splitmix64_at,
    uniform_at,
)

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "test" / "vectors" / "sampling.json").read_text())


def params_of(raw: dict) -> SamplingParams:
    return SamplingParams(
        temperature=raw["temperature"],
        top_k=raw["topK"],
        top_p=raw["topP"],
        min_p=raw["minP"],
        repetition_penalty=raw["repetitionPenalty"],
        frequency_penalty=raw["frequencyPenalty"],
        presence_penalty=raw["presencePenalty"],
        seed=raw["seed"],
    )


def logits_of(case: dict) -> np.ndarray:
    return np.array([float(v) for v in case["logits"]], dtype=np.float32)  # "-inf" parses too


def test_splitmix64_matches_the_published_outputs():
    state = int(VECTORS["splitmix64"]["state"])
    assert [str(splitmix64_at(state, n)) for n in range(5)] == VECTORS["splitmix64"]["outputs"]


def test_uniform_at_matches_the_recorded_values_exactly():
    for v in VECTORS["uniform"]:
        assert uniform_at(v["seed"], v["position"]) == v["u"], v


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_sampling_vector(case):
    logits = logits_of(case)
    params = params_of(case["params"])
    committed = History(case["vocabSize"], case["prompt"], case["generated"])
    if case["kept"] is not None:
        kept, weights, mass = processed_distribution(logits, params, committed)
        assert kept.tolist() == case["kept"]
        assert mass == pytest.approx(float(np.sum(weights)), rel=1e-12)
    # The generated tokens given as a node's path must count exactly like committed ones.
    layered = History(case["vocabSize"], case["prompt"])
    for draw in case["draws"]:
        assert choose_token(logits, params, committed, draw["position"]) == draw["token"], draw
        assert choose_token(logits, params, layered, draw["position"], case["generated"]) == draw["token"], draw


def test_tree_tokens_equal_per_node_choices_with_each_node_path():
    rng = np.random.default_rng(3)
    vocab = 50
    tokens = np.array([7, 3, 9, 3, 3, 12], dtype=np.int32)
    parents = np.array([-1, 0, 0, 1, 2, 3], dtype=np.int32)
    logits = rng.normal(size=(tokens.size, vocab)).astype(np.float32)
    params = SamplingParams(temperature=0.9, top_p=0.95, repetition_penalty=1.2, frequency_penalty=0.3, seed=11)
    committed = np.array([1, 2, 3, 4, 7], dtype=np.int32)  # prompt [1, 2, 3], generated [4, 7]; 7 is the root
    history = History.from_committed(vocab, committed, 3)
    chosen = choose_tree_tokens(logits, params, history, tokens, parents, committed.size)
    paths = [[], [3], [9], [3, 3], [9, 3], [3, 3, 12]]
    depths = [0, 1, 1, 2, 2, 3]
    expected = [choose_token(logits[i], params, History(vocab, [1, 2, 3], [4, 7]), committed.size + depths[i], paths[i])
                for i in range(tokens.size)]
    # Every reachable node has its own path's draw; the others are -1 (no walk reads them).
    reachable = [True] * tokens.size
    for i in range(1, tokens.size):
        reachable[i] = reachable[parents[i]] and expected[parents[i]] == tokens[i]
    assert chosen.tolist() == [e if r else -1 for e, r in zip(expected, reachable)]


def test_tree_tokens_draw_along_an_accepted_path():
    vocab = 20
    logits = np.zeros((4, vocab), dtype=np.float32)
    params = SamplingParams(temperature=1.0, seed=3)
    history = History.from_committed(vocab, np.array([5, 6], dtype=np.int32), 1)
    first = choose_token(logits[0], params, History(vocab, [5], [6]), 2, [])
    tokens = np.array([6, first, (first + 1) % vocab, 1], dtype=np.int32)
    parents = np.array([-1, 0, 0, 1], dtype=np.int32)
    chosen = choose_tree_tokens(logits, params, history, tokens, parents, 2)
    assert chosen[0] == first and chosen[1] >= 0 and chosen[2] == -1


def test_greedy_tree_is_the_row_argmax_lowest_id_on_ties():
    logits = np.array([[0, 2, 2, 1], [3, 0, 3, 3]], dtype=np.float32)
    chosen = choose_tree_tokens(logits, SamplingParams(), History(4), np.array([1, 2]), np.array([-1, 0]), 5)
    assert chosen.tolist() == [1, 0]


def test_draws_follow_the_processed_distribution():
    logits = np.sin(np.arange(30) * 1.7).astype(np.float32) * 2.5
    params = SamplingParams(temperature=0.8, top_p=0.95, top_k=20, seed=5)
    history = History(30)
    kept, weights, mass = processed_distribution(logits, params, history)
    draws = 20_000
    counts = np.bincount([choose_token(logits, params, history, pos) for pos in range(draws)], minlength=30)
    assert counts[np.setdiff1d(np.arange(30), kept)].sum() == 0
    expected = weights / mass * draws
    chi2 = float(np.sum((counts[kept] - expected) ** 2 / expected))
    df = kept.size - 1
    z = ((chi2 / df) ** (1 / 3) - (1 - 2 / (9 * df))) / np.sqrt(2 / (9 * df))  # Wilson–Hilferty
    assert z < 4
