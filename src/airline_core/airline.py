"""The facade: the use cases of the whole product composed from one set of ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from attrs import define, field

from airline_core.catalog.service import Airplanes, Airports, Cities, Flights
from airline_core.clock import SystemClock
from airline_core.memory import (
    MemoryAirplaneStore,
    MemoryAirportStore,
    MemoryCatalog,
    MemoryCityStore,
    MemoryFlightStore,
)
from airline_core.ports import AirplaneStore, AirportStore, CityStore, Clock, FlightStore

__all__ = ["Airline"]


@define
class Airline:
    """Everything an application does with the airline, one attribute per area.

    >>> async with Airline.in_memory() as airline:          # doctest: +SKIP
    ...     london = await airline.cities.create(code="LON", name="London", country="GB")

    The runtime builds one on SQLAlchemy stores (:func:`airline_runtime.bootstrap.bootstrap`);
    tests and embedding apps use :meth:`in_memory` or :meth:`from_stores`.
    """

    cities: Cities
    airports: Airports
    airplanes: Airplanes
    flights: Flights
    clock: Clock = field(factory=SystemClock)

    @classmethod
    def from_stores(
        cls,
        *,
        cities: CityStore,
        airports: AirportStore,
        airplanes: AirplaneStore,
        flights: FlightStore,
        clock: Clock | None = None,
    ) -> Airline:
        clock = clock or SystemClock()
        return cls(
            cities=Cities(cities),
            airports=Airports(airports, cities, flights),
            airplanes=Airplanes(airplanes, flights),
            flights=Flights(flights, airplanes, airports, clock),
            clock=clock,
        )

    @classmethod
    @asynccontextmanager
    async def in_memory(cls, *, clock: Clock | None = None) -> AsyncIterator[Airline]:
        """An airline on memory stores that vanish when the block ends."""
        catalog = MemoryCatalog()
        yield cls.from_stores(
            cities=MemoryCityStore(catalog),
            airports=MemoryAirportStore(catalog),
            airplanes=MemoryAirplaneStore(catalog),
            flights=MemoryFlightStore(catalog),
            clock=clock,
        )
