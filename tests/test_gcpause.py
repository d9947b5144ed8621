"""The engine pauses the cyclic collector for a batch, and always gives it back as it was."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from slaplug._gcpause import paused_gc
from slaplug.rules.pack import RulePack
from slaplug.testing.synthetic import synthetic_tickets

PACK = Path(__file__).resolve().parent.parent / "rules" / "default.yaml"
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_off_inside_and_back_on_after() -> None:
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_on_after_an_error() -> None:
    with pytest.raises(ZeroDivisionError), paused_gc():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_a_program_that_disabled_it_keeps_it_disabled() -> None:
    gc.disable()
    with paused_gc():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_nested_pauses_end_with_the_outermost() -> None:
    with paused_gc():
        with paused_gc():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_in_threads_end_with_the_last() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with paused_gc():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with paused_gc():
            second_in.set()
            first_out.wait(5)
            seen["after the first ended"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after the first ended": False}
    assert gc.isenabled()


def test_assess_many_runs_no_collection_and_restores_the_collector() -> None:
    collections: list[str] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(phase)

    tickets = synthetic_tickets(300, NOW)
    gc.callbacks.append(count)
    try:
        with RulePack.load([PACK], engine="python") as pack:
            pack._assess_many(tickets, NOW)  # the same work, unpaused: the control
            unpaused = len(collections)
            collections.clear()
            assessments = pack.assess_many(tickets, NOW)
            paused = len(collections)
    finally:
        gc.callbacks.remove(count)
    # Unpaused, a batch this size sets the collector off many times; paused, only the one
    # catch-up run as the pause ends (its allocations still count) may happen.
    assert unpaused >= 5, f"the control batch ran {unpaused} collections"
    assert paused <= 1
    assert gc.isenabled()
    assert sum(len(a.actions) for a in assessments) > 0
