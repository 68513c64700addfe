"""Every port of the core, as a :class:`typing.Protocol`.

An adapter conforms by passing the contract suite in ``tests/contract``, not by inheriting.
Adapters are named ``<Technology><Port>``: ``MemoryCityStore``, ``SQLAlchemyCityStore``.

Rules every store keeps:

- Each method is atomic: it changes everything it names or nothing.
- Reads return domain objects, never rows; writes take domain objects that are already valid.
- ``list`` methods read a :class:`~airline_core.pagination.KeysetWindow`: up to ``window.fetch``
  items strictly after ``window.after`` in ascending key order, or, when ``window.before`` is
  set, strictly before it in descending order. Each list's key is in
  :mod:`airline_core.catalog.filters`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from airline_core.catalog.filters import AirplaneFilter, AirportFilter, CityFilter, FlightFilter
from airline_core.catalog.model import Airplane, Airport, City, Flight
from airline_core.pagination import KeysetWindow

__all__ = ["AirplaneStore", "AirportStore", "CityStore", "Clock", "FlightStore"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware and in UTC."""


class CityStore(Protocol):
    async def add(self, city: City) -> None:
        """Store a new city.

        :raises AlreadyExists: a city with that id or code exists.
        """

    async def get(self, city_id: str) -> City:
        """:raises NotFound: no city has that id."""

    async def find_by_code(self, code: str) -> City | None:
        """The city with that IATA city code, or ``None``."""

    async def update(self, city: City) -> None:
        """Replace the stored city of the same id (its code never changes).

        :raises NotFound: no city has that id.
        """

    async def delete(self, city_id: str) -> None:
        """:raises NotFound: no city has that id.
        :raises StillReferenced: an airport is in that city."""

    async def list(self, criteria: CityFilter, window: KeysetWindow) -> Sequence[City]:
        """Cities matching ``criteria``, ordered by code (see the module docstring)."""


class AirportStore(Protocol):
    async def add(self, airport: Airport) -> None:
        """Store a new airport.

        :raises AlreadyExists: an airport with that code exists.
        :raises StillReferenced: its city no longer exists (removed meanwhile).
        """

    async def get(self, code: str) -> Airport:
        """:raises NotFound: no airport has that code."""

    async def get_many(self, codes: Sequence[str]) -> dict[str, Airport]:
        """The airports among ``codes`` that exist, by code."""

    async def update(self, airport: Airport) -> None:
        """Replace the stored airport of the same code.

        :raises NotFound: no airport has that code.
        :raises StillReferenced: its new city does not exist.
        """

    async def delete(self, code: str) -> None:
        """:raises NotFound: no airport has that code.
        :raises StillReferenced: a flight departs from or arrives at it."""

    async def list(self, criteria: AirportFilter, window: KeysetWindow) -> Sequence[Airport]:
        """Airports matching ``criteria``, ordered by code."""


class AirplaneStore(Protocol):
    async def add(self, airplane: Airplane) -> None:
        """:raises AlreadyExists: an airplane with that id exists."""

    async def get(self, airplane_id: str) -> Airplane:
        """:raises NotFound: no airplane has that id."""

    async def update(self, airplane: Airplane) -> None:
        """:raises NotFound: no airplane has that id."""

    async def delete(self, airplane_id: str) -> None:
        """:raises NotFound: no airplane has that id.
        :raises StillReferenced: a flight is flown with it."""

    async def list(self, criteria: AirplaneFilter, window: KeysetWindow) -> Sequence[Airplane]:
        """Airplanes matching ``criteria``, ordered by id (that is, by creation)."""


class FlightStore(Protocol):
    async def add(self, flight: Flight) -> None:
        """Store a new flight.

        :raises AlreadyExists: that flight number already departs on that local date, or the id
            is taken.
        :raises StillReferenced: its airplane or an airport no longer exists.
        """

    async def add_many(self, flights: Sequence[Flight]) -> None:
        """Store many new flights at once, all or none (bulk loads and seeding).

        :raises AlreadyExists: as :meth:`add`, for any of them; none is stored then.
        """

    async def get(self, flight_id: str) -> Flight:
        """The flight, with its airports' current time zones.

        :raises NotFound: no flight has that id.
        """

    async def update(self, flight: Flight) -> None:
        """Replace the stored flight of the same id.

        :raises NotFound: no flight has that id.
        :raises AlreadyExists: its number already departs on its (new) local date.
        :raises StillReferenced: its new airplane no longer exists.
        """

    async def delete(self, flight_id: str) -> None:
        """:raises NotFound: no flight has that id."""

    async def list(self, criteria: FlightFilter, window: KeysetWindow) -> Sequence[Flight]:
        """Flights matching ``criteria``, ordered by departure instant, then id."""

    async def uses_airplane(self, airplane_id: str) -> bool:
        """Whether any flight is flown with that airplane."""

    async def uses_airport(self, code: str) -> bool:
        """Whether any flight departs from or arrives at that airport."""
