"""Ids: 26 Crockford base32 characters, unique, and sorted by the time they were made."""

from __future__ import annotations

import pytest

from airline_core import ids
from airline_core.ids import is_id, new_id

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def milliseconds_of(identifier: str) -> int:
    value = 0
    for char in identifier:
        value = value * 32 + CROCKFORD.index(char)
    return value >> 80


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make ids at a hand-set time (nanoseconds, first item) with fresh monotonic state."""
    now = [1_900_000_000_000 * 1_000_000]
    monkeypatch.setattr(ids, "_last", 0)
    monkeypatch.setattr(ids.time, "time_ns", lambda: now[0])
    return now


def test_new_id_is_26_crockford_characters() -> None:
    identifier = new_id()
    assert len(identifier) == 26
    assert set(identifier) <= set(CROCKFORD)
    assert is_id(identifier)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",  # 25 characters
        "01ARZ3NDEKTSV4RRFFQ69G5FAVV",  # 27 characters
        "01arz3ndektsv4rrffq69g5fav",  # lower case
        "01ARZ3NDEKTSV4RRFFQ69G5FAI",  # I is not Crockford
        "01ARZ3NDEKTSV4RRFFQ69G5FAL",  # L is not Crockford
        "01ARZ3NDEKTSV4RRFFQ69G5FAO",  # O is not Crockford
        "01ARZ3NDEKTSV4RRFFQ69G5FAU",  # U is not Crockford
        "81ARZ3NDEKTSV4RRFFQ69G5FAV",  # more than 128 bits
        "01ARZ3NDEKTSV4RRFFQ69G5FA-",
    ],
)
def test_is_id_rejects_other_shapes(text: str) -> None:
    assert not is_id(text)


def test_is_id_rejects_a_trailing_newline() -> None:
    assert not is_id(new_id() + "\n")


def test_ids_are_unique() -> None:
    made = [new_id() for _ in range(10_000)]
    assert len(set(made)) == len(made)


def test_ids_made_one_after_another_strictly_increase() -> None:
    made = [new_id() for _ in range(2_000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_id_starts_with_the_milliseconds_it_was_made_at(frozen_time: list[int]) -> None:
    assert milliseconds_of(new_id()) == frozen_time[0] // 1_000_000


def test_ids_sort_by_the_time_they_were_made(frozen_time: list[int]) -> None:
    earlier = new_id()
    frozen_time[0] += 1_000_000  # one millisecond later
    later = new_id()
    assert earlier < later
    assert milliseconds_of(later) == milliseconds_of(earlier) + 1


def test_ids_increase_within_one_millisecond(frozen_time: list[int]) -> None:
    made = [new_id() for _ in range(100)]
    assert made == sorted(made)
    assert len(set(made)) == 100
    assert {milliseconds_of(identifier) for identifier in made} == {frozen_time[0] // 1_000_000}


def test_ids_keep_increasing_when_the_clock_steps_back(frozen_time: list[int]) -> None:
    first = new_id()
    frozen_time[0] -= 60 * 1_000_000_000
    assert new_id() > first
