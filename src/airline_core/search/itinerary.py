"""An answer to a search: one to three flights, priced for the party."""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from airline_core.catalog.model import time_zone
from airline_core.money import Money
from airline_core.search.legs import Leg

__all__ = ["ITINERARY_ID_SEPARATOR", "Itinerary"]

#: Joins the flight ids of an itinerary into its id (flight ids never contain it).
ITINERARY_ID_SEPARATOR = "."


@frozen(kw_only=True)
class Itinerary:
    """Flights taken one after the other, each connection within the connection rules.

    ``price`` is for every passenger of the party, in the flights' one currency;
    ``seats_available`` is the fewest seats left in the cabin on any of them.
    """

    segments: tuple[Leg, ...]
    price: Money
    passengers: int
    seats_available: int

    @property
    def id(self) -> str:
        return ITINERARY_ID_SEPARATOR.join(leg.flight_id for leg in self.segments)

    @property
    def flight_ids(self) -> tuple[str, ...]:
        return tuple(leg.flight_id for leg in self.segments)

    @property
    def stops(self) -> int:
        return len(self.segments) - 1

    @property
    def currency(self) -> str:
        return self.price.currency

    @property
    def departs_at(self) -> datetime:
        return self.segments[0].departs_at

    @property
    def arrives_at(self) -> datetime:
        return self.segments[-1].arrives_at

    @property
    def departs_epoch(self) -> int:
        return int(self.departs_at.timestamp())

    @property
    def duration_minutes(self) -> int:
        return int((self.arrives_at - self.departs_at).total_seconds()) // 60

    @property
    def departure_minute_of_day(self) -> int:
        """Minutes after local midnight at the origin when the first flight leaves."""
        first = self.segments[0]
        local = first.departs_at.astimezone(time_zone(first.origin_time_zone))
        return local.hour * 60 + local.minute
