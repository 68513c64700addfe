"""Clocks: the real one is aware UTC; the fake one moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from airline_core import FakeClock, SystemClock

START = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC


def test_fake_clock_stands_still() -> None:
    clock = FakeClock(START)
    assert clock.now() == clock.now() == START


def test_fake_clock_advances_by_parts_or_delta() -> None:
    clock = FakeClock(START)
    assert clock.advance(minutes=20) == START + timedelta(minutes=20)
    assert clock.advance(timedelta(hours=1)) == START + timedelta(minutes=80)
    assert clock.now() == START + timedelta(minutes=80)


def test_fake_clock_set_converts_to_utc() -> None:
    clock = FakeClock(START)
    clock.set(datetime(2030, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=9))))
    assert clock.now() == datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_fake_clock_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="aware"):
        FakeClock(START).set(datetime(2030, 1, 1))  # noqa: DTZ001 - naive on purpose
