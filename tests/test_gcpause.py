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


def _collections() -> tuple[list[int], object]:
    """A list that gets the generation of every collection, and the callback filling it."""
    seen: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    return seen, count


def test_assess_many_runs_no_collection_and_restores_the_collector() -> None:
    seen, count = _collections()
    tickets = synthetic_tickets(300, NOW)
    gc.callbacks.append(count)  # type: ignore[arg-type]
    try:
        with RulePack.load([PACK], engine="python") as pack:
            pack._assess_many(tickets, NOW)  # the same work, unpaused: the control
            unpaused = len(seen)
            seen.clear()
            assessments = pack.assess_many(tickets, NOW)
    finally:
        gc.callbacks.remove(count)  # type: ignore[arg-type]
    # Unpaused, a batch this size sets the collector off many times; paused, there are only
    # the young collection as the pause begins and the catch-up run as it ends.
    assert unpaused >= 5, f"the control batch ran {unpaused} collections"
    assert seen[:1] == [1] and len(seen) <= 2, seen
    assert gc.isenabled()
    assert sum(len(a.actions) for a in assessments) > 0


def test_batches_never_move_their_results_to_the_oldest_generation() -> None:
    # Each pause's catch-up collection finds the batch's results, still in use, in the
    # youngest generation; none of them is promoted, so no batch ends in a full collection.
    tickets = synthetic_tickets(40 * 30, NOW)
    gc.collect()  # the tickets are long-lived input, not the batches' doing
    seen, count = _collections()
    with RulePack.load([PACK], engine="python") as pack:
        gc.callbacks.append(count)  # type: ignore[arg-type]
        try:
            results = [pack.assess_many(tickets[i : i + 40], NOW) for i in range(0, 1200, 40)]
        finally:
            gc.callbacks.remove(count)  # type: ignore[arg-type]
    assert len(results) == 30
    assert seen.count(1) == 30  # one young collection as each pause begins
    assert set(seen) <= {0, 1}, seen  # catch-ups are first-generation runs; never a full one


def test_small_batches_are_not_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    import slaplug.rules.pack as pack_module

    pauses: list[int] = []
    real = pack_module.paused_gc

    def counting() -> object:
        pauses.append(1)
        return real()

    monkeypatch.setattr(pack_module, "paused_gc", counting)
    tickets = synthetic_tickets(pack_module.GC_PAUSE_MIN, NOW)
    with RulePack.load([PACK], engine="python") as pack:
        pack.assess_many(tickets[:-1], NOW)
        assert pauses == []
        pack.assess_many(tickets, NOW)
        assert pauses == [1]
