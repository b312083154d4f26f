"""canopy_lm over a real Triton server: the operations of docs/triton-wire.md, over HTTP and gRPC."""

from __future__ import annotations

import numpy as np
import pytest
from wire_client import CLOSE, OPEN, SCRATCH, Work, build_inputs, error_of, opening

PROMPT = [1, 17, 42, 99, 7, 256, 31]


def generate(lm, sid, prompt, steps, **sampling) -> list:
    """Plain decoding: one node per step, keeping the root each time."""
    lm.call(opening(sid, prompt, **sampling))
    root, keep, out = prompt[-1], [], []
    for _ in range(steps):
        root = int(lm.call(Work(sid, [root], keep=keep))["chosen"][0])
        out.append(root)
        keep = [0]
    lm.call(Work(sid, flags=CLOSE, keep=keep))
    return out


def other(token: int, vocab: int, shift: int = 1) -> int:
    return (token + shift) % vocab


def path_tree(root: int, path: list, vocab: int):
    """A tree whose true path (root, path...) sits at non-contiguous indices, each behind a decoy sibling.

    Decoys repeat tokens of the true path further down, so penalties that counted
    siblings instead of the node's own path would change the draws."""
    tokens, parents, on_path = [root], [-1], [0]
    for depth, token in enumerate(path):
        decoy = path[depth + 1] if depth + 1 < len(path) else other(token, vocab)
        if decoy == token:
            decoy = other(token, vocab)
        tokens += [decoy, token]
        parents += [on_path[-1], on_path[-1]]
        on_path.append(len(tokens) - 1)
    return tokens, parents, on_path


def test_open_commits_the_prompt_and_chooses_nothing(lm, sid):
    r = lm.call(opening(sid, PROMPT))
    assert r["chosen"].tolist() == [-1] * (len(PROMPT) - 1)
    assert r["session_length"].tolist() == [len(PROMPT)]


def test_one_token_prompt_opens_with_no_nodes(lm, sid, manifest):
    assert lm.call(opening(sid, [5]))["session_length"].tolist() == [1]
    r = lm.call(Work(sid, [5]))
    assert 0 <= r["chosen"][0] < manifest["vocabSize"]


def test_step_lengthens_the_session_by_the_kept_nodes(lm, sid):
    lm.call(opening(sid, PROMPT))
    first = lm.call(Work(sid, [PROMPT[-1], 3, 4], parents=[-1, 0, 1]))
    assert first["session_length"].tolist() == [len(PROMPT)]
    second = lm.call(Work(sid, [9], keep=[0, 1, 2]))
    assert second["session_length"].tolist() == [len(PROMPT) + 3]


def test_a_tree_pass_chooses_what_plain_decoding_chooses(lm, sid, manifest):
    vocab = manifest["vocabSize"]
    plain = generate(lm, sid + "-plain", PROMPT, 9)
    tokens, parents, on_path = path_tree(PROMPT[-1], plain[:5], vocab)
    lm.call(opening(sid, PROMPT))
    chosen = lm.call(Work(sid, tokens, parents))["chosen"]
    assert chosen[on_path].tolist() == plain[:6]


def test_kept_nodes_are_compacted_into_the_cache(lm, sid, manifest):
    plain = generate(lm, sid + "-plain", PROMPT, 9)
    tokens, parents, on_path = path_tree(PROMPT[-1], plain[:5], manifest["vocabSize"])
    lm.call(opening(sid, PROMPT))
    root = int(lm.call(Work(sid, tokens, parents))["chosen"][on_path[-1]])
    rest, keep = [], on_path
    for _ in range(3):
        root = int(lm.call(Work(sid, [root], keep=keep))["chosen"][0])
        rest.append(root)
        keep = [0]
    assert rest == plain[6:9]


def test_a_seeded_tree_pass_draws_what_seeded_plain_decoding_draws(lm, sid, manifest):
    sampling = {"temperature": 0.9, "top_k": 50, "top_p": 0.95, "repetition_penalty": 1.3,
                "frequency_penalty": 0.4, "presence_penalty": 0.2, "seed": 1234}
    plain = generate(lm, sid + "-plain", PROMPT, 6, **sampling)
    tokens, parents, on_path = path_tree(PROMPT[-1], plain[:5], manifest["vocabSize"])
    lm.call(opening(sid, PROMPT, **sampling))
    assert lm.call(Work(sid, tokens, parents))["chosen"][on_path].tolist() == plain


def test_the_seed_keys_the_draws(lm, sid):
    sampling = {"temperature": 1.0, "seed": 7}
    again = generate(lm, sid + "-again", PROMPT, 8, **sampling)
    assert generate(lm, sid, PROMPT, 8, **sampling) == again
    assert generate(lm, sid + "-other", PROMPT, 8, **{**sampling, "seed": 8}) != again


def test_sessions_in_one_request_do_not_see_each_other(lm, sid):
    prompts = {f"{sid}-a": PROMPT, f"{sid}-b": [3, 1, 4, 1, 5, 9, 2, 6]}
    alone = {s: generate(lm, s + "-alone", p, 3) for s, p in prompts.items()}
    lm.call(*(opening(s, p) for s, p in prompts.items()))
    roots = {s: p[-1] for s, p in prompts.items()}
    keep, together = [], {s: [] for s in prompts}
    for _ in range(3):
        r = lm.call(*(Work(s, [roots[s]], keep=keep) for s in prompts))
        for i, s in enumerate(prompts):
            roots[s] = int(r["chosen"][i])
            together[s].append(roots[s])
        keep = [0]
    assert together == alone


def test_top_k_and_hidden_states_come_per_node(lm, sid, manifest):
    layers, hidden = manifest["numLayers"], manifest["hiddenSize"]
    lm.call(opening(sid, PROMPT))
    r = lm.call(Work(sid, [PROMPT[-1], 5, 6, 8], parents=[-1, 0, 0, 1]), return_top_k=4,
                hidden_layers=[0, layers])
    assert r["topk_ids"].shape == (4, 4) and r["topk_logprobs"].shape == (4, 4)
    assert r["topk_ids"][:, 0].tolist() == r["chosen"].tolist()  # greedy: the best id is the choice
    assert np.all(np.diff(r["topk_logprobs"], axis=1) <= 0) and np.all(r["topk_logprobs"] <= 0)
    assert r["hidden"].shape == (2, 4, hidden)
    assert not np.allclose(r["hidden"][0], r["hidden"][1])


def test_open_with_top_k_returns_the_top_k_after_every_prompt_token(lm, sid):
    r = lm.call(opening(sid, PROMPT), return_top_k=3)
    assert r["chosen"].tolist() == [-1] * (len(PROMPT) - 1)
    assert r["topk_ids"].shape == (len(PROMPT) - 1, 3)
    lm.call(Work(sid, flags=CLOSE))
    for i in (0, 3, len(PROMPT) - 2):
        other_sid = f"{sid}-{i}"
        lm.call(opening(other_sid, PROMPT[: i + 1]))
        step = lm.call(Work(other_sid, [PROMPT[i]]), return_top_k=3)
        lm.call(Work(other_sid, flags=CLOSE))
        assert r["topk_ids"][i].tolist() == step["topk_ids"][0].tolist()
        assert np.allclose(r["topk_logprobs"][i], step["topk_logprobs"][0], atol=1e-4)


def test_only_the_outputs_asked_for_come_back(lm, sid):
    lm.call(opening(sid, PROMPT))
    arrays = build_inputs([Work(sid, [PROMPT[-1], 5])], return_top_k=2)
    assert set(lm.raw(arrays, outputs=["chosen", "topk_ids"])) == {"chosen", "topk_ids"}
    assert set(lm.raw(build_inputs([Work(sid, [PROMPT[-1], 5])]), outputs=["chosen", "hidden"])) == {"chosen"}


def test_greedy_chosen_logprobs_are_the_top_entry_and_open_rows_have_none(lm, sid):
    r = lm.call(opening(sid, PROMPT), return_logprobs=True)
    assert r["chosen_logprobs"].dtype == np.float32 and np.all(np.isnan(r["chosen_logprobs"]))
    r = lm.call(Work(sid, [PROMPT[-1], 5, 6, 8], parents=[-1, 0, 0, 1]), return_top_k=4, return_logprobs=True)
    assert r["chosen_logprobs"].shape == (4,)
    assert np.allclose(r["chosen_logprobs"], r["topk_logprobs"][:, 0], atol=1e-6)
    # Without top-k in the request the value is the same (the graph's top-1).
    lm.call(opening(sid + "-alone", PROMPT))
    alone = lm.call(Work(sid + "-alone", [PROMPT[-1], 5, 6, 8], parents=[-1, 0, 0, 1]), return_logprobs=True)
    assert "topk_ids" not in alone
    assert np.allclose(alone["chosen_logprobs"], r["chosen_logprobs"], atol=1e-5)


def test_sampled_chosen_logprobs_are_the_raw_distributions(lm, sid, manifest):
    sampling = {"temperature": 0.9, "top_p": 0.95, "repetition_penalty": 1.3, "seed": 5}
    plain_sid = sid + "-plain"
    lm.call(opening(plain_sid, PROMPT, **sampling))
    root, keep, plain, plain_lp = PROMPT[-1], [], [], []
    for _ in range(4):
        r = lm.call(Work(plain_sid, [root], keep=keep), return_top_k=min(64, manifest["vocabSize"]),
                    return_logprobs=True)
        root, keep = int(r["chosen"][0]), [0]
        plain.append(root)
        plain_lp.append(float(r["chosen_logprobs"][0]))
        # The raw distribution: the chosen id's entry among the raw top-k when it is there.
        hit = np.flatnonzero(r["topk_ids"][0] == root)
        if hit.size:
            assert abs(r["topk_logprobs"][0][hit[0]] - plain_lp[-1]) < 1e-4
    tokens, parents, on_path = path_tree(PROMPT[-1], plain[:3], manifest["vocabSize"])
    lm.call(opening(sid, PROMPT, **sampling))
    r = lm.call(Work(sid, tokens, parents), return_logprobs=True)
    chosen, lp = r["chosen"], r["chosen_logprobs"]
    assert chosen[on_path].tolist() == plain
    assert np.allclose(lp[on_path], plain_lp, atol=1e-4)
    assert np.all(np.isnan(lp[chosen < 0])) and np.all(lp[chosen >= 0] <= 0)


def test_each_session_reports_its_own_compute_time(lm, sid, manifest):
    """compute_ms [B]: the model's time on each session's work, so clients can tell their wait apart."""
    long = [3 + i % (manifest["vocabSize"] - 3) for i in range(min(400, manifest["maxContext"] - 8))]
    lm.call(opening(sid + "-small", PROMPT), opening(sid + "-done", PROMPT))
    r = lm.call(opening(sid + "-long", long), Work(sid + "-small", [PROMPT[-1]]), Work(sid + "-done", flags=CLOSE))
    assert r["compute_ms"].dtype == np.float32 and r["compute_ms"].shape == (3,)
    prefill, step, close = r["compute_ms"].tolist()
    assert prefill > step > 0 and close >= 0
    # A prefill of hundreds of tokens costs more than a one-node pass; a CLOSE runs no pass at all.
    assert close < step


def test_open_returns_hidden_states_of_the_prompt(lm, sid, manifest):
    r = lm.call(opening(sid, PROMPT), hidden_layers=[manifest["numLayers"]])
    assert r["hidden"].shape == (1, len(PROMPT) - 1, manifest["hiddenSize"])
    assert np.all(np.isfinite(r["hidden"])) and np.any(r["hidden"] != 0)


def test_scratch_is_greedy_and_leaves_no_trace(lm, sid):
    sampling = {"temperature": 1.0, "seed": 3}
    tree = {"tokens": [PROMPT[-1], 11, 12], "parents": [-1, 0, 1]}
    lm.call(opening(sid + "-ref", PROMPT, **sampling))
    reference = lm.call(Work(sid + "-ref", **tree))["chosen"].tolist()
    lm.call(opening(sid, PROMPT, **sampling))
    scratch = lm.call(Work(sid, flags=SCRATCH, **tree), return_top_k=1)
    assert scratch["chosen"].tolist() == scratch["topk_ids"][:, 0].tolist()
    assert scratch["session_length"].tolist() == [len(PROMPT)]
    assert lm.call(Work(sid, **tree))["chosen"].tolist() == reference


def test_scratch_applies_keep_and_consumes_the_step_tree(lm, sid):
    lm.call(opening(sid, PROMPT))
    lm.call(Work(sid, [PROMPT[-1], 11, 12]))
    r = lm.call(Work(sid, [13], flags=SCRATCH, keep=[0, 1]))
    assert r["session_length"].tolist() == [len(PROMPT) + 2]
    err = error_of(lambda: lm.call(Work(sid, [13], keep=[0])))
    assert "[CANOPY_BAD_REQUEST]" in err.message() and "no STEP tree" in err.message()


def test_scratch_can_skip_layers(lm, sid, manifest):
    lm.call(opening(sid, PROMPT))
    chain = dict(tokens=PROMPT[-1:] + PROMPT[:6], flags=SCRATCH)
    full = lm.call(Work(sid, **chain), return_top_k=3)["topk_logprobs"]
    skipped = lm.call(Work(sid, **chain), skip_layers=list(range(1, manifest["numLayers"])),
                      return_top_k=3)["topk_logprobs"]
    assert not np.allclose(full, skipped)


def test_close_forgets_the_session_and_its_id_can_be_reused(lm, sid):
    lm.call(opening(sid, PROMPT))
    assert lm.call(Work(sid, flags=CLOSE))["session_length"].tolist() == [len(PROMPT)]
    err = error_of(lambda: lm.call(Work(sid, [PROMPT[-1]])))
    assert "[CANOPY_SESSION_UNKNOWN]" in err.message()
    assert lm.call(Work(sid, PROMPT[:-1], flags=OPEN | CLOSE))["session_length"].tolist() == [len(PROMPT)]
    lm.call(opening(sid, PROMPT))


def test_opening_an_open_session_fails(lm, sid):
    lm.call(opening(sid, PROMPT))
    assert "[CANOPY_SESSION_EXISTS]" in error_of(lambda: lm.call(opening(sid, PROMPT))).message()


@pytest.mark.parametrize("protocol_status", [("http", "404"), ("grpc", "NOT_FOUND")])
def test_unknown_sessions_map_to_not_found(server, sid, protocol_status):
    from wire_client import CanopyLm

    protocol, status = protocol_status
    err = error_of(lambda: CanopyLm(server, protocol).call(Work(sid, [1])))
    assert status in str(err.status())
