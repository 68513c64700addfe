"""What catalog lists can be narrowed by, and the order each list is read in."""

from __future__ import annotations

from datetime import date

from attrs import frozen

from airline_core.catalog.model import Airplane, Airport, City, Flight, FlightStatus
from airline_core.pagination import SortKey

__all__ = [
    "AirplaneFilter",
    "AirportFilter",
    "CityFilter",
    "FlightFilter",
    "airplane_key",
    "airport_key",
    "city_key",
    "flight_key",
]


@frozen(kw_only=True)
class CityFilter:
    """``code`` and ``country`` match exactly; ``name`` matches any part, ignoring case."""

    code: str | None = None
    name: str | None = None
    country: str | None = None

    def matches(self, city: City) -> bool:
        return (
            (self.code is None or city.code == self.code)
            and (self.name is None or self.name.casefold() in city.name.casefold())
            and (self.country is None or city.country == self.country)
        )


@frozen(kw_only=True)
class AirportFilter:
    """``code``, ``city``, ``country`` match exactly; ``name`` matches any part, ignoring case."""

    code: str | None = None
    name: str | None = None
    city: str | None = None
    country: str | None = None

    def matches(self, airport: Airport) -> bool:
        return (
            (self.code is None or airport.code == self.code)
            and (self.name is None or self.name.casefold() in airport.name.casefold())
            and (self.city is None or airport.city == self.city)
            and (self.country is None or airport.country == self.country)
        )


@frozen(kw_only=True)
class AirplaneFilter:
    """``model`` matches any part of the model name, ignoring case."""

    model: str | None = None

    def matches(self, airplane: Airplane) -> bool:
        return self.model is None or self.model.casefold() in airplane.model.casefold()


@frozen(kw_only=True)
class FlightFilter:
    """Every field matches exactly; ``departs_on`` is the local date at the origin."""

    number: str | None = None
    airline: str | None = None
    origin: str | None = None
    destination: str | None = None
    departs_on: date | None = None
    status: FlightStatus | None = None

    def matches(self, flight: Flight) -> bool:
        return (
            (self.number is None or flight.number == self.number)
            and (self.airline is None or flight.airline == self.airline)
            and (self.origin is None or flight.origin == self.origin)
            and (self.destination is None or flight.destination == self.destination)
            and (self.departs_on is None or flight.departs_on == self.departs_on)
            and (self.status is None or flight.status == self.status)
        )


# Each list's order: a unique key, so that keyset pages never skip or repeat a row.
def city_key(city: City) -> SortKey:
    return (city.code,)


def airport_key(airport: Airport) -> SortKey:
    return (airport.code,)


def airplane_key(airplane: Airplane) -> SortKey:
    return (airplane.id,)


def flight_key(flight: Flight) -> SortKey:
    return (int(flight.departs_at.timestamp()), flight.id)
