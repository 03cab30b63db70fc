"""The threads a process knows are active (core.active_threads)."""

from __future__ import annotations

import pytest

from core.active_threads import ActiveThreads
from tests.clock import FakeClock


def test_a_thread_added_is_held_until_its_time_runs_out() -> None:
    clock = FakeClock()
    active = ActiveThreads(clock, ttl=60.0)
    active.add("slack:T1:C1:1.0")
    clock.advance(59.0)
    assert "slack:T1:C1:1.0" in active
    clock.advance(2.0)
    assert "slack:T1:C1:1.0" not in active
    assert len(active) == 0  # dropped when found expired


def test_the_least_recently_seen_thread_goes_first_when_full() -> None:
    active = ActiveThreads(FakeClock(), size=2)
    active.add("a")
    active.add("b")
    assert "a" in active  # seen again: now the most recent
    active.add("c")
    assert "a" in active
    assert "b" not in active
    assert "c" in active


def test_a_thread_never_added_is_not_held() -> None:
    active = ActiveThreads(FakeClock())
    assert "a" not in active
    assert 3 not in active


@pytest.mark.parametrize(("size", "ttl"), [(0, 1.0), (1, 0.0)])
def test_size_and_ttl_must_be_positive(size: int, ttl: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        ActiveThreads(FakeClock(), size=size, ttl=ttl)
