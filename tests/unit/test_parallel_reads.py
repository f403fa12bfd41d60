"""api/query/parallel.py `both`: two reads of one answer at the same time, in the request's
context, and neither left running when one fails."""

from __future__ import annotations

import threading

import pytest
from flask import Flask, current_app, g

from api.query.parallel import both

HANG_GUARD_S = 30  # only so a broken `both` fails instead of hanging


def test_both_run_at_once_and_answer_in_order():
    # Each waits for the other at the barrier: run one after the other, it would break.
    meet = threading.Barrier(2, timeout=HANG_GUARD_S)
    assert both(lambda: (meet.wait(), "first")[1], lambda: (meet.wait(), "second")[1]) == (
        "first",
        "second",
    )


def test_the_second_read_sees_the_requests_app_and_g():
    app = Flask("parallel-test")
    with app.test_request_context("/"):
        g.organization = "org-1"
        first, second = both(
            lambda: (current_app.name, g.organization),
            lambda: (current_app.name, g.organization, threading.current_thread().name),
        )
    assert first == ("parallel-test", "org-1")
    assert second[:2] == ("parallel-test", "org-1")
    assert second[2].startswith("second-read")  # it did run in another thread


def test_a_failed_first_read_is_raised_after_the_second_ended():
    ended = threading.Event()
    started = threading.Event()

    def second() -> str:
        started.wait(HANG_GUARD_S)
        ended.set()
        return "done"

    def first() -> str:
        started.set()
        raise ValueError("first failed")

    with pytest.raises(ValueError, match="first failed"):
        both(first, second)
    assert ended.is_set()


def test_a_failed_second_read_is_raised():
    def second() -> str:
        raise KeyError("second failed")

    with pytest.raises(KeyError, match="second failed"):
        both(lambda: "first", second)
