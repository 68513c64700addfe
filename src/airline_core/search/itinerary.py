"""An answer to a search: one to three flights, priced for the party."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attrs import field, frozen

from airline_core.catalog.model import time_zone
from airline_core.money import Money
from airline_core.search.legs import Leg

__all__ = ["ITINERARY_ID_SEPARATOR", "Itinerary"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_MINUTE = timedelta(minutes=1)

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
    # Worked out once when made: ranking and paging read them several times per itinerary.
    id: str = field(init=False)
    departs_epoch: int = field(init=False)
    duration_minutes: int = field(init=False)
    #: Minutes after local midnight at the origin when the first flight leaves.
    departure_minute_of_day: int = field(init=False)

    def __attrs_post_init__(self) -> None:
        segments = self.segments
        first, last = segments[0], segments[-1]
        local = first.departs_at.astimezone(time_zone(first.origin_time_zone))
        # Frozen: set through object.__setattr__, once each.
        set_ = object.__setattr__
        set_(
            self,
            "id",
            first.flight_id
            if len(segments) == 1
            else ITINERARY_ID_SEPARATOR.join([leg.flight_id for leg in segments]),
        )
        # Whole seconds and minutes by timedelta division: a third of timestamp()'s cost.
        set_(self, "departs_epoch", (first.departs_at - _EPOCH) // _SECOND)
        set_(self, "duration_minutes", (last.arrives_at - first.departs_at) // _MINUTE)
        set_(self, "departure_minute_of_day", local.hour * 60 + local.minute)

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
