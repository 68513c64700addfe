"""The facade: the use cases of the whole product composed from one set of ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from attrs import define, field

from airline_core.catalog.service import Airplanes, Airports, Cities, Flights
from airline_core.clock import SystemClock
from airline_core.identity.passwords import ScryptPasswordHasher
from airline_core.identity.service import Accounts
from airline_core.memory import (
    MemoryAccessTokens,
    MemoryAirplaneStore,
    MemoryAirportStore,
    MemoryCatalog,
    MemoryCityStore,
    MemoryFlightStore,
    MemoryRefreshTokenStore,
    MemoryUserStore,
)
from airline_core.pagination import Page, PageRequest
from airline_core.ports import (
    AccessTokens,
    AirplaneStore,
    AirportStore,
    CityStore,
    Clock,
    FlightStore,
    PasswordHasher,
    RefreshTokenStore,
    UserStore,
)
from airline_core.pricing import BaseFarePricing, Pricing
from airline_core.search import ConnectionRules, FlightSearch, Itinerary, SearchQuery

__all__ = ["Airline"]

_FIRST_PAGE = PageRequest()


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
    accounts: Accounts
    flight_search: FlightSearch
    clock: Clock = field(factory=SystemClock)

    async def search(self, query: SearchQuery, page: PageRequest = _FIRST_PAGE) -> Page[Itinerary]:
        """One page of itineraries for ``query`` (:meth:`FlightSearch.search`)."""
        return await self.flight_search.search(query, page)

    @classmethod
    def from_stores(
        cls,
        *,
        cities: CityStore,
        airports: AirportStore,
        airplanes: AirplaneStore,
        flights: FlightStore,
        users: UserStore,
        refresh_tokens: RefreshTokenStore,
        password_hasher: PasswordHasher,
        access_tokens: AccessTokens,
        clock: Clock | None = None,
        refresh_lifetime: timedelta = timedelta(days=30),
        pricing: Pricing | None = None,
        connections: ConnectionRules | None = None,
    ) -> Airline:
        clock = clock or SystemClock()
        return cls(
            cities=Cities(cities),
            airports=Airports(airports, cities, flights),
            airplanes=Airplanes(airplanes, flights),
            flights=Flights(flights, airplanes, airports, clock),
            accounts=Accounts(
                users, refresh_tokens, password_hasher, access_tokens, clock, refresh_lifetime
            ),
            flight_search=FlightSearch(
                flights,
                airports,
                clock,
                pricing=pricing or BaseFarePricing(),
                connections=connections or ConnectionRules(),
            ),
            clock=clock,
        )

    @classmethod
    @asynccontextmanager
    async def in_memory(
        cls,
        *,
        clock: Clock | None = None,
        password_hasher: PasswordHasher | None = None,
        connections: ConnectionRules | None = None,
    ) -> AsyncIterator[Airline]:
        """An airline on memory stores that vanish when the block ends.

        Passwords are hashed with scrypt unless another hasher is given; access tokens are
        opaque and known to this process only.
        """
        catalog = MemoryCatalog()
        clock = clock or SystemClock()
        yield cls.from_stores(
            cities=MemoryCityStore(catalog),
            airports=MemoryAirportStore(catalog),
            airplanes=MemoryAirplaneStore(catalog),
            flights=MemoryFlightStore(catalog),
            users=MemoryUserStore(),
            refresh_tokens=MemoryRefreshTokenStore(),
            password_hasher=password_hasher or ScryptPasswordHasher(),
            access_tokens=MemoryAccessTokens(clock),
            clock=clock,
            connections=connections,
        )
