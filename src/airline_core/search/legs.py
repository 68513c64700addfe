"""What search reads from the schedule: flights as sold in one cabin (:class:`Leg`), and the
question a store answers about them (:class:`LegQuery`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from attrs import frozen

from airline_core.catalog.model import Cabin, Flight
from airline_core.money import Money

__all__ = ["Leg", "LegQuery"]


class Leg(NamedTuple):
    """One flight as search sees it: its route and times, and, for the cabin asked about, its
    base fare per passenger, how many seats are left and how many it has.

    A named tuple rather than an attrs class: stores build hundreds per search from rows they
    trust (no rule is checked again), and a tuple is built in a fraction of the time.
    """

    flight_id: str
    number: str
    airline: str
    origin: str
    destination: str
    #: UTC instants.
    departs_at: datetime
    arrives_at: datetime
    origin_time_zone: str
    destination_time_zone: str
    #: The cabin's base fare for one passenger, in minor units of ``currency``.
    fare_minor_units: int
    currency: str
    seats_left: int
    #: Seats the cabin has in all: with ``seats_left``, the load factor pricing reads.
    capacity: int

    @property
    def load_factor(self) -> float:
        """The share of the cabin's seats already taken (held or sold), 0.0 to 1.0."""
        if self.capacity <= 0:
            return 1.0
        return min(1.0, max(0.0, (self.capacity - self.seats_left) / self.capacity))

    @classmethod
    def of(cls, flight: Flight, fare: Money, seats_left: int, capacity: int) -> Leg:
        """``flight`` as sold at ``fare`` per passenger with ``seats_left`` of ``capacity``
        seats left."""
        return cls(
            flight_id=flight.id,
            number=flight.number,
            airline=flight.airline,
            origin=flight.origin,
            destination=flight.destination,
            departs_at=flight.departs_at,
            arrives_at=flight.arrives_at,
            origin_time_zone=flight.origin_time_zone,
            destination_time_zone=flight.destination_time_zone,
            fare_minor_units=fare.minor_units,
            currency=fare.currency,
            seats_left=seats_left,
            capacity=capacity,
        )


@frozen(kw_only=True)
class LegQuery:
    """Which flights a search wants: every condition given must hold (``None`` means any).

    Always: the flight is not cancelled, it prices ``cabin``, it has at least ``seats`` seats
    left there, and it departs strictly after ``departs_after``.
    """

    cabin: Cabin
    seats: int
    departs_after: datetime
    origins: frozenset[str] | None = None
    destinations: frozenset[str] | None = None
    #: The local date of departure at the origin.
    departs_on: date | None = None
    #: UTC bounds on the departure instant, both inclusive.
    departs_from: datetime | None = None
    departs_until: datetime | None = None
    airlines: frozenset[str] | None = None

    def matches(self, leg: Leg, departs_on: date, cancelled: bool) -> bool:
        """Whether a leg answers this query (memory stores and tests; SQL stores say it in
        SQL). ``departs_on`` is the leg's local departure date."""
        return (
            not cancelled
            and leg.seats_left >= self.seats
            and leg.departs_at > self.departs_after
            and (self.origins is None or leg.origin in self.origins)
            and (self.destinations is None or leg.destination in self.destinations)
            and (self.departs_on is None or departs_on == self.departs_on)
            and (self.departs_from is None or leg.departs_at >= self.departs_from)
            and (self.departs_until is None or leg.departs_at <= self.departs_until)
            and (self.airlines is None or leg.airline in self.airlines)
        )
