"""Use cases of the catalog: create, read, change and remove cities, airports, airplanes, flights.

Each use case checks the rules that need other records (that an airplane exists, that a code is
free) and turns them into errors naming the request's fields; the stores enforce the same rules
again atomically, so a race between two requests cannot leave a dangling reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import attrs
from attrs import define, frozen

from airline_core.catalog.filters import (
    AirplaneFilter,
    AirportFilter,
    CityFilter,
    FlightFilter,
    airplane_key,
    airport_key,
    city_key,
    flight_key,
)
from airline_core.catalog.model import (
    Airplane,
    Airport,
    Cabin,
    City,
    Fares,
    Flight,
    FlightStatus,
    SeatLayout,
    flight_status,
)
from airline_core.errors import (
    AlreadyExists,
    Conflict,
    FieldError,
    InvalidRequest,
    NotFound,
    StillReferenced,
)
from airline_core.ids import new_id
from airline_core.pagination import KeysetWindow, Page, PageRequest, make_page
from airline_core.ports import AirplaneStore, AirportStore, CityStore, Clock, FlightStore
from airline_core.validation import Rules

if TYPE_CHECKING:
    from airline_core.ports import Replan


class FlightChangePlanner(Protocol):
    """What re-plans travellers' reminders when a flight changes
    (:class:`airline_core.reminders.Reminders`; its module needs this package first)."""

    def on_flight_change(self, flight: Flight, now: datetime) -> Replan: ...


__all__ = ["Airplanes", "Airports", "Cities", "FlightDraft", "Flights"]

_ANY_CITY = CityFilter()
_ANY_AIRPORT = AirportFilter()
_ANY_AIRPLANE = AirplaneFilter()
_ANY_FLIGHT = FlightFilter()
_FIRST_PAGE = PageRequest()


def _seats_of(layout: SeatLayout) -> dict[Cabin, tuple[str, ...]]:
    """Each cabin's seat labels: what flights of an airplane have counted and made rows of."""
    return {cabin.cabin: cabin.labels for cabin in layout.cabins}


def _changed(current: object, **changes: Any) -> dict[str, Any]:
    """The changes whose value is given (not ``None``) and differs from ``current``."""
    return {
        name: value
        for name, value in changes.items()
        if value is not None and getattr(current, name) != value
    }


@define
class Cities:
    store: CityStore

    async def create(self, *, code: str, name: str, country: str) -> City:
        """:raises InvalidRequest: a field breaks a rule. :raises AlreadyExists: code taken."""
        city = City(id=new_id(), code=code, name=name, country=country)
        if await self.store.find_by_code(code) is not None:
            raise AlreadyExists(
                f"city {code} already exists", errors=[FieldError("code", "is taken")]
            )
        await self.store.add(city)
        return city

    async def get(self, city_id: str) -> City:
        return await self.store.get(city_id)

    async def get_by_code(self, code: str) -> City:
        city = await self.store.find_by_code(code)
        if city is None:
            raise NotFound(f"no city has code {code}")
        return city

    async def update(
        self, city_id: str, *, name: str | None = None, country: str | None = None
    ) -> City:
        """Rename a city or move it to another country; its code never changes."""
        city = await self.store.get(city_id)
        changes = _changed(city, name=name, country=country)
        if not changes:
            return city
        updated = attrs.evolve(city, **changes)
        await self.store.update(updated)
        return updated

    async def delete(self, city_id: str) -> None:
        """:raises StillReferenced: an airport is in the city."""
        await self.store.delete(city_id)

    async def list(
        self, criteria: CityFilter = _ANY_CITY, page: PageRequest = _FIRST_PAGE
    ) -> Page[City]:
        scope = f"cities:{criteria!r}"
        window = KeysetWindow.open(page, scope)
        return make_page(await self.store.list(criteria, window), window, city_key, scope)


@define
class Airports:
    store: AirportStore
    cities: CityStore
    flights: FlightStore

    async def create(
        self,
        *,
        code: str,
        name: str,
        city: str,
        country: str,
        time_zone: str,
        latitude: float,
        longitude: float,
    ) -> Airport:
        """:raises InvalidRequest: a field breaks a rule or the city does not exist.
        :raises AlreadyExists: the code is taken."""
        airport = Airport(
            code=code,
            name=name,
            city=city,
            country=country,
            time_zone=time_zone,
            latitude=latitude,
            longitude=longitude,
        )
        await self._require_city(city)
        if await self.store.get_many([code]):
            raise AlreadyExists(
                f"airport {code} already exists", errors=[FieldError("code", "is taken")]
            )
        await self.store.add(airport)
        return airport

    async def _require_city(self, code: str) -> None:
        if await self.cities.find_by_code(code) is None:
            raise InvalidRequest.for_field("city", f"no city has code {code}; create it first")

    async def get(self, code: str) -> Airport:
        return await self.store.get(code)

    async def update(
        self,
        code: str,
        *,
        name: str | None = None,
        city: str | None = None,
        country: str | None = None,
        time_zone: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> Airport:
        """Change an airport; its code never changes.

        :raises StillReferenced: the time zone changes while flights use the airport (their local
            dates would move under their travellers).
        """
        airport = await self.store.get(code)
        changes = _changed(
            airport,
            name=name,
            city=city,
            country=country,
            time_zone=time_zone,
            latitude=latitude,
            longitude=longitude,
        )
        if not changes:
            return airport
        updated = attrs.evolve(airport, **changes)
        if "city" in changes:
            await self._require_city(updated.city)
        if "time_zone" in changes and await self.flights.uses_airport(code):
            raise StillReferenced(
                f"airport {code} has flights; its time zone cannot change",
                errors=[FieldError("time_zone", "cannot change while flights use the airport")],
            )
        await self.store.update(updated)
        return updated

    async def delete(self, code: str) -> None:
        """:raises StillReferenced: a flight departs from or arrives at the airport."""
        await self.store.delete(code)

    async def list(
        self, criteria: AirportFilter = _ANY_AIRPORT, page: PageRequest = _FIRST_PAGE
    ) -> Page[Airport]:
        scope = f"airports:{criteria!r}"
        window = KeysetWindow.open(page, scope)
        return make_page(await self.store.list(criteria, window), window, airport_key, scope)


@define
class Airplanes:
    store: AirplaneStore
    flights: FlightStore

    async def create(self, *, model: str, layout: SeatLayout) -> Airplane:
        airplane = Airplane(id=new_id(), model=model, layout=layout)
        await self.store.add(airplane)
        return airplane

    async def get(self, airplane_id: str) -> Airplane:
        return await self.store.get(airplane_id)

    async def update(
        self, airplane_id: str, *, model: str | None = None, layout: SeatLayout | None = None
    ) -> Airplane:
        """Rename or reconfigure an airplane.

        :raises StillReferenced: while flights use the airplane, the new layout adds, drops or
            resizes a cabin or moves a seat (their fares are per cabin, and their seats left and
            seat rows were counted from the layout); only exit rows may change then.
        """
        airplane = await self.store.get(airplane_id)
        changes = _changed(airplane, model=model, layout=layout)
        if not changes:
            return airplane
        updated = attrs.evolve(airplane, **changes)
        if _seats_of(updated.layout) != _seats_of(airplane.layout) and (
            await self.flights.uses_airplane(airplane_id)
        ):
            cabins_kept = updated.layout.cabin_classes == airplane.layout.cabin_classes
            message = (
                "must keep the same seats while flights use it (exit rows may change); "
                "schedule the flights on another airplane instead"
                if cabins_kept
                else "must keep the same cabins while flights use it"
            )
            raise StillReferenced(
                f"flights use this airplane; its layout {message}",
                errors=[FieldError("layout", message)],
            )
        await self.store.update(updated)
        return updated

    async def delete(self, airplane_id: str) -> None:
        """:raises StillReferenced: a flight is flown with the airplane."""
        await self.store.delete(airplane_id)

    async def list(
        self, criteria: AirplaneFilter = _ANY_AIRPLANE, page: PageRequest = _FIRST_PAGE
    ) -> Page[Airplane]:
        scope = f"airplanes:{criteria!r}"
        window = KeysetWindow.open(page, scope)
        return make_page(await self.store.list(criteria, window), window, airplane_key, scope)


@frozen(kw_only=True)
class FlightDraft:
    """Everything needed to schedule a flight; the use case adds the id and the time zones."""

    number: str
    airline: str
    airplane_id: str
    origin: str
    destination: str
    departs_at: datetime
    arrives_at: datetime
    fares: Fares
    status: FlightStatus = FlightStatus.SCHEDULED


# Which status an admin may move a flight to from each status; ``cancelled`` is final.
_STATUS_MOVES: dict[FlightStatus, frozenset[FlightStatus]] = {
    FlightStatus.SCHEDULED: frozenset({FlightStatus.DELAYED, FlightStatus.CANCELLED}),
    FlightStatus.DELAYED: frozenset({FlightStatus.SCHEDULED, FlightStatus.CANCELLED}),
    FlightStatus.CANCELLED: frozenset(),
}


@define
class Flights:
    store: FlightStore
    airplanes: AirplaneStore
    airports: AirportStore
    clock: Clock
    #: Re-plans the reminders of the bookings on a flight whose time or status changes (set
    #: by the facade).
    reminders: FlightChangePlanner | None = None

    async def create(
        self,
        *,
        number: str,
        airline: str,
        airplane_id: str,
        origin: str,
        destination: str,
        departs_at: datetime,
        arrives_at: datetime,
        fares: Fares,
        status: FlightStatus = FlightStatus.SCHEDULED,
    ) -> Flight:
        """Schedule one flight.

        :raises InvalidRequest: a field breaks a rule, the airplane or an airport does not exist,
            the fares do not price exactly the airplane's cabins, or it departs in the past.
        :raises AlreadyExists: the number already departs on that local date.
        """
        draft = FlightDraft(
            number=number,
            airline=airline,
            airplane_id=airplane_id,
            origin=origin,
            destination=destination,
            departs_at=departs_at,
            arrives_at=arrives_at,
            fares=fares,
            status=status,
        )
        (flight,) = await self.create_many([draft])
        return flight

    async def create_many(self, drafts: Iterable[FlightDraft]) -> list[Flight]:
        """Schedule many flights, all or none: each is checked as :meth:`create` checks one."""
        drafts = list(drafts)
        airports = await self.airports.get_many(
            sorted({code for draft in drafts for code in (draft.origin, draft.destination)})
        )
        airplanes: dict[str, Airplane | None] = {}
        flights = []
        now = self.clock.now()
        for index, draft in enumerate(drafts):
            if draft.airplane_id not in airplanes:
                airplanes[draft.airplane_id] = await self._find_airplane(draft.airplane_id)
            prefix = f"{index}." if len(drafts) > 1 else ""
            try:
                flights.append(self._build(draft, airplanes[draft.airplane_id], airports, now))
            except InvalidRequest as error:
                if not prefix:
                    raise
                rules = Rules("flights")
                rules.absorb(error, prefix.rstrip("."))
                rules.check()
        self._unique_in_batch(flights)
        if len(flights) == 1:
            await self.store.add(flights[0])
        elif flights:
            await self.store.add_many(flights)
        return flights

    async def _find_airplane(self, airplane_id: str) -> Airplane | None:
        try:
            return await self.airplanes.get(airplane_id)
        except NotFound:
            return None

    def _build(
        self,
        draft: FlightDraft,
        airplane: Airplane | None,
        airports: Mapping[str, Airport],
        now: datetime,
    ) -> Flight:
        rules = Rules("flight")
        rules.require(
            airplane is not None, "airplane_id", f"no airplane has id {draft.airplane_id}"
        )
        origin = airports.get(draft.origin)
        destination = airports.get(draft.destination)
        rules.require(origin is not None, "origin", f"no airport has code {draft.origin}")
        rules.require(
            destination is not None, "destination", f"no airport has code {draft.destination}"
        )
        if airplane is None or origin is None or destination is None:
            rules.fail()
        flight = Flight(
            id=new_id(),
            number=draft.number,
            airline=draft.airline,
            airplane_id=draft.airplane_id,
            origin=draft.origin,
            destination=draft.destination,
            departs_at=draft.departs_at,
            arrives_at=draft.arrives_at,
            origin_time_zone=origin.time_zone,
            destination_time_zone=destination.time_zone,
            fares=draft.fares,
            status=draft.status,
        )
        rules.require(flight.departs_at > now, "departs_at", "must be in the future")
        self._fares_match(rules, flight, airplane)
        rules.check()
        return flight

    @staticmethod
    def _fares_match(rules: Rules, flight: Flight, airplane: Airplane) -> None:
        cabins = airplane.layout.cabin_classes
        priced = frozenset(flight.fares)
        rules.require(
            priced == cabins,
            "fares",
            "must price exactly the airplane's cabins: "
            + ", ".join(cabin.value for cabin in Cabin if cabin in cabins),
        )

    @staticmethod
    def _unique_in_batch(flights: Sequence[Flight]) -> None:
        seen: set[tuple[str, object]] = set()
        for flight in flights:
            key = (flight.number, flight.departs_on)
            if key in seen:
                raise AlreadyExists(f"{flight.number} departs twice on {flight.departs_on}")
            seen.add(key)

    async def get(self, flight_id: str) -> Flight:
        return await self.store.get(flight_id)

    async def update(
        self,
        flight_id: str,
        *,
        airplane_id: str | None = None,
        departs_at: datetime | None = None,
        arrives_at: datetime | None = None,
        fares: Fares | None = None,
        status: FlightStatus | None = None,
    ) -> Flight:
        """Retime, re-equip, reprice or change the status of a flight.

        Its number, airline and route never change: that is another flight.

        :raises Conflict: the status cannot move that way (a cancelled flight stays cancelled).
        """
        flight = await self.store.get(flight_id)
        changes = _changed(
            flight,
            airplane_id=airplane_id,
            departs_at=departs_at,
            arrives_at=arrives_at,
            fares=None if fares is None else dict(fares),
            status=None if status is None else flight_status(status),
        )
        if not changes:
            return flight
        if flight.status is FlightStatus.CANCELLED:
            raise Conflict(f"flight {flight.number} is cancelled; it can no longer change")
        if "status" in changes and changes["status"] not in _STATUS_MOVES[flight.status]:
            raise Conflict(
                f"flight status cannot move from {flight.status} to {changes['status']}",
                errors=[FieldError("status", f"cannot move from {flight.status}")],
            )
        updated = attrs.evolve(flight, **changes)
        rules = Rules("flight")
        if "departs_at" in changes:
            rules.require(
                updated.departs_at > self.clock.now(), "departs_at", "must be in the future"
            )
        if "airplane_id" in changes or "fares" in changes:
            airplane = await self._find_airplane(updated.airplane_id)
            if airplane is None:
                rules.add("airplane_id", f"no airplane has id {updated.airplane_id}")
            else:
                self._fares_match(rules, updated, airplane)
        rules.check()
        # Travellers hear of a new time or status (FlightChanged); a new fare or airplane is
        # the airline's business. (Imported here: events carry bookings, whose module needs
        # this one's package first.)
        from airline_core.events import FlightChanged

        now = self.clock.now()
        travellers_hear = bool(changes.keys() & {"departs_at", "arrives_at", "status"})
        events = (
            (FlightChanged(occurred_at=now, flight=updated, previous=flight),)
            if travellers_hear
            else ()
        )
        replan = (
            self.reminders.on_flight_change(updated, now)
            if travellers_hear and self.reminders is not None
            else None
        )
        await self.store.update(updated, events, replan)
        return updated

    async def delete(self, flight_id: str) -> None:
        await self.store.delete(flight_id)

    async def list(
        self, criteria: FlightFilter = _ANY_FLIGHT, page: PageRequest = _FIRST_PAGE
    ) -> Page[Flight]:
        scope = f"flights:{criteria!r}"
        window = KeysetWindow.open(page, scope, shape=(int, str))
        return make_page(await self.store.list(criteria, window), window, flight_key, scope)
