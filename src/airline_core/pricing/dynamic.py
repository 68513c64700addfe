"""Dynamic pricing: the base fare moved by how full the cabin is and how soon it leaves.

A cabin's price per passenger is its base fare times two factors, each read from a table of
fare buckets:

- the **load bucket**, by the share of the cabin's seats already held or sold before this sale
  (the load factor): the fuller the cabin, the dearer the next seat;
- the **booking-window bucket**, by whole days from now to departure: early bookings pay less,
  the last days more.

Factors are whole percentages, so prices are exact integers of minor units: ``base * load% *
window% / 10,000``, rounded half up. Every seat of one sale costs the same (the bucket is read
from the load before the sale), and the price of a party is that times the passengers. The
default tables are in :data:`LOAD_BUCKETS` and :data:`WINDOW_BUCKETS` and in docs/booking.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from attrs import field, frozen

from airline_core.errors import InvalidRequest
from airline_core.money import Money

if TYPE_CHECKING:
    # Annotations only: search imports pricing.
    from airline_core.search.legs import Leg

__all__ = ["LOAD_BUCKETS", "WINDOW_BUCKETS", "DynamicPricing", "LoadBucket", "WindowBucket"]


@frozen
class LoadBucket:
    """Applies while less than ``below`` (a load factor, 0..1] of the cabin is taken."""

    name: str
    below: float
    percent: int


@frozen
class WindowBucket:
    """Applies from ``days`` whole days before departure on (the first bucket that fits wins,
    so a table runs from the longest window to the shortest)."""

    name: str
    days: int
    percent: int


#: By load factor before the sale. The last bucket ends above 1.0 so that a full cabin (which
#: cannot sell anyway) still has a price to show.
LOAD_BUCKETS: tuple[LoadBucket, ...] = (
    LoadBucket("saver", 0.40, 100),
    LoadBucket("classic", 0.60, 115),
    LoadBucket("flex", 0.75, 135),
    LoadBucket("premium", 0.90, 160),
    LoadBucket("last seats", 1.01, 200),
)

#: By whole days from now to departure.
WINDOW_BUCKETS: tuple[WindowBucket, ...] = (
    WindowBucket("early", 60, 90),
    WindowBucket("standard", 21, 100),
    WindowBucket("late", 7, 115),
    WindowBucket("short notice", 3, 130),
    WindowBucket("last minute", 0, 150),
)


def _load_buckets(buckets: Sequence[LoadBucket]) -> tuple[LoadBucket, ...]:
    buckets = tuple(buckets)
    bounds = [bucket.below for bucket in buckets]
    if not buckets or bounds != sorted(set(bounds)) or bounds[-1] <= 1.0:
        raise InvalidRequest.for_field(
            "load_buckets", "must rise strictly and the last must end above 1.0"
        )
    if any(bucket.percent <= 0 for bucket in buckets):
        raise InvalidRequest.for_field("load_buckets", "percentages must be positive")
    return buckets


def _window_buckets(buckets: Sequence[WindowBucket]) -> tuple[WindowBucket, ...]:
    buckets = tuple(buckets)
    days = [bucket.days for bucket in buckets]
    if not buckets or days != sorted(set(days), reverse=True) or days[-1] != 0:
        raise InvalidRequest.for_field(
            "window_buckets", "must fall strictly from the longest window and end at 0 days"
        )
    if any(bucket.percent <= 0 for bucket in buckets):
        raise InvalidRequest.for_field("window_buckets", "percentages must be positive")
    return buckets


@frozen
class DynamicPricing:
    """Prices by load factor and days to departure (see the module docstring)."""

    load_buckets: tuple[LoadBucket, ...] = field(default=LOAD_BUCKETS, converter=_load_buckets)
    window_buckets: tuple[WindowBucket, ...] = field(
        default=WINDOW_BUCKETS, converter=_window_buckets
    )

    # Plain loops: a search prices every itinerary it finds, and a generator handed to next()
    # costs more than the few comparisons it makes.
    def load_bucket(self, leg: Leg) -> LoadBucket:
        load = leg.load_factor
        for bucket in self.load_buckets:
            if load < bucket.below:
                return bucket
        return self.load_buckets[-1]  # pragma: no cover - the last bucket ends above 1.0

    def window_bucket(self, leg: Leg, now: datetime) -> WindowBucket:
        days = max(0, (leg.departs_at - now).days)
        for bucket in self.window_buckets:
            if days >= bucket.days:
                return bucket
        return self.window_buckets[-1]  # pragma: no cover - the last bucket is 0 days

    def unit_price(self, leg: Leg, now: datetime) -> int:
        """One passenger's price in minor units."""
        factor = self.load_bucket(leg).percent * self.window_bucket(leg, now).percent
        return (leg.fare_minor_units * factor + 5_000) // 10_000

    def price(self, leg: Leg, passengers: int, now: datetime) -> Money:
        return Money(self.unit_price(leg, now) * passengers, leg.currency)
