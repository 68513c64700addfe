"""Connection rules, and joining legs into itineraries under them.

A connection at airport X is valid when the next flight leaves X at least the minimum
connection time of X after the previous one arrived there (45 minutes unless X has a minimum of
its own), and at most the maximum connection time (6 hours) after. Itineraries never visit an
airport twice and never stop at an airport of their origin or destination.

The join never compares every pair of the day's flights: the legs that may follow are grouped
by the airport they leave from and sorted by departure, so each leg finds its possible
successors with two binary searches.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from attrs import field, frozen

from airline_core.errors import InvalidRequest
from airline_core.search.legs import Leg

__all__ = ["ConnectionRules", "Successors"]


def _minimums(value: Mapping[str, timedelta]) -> dict[str, timedelta]:
    return dict(value)


@frozen(kw_only=True)
class ConnectionRules:
    """How long a connection may be: per airport minimums, one maximum."""

    minimum: timedelta = timedelta(minutes=45)
    maximum: timedelta = timedelta(hours=6)
    #: Airports whose minimum connection time differs from ``minimum`` (a big hub needs more).
    minimum_at: dict[str, timedelta] = field(factory=dict, converter=_minimums)

    def __attrs_post_init__(self) -> None:
        if not timedelta(0) <= self.minimum <= self.maximum:
            raise InvalidRequest.for_field(
                "connections", "the minimum connection time must be between 0 and the maximum"
            )
        for airport, minimum in self.minimum_at.items():
            if not timedelta(0) <= minimum <= self.maximum:
                raise InvalidRequest.for_field(
                    f"connections.{airport}",
                    "a minimum connection time must be between 0 and the maximum",
                )

    def minimum_for(self, airport: str) -> timedelta:
        return self.minimum_at.get(airport, self.minimum)

    @property
    def shortest(self) -> timedelta:
        """The smallest minimum anywhere: what bounds a store query for any airport."""
        return min([self.minimum, *self.minimum_at.values()])

    def window_after(self, legs: Sequence[Leg]) -> tuple[datetime, datetime] | None:
        """The departures any leg may connect to from one of ``legs`` lie in this range (a
        superset: each airport's own minimum is applied in :meth:`Successors.after`)."""
        if not legs:
            return None
        return (
            min(leg.arrives_at for leg in legs) + self.shortest,
            max(leg.arrives_at for leg in legs) + self.maximum,
        )


class Successors:
    """The legs that may follow others, by departure airport, in departure order."""

    def __init__(self, legs: Iterable[Leg], rules: ConnectionRules) -> None:
        self.rules = rules
        by_airport: dict[str, list[Leg]] = {}
        for leg in legs:
            by_airport.setdefault(leg.origin, []).append(leg)
        self._legs: dict[str, list[Leg]] = {}
        self._departures: dict[str, list[datetime]] = {}
        for airport, group in by_airport.items():
            # The flight id decides between equal departures, so results never depend on the
            # order a store returned rows in.
            group.sort(key=lambda leg: (leg.departs_at, leg.flight_id))
            self._legs[airport] = group
            self._departures[airport] = [leg.departs_at for leg in group]

    def after(self, leg: Leg) -> Sequence[Leg]:
        """The legs leaving ``leg``'s destination within the connection window of its arrival."""
        airport = leg.destination
        departures = self._departures.get(airport)
        if departures is None:
            return ()
        earliest = leg.arrives_at + self.rules.minimum_for(airport)
        latest = leg.arrives_at + self.rules.maximum
        return self._legs[airport][
            bisect_left(departures, earliest) : bisect_right(departures, latest)
        ]
