"""Malformed requests fail as a whole with a stable code, change nothing, and the server keeps serving."""

from __future__ import annotations

import numpy as np
import pytest
from wire_client import OPEN, SCRATCH, Work, build_inputs, error_of, opening

PROMPT = [1, 17, 42, 99, 7]
ROOT = PROMPT[-1]


def refused(lm, arrays) -> str:
    return error_of(lambda: lm.raw(arrays)).message()


def step(sid, **kw):
    return build_inputs([Work(sid, [ROOT, 5, 6], parents=[-1, 0, 1], **kw)])


@pytest.fixture
def opened(lm, sid):
    lm.call(opening(sid, PROMPT))
    return sid


CASES = {
    "parents shorter than tokens": lambda s: step(s) | {"parents": np.array([-1, 0], np.int32)},
    "node counts that do not add up": lambda s: step(s) | {"node_count": np.array([5], np.int32)},
    "a negative node count": lambda s: step(s) | {"node_count": np.array([-1], np.int32)},
    "flags for another batch size": lambda s: step(s) | {"flags": np.array([0, 0], np.int32)},
    "a token outside the vocabulary": lambda s: build_inputs([Work(s, [ROOT, 10**9])]),
    "a negative token": lambda s: build_inputs([Work(s, [ROOT, -3])]),
    "parents out of topological order": lambda s: build_inputs([Work(s, [ROOT, 5, 6], parents=[-1, 2, 0])]),
    "a second root": lambda s: build_inputs([Work(s, [ROOT, 5], parents=[-1, -1])]),
    "a root with a parent": lambda s: build_inputs([Work(s, [ROOT, 5], parents=[0, 0])]),
    "unknown flag bits": lambda s: build_inputs([Work(s, [ROOT], flags=64)]),
    "OPEN and SCRATCH together": lambda s: build_inputs([Work(s + "x", [ROOT], flags=OPEN | SCRATCH)]),
    "keep without a held STEP tree": lambda s: build_inputs([Work(s, [ROOT], keep=[0])]),
    "keep counts that do not add up": lambda s: step(s) | {"keep_count": np.array([2], np.int32)},
    "return_top_k beyond the bound": lambda s: build_inputs([Work(s, [ROOT])], return_top_k=10**6),
    "a hidden layer that does not exist": lambda s: build_inputs([Work(s, [ROOT])], hidden_layers=[999]),
    "skip_layers on a STEP session": lambda s: build_inputs([Work(s, [ROOT])], skip_layers=[0]),
    "an empty session id": lambda s: build_inputs([Work("", [ROOT])]),
    "a session id over 128 bytes": lambda s: build_inputs([Work("x" * 129, [ROOT])]),
    "one session twice": lambda s: build_inputs([Work(s, [ROOT]), Work(s, [ROOT])]),
    "an OPEN tree that is not a chain": lambda s: build_inputs([Work(s + "x", [1, 2, 3], parents=[-1, 0, 0],
                                                                     flags=OPEN)]),
    "top_p of zero": lambda s: build_inputs([Work(s + "x", [1, 2], flags=OPEN, sampling={"top_p": 0.0})]),
    "a NaN temperature": lambda s: build_inputs([Work(s + "x", [1, 2], flags=OPEN,
                                                      sampling={"temperature": float("nan")})]),
    "a seed of 2^53": lambda s: build_inputs([Work(s + "x", [1, 2], flags=OPEN, sampling={"seed": 2**53})]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_requests_are_refused_and_the_server_keeps_serving(lm, opened, case):
    message = refused(lm, CASES[case](opened))
    assert message.startswith("[CANOPY_BAD_REQUEST]") or "[CANOPY_BAD_REQUEST]" in message, message
    r = lm.call(Work(opened, [ROOT, 5]))
    assert r["session_length"].tolist() == [len(PROMPT)]


def test_keep_must_be_a_path_from_the_root(lm, opened):
    lm.call(Work(opened, [ROOT, 5, 6, 8], parents=[-1, 0, 0, 1]))
    for keep in ([1], [0, 2, 3], [0, 9]):
        assert "[CANOPY_BAD_REQUEST]" in refused(lm, build_inputs([Work(opened, [ROOT], keep=keep)]))
    # The held tree survived every refusal: its path 0 -> 1 -> 3 can still be kept.
    r = lm.call(Work(opened, [ROOT], keep=[0, 1, 3]))
    assert r["session_length"].tolist() == [len(PROMPT) + 3]


def test_a_bad_session_fails_the_whole_request_and_changes_no_other(lm, opened):
    lm.call(Work(opened, [ROOT, 5]))
    bad = Work(opened + "-never-opened", [ROOT])
    message = refused(lm, build_inputs([Work(opened, [5], keep=[0, 1]), bad]))
    assert "[CANOPY_SESSION_UNKNOWN]" in message
    # The keep of the refused request was not applied: the held tree is still there to keep.
    assert lm.call(Work(opened, [5], keep=[0, 1]))["session_length"].tolist() == [len(PROMPT) + 2]


def test_a_prompt_longer_than_the_context_is_refused(lm, sid, manifest):
    too_long = [1] * (manifest["maxContext"] + 1)
    assert "[CANOPY_CONTEXT_FULL]" in refused(lm, build_inputs([opening(sid, too_long)]))


def test_a_tree_reaching_past_the_context_is_refused(lm, sid, manifest):
    lm.call(opening(sid, [1] * manifest["maxContext"]))
    assert "[CANOPY_CONTEXT_FULL]" in refused(lm, build_inputs([Work(sid, [1, 2])]))
    assert lm.call(Work(sid, [1]))["chosen"].shape == (1,)


@pytest.mark.parametrize("name, value", [("parents", None), ("tokens", np.array([[ROOT, 5, 6]], np.int32))])
def test_inputs_that_break_the_model_config_are_refused_by_triton(lm, opened, name, value):
    assert name in refused(lm, step(opened) | {name: value} if value is not None else
                           build_inputs([Work(opened, [ROOT])], overrides={name: None}))
    assert lm.call(Work(opened, [ROOT]))["session_length"].tolist() == [len(PROMPT)]
