"""Bounds of canopy_lm_tight (conftest.TIGHT): live sessions, KV bytes, idle timeout."""

from __future__ import annotations

import time

from wire_client import CLOSE, Work, error_of, opening


def test_sessions_past_the_bound_are_refused_until_one_closes(tight, sid):
    ids = [f"{sid}-{i}" for i in range(3)]
    for s in ids:
        tight.call(opening(s, [5]))
    err = error_of(lambda: tight.call(opening(f"{sid}-extra", [5])))
    assert "[CANOPY_CAPACITY]" in err.message() and "503" in str(err.status())
    tight.call(Work(ids[0], flags=CLOSE))
    tight.call(opening(f"{sid}-extra", [5]))
    for s in ids[1:] + [f"{sid}-extra"]:
        tight.call(Work(s, flags=CLOSE))


def test_kv_memory_past_the_bound_is_refused(tight, sid):
    tight.call(opening(sid, list(range(1, 61))))
    err = error_of(lambda: tight.call(opening(f"{sid}-b", list(range(1, 41)))))
    assert "[CANOPY_CAPACITY]" in err.message()
    tight.call(opening(f"{sid}-b", list(range(1, 11))))
    tight.call(Work(sid, flags=CLOSE))
    tight.call(Work(f"{sid}-b", flags=CLOSE))


def test_a_step_that_would_outgrow_the_bound_is_refused_and_changes_nothing(tight, sid):
    tight.call(opening(sid, list(range(1, 61))))
    wide = Work(sid, [60] + [7] * 30, parents=[-1] + [0] * 30)
    assert "[CANOPY_CAPACITY]" in error_of(lambda: tight.call(wide)).message()
    assert tight.call(Work(sid, [60, 7]))["session_length"].tolist() == [60]
    tight.call(Work(sid, flags=CLOSE))


def test_idle_sessions_are_closed(tight, sid):
    tight.call(opening(sid, [1, 2, 3]))
    tight.call(opening(f"{sid}-busy", [1, 2, 3]))
    for _ in range(6):  # keeps one session busy across the 1.5 s timeout
        time.sleep(0.5)
        tight.call(Work(f"{sid}-busy", [3]))
    err = error_of(lambda: tight.call(Work(sid, [3])))
    assert "[CANOPY_SESSION_UNKNOWN]" in err.message()
    tight.call(Work(f"{sid}-busy", flags=CLOSE))
