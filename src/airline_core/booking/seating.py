"""Seat maps, and choosing seats for a party.

:func:`choose_seats` picks ``n`` free seats of a cabin, seating a party together where the free
seats allow, in this order of preference:

1. side by side in one section of one row (no aisle between them);
2. side by side in one row, across an aisle;
3. in the fewest consecutive rows (front to back);
4. anywhere, front to back.

Among equally good choices it picks one at random. That matters under load: buyers reading the
same seat map at once would otherwise all reach for the same seats, and all but one would have
to try again. A single traveller gets a random free window or aisle seat, else a middle one
(:func:`pick_one` draws one without looking at the whole cabin, while such seats are easy to
find).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet

from attrs import frozen

from airline_core.booking.model import SeatState
from airline_core.catalog.model import Cabin, CabinLayout, SeatKind

__all__ = ["SeatMap", "SeatMapEntry", "choose_seats", "pick_one"]

_random = random.SystemRandom()


@frozen(kw_only=True)
class SeatMapEntry:
    seat: str
    row: int
    letter: str
    kind: SeatKind
    exit_row: bool
    state: SeatState


@frozen(kw_only=True)
class SeatMap:
    """Every seat of one cabin of a flight, front to back and left to right."""

    flight_id: str
    cabin: Cabin
    layout: CabinLayout
    seats: tuple[SeatMapEntry, ...]

    @classmethod
    def of(cls, flight_id: str, layout: CabinLayout, taken: Mapping[str, SeatState]) -> SeatMap:
        """The map of ``layout`` where the seats in ``taken`` are held or sold."""
        return cls(
            flight_id=flight_id,
            cabin=layout.cabin,
            layout=layout,
            seats=tuple(
                SeatMapEntry(
                    seat=seat.label,
                    row=seat.row,
                    letter=seat.letter,
                    kind=seat.kind,
                    exit_row=seat.exit_row,
                    state=taken.get(seat.label, SeatState.AVAILABLE),
                )
                for seat in layout.iter_seats()
            ),
        )

    def count(self, state: SeatState) -> int:
        return sum(1 for entry in self.seats if entry.state is state)


def pick_one(
    layout: CabinLayout,
    taken: AbstractSet[str],
    avoid: AbstractSet[str] = frozenset(),
    *,
    tries: int = 24,
    rng: random.Random | None = None,
) -> str | None:
    """A random window or aisle seat of ``layout`` that is neither ``taken`` nor in ``avoid``,
    found by drawing at random (every such seat equally likely); ``None`` when ``tries`` draws
    found none: then ask :func:`choose_seats`, which looks at every free seat."""
    preferred = layout.window_and_aisle_labels
    if not preferred:
        return None
    # By default the random module's own generator, which each forked worker process reseeds
    # (workers forked from one server do not draw the same seats), with no system call a draw.
    draw = rng.choice if rng is not None else random.choice
    for _ in range(tries):
        label = draw(preferred)
        if label not in taken and label not in avoid:
            return label
    return None


def choose_seats(
    layout: CabinLayout,
    free: Collection[str],
    n: int,
    *,
    near: Collection[str] = (),
    rng: random.Random | None = None,
) -> list[str] | None:
    """``n`` seats from ``free`` (labels of ``layout``), together where possible; ``None``
    when fewer than ``n`` are free. See the module docstring for the order of preference.

    ``near`` are seats the rest of the party chose: then the seats closest to them win (the
    same row first, then the fewest seats and aisles away), and togetherness among the ``n``
    decides only between equally close choices.
    """
    rng = rng or _random
    if n <= 0:
        return []
    labels = layout.label_set
    free = set(free) & labels
    if len(free) < n:
        return None
    if near:
        return _closest(layout, free, n, [label for label in near if label in labels], rng)
    if n == 1:
        # In the layout's order, not the set's: the same random draw picks the same seat.
        preferred = [label for label in layout.window_and_aisle_labels if label in free]
        if not preferred:
            preferred = [label for label in layout.labels if label in free]
        return [rng.choice(preferred)]
    for candidates in (_within_sections(layout, free, n), _within_rows(layout, free, n)):
        if candidates:
            return rng.choice(candidates)
    return _fewest_rows(layout, free, n, rng)


def _runs(labels: Sequence[str], free: set[str], n: int) -> list[list[str]]:
    """Every window of ``n`` consecutive ``labels`` that are all free."""
    found = []
    for start in range(len(labels) - n + 1):
        window = list(labels[start : start + n])
        if all(label in free for label in window):
            found.append(window)
    return found


def _within_sections(layout: CabinLayout, free: set[str], n: int) -> list[list[str]]:
    sections = layout.seats.split("-")
    found = []
    for row in layout.rows:
        for section in sections:
            found.extend(_runs([f"{row}{letter}" for letter in section], free, n))
    return found


def _within_rows(layout: CabinLayout, free: set[str], n: int) -> list[list[str]]:
    found = []
    for row in layout.rows:
        found.extend(_runs([f"{row}{letter}" for letter in layout.letters], free, n))
    return found


def _fewest_rows(layout: CabinLayout, free: set[str], n: int, rng: random.Random) -> list[str]:
    """The free seats of the fewest consecutive rows that hold ``n`` of them."""
    rows = list(layout.rows)
    by_row = [
        [f"{row}{letter}" for letter in layout.letters if f"{row}{letter}" in free] for row in rows
    ]
    best: list[list[str]] = []
    best_span = len(rows) + 1
    for start in range(len(rows)):
        gathered: list[str] = []
        for end in range(start, len(rows)):
            gathered.extend(by_row[end])
            if len(gathered) >= n:
                span = end - start + 1
                if span < best_span:
                    best, best_span = [], span
                if span == best_span:
                    best.append(gathered[:n])
                break
    return rng.choice(best)


def _position(layout: CabinLayout, label: str) -> tuple[int, int]:
    """A seat's row, and its place across the row counting aisles as places."""
    return int(label[:-1]), layout.seats.index(label[-1])


def _closest(
    layout: CabinLayout, free: set[str], n: int, near: Sequence[str], rng: random.Random
) -> list[str]:
    """``n`` free seats chosen one by one, each the closest to the party seated so far."""
    seated = [_position(layout, label) for label in near]
    chosen: list[str] = []
    pool = set(free)
    for _ in range(n):

        def distance(label: str) -> int:
            row, place = _position(layout, label)
            return min(abs(row - r) * 100 + abs(place - p) for r, p in seated)

        best = min(distance(label) for label in pool)
        pick = rng.choice(sorted(label for label in pool if distance(label) == best))
        chosen.append(pick)
        pool.discard(pick)
        seated.append(_position(layout, pick))
    return chosen
